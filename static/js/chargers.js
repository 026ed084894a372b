/* The planner's charger placement tools on /chargers: which demand (students' e-bikes at dorms, staff
 * cars at apartments and parking lots) is within a walking distance of a charger along the path network,
 * K new sites suggested (or the fewest reaching a target share) among parking lots and points the
 * planner adds, and saved scenarios compared side by side and exported.
 *
 * config: {campus, coverageUrl, suggestUrl, scenariosUrl, scenarioUrl, compareUrl, geojsonUrl, csvUrl
 *          ("/api/chargers/scenarios/{id}..."), lotsUrl (the parking-lots layer), canSuggest, canEdit, canList,
 *          kind, walkM, minWalkM, maxWalkM, maxK}. Only URLs, the slug, numbers and flags: Folium re-parses
 * the page's script as a template, so every name (demand, lots, scenarios) is fetched here and put on the
 * page with textContent (pm.el), never as HTML.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  // Covered green, uncovered red (the usual reading), walking areas in the chargers' own teal,
  // suggested sites purple: none of them is a colour the base layers use for points.
  var COLORS = { covered: "#1a9641", uncovered: "#d7191c", isochrone: "#00897b", suggested: "#7b1fa2",
                 excluded: "#b10026", point: "#1f5fa8" };
  var DEBOUNCE_MS = 350;

  function t(key, params) { return pm.t(key, params); }
  function el(tag, className, text) { return pm.el(tag, className, text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fill(template, id) { return template.replace("{id}", encodeURIComponent(id)); }

  // Count the page's pending work with the map layers', so tests and people see when it is done.
  var busy = kit.busy;

  function query(params) {
    return Object.keys(params).filter(function (k) {
      return params[k] !== "" && params[k] !== null && params[k] !== undefined;
    }).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  function num(x) {
    if (x === null || x === undefined) return "";
    return String(Math.round(Number(x) * 10) / 10);
  }
  function percent(share) { return (Number(share) * 100).toFixed(1) + "%"; }

  // A small round marker with a label we make ourselves (set with textContent).
  function badge(latlng, label, color, options) {
    var span = el("span", null, label);
    var icon = L.divIcon({ className: "pm-stop-badge", html: span, iconSize: [22, 22] });
    var marker = L.marker(latlng, Object.assign({ icon: icon, keyboard: false }, options || {}));
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) node.style.background = color;
    });
    return marker;
  }

  function sourceLabel(source) {
    if (source === "parking_lot") return t("parking lot");
    if (source === "building") return t("building");
    return pm.valueLabel(source);
  }

  // A polygon's or point's middle, for a parking lot's candidate marker.
  function middleOf(geometry) {
    var layer = L.geoJSON(geometry);
    var bounds = layer.getBounds();
    return bounds.isValid() ? bounds.getCenter() : null;
  }

  pm.chargerTools = function (map, config) {
    var covForm = document.getElementById("pm-coverage-form");
    if (!covForm) return;
    var sugForm = document.getElementById("pm-suggest-form");
    var scenBox = document.getElementById("pm-charger-scenarios");
    kit.toolsPanel(map, "pm-charger-details");
    var part = kit.part, field = kit.field, showError = kit.showError;

    // Walking areas under the layers' points, demand above the areas but under the chargers.
    [["pmIsochrones", 405], ["pmDemand", 428], ["pmLinks", 426]].forEach(function (p) {
      if (!map.getPane(p[0])) map.createPane(p[0]).style.zIndex = p[1];
    });
    var isoLayer = L.featureGroup().addTo(map);
    var demandLayer = L.featureGroup().addTo(map);
    var linkLayer = L.featureGroup().addTo(map);
    var candidateLayer = L.featureGroup().addTo(map);
    var siteLayer = L.featureGroup().addTo(map);
    var state = pm.chargerTools.state = {
      coverage: null, suggestion: null, lots: [], points: [], excluded: {}, penalties: {}, adding: false,
      isoLayer: isoLayer, demandLayer: demandLayer, linkLayer: linkLayer, candidateLayer: candidateLayer,
      siteLayer: siteLayer, demandMarkers: {},
    };
    var pointCount = 0;

    addLegend();

    // ---- coverage

    function currentKind() {
      var checked = covForm.querySelector('[name="kind"]:checked');
      return checked ? checked.value : config.kind;
    }

    function currentWalk() {
      var value = Number(field(covForm, "walk_m").value);
      if (!isFinite(value) || value <= 0) return null;
      return Math.min(config.maxWalkM, Math.max(config.minWalkM, Math.round(value)));
    }

    var coverageSeq = 0;
    function loadCoverage() {
      var walk = currentWalk();
      if (walk === null) return Promise.resolve();
      var params = { campus: config.campus, kind: currentKind(), walk_m: walk,
                     planned: field(covForm, "planned").checked ? "true" : "false" };
      var seq = ++coverageSeq;
      // A newer request wins: older answers are dropped (not aborted, which would log a failed request).
      return kit.request("GET", config.coverageUrl + "?" + query(params)).then(function (data) {
        if (seq !== coverageSeq) return;
        showError(covForm, null);
        drawCoverage(data);
        map.fire("pm:coverage", { data: data });
      }).catch(function (err) {
        if (seq === coverageSeq) showError(covForm, err);
      });
    }

    var timer = null;
    function scheduleCoverage() {
      if (timer) clearTimeout(timer);
      else busy(1);
      timer = setTimeout(function () { timer = null; busy(-1); loadCoverage(); }, DEBOUNCE_MS);
    }

    // Coverage asked again (other kind, distance, planned chargers): an older suggestion no longer answers it.
    function coverageChanged(now) {
      clearSuggestion();
      if (now) {
        if (timer) { clearTimeout(timer); timer = null; busy(-1); }
        loadCoverage();
      } else {
        scheduleCoverage();
      }
    }

    var range = field(covForm, "walk_range");
    var box = field(covForm, "walk_m");
    range.addEventListener("input", function () { box.value = range.value; coverageChanged(false); });
    box.addEventListener("input", function () {
      if (currentWalk() === null) return;
      range.value = String(currentWalk());
      coverageChanged(false);
    });
    box.addEventListener("change", function () {
      var walk = currentWalk();
      if (walk !== null && String(walk) !== box.value) { box.value = String(walk); range.value = String(walk); coverageChanged(false); }
    });
    Array.prototype.forEach.call(covForm.querySelectorAll('[name="kind"]'), function (radio) {
      radio.addEventListener("change", function () { coverageChanged(true); });
    });
    field(covForm, "planned").addEventListener("change", function () { coverageChanged(true); });
    covForm.addEventListener("submit", function (event) { event.preventDefault(); coverageChanged(true); });

    // A demand point as people read it: its name, or what it is and its number.
    function demandLabel(p) {
      if (!p) return "";
      if (p.name) return p.name;
      var number = p.feature_id !== undefined && p.feature_id !== null ? p.feature_id : String(p.id).split(":").pop();
      return p.source === "parking_lot" ? t("parking lot %(id)s", { id: number }) : t("building %(id)s", { id: number });
    }

    function demandTooltip(p, withActions) {
      var tip = el("div");
      tip.appendChild(el("div", "pm-popup-title", demandLabel(p)));
      tip.appendChild(el("div", null, sourceLabel(p.source) + " · " + t("demand %(weight)s", { weight: num(p.weight) })));
      tip.appendChild(el("div", null, p.covered ? t("covered") : t("not covered")));
      if (p.walk_m_to_nearest !== null && p.walk_m_to_nearest !== undefined) {
        tip.appendChild(el("div", null, t("%(distance)s m to the nearest charger", { distance: num(p.walk_m_to_nearest) })));
      }
      // A parking lot is demand and a candidate site at once: its popup offers the candidate switch.
      if (withActions && sugForm && p.source === "parking_lot") lotActions({ id: p.feature_id }, tip);
      return tip;
    }

    function drawCoverage(data) {
      state.coverage = data;
      isoLayer.clearLayers();
      demandLayer.clearLayers();
      state.demandMarkers = {};
      L.geoJSON(data.isochrones, {
        style: function () {
          return { pane: "pmIsochrones", color: COLORS.isochrone, weight: 1, fillColor: COLORS.isochrone,
                   fillOpacity: 0.15, interactive: false };
        },
      }).eachLayer(function (l) { isoLayer.addLayer(l); });
      var features = (data.demand && data.demand.features) || [];
      state.demandById = {};
      features.forEach(function (f) { state.demandById[String(f.properties.id)] = f.properties; });
      var heaviest = features.reduce(function (m, f) { return Math.max(m, Number(f.properties.weight) || 0); }, 0) || 1;
      features.forEach(function (f) {
        if (!f.geometry) return;
        var p = f.properties;
        var c = f.geometry.coordinates;
        var radius = 4 + 10 * Math.sqrt(Math.max(0, Number(p.weight) || 0) / heaviest);
        var marker = L.circleMarker([c[1], c[0]], {
          pane: "pmDemand", radius: radius, color: "#fff", weight: 1.5, fillOpacity: 0.85,
          fillColor: p.covered ? COLORS.covered : COLORS.uncovered, className: p.covered ? "pm-demand-covered" : "pm-demand-uncovered",
        });
        marker.pmCovered = Boolean(p.covered);
        marker.pmDemandId = p.id;
        marker.bindTooltip(function () { return demandTooltip(p, false); });
        marker.on("click", function () {
          if (state.adding) return;  // the map's own click adds the candidate point here
          L.popup().setLatLng(marker.getLatLng()).setContent(demandTooltip(p, true)).openOn(map);
        });
        demandLayer.addLayer(marker);
        state.demandMarkers[String(p.id)] = marker;
      });
      // The first answer brings the demand and the chargers' reach into view (a campus's extent may
      // run far along its roads).
      if (!state.fitted && demandLayer.getLayers().length) {
        state.fitted = true;
        var bounds = demandLayer.getBounds();
        if (isoLayer.getLayers().length) bounds.extend(isoLayer.getBounds());
        var fit = function () { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 17, animate: false }); };
        // Leaflet drops a new view asked for while it animates a zoom (the page's own first fit): wait for it.
        if (map._animatingZoom) {
          busy(1);
          map.once("zoomend", function () { fit(); busy(-1); });
        } else {
          fit();
        }
      }
      var share = part(covForm, "share");
      share.textContent = percent(data.covered_share);
      share.dataset.share = String(data.covered_share);
      part(covForm, "share-detail").textContent = t("%(covered)s of %(total)s demand within %(walk)s m (%(chargers)s chargers)",
        { covered: num(data.covered_demand), total: num(data.total_demand), walk: num(data.walk_m), chargers: data.chargers });
      var list = part(covForm, "uncovered");
      clear(list);
      var uncovered = (data.uncovered || []).slice().sort(function (a, b) { return b.weight - a.weight; });
      uncovered.forEach(function (u) {
        var item = el("li");
        item.dataset.demandId = String(u.id);
        var go = el("button", "pm-link", demandLabel(state.demandById[String(u.id)] || u));
        go.type = "button";
        go.addEventListener("click", function () { panTo(u.id); });
        item.appendChild(go);
        var far = u.walk_m_to_nearest === null || u.walk_m_to_nearest === undefined ? t("no charger within reach")
          : t("%(distance)s m to the nearest charger", { distance: num(u.walk_m_to_nearest) });
        item.appendChild(el("span", null, " · " + sourceLabel(u.source) + " · " + t("demand %(weight)s", { weight: num(u.weight) }) +
                                           " · " + far));
        list.appendChild(item);
      });
      if (!uncovered.length) list.appendChild(el("li", "pm-none", t("none")));
      var unreachable = part(covForm, "unreachable");
      clear(unreachable);
      (data.unreachable || []).forEach(function (u) {
        var what = u.role === "demand" ? demandLabel(state.demandById[String(u.id)] || u) : (u.name || String(u.id));
        unreachable.appendChild(el("li", "pm-problem", what + " · " + u.reason));
      });
      part(covForm, "unreachable-title").hidden = !unreachable.children.length;
    }

    function panTo(id) {
      var marker = state.demandMarkers[String(id)];
      if (!marker) return;
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), 17));
      marker.openTooltip();
      map.fire("pm:panned", { id: id });
    }

    // ---- legend: what the coverage colours and markers mean, beside the layers' own entries

    function addLegend() {
      var body = document.querySelector(".pm-legend > div");
      if (!body) return;
      body.appendChild(el("div", "pm-legend-layer", t("Charger coverage")));
      [[COLORS.covered, t("covered demand"), "pm-swatch pm-swatch-round"],
       [COLORS.uncovered, t("uncovered demand"), "pm-swatch pm-swatch-round"],
       [COLORS.isochrone, t("within walking distance of a charger"), "pm-swatch pm-swatch-area"],
       [COLORS.suggested, t("suggested new site"), "pm-swatch pm-swatch-round"]].forEach(function (row) {
        var line = el("div", "pm-legend-row pm-legend-charger");
        var swatch = el("span", row[2]);
        swatch.style.background = row[0];
        line.appendChild(swatch);
        line.appendChild(document.createTextNode(row[1]));
        body.appendChild(line);
      });
    }

    // ---- candidates: parking lots (excluded or penalised) and the planner's own points

    function lotLabel(lot) { return lot.name || t("parking lot %(id)s", { id: lot.id }); }

    function loadLots() {
      return kit.request("GET", config.lotsUrl + "?" + query({ campus: config.campus, limit: 2000 })).then(function (data) {
        state.lots = (data.features || []).map(function (f) {
          return { id: f.id, name: f.properties.name, capacity: f.properties.capacity, at: f.geometry ? middleOf(f.geometry) : null };
        }).sort(function (a, b) { return lotLabel(a).localeCompare(lotLabel(b), undefined, { numeric: true }); });
        renderCandidates();
      }).catch(function (err) { if (sugForm) showError(sugForm, err); });
    }

    function lotActions(feature, popupBox) {
      var row = el("div", "pm-popup-actions");
      var excluded = Boolean(state.excluded[String(feature.id)]);
      var button = el("button", "pm-lot-switch", excluded ? t("Use as a candidate again") : t("Mark unsuitable"));
      button.type = "button";
      button.addEventListener("click", function () { toggleLot(feature.id); map.closePopup(); });
      row.appendChild(button);
      popupBox.appendChild(row);
    }

    function toggleLot(id) {
      var key = String(id);
      if (state.excluded[key]) delete state.excluded[key];
      else state.excluded[key] = true;
      suggestionInputsChanged();
    }

    function renderCandidates() {
      candidateLayer.clearLayers();
      if (!sugForm) return;
      var useLots = field(sugForm, "lots").checked;
      var list = part(sugForm, "lots");
      clear(list);
      list.hidden = !useLots;
      state.lots.forEach(function (lot) {
        var excluded = Boolean(state.excluded[String(lot.id)]);
        var item = el("li", excluded ? "pm-excluded" : null);
        item.dataset.lotId = String(lot.id);
        var toggle = el("button", "pm-link pm-lot", lotLabel(lot));
        toggle.type = "button";
        toggle.title = excluded ? t("unsuitable: click to use it again") : t("click to mark it unsuitable");
        toggle.setAttribute("aria-pressed", excluded ? "true" : "false");
        toggle.addEventListener("click", function () { toggleLot(lot.id); });
        item.appendChild(toggle);
        if (excluded) item.appendChild(el("span", "pm-excluded-note", " · " + t("unsuitable")));
        var penalty = el("input", "pm-penalty");
        penalty.type = "number";
        penalty.min = "0";
        penalty.step = "any";
        penalty.name = "penalty";
        penalty.placeholder = t("penalty");
        penalty.setAttribute("aria-label", t("penalty for %(name)s", { name: lotLabel(lot) }));
        penalty.disabled = excluded;
        var given = state.penalties[String(lot.id)];
        penalty.value = given === undefined ? "" : String(given);
        penalty.addEventListener("change", function () {
          var value = Number(penalty.value);
          if (penalty.value === "" || !isFinite(value) || value <= 0) delete state.penalties[String(lot.id)];
          else state.penalties[String(lot.id)] = value;
          clearSuggestion();
        });
        item.appendChild(penalty);
        list.appendChild(item);
        // Lots are on the map already (their layer, and their demand when cars are shown): only the
        // unsuitable ones get a mark, which a click takes away again.
        if (useLots && lot.at && excluded) {
          var marker = badge(lot.at, "✕", COLORS.excluded, { title: lotLabel(lot), zIndexOffset: -100 });
          marker.pmLotId = lot.id;
          marker.bindTooltip(function () { return el("div", null, lotLabel(lot) + " · " + t("unsuitable: click to use it again")); });
          marker.on("click", function (e) {
            L.DomEvent.stopPropagation(e);
            if (!state.adding) toggleLot(lot.id);
          });
          candidateLayer.addLayer(marker);
        }
      });
      var points = part(sugForm, "points");
      clear(points);
      state.points.forEach(function (point, index) {
        var item = el("li");
        item.appendChild(el("span", null, point.name));
        var remove = el("button", "pm-link pm-remove", t("remove"));
        remove.type = "button";
        remove.addEventListener("click", function () { state.points.splice(index, 1); suggestionInputsChanged(); });
        item.appendChild(remove);
        points.appendChild(item);
        candidateLayer.addLayer(badge([point.lat, point.lon], String(point.n), COLORS.point,
                                      { title: point.name, interactive: false }));
      });
    }

    function suggestionInputsChanged() {
      clearSuggestion();
      renderCandidates();
    }

    if (sugForm) {
      field(sugForm, "lots").addEventListener("change", suggestionInputsChanged);
      var addButton = part(sugForm, "add-point");
      var setAdding = function (on) {
        state.adding = on;
        addButton.classList.toggle("pm-active", on);
        addButton.setAttribute("aria-pressed", on ? "true" : "false");
        addButton.textContent = on ? t("Stop adding") : t("Add a candidate on the map");
        map.getContainer().classList.toggle("pm-picking", on);
      };
      pm.chargerTools.setAdding = setAdding;
      addButton.addEventListener("click", function () { setAdding(!state.adding); });
      map.on("click", function (e) {
        if (!state.adding) return;
        pointCount += 1;
        state.points.push({ n: pointCount, name: t("Point %(n)s", { n: pointCount }), lon: e.latlng.lng, lat: e.latlng.lat });
        suggestionInputsChanged();
      });
      // A parking lot's popup on the map offers the same switch as the list.
      pm.popupExtras["parking-lots"] = lotActions;
    }

    // ---- suggestions

    function clearSuggestion() {
      state.suggestion = null;
      siteLayer.clearLayers();
      linkLayer.clearLayers();
      Object.keys(state.demandMarkers).forEach(function (id) {
        state.demandMarkers[id].setStyle({ color: "#fff", weight: 1.5 });
      });
      if (sugForm) part(sugForm, "result").hidden = true;
    }

    function suggestBody() {
      var useLots = field(sugForm, "lots").checked;
      var body = { campus: config.campus, kind: currentKind(), walk_m: currentWalk(), method: "auto",
                   planned: field(covForm, "planned").checked };
      var excluded = Object.keys(state.excluded).map(function (k) {
        var lot = state.lots.filter(function (l) { return String(l.id) === k; })[0];
        return lot ? lot.id : k;
      });
      var penalties = {};
      Object.keys(state.penalties).forEach(function (k) { if (!state.excluded[k]) penalties[k] = state.penalties[k]; });
      if (!state.points.length && useLots) {
        body.candidates = null;
      } else {
        body.candidates = (useLots ? state.lots.map(function (l) { return l.id; }) : [])
          .concat(state.points.map(function (p) { return { lon: p.lon, lat: p.lat, name: p.name }; }));
      }
      body.exclude = useLots ? excluded : [];
      body.penalties = useLots ? penalties : {};
      var question = sugForm.querySelector('[name="question"]:checked');
      if (!question || question.value === "k") {
        body.k = Number(field(sugForm, "k").value);
        body.target_share = null;
      } else {
        body.target_share = Number(field(sugForm, "target").value) / 100;
      }
      return body;
    }

    // Points go out with their names, so a chosen point comes back named; an unnamed lot gets a number.
    function siteName(site, index) {
      if (site.name) return site.name;
      if (site.source === "parking_lot") return t("parking lot %(id)s", { id: site.candidate });
      return t("Site %(n)s", { n: index + 1 });
    }

    function demandName(id) {
      var p = state.demandById && state.demandById[String(id)];
      return p ? demandLabel(p) : String(id);
    }

    function drawSuggestion(data, body) {
      clearSuggestion();
      state.suggestion = data;
      state.suggestionBody = body;
      var list = part(sugForm, "sites");
      clear(list);
      (data.sites || []).forEach(function (site, index) {
        var name = siteName(site, index);
        site.pmName = name;
        var at = [site.lat, site.lon];
        var marker = badge(at, "★" + (index + 1), COLORS.suggested, { title: name, zIndexOffset: 1000 });
        marker.bindTooltip(function () {
          return el("div", null, name + " · " + t("covers %(weight)s more demand", { weight: num(site.newly_covered) }));
        });
        siteLayer.addLayer(marker);
        (site.demand || []).forEach(function (id) {
          var target = state.demandMarkers[String(id)];
          if (!target) return;
          target.setStyle({ color: COLORS.suggested, weight: 3 });
          linkLayer.addLayer(L.polyline([at, target.getLatLng()], { pane: "pmLinks", color: COLORS.suggested, weight: 2,
                                                                    opacity: 0.8, dashArray: "4 4", interactive: false }));
        });
        var item = el("li");
        item.dataset.candidate = String(site.candidate);
        var go = el("button", "pm-link", name);
        go.type = "button";
        go.addEventListener("click", function () { map.setView(at, Math.max(map.getZoom(), 17)); marker.openTooltip(); });
        item.appendChild(go);
        item.appendChild(el("span", null, " · " + t("covers %(weight)s more demand", { weight: num(site.newly_covered) })));
        if (site.demand && site.demand.length) {
          item.appendChild(el("div", "pm-hint", site.demand.map(demandName).join(", ")));
        }
        list.appendChild(item);
      });
      if (!(data.sites || []).length) list.appendChild(el("li", "pm-none", t("no new site covers more demand")));
      var before = part(sugForm, "before-share");
      before.textContent = percent(data.before.covered_share);
      before.dataset.share = String(data.before.covered_share);
      var after = part(sugForm, "after-share");
      after.textContent = percent(data.after.covered_share);
      after.dataset.share = String(data.after.covered_share);
      part(sugForm, "before-demand").textContent = num(data.before.covered_demand);
      part(sugForm, "after-demand").textContent = num(data.after.covered_demand);
      var method = [t("method: %(method)s", { method: t(data.method) }),
                    data.optimal ? t("proven optimal") : t("gap %(gap)s", { gap: data.gap === null || data.gap === undefined ? "?" : percent(data.gap) })];
      if (data.solve_ms !== undefined && data.solve_ms !== null) method.push(t("%(ms)s ms", { ms: Math.round(data.solve_ms) }));
      if (data.target_reached === false) method.push(t("the target share is out of reach"));
      else if (body.target_share !== null && body.target_share !== undefined) method.push(t("target reached"));
      part(sugForm, "method").textContent = method.join(" · ");
      part(sugForm, "result").hidden = false;
      map.fire("pm:suggested", { data: data });
    }

    if (sugForm) {
      sugForm.addEventListener("submit", function (event) {
        event.preventDefault();
        if (state.adding) pm.chargerTools.setAdding(false);
        var body = suggestBody();
        if (body.candidates !== null && !body.candidates.length) {
          showError(sugForm, new Error(t("add a candidate or use the parking lots")));
          return;
        }
        var submit = sugForm.querySelector('button[type="submit"]');
        submit.disabled = true;
        kit.request("POST", config.suggestUrl, body).then(function (data) {
          showError(sugForm, null);
          drawSuggestion(data, body);
        }).catch(function (err) { showError(sugForm, err); }).then(function () { submit.disabled = false; });
      });
    }

    // ---- scenarios: save, list, compare, export, delete

    function scenarioSites() {
      var source = scenBox.querySelector('[name="source"]:checked');
      if (source && source.value === "points") {
        return state.points.map(function (p) { return { lon: p.lon, lat: p.lat, name: p.name }; });
      }
      if (!state.suggestion) return null;
      return state.suggestion.sites.map(function (s, index) {
        var site = { lon: s.lon, lat: s.lat, name: s.pmName || siteName(s, index) };
        if (s.candidate !== null && s.candidate !== undefined) site.candidate = s.candidate;
        return site;
      });
    }

    function saveScenario() {
      showError(scenBox, null);
      part(scenBox, "status").textContent = "";
      var name = field(scenBox, "name").value.trim();
      if (!name) { showError(scenBox, new Error(t("name the scenario"))); return null; }
      var sites = scenarioSites();
      if (sites === null) { showError(scenBox, new Error(t("ask for suggested sites first"))); return null; }
      if (!sites.length) { showError(scenBox, new Error(t("the scenario has no new sites"))); return null; }
      var kind = state.suggestionBody ? state.suggestionBody.kind : currentKind();
      var walk = state.suggestionBody ? state.suggestionBody.walk_m : currentWalk();
      var planned = state.suggestionBody ? state.suggestionBody.planned : field(covForm, "planned").checked;
      var body = { campus: config.campus, name: name, kind: kind, walk_m: walk, sites: sites, planned: planned,
                   excluded: Object.keys(state.excluded).map(function (k) { return isFinite(Number(k)) ? Number(k) : k; }) };
      var button = part(scenBox, "save");
      button.disabled = true;
      return kit.request("POST", config.scenariosUrl, body).then(function (data) {
        part(scenBox, "status").textContent = t("Saved.");
        field(scenBox, "name").value = "";
        map.fire("pm:scenario-saved", { scenario: data });
        return loadScenarios();
      }).catch(function (err) { showError(scenBox, err); }).then(function () { button.disabled = false; });
    }

    function link(text, href) {
      var a = el("a", null, text);
      a.href = href;
      a.setAttribute("download", "");
      return a;
    }

    function summaryOf(s) {
      var sum = s.summary || s;
      var parts = [pm.valueLabel(s.kind), t("%(distance)s m", { distance: num(s.walk_m) })];
      if (sum.covered_share !== undefined && sum.covered_share !== null) parts.push(percent(sum.covered_share));
      if (sum.new_sites !== undefined) parts.push(t("%(count)s new sites", { count: sum.new_sites }));
      return parts.join(" · ");
    }

    function loadScenarios() {
      if (!scenBox) return Promise.resolve();
      return kit.request("GET", config.scenariosUrl + "?" + query({ campus: config.campus })).then(function (data) {
        showError(scenBox, null);
        var list = part(scenBox, "list");
        var ticked = {};
        Array.prototype.forEach.call(list.querySelectorAll('input[type="checkbox"]:checked'), function (c) { ticked[c.value] = true; });
        clear(list);
        var scenarios = Array.isArray(data) ? data : (data.scenarios || []);
        scenarios.forEach(function (s) {
          var item = el("li");
          item.dataset.scenarioId = String(s.id);
          var label = el("label", "pm-check");
          var tick = el("input");
          tick.type = "checkbox";
          tick.value = String(s.id);
          tick.checked = Boolean(ticked[String(s.id)]);
          label.appendChild(tick);
          label.appendChild(el("span", "pm-scenario-name", s.name));
          item.appendChild(label);
          item.appendChild(el("span", "pm-hint", " " + summaryOf(s)));
          var actions = el("span", "pm-route-actions");
          actions.appendChild(link("GeoJSON", fill(config.geojsonUrl, s.id)));
          actions.appendChild(link("CSV", fill(config.csvUrl, s.id)));
          if (config.canEdit) {
            var remove = el("button", "pm-link pm-delete", t("Delete"));
            remove.type = "button";
            remove.addEventListener("click", function () {
              if (!window.confirm(t("Delete the scenario %(name)s?", { name: s.name }))) return;
              kit.request("DELETE", fill(config.scenarioUrl, s.id)).then(function () {
                loadScenarios();
              }).catch(function (err) { showError(scenBox, err); });
            });
            actions.appendChild(remove);
          }
          item.appendChild(actions);
          list.appendChild(item);
        });
        if (!scenarios.length) list.appendChild(el("li", "pm-none", t("no saved scenarios")));
        map.fire("pm:scenarios-listed", { count: scenarios.length });
      }).catch(function (err) { showError(scenBox, err); });
    }

    // The compare answer, scenarios as columns (side by side), one row per figure.
    var COMPARE_ROWS = [
      ["kind", "Charger kind", function (v) { return pm.valueLabel(v); }],
      ["walk_m", "Walking distance (m)", num],
      ["sites", "Sites", null],
      ["new_sites", "New sites", null],
      ["ports", "Ports", null],
      ["covered_share", "Covered share", percent],
      ["covered_demand", "Covered demand", num],
      ["uncovered_demand", "Uncovered demand", num],
    ];

    function cellText(value, format) {
      if (value === null || value === undefined) return "";
      if (Array.isArray(value)) return String(value.length);
      return format ? format(value) : String(value);
    }

    function drawCompare(data) {
      var rows = Array.isArray(data) ? data : (data.rows || data.scenarios || []);
      var table = part(scenBox, "compare-table");
      var head = table.querySelector("thead");
      var bodyEl = table.querySelector("tbody");
      clear(head);
      clear(bodyEl);
      var headRow = el("tr");
      headRow.appendChild(el("th", null, t("Scenario")));
      rows.forEach(function (r) {
        var th = el("th", "pm-compare-name", r.name);
        th.dataset.scenarioId = String(r.id);
        headRow.appendChild(th);
      });
      head.appendChild(headRow);
      COMPARE_ROWS.forEach(function (spec) {
        if (!rows.some(function (r) { return r[spec[0]] !== undefined; })) return;
        var tr = el("tr", "pm-compare-" + spec[0].replace(/_/g, "-"));
        tr.appendChild(el("th", null, t(spec[1])));
        rows.forEach(function (r) {
          var td = el("td", null, cellText(r[spec[0]], spec[2]));
          if (spec[0] === "covered_share") td.dataset.share = String(r.covered_share);
          tr.appendChild(td);
        });
        bodyEl.appendChild(tr);
      });
      table.hidden = false;
      map.fire("pm:compared", { data: data });
    }

    if (scenBox) {
      if (config.canEdit) part(scenBox, "save").addEventListener("click", saveScenario);
      part(scenBox, "compare").addEventListener("click", function () {
        var ids = Array.prototype.map.call(part(scenBox, "list").querySelectorAll('input[type="checkbox"]:checked'),
                                           function (c) { return c.value; });
        if (ids.length < 2) { showError(scenBox, new Error(t("tick at least two scenarios"))); return; }
        showError(scenBox, null);
        kit.request("GET", config.compareUrl + "?" + query({ ids: ids.join(",") })).then(drawCompare)
          .catch(function (err) { showError(scenBox, err); });
      });
    }

    loadCoverage();
    if (sugForm) loadLots();
    loadScenarios();
  };
})();

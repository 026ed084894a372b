/* The patrol lead's planning page (/patrol): pick stops (checkpoints, points on the map, buildings
 * by kind and grid zone) and a start, plan closed tours along the path network for K teams, see
 * them numbered with direction arrows, their lengths and times, what they leave out and what they
 * pass; save a route with its shift, reload, edit and delete saved ones, and export them.
 *
 * config: {campus, planUrl, candidatesUrl, routesUrl, routeUrl, gpxUrl, geojsonUrl, sheetUrl
 *          ("/api/routes/{id}..."), nearM, maxNearM, maxTeams}. Stored names (starts, zones) come in the
 * panel's HTML (templates/patrol_tools.html), never in config: Folium re-parses the page's script as a template.
 * Everything the API returns is put on the page with textContent (pm.el), never as HTML.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  // Team colours stay clear of the layers' own (fire lanes red, checkpoints and dorms blue, zones purple);
  // a white casing under each route sets it off from the path network it runs on.
  var TEAM_COLORS = ["#e6007e", "#00897b", "#f57c00", "#5e35b1", "#6d4c41", "#00acc1", "#9e9d24", "#c2185b",
                     "#2e7d32", "#37474f"];

  function t(key, params) { return pm.t(key, params); }
  function el(tag, className, text) { return pm.el(tag, className, text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function colorOf(team) { return TEAM_COLORS[(team - 1) % TEAM_COLORS.length]; }

  function query(params) {
    return Object.keys(params).filter(function (k) {
      return params[k] !== "" && params[k] !== null && params[k] !== undefined;
    }).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  function fill(template, id) { return template.replace("{id}", encodeURIComponent(id)); }

  // A small numbered (or lettered) round marker; the label is text we make, set with textContent.
  function badge(latlng, label, color, options) {
    var span = el("span", null, label);
    var icon = L.divIcon({ className: "pm-stop-badge", html: span, iconSize: [24, 24] });
    var marker = L.marker(latlng, Object.assign({ icon: icon, keyboard: false }, options || {}));
    marker.on("add", function () {
      var node = marker.getElement();
      if (node) node.style.background = color;
    });
    return marker;
  }

  pm.patrolTools = function (map, config) {
    var form = document.getElementById("pm-plan-form");
    if (!form) return;
    var saveForm = document.getElementById("pm-save-form");
    var savedBox = document.getElementById("pm-saved-routes");
    kit.toolsPanel(map, "pm-patrol-details");
    var part = kit.part, field = kit.field, showError = kit.showError;

    // The office and the gates, as the panel lists them (each option carries its position).
    var starts = Array.prototype.filter.call(field(form, "start").options, function (o) { return o.dataset.lon; })
      .map(function (o) {
        return { id: Number(o.value), name: o.textContent, lon: Number(o.dataset.lon), lat: Number(o.dataset.lat) };
      });
    if (!map.getPane("pmRoutes")) map.createPane("pmRoutes").style.zIndex = 425;
    var pickLayer = L.featureGroup().addTo(map);
    var startLayer = L.featureGroup().addTo(map);
    var casingLayer = L.featureGroup().addTo(map);
    var lineLayer = L.featureGroup().addTo(map);
    var arrowLayer = L.featureGroup().addTo(map);
    var numberLayer = L.featureGroup().addTo(map);
    var state = pm.patrolTools.state = {
      stops: [], start: null, plan: null, editing: null, picking: false, settingStart: false,
      pickLayer: pickLayer, startLayer: startLayer, lineLayer: lineLayer, arrowLayer: arrowLayer,
      numberLayer: numberLayer,
    };
    var pointCount = 0;

    // ---- stops and start

    function keyOf(stop) {
      if (stop.id !== undefined && stop.id !== null) return "c:" + stop.id;
      if (stop.building !== undefined && stop.building !== null) return "b:" + stop.building;
      return "p:" + stop.lon.toFixed(7) + "," + stop.lat.toFixed(7);
    }

    function addStop(stop) {
      var key = keyOf(stop);
      if (state.stops.some(function (s) { return keyOf(s) === key; })) {
        showError(form, new Error(t("already a stop") + ": " + stop.name));
        return false;
      }
      showError(form, null);
      state.stops.push(stop);
      changed();
      return true;
    }

    function removeStop(index) {
      state.stops.splice(index, 1);
      changed();
    }

    function setStart(start) {
      state.start = start;
      var select = field(form, "start");
      if (start.id === null || start.id === undefined) {
        select.value = "point";
      } else {
        var value = String(start.id);
        if (!select.querySelector('option[value="' + value + '"]')) {
          var option = el("option", null, start.name);
          option.value = value;
          option.dataset.lon = String(start.lon);
          option.dataset.lat = String(start.lat);
          select.insertBefore(option, select.querySelector('option[value="point"]'));
        }
        select.value = value;
      }
      changed();
    }

    function checkpointStop(feature) {
      var c = feature.geometry.coordinates;
      return { id: feature.id, name: feature.properties.name || t("checkpoint %(id)s", { id: feature.id }),
               lon: c[0], lat: c[1] };
    }

    function renderStops() {
      var list = part(form, "stops");
      clear(list);
      state.stops.forEach(function (stop, index) {
        var item = el("li");
        if (stop.id === undefined || stop.id === null) {
          // A point of our own (or a building's visit point) is saved as a new checkpoint: let it be named.
          var name = el("input", "pm-stop-name");
          name.value = stop.name;
          name.maxLength = 200;
          name.setAttribute("aria-label", t("Point %(n)s", { n: index + 1 }));
          name.addEventListener("change", function () { stop.name = name.value; });
          item.appendChild(name);
        } else {
          item.appendChild(el("span", null, stop.name));
        }
        var remove = el("button", "pm-link pm-remove", t("remove"));
        remove.type = "button";
        remove.addEventListener("click", function () { removeStop(index); });
        item.appendChild(remove);
        list.appendChild(item);
      });
    }

    function drawPicks() {
      pickLayer.clearLayers();
      if (state.plan) return;  // a drawn plan numbers the stops in visiting order instead
      state.stops.forEach(function (stop, index) {
        pickLayer.addLayer(badge([stop.lat, stop.lon], String(index + 1), "#555", { interactive: false }));
      });
    }

    function drawStart() {
      startLayer.clearLayers();
      if (!state.start) return;
      var marker = badge([state.start.lat, state.start.lon], "⚑", "#111", { zIndexOffset: 1000 });
      marker.bindTooltip(function () { return el("div", null, t("start: %(name)s", { name: state.start.name })); });
      startLayer.addLayer(marker);
    }

    // Stops or start changed: an older plan no longer answers them.
    function changed() {
      if (state.plan) clearPlan();
      renderStops();
      drawPicks();
      drawStart();
      map.fire("pm:stops", { count: state.stops.length });
    }

    function clearPlan() {
      state.plan = null;
      casingLayer.clearLayers();
      lineLayer.clearLayers();
      arrowLayer.clearLayers();
      numberLayer.clearLayers();
      part(form, "result").hidden = true;
    }

    field(form, "start").addEventListener("change", function () {
      var value = this.value;
      if (value === "" ) { state.start = null; changed(); return; }
      if (value === "point") return;
      var option = this.options[this.selectedIndex];
      setStart({ id: Number(value), name: option.textContent, lon: Number(option.dataset.lon),
                 lat: Number(option.dataset.lat) });
    });

    var pickButton = part(form, "pick");
    function setPicking(on) {
      state.picking = on;
      pickButton.classList.toggle("pm-active", on);
      pickButton.setAttribute("aria-pressed", on ? "true" : "false");
      pickButton.textContent = on ? t("Stop picking") : t("Pick on the map");
      map.getContainer().classList.toggle("pm-picking", state.picking || state.settingStart);
    }
    function setSettingStart(on) {
      state.settingStart = on;
      part(form, "set-start").classList.toggle("pm-active", on);
      map.getContainer().classList.toggle("pm-picking", state.picking || state.settingStart);
      if (on) showError(form, new Error(t("Click the map where the start is")));
    }
    pickButton.addEventListener("click", function () { setSettingStart(false); setPicking(!state.picking); });
    part(form, "set-start").addEventListener("click", function () { setSettingStart(!state.settingStart); });
    part(form, "clear").addEventListener("click", function () { state.stops = []; changed(); });

    map.on("click", function (e) {
      if (state.settingStart) {
        setSettingStart(false);
        showError(form, null);
        setStart({ id: null, name: t("Start"), lon: e.latlng.lng, lat: e.latlng.lat });
      } else if (state.picking) {
        pointCount += 1;
        addStop({ id: null, name: t("Point %(n)s", { n: pointCount }), lon: e.latlng.lng, lat: e.latlng.lat });
      }
    });

    // A stored checkpoint clicked while picking becomes a stop (or the start). Its popup is unbound
    // before the click (Leaflet's preclick) and bound again after, so it never opens.
    var checkpoints = pm.layer("checkpoints");
    if (checkpoints) {
      checkpoints.on("preclick", function (e) {
        var layer = e.propagatedFrom || e.layer;
        if (!layer || !layer.feature || !(state.picking || state.settingStart) || !layer.getPopup()) return;
        layer.pmPopup = layer.getPopup();
        layer.unbindPopup();
      });
      checkpoints.on("click", function (e) {
        var layer = e.propagatedFrom || e.layer;
        var feature = layer && layer.feature;
        if (layer && layer.pmPopup) {
          layer.bindPopup(layer.pmPopup);
          delete layer.pmPopup;
        }
        if (!feature || !(state.picking || state.settingStart)) return;
        L.DomEvent.stopPropagation(e);  // the map's own click would add a point here too
        if (state.settingStart) {
          setSettingStart(false);
          showError(form, null);
          setStart(checkpointStop(feature));
        } else {
          addStop(checkpointStop(feature));
        }
      });
    }
    // Otherwise a checkpoint's popup offers the same.
    pm.popupExtras.checkpoints = function (feature, box) {
      var row = el("div", "pm-popup-actions");
      var add = el("button", null, t("Add to route"));
      add.type = "button";
      add.addEventListener("click", function () { if (addStop(checkpointStop(feature))) map.closePopup(); });
      var start = el("button", null, t("Start here"));
      start.type = "button";
      start.addEventListener("click", function () { setStart(checkpointStop(feature)); map.closePopup(); });
      row.appendChild(add);
      row.appendChild(start);
      box.appendChild(row);
    };

    // ---- buildings (and checkpoints) by kind and grid zone

    var found = null;
    part(form, "find").addEventListener("click", function () {
      var kinds = Array.prototype.map.call(form.querySelectorAll('[name="kinds"]:checked'), function (i) { return i.value; });
      var zones = Array.prototype.map.call(form.querySelectorAll('[name="zones"]:checked'), function (i) { return i.value; });
      var list = part(form, "found-list");
      clear(list);
      if (!kinds.length && !zones.length) { showError(form, new Error(t("choose kinds or zones"))); return; }
      var params = { campus: config.campus, kinds: kinds.join(","), zones: zones.join(","), mode: field(form, "mode").value };
      kit.request("GET", config.candidatesUrl + "?" + query(params)).then(function (data) {
        showError(form, null);
        found = data;
        var usable = data.buildings.filter(function (b) { return b.visit; });
        part(form, "found").textContent = t("%(buildings)s buildings, %(checkpoints)s checkpoints",
                                            { buildings: data.buildings.length, checkpoints: data.checkpoints.length });
        var addB = part(form, "add-buildings");
        addB.textContent = t("Add the buildings (%(count)s)", { count: usable.length });
        addB.hidden = !usable.length;
        var addC = part(form, "add-checkpoints");
        addC.textContent = t("Add the checkpoints (%(count)s)", { count: data.checkpoints.length });
        addC.hidden = !data.checkpoints.length;
        data.buildings.forEach(function (b) {
          var item = el("li", null, (b.name || t("building %(id)s", { id: b.id })) + " (" + pm.valueLabel(b.kind) + ")");
          if (!b.visit) {
            item.className = "pm-problem";
            item.appendChild(el("span", null, " · " + t("no visit point: %(reason)s", { reason: b.reason })));
          } else {
            item.title = t("visited at the nearest path, %(distance)s m away", { distance: b.distance_m });
          }
          list.appendChild(item);
        });
        map.fire("pm:candidates", { data: data });
      }).catch(function (err) { showError(form, err); });
    });
    part(form, "add-buildings").addEventListener("click", function () {
      if (!found) return;
      found.buildings.forEach(function (b) {
        if (!b.visit) return;
        addStop({ id: null, building: b.id, name: b.name || t("building %(id)s", { id: b.id }),
                  lon: b.visit[0], lat: b.visit[1] });
      });
      showError(form, null);
    });
    part(form, "add-checkpoints").addEventListener("click", function () {
      if (!found) return;
      found.checkpoints.forEach(function (c) { addStop({ id: c.id, name: c.name, lon: c.lon, lat: c.lat }); });
      showError(form, null);
    });

    // ---- planning

    function numberOrNull(name) {
      var value = field(form, name).value;
      return value === "" ? null : Number(value);
    }

    function planBody() {
      var byId = state.stops.every(function (s) { return s.id !== null && s.id !== undefined; });
      var body = {
        campus: config.campus, mode: field(form, "mode").value, teams: numberOrNull("teams") || 1,
        max_minutes: numberOrNull("max_minutes"), near_m: numberOrNull("near_m"),
        hotspots: field(form, "hotspots").checked,
        checkpoints: state.stops.map(function (s) { return byId ? s.id : [s.lon, s.lat]; }),
        start: state.start.id !== null && state.start.id !== undefined ? state.start.id : [state.start.lon, state.start.lat],
      };
      if (body.near_m === null) delete body.near_m;
      return { body: body, byId: byId };
    }

    // How an answer names a stop: a checkpoint id, an index into what was sent, or a hotspot's stop name.
    function resolver(stops, byId, coverage) {
      var hotspots = {};
      ((coverage && coverage.hotspots) || []).forEach(function (h) { hotspots[h.stop] = h; });
      return function (name) {
        if (typeof name === "string") {
          var h = hotspots[name];
          return h ? { name: hotspotLabel(h), lon: h.lon, lat: h.lat, hotspot: h } : { name: name };
        }
        if (!byId) return stops[name] || { name: String(name) };
        return stops.filter(function (s) { return s.id === name; })[0] || { name: t("checkpoint %(id)s", { id: name }) };
      };
    }

    function hotspotLabel(h) {
      if (h.source === "marked") return h.name;
      if (h.building) return t("violation hotspot near %(building)s (%(count)s violations)", { building: h.building, count: h.count });
      return t("violation hotspot (%(count)s violations)", { count: h.count });
    }

    function addArrows(latlngs, color) {
      var points = latlngs.map(function (ll) { return map.project(ll, 20); });
      var lengths = [];
      var total = 0;
      for (var i = 0; i + 1 < latlngs.length; i++) {
        var d = latlngs[i].distanceTo(latlngs[i + 1]);
        lengths.push(d);
        total += d;
      }
      if (!total) return;
      var spacing = Math.max(40, total / 40);
      var next = spacing / 2;
      var walked = 0;
      for (var k = 0; k < lengths.length; k++) {
        while (lengths[k] > 0 && next <= walked + lengths[k]) {
          var f = (next - walked) / lengths[k];
          var a = points[k], b = points[k + 1];
          var at = map.unproject(L.point(a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f), 20);
          var angle = Math.atan2(b.y - a.y, b.x - a.x) * 180 / Math.PI;
          var glyph = el("span", "pm-arrow-glyph", "➤");
          glyph.style.transform = "rotate(" + angle.toFixed(1) + "deg)";
          glyph.style.color = color;
          arrowLayer.addLayer(L.marker(at, {
            icon: L.divIcon({ className: "pm-arrow", html: glyph, iconSize: [14, 14] }),
            interactive: false, keyboard: false,
          }));
          next += spacing;
        }
        walked += lengths[k];
      }
    }

    function listInto(role, rows, text) {
      var list = part(form, role);
      clear(list);
      rows.forEach(function (row) { list.appendChild(el("li", row.covered === false ? "pm-problem" : null, text(row))); });
      if (!rows.length) list.appendChild(el("li", "pm-none", t("none")));
    }

    function teamsText(teams) { return t("teams %(teams)s", { teams: teams.join(", ") }); }

    function drawPlan(data, name) {
      clearPlan();
      pickLayer.clearLayers();
      state.plan = data;
      var totals = part(form, "totals").querySelector("tbody");
      clear(totals);
      var sumLength = 0, sumMinutes = 0, sumStops = 0;
      function latlngsOf(feature) {
        return feature.geometry.coordinates.map(function (c) { return L.latLng(c[1], c[0]); });
      }
      data.features.forEach(function (feature) {  // every casing under every line, so routes that share a street show both
        casingLayer.addLayer(L.polyline(latlngsOf(feature), { pane: "pmRoutes", color: "#fff", weight: 9, opacity: 0.9,
                                                              interactive: false }));
      });
      data.features.forEach(function (feature) {
        var p = feature.properties;
        var color = colorOf(p.team);
        var latlngs = latlngsOf(feature);
        lineLayer.addLayer(L.polyline(latlngs, { pane: "pmRoutes", color: color, weight: 5, opacity: 0.9,
                                                 interactive: false }));
        addArrows(latlngs, color);
        p.order.forEach(function (stopName, index) {
          var stop = name(stopName);
          if (stop.lat === undefined) return;
          var marker = badge([stop.lat, stop.lon], String(index + 1), color, { title: stop.name });
          marker.bindTooltip(function () {
            return el("div", null, t("Team %(team)s", { team: p.team }) + " · " + (index + 1) + ". " + stop.name);
          });
          numberLayer.addLayer(marker);
        });
        var row = el("tr");
        var swatch = el("td", "pm-team", t("Team %(team)s", { team: p.team }));
        swatch.style.borderLeft = "6px solid " + color;
        row.appendChild(swatch);
        row.appendChild(el("td", "pm-stops-count", p.order.length));
        var length = el("td", "pm-length", t("%(length)s m", { length: p.length_m }));
        length.dataset.lengthM = String(p.length_m);
        row.appendChild(length);
        row.appendChild(el("td", "pm-minutes", t("%(minutes)s min", { minutes: p.duration_min })));
        totals.appendChild(row);
        sumLength += p.length_m; sumMinutes += p.duration_min; sumStops += p.order.length;
      });
      if (data.features.length > 1) {
        var total = el("tr", "pm-total");
        total.appendChild(el("td", null, t("Total")));
        total.appendChild(el("td", null, sumStops));
        total.appendChild(el("td", null, t("%(length)s m", { length: Math.round(sumLength * 10) / 10 })));
        total.appendChild(el("td", null, t("%(minutes)s min", { minutes: Math.round(sumMinutes * 10) / 10 })));
        totals.appendChild(total);
      }
      var problems = part(form, "problems");
      clear(problems);
      (data.unreachable || []).forEach(function (u) {
        problems.appendChild(el("li", "pm-problem", name(u.checkpoint).name + " · " + t("not reachable: %(reason)s", { reason: u.reason })));
      });
      (data.not_fitted || []).forEach(function (n) {
        problems.appendChild(el("li", "pm-problem", name(n).name + " · " + t("does not fit within the maximum duration")));
      });
      part(form, "problems-title").hidden = !problems.children.length;
      // Plans and saved routes carry their coverage (a saved one's against the campus as it is now).
      part(form, "coverage").hidden = !data.coverage;
      var coverage = data.coverage || { zones: [], buildings: [], hotspots: [] };
      listInto("zones", coverage.zones, function (z) {
        return z.name + " · " + teamsText(z.teams) + " · " + t("%(distance)s m", { distance: z.distance_m });
      });
      listInto("buildings", coverage.buildings, function (b) {
        return (b.name || t("building %(id)s", { id: b.id })) + " (" + pm.valueLabel(b.kind) + ") · " + teamsText(b.teams) +
          " · " + t("%(distance)s m", { distance: b.distance_m });
      });
      listInto("hotspots", coverage.hotspots, function (h) {
        return hotspotLabel(h) + " · " + (h.covered ? t("covered") : t("not covered")) +
          (h.distance_m === null ? "" : " · " + t("%(distance)s m", { distance: h.distance_m }));
      });
      part(form, "result").hidden = false;
      if (lineLayer.getLayers().length) map.fitBounds(lineLayer.getBounds(), { padding: [30, 30], maxZoom: 18 });
      map.fire("pm:planned", { data: data });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      setPicking(false);
      setSettingStart(false);
      if (!state.start) { showError(form, new Error(t("choose a start first"))); return; }
      if (!state.stops.length) { showError(form, new Error(t("add at least one stop"))); return; }
      var sent = planBody();
      var stops = state.stops.slice();
      var submit = form.querySelector('button[type="submit"]');
      submit.disabled = true;
      kit.request("POST", config.planUrl, sent.body).then(function (data) {
        showError(form, null);
        drawPlan(data, resolver(stops, sent.byId, data.coverage));
      }).catch(function (err) { showError(form, err); }).then(function () { submit.disabled = false; });
    });

    // ---- saving, and saved routes

    function saveBody() {
      var plan = planBody().body;
      var checkpointsOut = state.stops.map(function (s) {
        return s.id !== null && s.id !== undefined ? s.id : { name: s.name, lon: s.lon, lat: s.lat };
      });
      // Hotspots the plan visits are saved as stops of their own (a saved route is re-planned without them).
      if (plan.hotspots && state.plan && state.plan.coverage) {
        var visited = {};
        state.plan.features.forEach(function (f) { f.properties.order.forEach(function (n) { visited[n] = true; }); });
        state.plan.coverage.hotspots.forEach(function (h) {
          if (visited[h.stop]) checkpointsOut.push({ name: hotspotLabel(h), lon: h.lon, lat: h.lat });
        });
      }
      var days = Array.prototype.map.call(saveForm.querySelectorAll('[name="days"]:checked'), function (i) { return Number(i.value); });
      var note = field(saveForm, "note").value;
      return {
        campus: config.campus, name: field(saveForm, "name").value.trim(), mode: plan.mode, teams: plan.teams,
        max_minutes: plan.max_minutes, start: plan.start, checkpoints: checkpointsOut,
        shift: { start: field(saveForm, "shift_start").value || null, end: field(saveForm, "shift_end").value || null,
                 days: days, visits: Number(field(saveForm, "visits").value || 1) },
        note: note ? note : null,
      };
    }

    function setEditing(route) {
      state.editing = route ? { id: route.id, version: route.version, name: route.name } : null;
      part(saveForm, "editing").textContent = route ? t("editing %(name)s (version %(version)s)",
                                                        { name: route.name, version: route.version }) : "";
      part(saveForm, "save-new").hidden = !route;
    }

    function save(asNew) {
      showError(saveForm, null);
      part(saveForm, "status").textContent = "";
      if (!state.start) { showError(saveForm, new Error(t("choose a start first"))); return; }
      if (!state.stops.length) { showError(saveForm, new Error(t("add at least one stop"))); return; }
      var body = saveBody();
      if (!body.name) { showError(saveForm, new Error(t("name the route"))); return; }
      var editing = state.editing && !asNew;
      if (editing) body.version = state.editing.version;
      var url = editing ? fill(config.routeUrl, state.editing.id) : config.routesUrl;
      kit.request(editing ? "PUT" : "POST", url, body).then(function (data) {
        applyRoute(data);
        part(saveForm, "status").textContent = t("Saved.");
        loadList();
        map.fire("pm:saved", { route: data.route });
      }).catch(function (err) { showError(saveForm, err); });
    }
    saveForm.addEventListener("submit", function (event) { event.preventDefault(); save(false); });
    part(saveForm, "save-new").addEventListener("click", function () { save(true); });

    // A saved route (GET /api/routes/<id>): its form, its stops and start, and its plan on the map.
    function applyRoute(data) {
      var r = data.route;
      field(form, "mode").value = r.mode;
      field(form, "teams").value = r.teams;
      field(form, "max_minutes").value = r.max_minutes === null || r.max_minutes === undefined ? "" : r.max_minutes;
      field(form, "hotspots").checked = false;
      field(saveForm, "name").value = r.name;
      var shift = r.shift || {};
      field(saveForm, "shift_start").value = shift.start || "";
      field(saveForm, "shift_end").value = shift.end || "";
      field(saveForm, "visits").value = shift.visits || 1;
      saveForm.querySelectorAll('[name="days"]').forEach(function (box) {
        box.checked = (shift.days || []).indexOf(Number(box.value)) >= 0;
      });
      field(saveForm, "note").value = r.note || "";
      state.stops = r.checkpoints.map(function (c) { return { id: c.id, name: c.name, lon: c.lon, lat: c.lat }; });
      var s = r.start || {};
      var startName = null;
      if (s.checkpoint !== null && s.checkpoint !== undefined) {
        var known = starts.concat(r.checkpoints).filter(function (c) { return c.id === s.checkpoint; })[0];
        startName = known ? known.name : t("checkpoint %(id)s", { id: s.checkpoint });
      }
      state.plan = null;
      setStart({ id: s.checkpoint === undefined ? null : s.checkpoint, name: startName || t("Start"), lon: s.lon, lat: s.lat });
      setEditing(r);
      drawPlan(data, resolver(state.stops.slice(), true, data.coverage));
    }

    function loadRoute(id) {
      showError(savedBox, null);
      return kit.request("GET", fill(config.routeUrl, id)).then(function (data) {
        applyRoute(data);
        part(saveForm, "status").textContent = "";
        map.fire("pm:loaded-route", { route: data.route });
      }).catch(function (err) { showError(savedBox, err); });
    }

    function link(text, href) {
      var a = el("a", null, text);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      return a;
    }

    function loadList() {
      return kit.request("GET", config.routesUrl + "?" + query({ campus: config.campus })).then(function (data) {
        showError(savedBox, null);
        var list = part(savedBox, "list");
        clear(list);
        var routes = data.routes || [];
        routes.forEach(function (r) {
          var item = el("li");
          item.dataset.routeId = String(r.id);
          var open = el("button", "pm-link pm-load", r.name);
          open.type = "button";
          open.title = t("Load");
          open.addEventListener("click", function () { loadRoute(r.id); });
          item.appendChild(open);
          item.appendChild(el("span", null, " · " + t("%(stops)s stops · %(length)s m", { stops: r.stops, length: r.length_m })));
          var actions = el("span", "pm-route-actions");
          actions.appendChild(link("GPX", fill(config.gpxUrl, r.id)));
          actions.appendChild(link("GeoJSON", fill(config.geojsonUrl, r.id)));
          actions.appendChild(link(t("Route sheet"), fill(config.sheetUrl, r.id)));
          var remove = el("button", "pm-link pm-delete", t("Delete"));
          remove.type = "button";
          remove.addEventListener("click", function () {
            if (!window.confirm(t("Delete the route %(name)s?", { name: r.name }))) return;
            kit.request("DELETE", fill(config.routeUrl, r.id)).then(function () {
              if (state.editing && state.editing.id === r.id) setEditing(null);
              loadList();
            }).catch(function (err) { showError(savedBox, err); });
          });
          actions.appendChild(remove);
          item.appendChild(actions);
          list.appendChild(item);
        });
        if (!routes.length) list.appendChild(el("li", "pm-none", t("no saved routes")));
        map.fire("pm:routes-listed", { count: routes.length });
      }).catch(function (err) { showError(savedBox, err); });
    }

    changed();
    loadList();
  };
})();

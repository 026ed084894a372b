/* Grid management on /grid: the campus's grid zones (each coloured, with its officer, buildings and
 * residents), an admin's proposal of zones for N officers (balanced by residents or building count),
 * adjusted by moving buildings between zones, officers assigned and applied; saved zones edited
 * (name, officer, buildings, with their version); a grid officer's own zones first (their buildings,
 * open hazards and the last 30 days' violations); hazards reported at a point or a building and moved
 * through the rectification loop (reported -> notice issued -> rectifying -> rectified -> closed, or
 * escalated), overdue ones drawn red; a scorecard per zone with its CSV export; notifications.
 *
 * config: {campus, userId, zonesUrl, zoneUrl ("/api/grid/zones/{id}"), proposeUrl, applyUrl, officersUrl,
 *          scorecardsUrl, hazardsUrl, hazardUrl, transitionUrl, photosUrl, noticeUrl,
 *          notificationsUrl, notificationReadUrl, buildingsUrl, violationsUrl, meUrl, canPropose, canApply,
 *          canEditZones, canOfficers, canReadHazards, canReport, canTransition, canPhoto, canScore, canNotify,
 *          recentDays, maxOfficers, categories, urgencies, statuses, transitions, openStatuses,
 *          overdueStatuses}.
 * Only URLs, the slug, numbers, codes and flags: Folium re-parses the page's script as a template, so every
 * stored name (zones, buildings, officers, hazards) is fetched here and put on the page with textContent
 * (pm.el), never as HTML.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  // Zone colours: distinct from each other and from the hazards' red.
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                 "#393b79", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1"];
  var OVERDUE_COLOR = "#d7191c";
  var STATUS_COLORS = { reported: "#f0a202", notice_issued: "#ff7f00", rectifying: "#1f78b4", rectified: "#33a02c",
                        closed: "#9e9e9e", escalated: "#6a3d9a" };
  // What each move of the loop is called on its button.
  var ACTIONS = { notice_issued: "Issue a rectification notice", rectifying: "Start rectifying",
                  rectified: "Mark as rectified", closed: "Verify and close", escalated: "Escalate to the whole grid" };
  var REOPEN = "Verification failed: rectify again";
  var DAY_MS = 24 * 3600 * 1000;

  function t(key, params) { return pm.t(key, params); }
  function el(tag, className, text) { return pm.el(tag, className, text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fill(template, id) { return template.replace("{id}", encodeURIComponent(id)); }
  function has(obj, key) { return obj !== null && obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key); }

  // Count the page's pending work with the map layers', so tests and people see when it is done.
  var busy = kit.busy, tracked = kit.tracked;

  // A photo (or other file) as the form field "file".
  function upload(url, file) {
    var data = new FormData();
    data.append("file", file);
    return kit.request("POST", url, data);
  }

  function query(params) {
    return Object.keys(params).filter(function (k) {
      return params[k] !== "" && params[k] !== null && params[k] !== undefined && params[k] !== false;
    }).map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }

  function num(x) {
    if (x === null || x === undefined || x === "") return "";
    var n = Number(x);
    return isFinite(n) ? String(Math.round(n * 100) / 100) : String(x);
  }

  function listOf(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    if (data && Array.isArray(data.features)) return data.features;
    return [];
  }

  function when(text) { return text ? pm.formatTime(String(text)) : ""; }

  // ---- geometry: which polygon holds a point, a zone's outline around its buildings

  var polygonHolds = pm.kit.polygonHolds;
  function geometryHolds(geometry, x, y) {
    if (!geometry) return false;
    if (geometry.type === "Polygon") return polygonHolds(geometry.coordinates, x, y);
    if (geometry.type === "MultiPolygon") return geometry.coordinates.some(function (p) { return polygonHolds(p, x, y); });
    if (geometry.type === "GeometryCollection") return geometry.geometries.some(function (g) { return geometryHolds(g, x, y); });
    return false;
  }
  function pointsOf(geometry, out) {
    out = out || [];
    if (!geometry) return out;
    if (geometry.type === "Point") out.push(geometry.coordinates);
    else if (geometry.type === "GeometryCollection") geometry.geometries.forEach(function (g) { pointsOf(g, out); });
    else {
      (function walk(c) {
        if (typeof c[0] === "number") out.push(c);
        else c.forEach(walk);
      })(geometry.coordinates);
    }
    return out;
  }
  // The convex hull (Andrew's monotone chain) of some points, as a GeoJSON polygon.
  function hull(points) {
    var pts = points.map(function (p) { return [p[0], p[1]]; }).sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    if (pts.length < 3) return null;
    function cross(o, a, b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }
    var lower = [], upper = [];
    pts.forEach(function (p) {
      while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
      lower.push(p);
    });
    pts.slice().reverse().forEach(function (p) {
      while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
      upper.push(p);
    });
    var ring = lower.slice(0, -1).concat(upper.slice(0, -1));
    if (ring.length < 3) return null;
    ring.push(ring[0]);
    return { type: "Polygon", coordinates: [ring] };
  }
  function boundsOf(geometry) {
    var b = L.geoJSON(geometry).getBounds();
    return b.isValid() ? b : null;
  }

  // The balance of a proposal's workloads: the least, the most, the mean, and the most over the mean.
  function balanceOf(workloads) {
    if (!workloads.length) return { min: 0, max: 0, mean: 0, ratio: null };
    var min = Math.min.apply(null, workloads), max = Math.max.apply(null, workloads);
    var mean = workloads.reduce(function (a, b) { return a + b; }, 0) / workloads.length;
    return { min: min, max: max, mean: mean, ratio: mean > 0 ? max / mean : null };
  }

  pm.gridTools = function (map, config) {
    var panel = document.getElementById("pm-grid-tools");
    if (!panel) return;
    var details = kit.toolsPanel(map, "pm-grid-details");
    function box(id) { return document.getElementById(id); }
    var part = kit.part, field = kit.field, showError = kit.showError;

    // Zones under the buildings, proposed buildings above them (clickable), hazards above every point.
    [["pmGridZones", 405], ["pmGridBuildings", 415], ["pmGridViolations", 432], ["pmGridHazards", 436]].forEach(function (p) {
      if (!map.getPane(p[0])) map.createPane(p[0]).style.zIndex = p[1];
    });
    var zoneLayer = L.featureGroup().addTo(map);
    var proposalLayer = L.featureGroup().addTo(map);
    var editLayer = L.featureGroup().addTo(map);
    var violationLayer = L.featureGroup().addTo(map);
    var hazardLayer = L.featureGroup().addTo(map);
    var state = pm.gridTools.state = {
      zones: [], zonesById: {}, colors: {}, officers: [], buildings: {}, proposal: null, editing: null,
      hazards: [], hazard: null, reporting: false, me: null, myZones: [], recent: {}, scorecards: null,
      notifications: [], zoneLayer: zoneLayer, proposalLayer: proposalLayer, editLayer: editLayer,
      violationLayer: violationLayer, hazardLayer: hazardLayer,
    };
    // The page's own zone and hazard layers (pm.layer "grid-zones", "hazards") stay as the layer control has
    // them; these draw on top of them: each zone in its colour, the listed hazards (overdue red) clickable.
    function refreshLayer(id) {
      var layer = pm.layer(id);
      if (layer && map.hasLayer(layer)) layer.refresh(true);
    }

    var zonesBox = box("pm-grid-zones");
    var myBox = box("pm-my-zones");
    var proposeForm = box("pm-propose-form");
    var hazardsBox = box("pm-hazards");
    var detailBox = box("pm-hazard-detail");
    var scoreBox = box("pm-scorecards");
    var noteBox = box("pm-grid-notifications");

    // ---- shared look-ups

    function zoneId(f) { return has(f.properties, "id") && f.properties.id !== null ? f.properties.id : f.id; }
    function zoneName(id) {
      if (id === null || id === undefined) return t("outside every zone");
      var z = state.zonesById[String(id)];
      return z ? z.properties.name : t("zone %(id)s", { id: id });
    }
    function personName(p) {
      if (!p) return t("none");
      if (typeof p === "string") return p;
      return p.display_name || p.username || String(p.id);
    }
    function buildingLabel(id) {
      var b = state.buildings[String(id)];
      var name = b && (b.properties.name || b.properties.name_en);
      return name || t("building %(id)s", { id: id });
    }

    // Building features by id (for names, residents, footprints), fetched once.
    function fetchBuildings(ids) {
      var missing = ids.filter(function (id) { return !has(state.buildings, String(id)); });
      var chunks = [];
      for (var i = 0; i < missing.length; i += 500) chunks.push(missing.slice(i, i + 500));
      return Promise.all(chunks.map(function (chunk) {
        var params = query({ campus: config.campus, ids: chunk.join(","), limit: 1000 });
        return kit.request("GET", config.buildingsUrl + "?" + params).then(function (data) {
          (data.features || []).forEach(function (f) { state.buildings[String(f.id)] = f; });
        });
      })).then(function () { return state.buildings; });
    }

    // The building under a point: among those fetched here and those the buildings layer shows.
    function buildingAt(latlng) {
      var found = null;
      Object.keys(state.buildings).forEach(function (k) {
        var f = state.buildings[k];
        if (!found && geometryHolds(f.geometry, latlng.lng, latlng.lat)) found = f;
      });
      var layer = pm.layer("buildings");
      if (!found && layer && map.hasLayer(layer)) {
        layer.eachLayer(function (l) {
          if (!found && l.feature && l.feature.geometry && geometryHolds(l.feature.geometry, latlng.lng, latlng.lat)) {
            found = l.feature;
          }
        });
      }
      if (found) state.buildings[String(found.id)] = found;
      return found;
    }

    function swatch(color) {
      var s = el("span", "pm-swatch");
      s.style.background = color;
      return s;
    }

    function officerSelect(selected) {
      var select = el("select");
      select.name = "officer";
      var none = el("option", null, t("no officer"));
      none.value = "";
      select.appendChild(none);
      state.officers.forEach(function (o) {
        var option = el("option", null, personName(o));
        option.value = String(o.id);
        if (selected !== null && selected !== undefined && String(selected) === String(o.id)) option.selected = true;
        select.appendChild(option);
      });
      return select;
    }

    function loadOfficers() {
      if (!config.canOfficers) return Promise.resolve();
      return kit.request("GET", config.officersUrl + "?" + query({ campus: config.campus })).then(function (data) {
        state.officers = listOf(data, "officers");
      }).catch(function (err) { showError(zonesBox, err); });
    }

    function loadMe() {
      if (!config.meUrl) return Promise.resolve();
      return kit.request("GET", config.meUrl).then(function (me) { state.me = me; }).catch(function () { state.me = null; });
    }

    // ---- saved zones

    function loadZones() {
      return kit.request("GET", config.zonesUrl + "?" + query({ campus: config.campus })).then(function (data) {
        showError(zonesBox, null);
        state.zones = data.features || [];
        state.zonesById = {};
        state.colors = {};
        state.zones.forEach(function (z, i) {
          state.zonesById[String(zoneId(z))] = z;
          state.colors[String(zoneId(z))] = PALETTE[i % PALETTE.length];
        });
        state.myZones = state.zones.filter(function (z) {
          var o = z.properties.officer;
          return o && config.userId !== null && String(o.id !== undefined ? o.id : o) === String(config.userId);
        });
        var ids = [];
        state.zones.forEach(function (z) { (z.properties.buildings || []).forEach(function (b) { ids.push(b); }); });
        return fetchBuildings(ids).catch(function () { return null; }).then(function () {
          drawZones();
          renderZones();
          fillZoneFilter();
          renderMyZones();
          map.fire("pm:grid-zones", { zones: state.zones });
        });
      }).catch(function (err) { showError(zonesBox, err); });
    }

    function drawZones() {
      zoneLayer.clearLayers();
      var mine = {};
      state.myZones.forEach(function (z) { mine[String(zoneId(z))] = true; });
      state.zones.forEach(function (z) {
        if (!z.geometry) return;
        var id = String(zoneId(z));
        var color = state.colors[id];
        var own = Boolean(mine[id]);
        L.geoJSON(z.geometry, {
          style: function () {
            return { pane: "pmGridZones", color: color, weight: own ? 5 : 2.5, opacity: 0.95, fillColor: color,
                     fillOpacity: own ? 0.25 : 0.12, dashArray: own ? null : "6 4",
                     className: "pm-grid-zone" + (own ? " pm-grid-zone-mine" : "") };
          },
        }).eachLayer(function (l) {
          l.pmZoneId = zoneId(z);
          l.pmMine = own;
          l.bindTooltip(function () {
            var tip = el("div");
            tip.appendChild(el("div", "pm-popup-title", z.properties.name));
            tip.appendChild(el("div", null, t("grid officer") + ": " + personName(z.properties.officer)));
            return tip;
          }, { sticky: true });
          zoneLayer.addLayer(l);
        });
      });
    }

    function zoneFacts(p) {
      var count = p.building_count !== undefined ? p.building_count : (p.buildings || []).length;
      return t("%(count)s buildings", { count: count }) + " · " + t("%(residents)s residents", { residents: num(p.residents || 0) });
    }

    function zoomToZone(z) {
      var b = boundsOf(z.geometry);
      if (b) map.fitBounds(b, { padding: [20, 20], maxZoom: 18 });
    }

    function renderZones() {
      var list = part(zonesBox, "list");
      clear(list);
      state.zones.forEach(function (z) {
        var p = z.properties;
        var id = zoneId(z);
        var item = el("li", "pm-zone-item");
        item.dataset.zoneId = String(id);
        var head = el("div", "pm-zone-head");
        head.appendChild(swatch(state.colors[String(id)]));
        var go = el("button", "pm-link pm-zone-name", p.name);
        go.type = "button";
        go.addEventListener("click", function () { zoomToZone(z); });
        head.appendChild(go);
        if (config.canEditZones) {
          var edit = el("button", "pm-link pm-zone-edit", t("Edit"));
          edit.type = "button";
          edit.addEventListener("click", function () { startEdit(z, item); });
          head.appendChild(edit);
        }
        item.appendChild(head);
        var officer = el("div", "pm-hint pm-zone-officer", t("grid officer") + ": " + personName(p.officer));
        item.appendChild(officer);
        var facts = el("div", "pm-hint pm-zone-facts", zoneFacts(p));
        facts.dataset.buildings = String(p.building_count !== undefined ? p.building_count : (p.buildings || []).length);
        facts.dataset.residents = String(p.residents || 0);
        item.appendChild(facts);
        list.appendChild(item);
      });
      if (!state.zones.length) list.appendChild(el("li", "pm-none", t("no grid zones yet")));
    }

    // An admin edits a saved zone: its name, officer and buildings (clicked on the map), sent with its version.
    function startEdit(z, item) {
      stopEdit();
      var p = z.properties;
      var form = el("form", "pm-zone-edit-form");
      form.noValidate = true;
      var editing = state.editing = { zone: z, buildings: (p.buildings || []).slice(), form: form, picking: false };
      var nameLabel = el("label", "pm-wide", t("Name"));
      var name = el("input");
      name.name = "name";
      name.maxLength = 200;
      name.value = p.name || "";
      nameLabel.appendChild(name);
      form.appendChild(nameLabel);
      var officerLabel = el("label", "pm-wide", t("grid officer"));
      officerLabel.appendChild(officerSelect(p.officer ? p.officer.id : null));
      form.appendChild(officerLabel);
      form.appendChild(el("div", "pm-hint", t("Click buildings on the map to add them to this zone or take them out.")));
      var pick = el("button", null, t("Pick buildings on the map"));
      pick.type = "button";
      pick.dataset.role = "pick";
      pick.setAttribute("aria-pressed", "false");
      pick.addEventListener("click", function () { setEditPicking(!editing.picking); });
      form.appendChild(pick);
      var list = el("ul", "pm-list pm-long");
      list.dataset.role = "buildings";
      form.appendChild(list);
      var row = el("div", "pm-row");
      var save = el("button", "pm-primary", t("Save"));
      save.type = "submit";
      var cancel = el("button", null, t("Cancel"));
      cancel.type = "button";
      cancel.addEventListener("click", stopEdit);
      row.appendChild(save);
      row.appendChild(cancel);
      form.appendChild(row);
      var error = el("div", "pm-form-error");
      error.dataset.role = "error";
      error.setAttribute("role", "alert");
      form.appendChild(error);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        setEditPicking(false);
        var body = { name: name.value.trim(), buildings: editing.buildings.slice(),
                     officer: field(form, "officer").value ? Number(field(form, "officer").value) : null,
                     version: p.version };
        if (!body.name) { showError(form, new Error(t("name the zone"))); return; }
        save.disabled = true;
        kit.request("PUT", fill(config.zoneUrl, zoneId(z)), body).then(function (data) {
          stopEdit();
          map.fire("pm:zone-saved", { zone: data });
          return refreshAfterZones();
        }).catch(function (err) {
          showError(form, err);
        }).then(function () { save.disabled = false; });
      });
      item.appendChild(form);
      renderEditBuildings();
      zoomToZone(z);
    }

    function renderEditBuildings() {
      var editing = state.editing;
      if (!editing) return;
      var list = part(editing.form, "buildings");
      clear(list);
      editing.buildings.forEach(function (id) {
        var li = el("li");
        li.dataset.buildingId = String(id);
        li.appendChild(el("span", "pm-stop-name", buildingLabel(id)));
        var remove = el("button", "pm-link pm-remove", t("remove"));
        remove.type = "button";
        remove.addEventListener("click", function () { toggleEditBuilding(id); });
        li.appendChild(remove);
        list.appendChild(li);
      });
      if (!editing.buildings.length) list.appendChild(el("li", "pm-none", t("none")));
      editLayer.clearLayers();
      var color = state.colors[String(zoneId(editing.zone))] || PALETTE[0];
      editing.buildings.forEach(function (id) {
        var f = state.buildings[String(id)];
        if (!f) return;
        L.geoJSON(f.geometry, { style: function () {
          return { pane: "pmGridBuildings", color: "#000", weight: 2, fillColor: color, fillOpacity: 0.7, interactive: false };
        } }).eachLayer(function (l) { editLayer.addLayer(l); });
      });
    }

    function toggleEditBuilding(id) {
      var editing = state.editing;
      var at = editing.buildings.map(String).indexOf(String(id));
      if (at >= 0) editing.buildings.splice(at, 1);
      else editing.buildings.push(Number(id));
      renderEditBuildings();
    }

    function setEditPicking(on) {
      var editing = state.editing;
      if (!editing) return;
      editing.picking = on;
      var pick = part(editing.form, "pick");
      pick.classList.toggle("pm-active", on);
      pick.setAttribute("aria-pressed", on ? "true" : "false");
      pick.textContent = on ? t("Stop picking") : t("Pick buildings on the map");
      updatePicking();
    }

    function stopEdit() {
      if (!state.editing) return;
      var form = state.editing.form;
      state.editing.picking = false;
      state.editing = null;
      if (form.parentNode) form.parentNode.removeChild(form);
      editLayer.clearLayers();
      updatePicking();
    }

    function updatePicking() {
      map.getContainer().classList.toggle("pm-picking", Boolean(state.reporting || (state.editing && state.editing.picking)));
    }

    // After zones change: the zones, their scorecards and (for officers) their own view again.
    function refreshAfterZones() {
      refreshLayer("grid-zones");
      return Promise.all([loadZones(), loadScorecards()]);
    }

    // ---- a grid officer's own zones: their buildings, open hazards and recent violations

    var fittedMine = false;
    function renderMyZones() {
      if (!myBox) return;
      var holder = part(myBox, "zones");
      clear(holder);
      violationLayer.clearLayers();
      myBox.hidden = !state.myZones.length;
      if (!state.myZones.length) return;
      state.myZones.forEach(function (z) {
        var p = z.properties;
        var id = zoneId(z);
        var card = el("div", "pm-my-zone");
        card.dataset.zoneId = String(id);
        var head = el("h3");
        head.appendChild(swatch(state.colors[String(id)]));
        head.appendChild(el("span", "pm-my-zone-name", p.name));
        card.appendChild(head);
        card.appendChild(el("div", "pm-hint", zoneFacts(p)));
        card.appendChild(el("h4", null, t("Buildings")));
        var buildings = el("ul", "pm-list pm-long");
        buildings.dataset.role = "buildings";
        (p.buildings || []).forEach(function (b) {
          var li = el("li", null, buildingLabel(b));
          li.dataset.buildingId = String(b);
          buildings.appendChild(li);
        });
        if (!(p.buildings || []).length) buildings.appendChild(el("li", "pm-none", t("none")));
        card.appendChild(buildings);
        card.appendChild(el("h4", null, t("Open hazards")));
        var hazards = el("ul", "pm-list");
        hazards.dataset.role = "hazards";
        card.appendChild(hazards);
        var violations = el("h4", null, t("Violations in the last %(days)s days", { days: config.recentDays }));
        card.appendChild(violations);
        var vcount = el("div", "pm-hint");
        vcount.dataset.role = "violation-count";
        card.appendChild(vcount);
        var vlist = el("ul", "pm-list pm-long");
        vlist.dataset.role = "violations";
        card.appendChild(vlist);
        holder.appendChild(card);
        loadMyHazards(z, hazards);
        loadRecentViolations(z, vcount, vlist);
      });
      if (!fittedMine) {
        fittedMine = true;
        var bounds = null;
        state.myZones.forEach(function (z) {
          var b = boundsOf(z.geometry);
          if (b) bounds = bounds ? bounds.extend(b) : b;
        });
        if (bounds) {
          var fit = function () { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 18, animate: false }); };
          if (map._animatingZoom) {
            busy(1);
            map.once("zoomend", function () { fit(); busy(-1); });
          } else {
            fit();
          }
        }
      }
    }

    function loadMyHazards(z, list) {
      if (!config.canReadHazards) {
        list.appendChild(el("li", "pm-none", t("none")));
        return;
      }
      kit.request("GET", config.hazardsUrl + "?" + query({ campus: config.campus, zone: zoneId(z), status: "open" })).then(function (data) {
        clear(list);
        var open = (data.features || []).filter(function (f) { return isOpen(f.properties); });
        open.forEach(function (f) { list.appendChild(hazardItem(f)); });
        if (!open.length) list.appendChild(el("li", "pm-none", t("none")));
        list.dataset.count = String(open.length);
      }).catch(function (err) { list.appendChild(el("li", "pm-problem", err.message)); });
    }

    // The violations layer for the zone's bounding box, kept to those inside the zone in the last days.
    function loadRecentViolations(z, count, list) {
      var b = boundsOf(z.geometry);
      if (!b) return;
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(7); }).join(",");
      var now = Date.now();
      var since = now - config.recentDays * DAY_MS;
      kit.request("GET", config.violationsUrl + "?" + query({ campus: config.campus, bbox: bbox, limit: 10000 })).then(function (data) {
        var recent = (data.features || []).filter(function (f) {
          var at = Date.parse(f.properties.observed_at);
          var c = f.geometry && f.geometry.coordinates;
          return isFinite(at) && at >= since && at <= now && c && geometryHolds(z.geometry, c[0], c[1]);
        }).sort(function (a, b) { return Date.parse(b.properties.observed_at) - Date.parse(a.properties.observed_at); });
        state.recent[String(zoneId(z))] = recent;
        count.textContent = t("%(count)s violations", { count: recent.length });
        count.dataset.count = String(recent.length);
        clear(list);
        recent.slice(0, 50).forEach(function (f) {
          var p = f.properties;
          var li = el("li", null, when(p.observed_at) + " · " + pm.valueLabel(p.kind) + (p.plate ? " · " + p.plate : ""));
          li.dataset.violationId = String(f.id);
          list.appendChild(li);
          var c = f.geometry.coordinates;
          violationLayer.addLayer(L.circleMarker([c[1], c[0]], {
            pane: "pmGridViolations", radius: 3, color: "#fff", weight: 1, fillColor: "#e31a1c", fillOpacity: 0.8,
            interactive: false,
          }));
        });
        if (!recent.length) list.appendChild(el("li", "pm-none", t("none")));
      }).catch(function (err) { count.textContent = err.message; });
    }

    // ---- proposals: N officers' zones, adjusted by moving buildings, officers assigned, applied

    function proposalWorkloads() {
      var basis = state.proposal.basis;
      return state.proposal.zones.map(function (z) {
        if (basis === "buildings") return z.buildings.length;
        return z.buildings.reduce(function (sum, id) {
          var f = state.buildings[String(id)];
          return sum + (f && Number(f.properties.residents) ? Number(f.properties.residents) : 0);
        }, 0);
      });
    }

    function showBalance(balance) {
      [["min", balance.min], ["max", balance.max], ["mean", balance.mean], ["ratio", balance.ratio]].forEach(function (pair) {
        var cell = part(proposeForm, "balance-" + pair[0]);
        cell.textContent = pair[1] === null || pair[1] === undefined ? "" : num(pair[1]);
        cell.dataset.value = pair[1] === null || pair[1] === undefined ? "" : String(pair[1]);
      });
    }

    function proposalZoneOf(buildingId) {
      var zones = state.proposal.zones;
      for (var i = 0; i < zones.length; i++) {
        if (zones[i].buildings.map(String).indexOf(String(buildingId)) >= 0) return i;
      }
      return -1;
    }

    function drawProposal() {
      proposalLayer.clearLayers();
      var proposal = state.proposal;
      if (!proposal) return;
      proposal.zones.forEach(function (z, i) {
        var color = PALETTE[i % PALETTE.length];
        var outline = z.geometry;
        if (proposal.moved) {
          var pts = [];
          z.buildings.forEach(function (id) { var f = state.buildings[String(id)]; if (f) pointsOf(f.geometry, pts); });
          outline = hull(pts);
        }
        if (outline) {
          L.geoJSON(outline, { style: function () {
            return { pane: "pmGridZones", color: color, weight: 3, dashArray: "8 5", fillColor: color, fillOpacity: 0.1,
                     interactive: false, className: "pm-proposed-zone" };
          } }).eachLayer(function (l) { l.pmZoneIndex = i; proposalLayer.addLayer(l); });
        }
        z.buildings.forEach(function (id) {
          var f = state.buildings[String(id)];
          if (!f) return;
          L.geoJSON(f.geometry, {
            style: function () {
              return { pane: "pmGridBuildings", color: "#222", weight: 1.5, fillColor: color, fillOpacity: 0.8,
                       className: "pm-proposed-building" };
            },
            pointToLayer: function (_f, latlng) {
              return L.circleMarker(latlng, { pane: "pmGridBuildings", radius: 8, color: "#222", weight: 1.5,
                                              fillColor: color, fillOpacity: 0.9 });
            },
          }).eachLayer(function (l) {
            l.pmBuildingId = id;
            l.pmZoneIndex = i;
            l.on("click", function (e) {
              if (state.reporting) return;
              L.DomEvent.stopPropagation(e);
              openMove(id, e.latlng);
            });
            l.bindTooltip(function () { return el("div", null, buildingLabel(id) + " · " + proposal.zones[proposalZoneOf(id)].name); });
            proposalLayer.addLayer(l);
          });
        });
      });
    }

    // A building clicked in a proposal: choose the zone it goes to.
    function openMove(id, latlng) {
      var proposal = state.proposal;
      var from = proposalZoneOf(id);
      var content = el("form", "pm-move-form");
      content.appendChild(el("div", "pm-popup-title", buildingLabel(id)));
      var f = state.buildings[String(id)];
      if (f && f.properties.residents !== null && f.properties.residents !== undefined) {
        content.appendChild(el("div", null, t("%(residents)s residents", { residents: f.properties.residents })));
      }
      content.appendChild(el("div", null, t("now in %(zone)s", { zone: proposal.zones[from].name })));
      var label = el("label", null, t("Move to"));
      var select = el("select");
      select.name = "zone";
      proposal.zones.forEach(function (z, i) {
        var option = el("option", null, z.name);
        option.value = String(i);
        if (i === from) option.selected = true;
        select.appendChild(option);
      });
      label.appendChild(select);
      content.appendChild(label);
      var button = el("button", "pm-primary", t("Move"));
      button.type = "submit";
      content.appendChild(button);
      content.addEventListener("submit", function (event) {
        event.preventDefault();
        moveBuilding(id, Number(select.value));
        map.closePopup();
      });
      L.popup({ minWidth: 200, className: "pm-move-popup" }).setLatLng(latlng).setContent(content).openOn(map);
    }

    function moveBuilding(id, to) {
      var proposal = state.proposal;
      var from = proposalZoneOf(id);
      if (from === to || to < 0 || to >= proposal.zones.length) return;
      if (proposal.zones[from].buildings.length < 2) {
        showError(proposeForm, new Error(t("a zone needs at least one building")));
        return;
      }
      showError(proposeForm, null);
      var list = proposal.zones[from].buildings;
      list.splice(list.map(String).indexOf(String(id)), 1);
      proposal.zones[to].buildings.push(id);
      proposal.moved = true;
      drawProposal();
      renderProposal();
      map.fire("pm:proposal-changed", { id: id, from: from, to: to });
    }

    function renderProposal() {
      var proposal = state.proposal;
      var result = part(proposeForm, "result");
      result.hidden = !proposal;
      if (!proposal) return;
      var workloads = proposalWorkloads();
      // As proposed, the API's own figures; once a building moved, the same figures of the edited zones.
      showBalance(proposal.moved ? balanceOf(workloads) : proposal.balance);
      var about = proposal.method ? [t("method: %(method)s", { method: proposal.method })] : [];
      if (proposal.answer && proposal.answer.optimal) about.push(t("proven optimal"));
      part(proposeForm, "method").textContent = about.join(" · ");
      var warnings = part(proposeForm, "warnings");
      clear(warnings);
      ((proposal.answer && proposal.answer.warnings) || []).forEach(function (w) { warnings.appendChild(el("li", "pm-form-warning", w)); });
      var list = part(proposeForm, "zones");
      clear(list);
      proposal.zones.forEach(function (z, i) {
        var item = el("li", "pm-proposed-item");
        item.dataset.zoneIndex = String(i);
        var row = el("div", "pm-row");
        row.appendChild(swatch(PALETTE[i % PALETTE.length]));
        var name = el("input", "pm-zone-name-input");
        name.name = "zone_name";
        name.maxLength = 200;
        name.value = z.name;
        name.setAttribute("aria-label", t("Name"));
        name.addEventListener("change", function () { z.name = name.value.trim() || z.name; });
        row.appendChild(name);
        var officer = officerSelect(z.officer);
        officer.setAttribute("aria-label", t("grid officer"));
        officer.addEventListener("change", function () { z.officer = officer.value ? Number(officer.value) : null; });
        row.appendChild(officer);
        item.appendChild(row);
        var workload = proposal.moved ? workloads[i] : (z.workload !== undefined ? z.workload : workloads[i]);
        var facts = el("div", "pm-hint pm-proposed-facts",
                       t("%(count)s buildings", { count: z.buildings.length }) + " · " +
                       t("workload %(workload)s", { workload: num(workload) }));
        facts.dataset.workload = String(workload);
        facts.dataset.buildings = String(z.buildings.length);
        item.appendChild(facts);
        list.appendChild(item);
      });
    }

    function clearProposal() {
      state.proposal = null;
      proposalLayer.clearLayers();
      if (proposeForm) renderProposal();
    }

    if (proposeForm) {
      proposeForm.addEventListener("submit", function (event) {
        event.preventDefault();
        showError(proposeForm, null);
        part(proposeForm, "status").textContent = "";
        var officers = Number(field(proposeForm, "officers").value);
        if (!isFinite(officers) || officers < 1) { showError(proposeForm, new Error(t("give the number of officers"))); return; }
        var basis = (proposeForm.querySelector('[name="balance"]:checked') || { value: "residents" }).value;
        var kinds = Array.prototype.map.call(proposeForm.querySelectorAll('[name="kinds"]:checked'), function (c) { return c.value; });
        if (!kinds.length) { showError(proposeForm, new Error(t("choose at least one kind of building"))); return; }
        var body = { campus: config.campus, officers: officers, balance: basis, kinds: kinds };
        var submit = proposeForm.querySelector('button[type="submit"]');
        submit.disabled = true;
        kit.request("POST", config.proposeUrl, body).then(function (data) {
          var zones = (data.features || []).map(function (f, i) {
            var p = f.properties || {};
            return { name: p.name || t("Zone %(n)s", { n: i + 1 }), buildings: (p.buildings || []).slice(),
                     officer: p.officer && p.officer.id !== undefined ? p.officer.id : (p.officer || null),
                     workload: p.workload, geometry: f.geometry };
          });
          var ids = [];
          zones.forEach(function (z) { z.buildings.forEach(function (b) { ids.push(b); }); });
          return fetchBuildings(ids).then(function () {
            stopEdit();
            state.proposal = { zones: zones, basis: basis, balance: data.balance || balanceOf([]), method: data.method,
                               moved: false, answer: data };
            drawProposal();
            renderProposal();
            var bounds = proposalLayer.getBounds();
            if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 18, animate: false });
            map.fire("pm:proposed", { data: data });
          });
        }).catch(function (err) { showError(proposeForm, err); }).then(function () { submit.disabled = false; });
      });
      part(proposeForm, "discard").addEventListener("click", clearProposal);
      part(proposeForm, "apply").addEventListener("click", function () {
        var proposal = state.proposal;
        if (!proposal) return;
        if (state.zones.length && !window.confirm(t("Replace the %(old)s saved zones with these %(new)s?",
                                                    { old: state.zones.length, new: proposal.zones.length }))) return;
        var body = { campus: config.campus, zones: proposal.zones.map(function (z) {
          return { name: z.name, buildings: z.buildings.slice(), officer: z.officer };
        }) };
        var button = part(proposeForm, "apply");
        button.disabled = true;
        kit.request("POST", config.applyUrl, body).then(function (data) {
          clearProposal();
          part(proposeForm, "status").textContent = t("Applied.");
          map.fire("pm:applied", { data: data });
          return refreshAfterZones();
        }).catch(function (err) { showError(proposeForm, err); }).then(function () { button.disabled = false; });
      });
    }

    // ---- hazards: reported, listed, drawn, moved through the loop

    function isOverdue(p) {
      if (p.overdue === true || p.overdue === false) return p.overdue;
      if (!p.deadline || (config.overdueStatuses || []).indexOf(p.status) < 0) return false;
      var at = Date.parse(p.deadline);
      return isFinite(at) && at < Date.now();
    }
    function isOpen(p) { return (config.openStatuses || []).indexOf(p.status) >= 0; }

    function hazardZone(p) {
      if (p.zone === null || p.zone === undefined) return t("outside every zone");
      return p.zone_name || zoneName(p.zone);
    }

    function hazardTitle(p, id) {
      return pm.valueLabel(p.category, "category") + " #" + id;
    }

    function hazardItem(f) {
      var p = f.properties;
      var li = el("li", "pm-hazard-item" + (isOverdue(p) ? " pm-overdue" : ""));
      li.dataset.hazardId = String(f.id);
      li.dataset.status = p.status;
      var go = el("button", "pm-link", hazardTitle(p, f.id));
      go.type = "button";
      go.addEventListener("click", function () { openHazard(f.id, true); });
      li.appendChild(go);
      var bits = [pm.valueLabel(p.status), pm.valueLabel(p.urgency), hazardZone(p)];
      if (p.deadline) bits.push(t("deadline %(time)s", { time: when(p.deadline) }));
      li.appendChild(el("span", "pm-hint", " · " + bits.join(" · ")));
      if (isOverdue(p)) li.appendChild(el("span", "pm-overdue-mark", " " + t("overdue")));
      if (p.notice_number) {
        var notice = el("a", "pm-notice-link", t("notice %(number)s", { number: p.notice_number }));
        notice.href = fill(config.noticeUrl, f.id);
        notice.target = "_blank";
        notice.rel = "noopener";
        li.appendChild(el("span", null, " "));
        li.appendChild(notice);
      }
      return li;
    }

    function fillZoneFilter() {
      var select = field(hazardsBox, "zone");
      if (!select) return;
      var chosen = select.value;
      clear(select);
      var all = el("option", null, t("every zone"));
      all.value = "";
      select.appendChild(all);
      state.zones.forEach(function (z) {
        var option = el("option", null, z.properties.name);
        option.value = String(zoneId(z));
        select.appendChild(option);
      });
      select.value = chosen && state.zonesById[chosen] ? chosen : "";
    }

    function fillChoices(select, codes, withAll, field) {
      if (!select) return;
      clear(select);
      if (withAll) {
        var all = el("option", null, t(withAll));
        all.value = "";
        select.appendChild(all);
      }
      codes.forEach(function (code) {
        var option = el("option", null, pm.valueLabel(code, field));
        option.value = code;
        select.appendChild(option);
      });
    }

    var hazardSeq = 0;
    function loadHazards() {
      if (!hazardsBox) return Promise.resolve();
      var params = { campus: config.campus, status: field(hazardsBox, "status").value,
                     zone: field(hazardsBox, "zone").value, overdue: field(hazardsBox, "overdue").checked ? "true" : "" };
      var seq = ++hazardSeq;
      return kit.request("GET", config.hazardsUrl + "?" + query(params)).then(function (data) {
        if (seq !== hazardSeq) return;
        showError(hazardsBox, null);
        state.hazards = data.features || [];
        drawHazards();
        var list = part(hazardsBox, "list");
        clear(list);
        state.hazards.forEach(function (f) { list.appendChild(hazardItem(f)); });
        if (!state.hazards.length) list.appendChild(el("li", "pm-none", t("no hazards")));
        map.fire("pm:hazards", { count: state.hazards.length });
      }).catch(function (err) { if (seq === hazardSeq) showError(hazardsBox, err); });
    }

    function drawHazards() {
      hazardLayer.clearLayers();
      state.hazards.forEach(function (f) {
        if (!f.geometry) return;
        var p = f.properties;
        var c = f.geometry.coordinates;
        var overdue = isOverdue(p);
        var marker = L.circleMarker([c[1], c[0]], {
          pane: "pmGridHazards", radius: overdue ? 10 : 8, color: overdue ? "#000" : "#fff", weight: overdue ? 2.5 : 1.5,
          fillColor: overdue ? OVERDUE_COLOR : (STATUS_COLORS[p.status] || "#555"), fillOpacity: 0.95,
          className: "pm-hazard-marker" + (overdue ? " pm-hazard-overdue" : ""),
        });
        marker.pmHazardId = f.id;
        marker.pmOverdue = overdue;
        marker.bindTooltip(function () {
          return el("div", null, hazardTitle(p, f.id) + " · " + pm.valueLabel(p.status) + (overdue ? " · " + t("overdue") : ""));
        });
        marker.on("click", function (e) {
          L.DomEvent.stopPropagation(e);
          openHazard(f.id, true);
        });
        hazardLayer.addLayer(marker);
      });
    }

    // A hazard's popup on the page's own hazards layer opens the same details.
    if (hazardsBox) {
      pm.popupExtras.hazards = function (feature, popupBox) {
        var row = el("div", "pm-popup-actions");
        var more = el("button", null, t("Details"));
        more.type = "button";
        more.addEventListener("click", function () { map.closePopup(); openHazard(feature.id, true); });
        row.appendChild(more);
        popupBox.appendChild(row);
      };
      fillChoices(field(hazardsBox, "status"), config.statuses || [], "every status");
      ["status", "zone", "overdue"].forEach(function (name) {
        field(hazardsBox, name).addEventListener("change", loadHazards);
      });
    }

    // The moves this caller may make now: the API's `allowed` when it says, else the state machine's
    // (closing left out for the person who rectified it: verification is someone else's).
    function allowedMoves(p) {
      if (Array.isArray(p.next_statuses)) return p.next_statuses;
      if (!config.canTransition) return [];
      var next = ((config.transitions || {})[p.status] || []).slice();
      var me = state.me && state.me.username;
      if (me && p.rectified_by === me) next = next.filter(function (s) { return s !== "closed"; });
      return next;
    }

    function fact(table, label, value, role) {
      if (value === null || value === undefined || value === "") return;
      var row = el("tr");
      if (role) row.dataset.role = role;
      row.appendChild(el("th", null, label));
      row.appendChild(el("td", null, value));
      table.appendChild(row);
    }

    function openHazard(id, reveal) {
      return kit.request("GET", fill(config.hazardUrl, id)).then(function (f) {
        state.hazard = f;
        renderHazard(f);
        if (reveal) {
          if (details && !details.open) details.open = true;
          detailBox.scrollIntoView({ block: "nearest" });
        }
        map.fire("pm:hazard", { hazard: f });
        return f;
      }).catch(function (err) { showError(hazardsBox, err); });
    }

    function renderHazard(f) {
      var p = f.properties;
      var body = part(detailBox, "body");
      clear(body);
      detailBox.hidden = false;
      detailBox.dataset.hazardId = String(f.id);
      detailBox.dataset.status = p.status;
      var title = el("h3", "pm-hazard-title", hazardTitle(p, f.id));
      body.appendChild(title);
      var overdue = isOverdue(p);
      var table = el("table", "pm-table pm-hazard-facts");
      fact(table, t("Status"), pm.valueLabel(p.status) + (overdue ? " · " + t("overdue") : ""), "status");
      fact(table, t("Urgency"), pm.valueLabel(p.urgency), "urgency");
      fact(table, t("Grid zone"), hazardZone(p), "zone");
      if (p.building !== null && p.building !== undefined) fact(table, t("Building"), p.building_name || buildingLabel(p.building), "building");
      fact(table, t("Assigned to"), p.assignee ? personName(p.assignee) : t("nobody"), "assignee");
      fact(table, t("Reported by"), p.reported_by, "reported-by");
      fact(table, t("Reported at"), when(p.reported_at), "reported-at");
      fact(table, t("Notice number"), p.notice_number, "notice-number");
      fact(table, t("Responsible unit"), p.responsible_unit, "responsible-unit");
      fact(table, t("Deadline"), when(p.deadline), "deadline");
      fact(table, t("Rectified by"), p.rectified_by, "rectified-by");
      fact(table, t("Closed by"), p.closed_by, "closed-by");
      fact(table, t("Closed at"), when(p.closed_at), "closed-at");
      fact(table, t("Escalation reason"), p.escalated_reason, "escalated-reason");
      body.appendChild(table);
      if (overdue) body.querySelector('[data-role="status"]').classList.add("pm-overdue");
      body.appendChild(el("p", "pm-hazard-description", p.description));
      if (p.notice_number) {
        var notice = el("a", "pm-notice-link", t("Printable rectification notice"));
        notice.href = p.notice_url || fill(config.noticeUrl, f.id);
        notice.target = "_blank";
        notice.rel = "noopener";
        notice.dataset.role = "notice";
        body.appendChild(notice);
      }
      // photos
      var photos = el("div", "pm-photos");
      photos.dataset.role = "photos";
      (p.photo_list || []).forEach(function (ph) { photos.appendChild(photoImage(ph)); });
      body.appendChild(photos);
      if (config.canPhoto && config.photosUrl) {
        var file = el("input");
        file.type = "file";
        file.accept = "image/jpeg,image/png";
        file.setAttribute("capture", "environment");
        file.setAttribute("aria-label", t("Add a photo"));
        var note = el("div", "pm-form-error");
        file.addEventListener("change", function () {
          if (!file.files.length) return;
          upload(fill(config.photosUrl, f.id), file.files[0]).then(function (ph) {
            photos.appendChild(photoImage(ph));
            note.textContent = "";
          }).catch(function (err) { note.textContent = err.message; });
        });
        body.appendChild(file);
        body.appendChild(note);
      }
      // history
      body.appendChild(el("h4", null, t("History")));
      var events = el("ol", "pm-list pm-hazard-events");
      events.dataset.role = "events";
      (p.events || []).forEach(function (ev) {
        var li = el("li");
        li.dataset.to = ev.to;
        li.dataset.actor = ev.actor || "";
        var move = ev.from ? pm.valueLabel(ev.from) + " → " + pm.valueLabel(ev.to) : pm.valueLabel(ev.to);
        li.appendChild(el("span", "pm-event-move", move));
        li.appendChild(el("span", "pm-hint", " · " + when(ev.at) + " · " + (ev.actor || "")));
        if (ev.note) li.appendChild(el("div", "pm-event-note", ev.note));
        events.appendChild(li);
      });
      if (!(p.events || []).length) events.appendChild(el("li", "pm-none", t("none")));
      body.appendChild(events);
      // the moves allowed now
      var moves = allowedMoves(p);
      if (moves.length) body.appendChild(transitionForm(f, moves));
      else if (p.status !== "closed") body.appendChild(el("p", "pm-hint", t("No move of this hazard is yours to make now.")));
    }

    function photoImage(ph) {
      var url = ph.url || null;
      var link = el("a");
      if (url) link.href = url;
      link.target = "_blank";
      link.rel = "noopener";
      var img = el("img", "pm-photo");
      if (url) img.src = url;
      img.alt = t("hazard photo");
      link.appendChild(img);
      return link;
    }

    function labelled(text, input, wide) {
      var label = el("label", wide ? "pm-wide" : null, text);
      label.appendChild(input);
      return label;
    }

    function transitionForm(f, moves) {
      var p = f.properties;
      var form = el("form", "pm-transition-form");
      form.noValidate = true;
      var note = el("textarea");
      note.name = "note";
      note.rows = 2;
      note.maxLength = 2000;
      form.appendChild(labelled(t("Note"), note, true));
      if (moves.indexOf("notice_issued") >= 0) {
        var unit = el("input");
        unit.name = "responsible_unit";
        unit.maxLength = 200;
        unit.value = p.responsible_unit || "";
        unit.placeholder = t("e.g. the logistics department");
        form.appendChild(labelled(t("Responsible unit (for the notice)"), unit, true));
        var number = el("input");
        number.name = "notice_number";
        number.maxLength = 64;
        number.placeholder = t("given automatically if empty");
        form.appendChild(labelled(t("Notice number"), number, true));
      }
      if (moves.indexOf("escalated") >= 0) {
        var reason = el("input");
        reason.name = "reason";
        reason.maxLength = 2000;
        form.appendChild(labelled(t("Reason (needed to escalate)"), reason, true));
      }
      var row = el("div", "pm-row pm-transition-buttons");
      moves.forEach(function (to) {
        var words = to === "rectifying" && p.status === "rectified" ? REOPEN : (ACTIONS[to] || to);
        var button = el("button", "pm-move-" + to, t(words));
        button.type = "button";
        button.dataset.to = to;
        button.addEventListener("click", function () { transition(f, to, form, button); });
        row.appendChild(button);
      });
      form.appendChild(row);
      var error = el("div", "pm-form-error");
      error.dataset.role = "error";
      error.setAttribute("role", "alert");
      form.appendChild(error);
      return form;
    }

    function transition(f, to, form, button) {
      showError(form, null);
      var body = { to: to, note: field(form, "note").value.trim() || null };
      if (to === "notice_issued") {
        var unit = field(form, "responsible_unit").value.trim();
        if (!unit && !f.properties.responsible_unit) { showError(form, new Error(t("name the responsible unit"))); return; }
        body.notice = unit ? { responsible_unit: unit } : {};
        var number = field(form, "notice_number").value.trim();
        if (number) body.notice.number = number;
      }
      if (to === "escalated") {
        var reason = field(form, "reason").value.trim();
        if (!reason) { showError(form, new Error(t("give the reason for escalating"))); return; }
        body.reason = reason;
      }
      if (f.properties.version !== undefined) body.version = f.properties.version;
      button.disabled = true;
      kit.request("POST", fill(config.transitionUrl, f.id), body).then(function () {
        map.fire("pm:hazard-moved", { id: f.id, to: to });
        return afterHazardChange(f.id);
      }).catch(function (err) {
        showError(form, err);
        button.disabled = false;
      });
    }

    function afterHazardChange(id) {
      refreshLayer("hazards");
      return Promise.all([openHazard(id, false), loadHazards(), loadScorecards(), loadNotifications(),
                          state.myZones.length ? Promise.resolve(renderMyZones()) : null]);
    }

    // Reporting: the button, then a click on the map (or on a building) opens the form there.
    var reportButton = part(hazardsBox, "report");
    function setReporting(on) {
      state.reporting = on;
      if (reportButton) {
        reportButton.classList.toggle("pm-active", on);
        reportButton.setAttribute("aria-pressed", on ? "true" : "false");
        reportButton.textContent = on ? t("Stop reporting") : t("Report a hazard");
      }
      if (on) setEditPicking(false);
      updatePicking();
      var hint = part(hazardsBox, "report-hint");
      if (hint) hint.hidden = !on;
    }
    if (reportButton) {
      reportButton.addEventListener("click", function () { setReporting(!state.reporting); });
    }

    function reportForm(latlng, building) {
      var form = el("form", "pm-record-form pm-hazard-form");
      form.noValidate = true;
      form.appendChild(el("div", "pm-popup-title", t("Report a hazard")));
      var category = el("select");
      category.name = "category";
      fillChoices(category, config.categories || [], null, "category");
      form.appendChild(labelled(t("Category"), category));
      var urgency = el("select");
      urgency.name = "urgency";
      fillChoices(urgency, config.urgencies || []);
      urgency.value = (config.urgencies || []).indexOf("normal") >= 0 ? "normal" : urgency.value;
      form.appendChild(labelled(t("Urgency"), urgency));
      var description = el("textarea");
      description.name = "description";
      description.rows = 3;
      description.maxLength = 4000;
      form.appendChild(labelled(t("Description"), description));
      var atBuilding = null;
      if (building) {
        var check = el("label", "pm-check");
        atBuilding = el("input");
        atBuilding.type = "checkbox";
        atBuilding.name = "at_building";
        atBuilding.checked = true;
        check.appendChild(atBuilding);
        check.appendChild(el("span", null, t("in %(building)s", { building: buildingLabel(building.id) })));
        form.appendChild(check);
      }
      var photo = null;
      if (config.canPhoto) {
        photo = el("input");
        photo.type = "file";
        photo.name = "photo";
        photo.accept = "image/jpeg,image/png";
        photo.setAttribute("capture", "environment");
        form.appendChild(labelled(t("Photo (optional)"), photo));
      }
      var error = el("div", "pm-form-error");
      error.setAttribute("role", "alert");
      form.appendChild(error);
      var submit = el("button", null, t("Report"));
      submit.type = "submit";
      form.appendChild(submit);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        error.textContent = "";
        if (!description.value.trim()) { error.textContent = t("describe the hazard"); return; }
        var body = { campus: config.campus, category: category.value, urgency: urgency.value,
                     description: description.value.trim() };
        if (atBuilding && atBuilding.checked) body.building = building.id;
        else { body.lon = latlng.lng; body.lat = latlng.lat; }
        submit.disabled = true;
        kit.request("POST", config.hazardsUrl, body).then(function (f) {
          var next = photo && photo.files.length ? upload(fill(config.photosUrl, f.id), photo.files[0]) : null;
          return Promise.resolve(next).then(function () { return f; }, function (err) {
            // Reported; only the photo failed: say so, the hazard stands.
            showError(hazardsBox, err);
            return f;
          });
        }).then(function (f) {
          map.closePopup();
          setReporting(false);
          map.fire("pm:hazard-reported", { hazard: f });
          return afterHazardChange(f.id);
        }).catch(function (err) { error.textContent = err.message; }).then(function () { submit.disabled = false; });
      });
      return form;
    }

    map.on("click", function (e) {
      if (state.reporting) {
        var building = buildingAt(e.latlng);
        L.popup({ minWidth: 240, className: "pm-record-popup" }).setLatLng(e.latlng)
          .setContent(reportForm(e.latlng, building)).openOn(map);
        map.fire("pm:report-form", { building: building ? building.id : null });
        return;
      }
      if (state.editing && state.editing.picking) {
        var b = buildingAt(e.latlng);
        if (b) toggleEditBuilding(b.id);
      }
    });

    // ---- scorecards

    // The scorecard's columns (patrolmap/web/hazards_api.py): the zone's name, officer, buildings, residents,
    // open and overdue hazards, violations of the last 30 days, the last saved patrol route passing it.
    var SCORE_COLUMNS = [
      ["name", "Grid zone"], ["officer", "grid officer"], ["buildings", "Buildings"], ["residents", "Residents"],
      ["open_hazards", "Open hazards"], ["overdue_hazards", "Overdue"], ["violations_30d", "Violations (30 days)"],
      ["last_route", "Last patrol route"],
    ];
    function scoreValue(row, key) {
      var v = row[key];
      if (key === "officer") return v ? personName(v) : t("none");
      if (key === "last_route") return v ? (v.name || String(v.id)) + (v.saved_at ? " · " + when(v.saved_at) : "") : t("none");
      if (v === null || v === undefined) return "";
      return Array.isArray(v) ? String(v.length) : String(v);
    }

    function loadScorecards() {
      if (!scoreBox) return Promise.resolve();
      return kit.request("GET", config.scorecardsUrl + "?" + query({ campus: config.campus, format: "json" })).then(function (data) {
        showError(scoreBox, null);
        var rows = listOf(data, "zones");
        state.scorecards = rows;
        var table = part(scoreBox, "table");
        var head = table.querySelector("thead");
        var body = table.querySelector("tbody");
        clear(head);
        clear(body);
        var columns = SCORE_COLUMNS;
        var hr = el("tr");
        columns.forEach(function (c) { hr.appendChild(el("th", null, t(c[1]))); });
        head.appendChild(hr);
        rows.forEach(function (r) {
          var tr = el("tr");
          var id = r.zone;
          tr.dataset.zoneId = String(id);
          columns.forEach(function (c) {
            var td = el("td", "pm-score-" + c[0].replace(/_/g, "-"), scoreValue(r, c[0]));
            if (typeof r[c[0]] === "number") td.dataset.value = String(r[c[0]]);
            tr.appendChild(td);
          });
          tr.addEventListener("click", function () {
            var z = state.zonesById[String(id)];
            if (z) zoomToZone(z);
          });
          body.appendChild(tr);
        });
        table.hidden = !rows.length;
        part(scoreBox, "empty").hidden = Boolean(rows.length);
        map.fire("pm:scorecards", { rows: rows });
      }).catch(function (err) { showError(scoreBox, err); });
    }
    if (scoreBox) {
      part(scoreBox, "csv").href = config.scorecardsUrl + "?" + query({ campus: config.campus, format: "csv" });
    }

    // ---- notifications: a count on the panel's title, the list with "mark read"

    function loadNotifications() {
      if (!config.canNotify || !noteBox) return Promise.resolve();
      return kit.request("GET", config.notificationsUrl + "?" + query({ campus: config.campus })).then(function (data) {
        showError(noteBox, null);
        var items = listOf(data, "notifications");
        state.notifications = items;
        var unread = typeof data.unread === "number" ? data.unread : items.filter(function (n) { return !n.read_at; }).length;
        var badge = document.querySelector("#pm-grid-details > summary [data-role=badge]");
        [badge, part(noteBox, "count")].forEach(function (node) {
          if (!node) return;
          node.textContent = String(unread);
          node.hidden = !unread;
          node.dataset.count = String(unread);
        });
        var list = part(noteBox, "list");
        clear(list);
        items.forEach(function (n) {
          var li = el("li", n.read_at ? "pm-read" : "pm-unread");
          li.dataset.notificationId = String(n.id);
          li.appendChild(el("span", "pm-hint", when(n.sent_at) + " "));
          if (n.title) li.appendChild(el("strong", "pm-notification-title", n.title + " "));
          var text = n.message || t("hazard %(id)s", { id: n.hazard });
          if (n.hazard !== null && n.hazard !== undefined && config.canReadHazards) {
            var go = el("button", "pm-link", text);
            go.type = "button";
            go.addEventListener("click", function () { openHazard(n.hazard, true); });
            li.appendChild(go);
          } else {
            li.appendChild(el("span", null, text));
          }
          if (!n.read_at) {
            var read = el("button", "pm-link pm-mark-read", t("mark read"));
            read.type = "button";
            read.addEventListener("click", function () {
              kit.request("POST", fill(config.notificationReadUrl, n.id), {})
                .then(loadNotifications).catch(function (err) { showError(noteBox, err); });
            });
            li.appendChild(read);
          }
          list.appendChild(li);
        });
        if (!items.length) list.appendChild(el("li", "pm-none", t("no notifications")));
      }).catch(function (err) { showError(noteBox, err); });
    }

    // ---- start: who I am and the officers, then zones (which the rest names), hazards, scorecards

    // Counted as one piece of pending work from start to end, so the page is never idle in between.
    tracked(Promise.all([loadMe(), loadOfficers()]).then(function () {
      return loadZones();
    }).then(function () {
      return Promise.all([loadHazards(), loadScorecards(), loadNotifications()]);
    })).then(function () { map.fire("pm:grid-ready"); });
  };
})();

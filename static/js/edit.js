/* Editing the campus on /edit: pick a layer the caller may edit, click a feature to edit its attributes,
 * move or reshape it, delete it, draw a new one, split and join paths, and undo within the session.
 *
 * Every change goes through the editing API (patrolmap/web/edit_api.py), the same path scripts use, so the
 * API's rules and messages are the page's: a 422 is shown next to the fields it names, a 409 (someone saved
 * first, or the feature is referenced) is shown as the API words it, with "Reload" to fetch the current item.
 * Each save carries the version the page read; the page never overwrites another person's change.
 *
 * Undo keeps a stack of inverse operations, done through the same API: an edit is undone by writing the
 * previous values back (with the version this page's own save produced, so a later change by someone else is
 * refused, not lost), a creation by deleting it, a deletion by creating the feature again, a split by joining
 * the two pieces, a join by restoring the kept path's line and re-creating the other.
 *
 * config: {campus, itemsUrl ("/api/layers/{layer}/items"), itemUrl (".../{id}"), splitUrl, joinUrl,
 *          splitMaxM, layers: [{id, geometry: [types], fields: [{name, type, choices, min, max, required,
 *          default, maxLength}]}], labels: {field: label}}.
 * Only URLs, the slug, numbers, codes and fixed labels: stored names are fetched here and put on the page with
 * textContent or as input values, never as HTML.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  var HOURS_EXAMPLE = "06:00-23:00";
  var EDIT_STYLE = { color: "#ff00ff", weight: 4, opacity: 0.95, fillColor: "#ff00ff", fillOpacity: 0.15, dashArray: null };
  var DRAW_STYLE = { color: "#ff00ff", weight: 4, opacity: 0.8, fill: true, fillOpacity: 0.15 };
  var PICK_PX = { mouse: 10, touch: 22 };  // how far from a point or line a click still picks it
  var META = { version: true, campus: true, updated_at: true, id: true };

  function t(key, params) { return pm.t(key, params); }
  function el(tag, className, text) { return pm.el(tag, className, text); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function has(obj, key) { return obj !== null && obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key); }
  function copy(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }
  function same(a, b) {
    var x = a === undefined || a === "" ? null : a, y = b === undefined || b === "" ? null : b;
    return JSON.stringify(x) === JSON.stringify(y);
  }

  // One API call: resolves {ok, status, data} whatever the status (the page words every answer itself).
  function call(method, url, body) {
    return kit.tracked(kit.request(method, url, body, { raw: true, track: false }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: res.ok, status: res.status, data: data };
      });
    }, function (err) { return { ok: false, status: 0, data: { message: err.message } }; }));
  }
  function messageOf(answer) {
    var data = answer.data;
    return (data && (data.message || data.error)) || String(answer.status);
  }

  // ---- geometry helpers (screen distances, polygon membership)

  var polygonHolds = pm.kit.polygonHolds;
  function linesOf(geometry) {
    if (!geometry) return [];
    switch (geometry.type) {
      case "LineString": return [geometry.coordinates];
      case "MultiLineString": return geometry.coordinates;
      case "Polygon": return geometry.coordinates;
      case "MultiPolygon": return [].concat.apply([], geometry.coordinates);
      default: return [];
    }
  }
  function polygonsOf(geometry) {
    if (!geometry) return [];
    if (geometry.type === "Polygon") return [geometry.coordinates];
    if (geometry.type === "MultiPolygon") return geometry.coordinates;
    return [];
  }

  pm.editTools = function (map, config) {
    var panel = document.getElementById("pm-edit-tools");
    if (!panel) return;
    // On a phone the map first; the panel opens when a feature is picked.
    var details = kit.toolsPanel(map, "pm-edit-details");
    var phone = kit.isPhone();
    function part(role) { return panel.querySelector('[data-role="' + role + '"]'); }
    var layerSelect = part("layer");
    var drawButtons = part("draw-buttons");
    var undoButton = part("undo");
    var message = part("message");
    var featureBox = document.getElementById("pm-edit-feature");
    var titleBox = featureBox.querySelector('[data-role="title"]');
    var form = featureBox.querySelector("form");
    var fieldsBox = featureBox.querySelector('[data-role="fields"]');
    var formError = featureBox.querySelector('[data-role="error"]');
    var reloadButton = featureBox.querySelector('[data-role="reload"]');
    var reshapeButton = featureBox.querySelector('[data-role="reshape"]');
    var saveShapeButton = featureBox.querySelector('[data-role="save-shape"]');
    var deleteButton = featureBox.querySelector('[data-role="delete"]');
    var pathTools = featureBox.querySelector('[data-role="path-tools"]');
    var splitButton = featureBox.querySelector('[data-role="split"]');
    var joinButton = featureBox.querySelector('[data-role="join"]');
    var cancelButton = featureBox.querySelector('[data-role="cancel"]');
    var hint = part("hint");

    if (!map.getPane("pmEdit")) map.createPane("pmEdit").style.zIndex = 450;
    // Leaflet.draw's own tooltips speak English only: the panel's hint says what to do, in the page's language.
    map.options.drawControlTooltips = false;
    var editLayer = L.featureGroup().addTo(map);
    var specs = {};
    config.layers.forEach(function (l) { specs[l.id] = l; });
    var state = pm.editTools.state = {
      layer: null, item: null, draft: null, shape: null, mode: null, drawer: null, undo: [], versions: {},
      editLayer: editLayer, busy: false,
    };
    // On this page a click on the map picks the feature of the chosen layer nearest to it (points and thin
    // lines need no precise tap); the layers' own popups stay closed.
    map.getContainer().classList.add("pm-editing");

    function fill(template, values) {
      return template.replace(/\{(\w+)\}/g, function (whole, name) {
        return has(values, name) ? encodeURIComponent(values[name]) : whole;
      });
    }
    function itemUrl(layer, id) { return fill(config.itemUrl, { layer: layer, id: id }); }
    function key(layer, id) { return layer + ":" + id; }
    function title(layer) {
      var group = pm.layer(layer);
      return group && group.config ? group.config.title : layer;
    }
    function label(field) { return (config.labels && config.labels[field]) || field.replace(/_/g, " "); }
    function nameOf(feature) {
      var p = (feature && feature.properties) || {};
      return p.name || p.name_en || t("feature %(id)s", { id: feature ? feature.id : "" });
    }
    function say(text, isError) {
      message.textContent = text || "";
      message.classList.toggle("pm-form-error", Boolean(isError));
    }
    function showError(text) {
      formError.textContent = text || "";
    }
    function refreshLayer(layer) {
      var group = pm.layer(layer);
      if (group && map.hasLayer(group)) group.refresh(true);
    }
    function remember(layer, feature) {
      if (feature && feature.properties && feature.properties.version !== undefined) {
        state.versions[key(layer, feature.id)] = feature.properties.version;
      }
    }

    // ---- the layer choice

    config.layers.forEach(function (l) {
      var option = el("option", null, title(l.id));
      option.value = l.id;
      layerSelect.appendChild(option);
    });
    layerSelect.addEventListener("change", function () { chooseLayer(layerSelect.value); });

    function chooseLayer(layer) {
      stopModes();
      deselect();
      state.layer = layer;
      layerSelect.value = layer;
      var group = pm.layer(layer);
      if (group && !map.hasLayer(group)) map.addLayer(group);
      clear(drawButtons);
      var types = specs[layer].geometry;
      var kinds = [];
      if (types.indexOf("Point") >= 0) kinds.push(["Point", t("Place a point")]);
      if (types.indexOf("LineString") >= 0) kinds.push(["LineString", t("Draw a line")]);
      if (types.indexOf("Polygon") >= 0) kinds.push(["Polygon", t("Draw an area")]);
      kinds.forEach(function (k) {
        var button = el("button", null, k[1]);
        button.type = "button";
        button.dataset.geometry = k[0];
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () {
          if (state.mode === "draw" && state.drawType === k[0]) { stopModes(); return; }
          startDraw(k[0]);
        });
        drawButtons.appendChild(button);
      });
      setHint(t("Click a feature on the map to edit it, or draw a new one."));
    }

    function setHint(text) { hint.textContent = text; }

    // ---- modes: drawing, reshaping, picking a split point or a path to join

    function setMode(mode) {
      state.mode = mode;
      map.getContainer().classList.toggle("pm-edit-picking", mode === "split" || mode === "join");
      drawButtons.querySelectorAll("button").forEach(function (b) {
        var on = mode === "draw" && b.dataset.geometry === state.drawType;
        b.classList.toggle("pm-active", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
      [[splitButton, "split"], [joinButton, "join"]].forEach(function (p) {
        p[0].classList.toggle("pm-active", mode === p[1]);
        p[0].setAttribute("aria-pressed", mode === p[1] ? "true" : "false");
      });
      reshapeButton.classList.toggle("pm-active", mode === "reshape");
      saveShapeButton.hidden = mode !== "reshape";
    }

    function stopModes() {
      if (state.drawer) {
        var drawer = state.drawer;
        state.drawer = null;
        drawer.disable();
      }
      if (state.mode === "reshape") stopReshape(true);
      setMode(null);
    }

    function startDraw(type) {
      stopModes();
      deselect();
      state.drawType = type;
      var handler;
      if (type === "Point") handler = new L.Draw.Marker(map, { icon: pointIcon() });
      else if (type === "LineString") handler = new L.Draw.Polyline(map, { shapeOptions: DRAW_STYLE });
      else handler = new L.Draw.Polygon(map, { allowIntersection: false, shapeOptions: DRAW_STYLE });
      state.drawer = handler;
      setMode("draw");
      handler.enable();
      setHint(type === "Point" ? t("Click the map where it is.")
        : type === "LineString" ? t("Click the map at each point of the line; click the last point again to finish.")
        : t("Click the map at each corner; click the first corner again to close the area."));
    }

    map.on("draw:created", function (e) {
      if (state.mode !== "draw") return;
      var geometry = e.layer.toGeoJSON(false).geometry;
      state.drawer = null;
      setMode(null);
      startDraft(geometry);
    });
    map.on("draw:drawstop", function () {
      if (state.mode === "draw") { state.drawer = null; setMode(null); }
    });

    function pointIcon() {
      return L.divIcon({ className: "pm-edit-point", iconSize: [18, 18] });
    }

    // ---- the selected feature, drawn over its layer

    function shapeLayer(geometry) {
      var c = geometry.coordinates;
      if (geometry.type === "Point") return L.marker([c[1], c[0]], { icon: pointIcon(), keyboard: false });
      var style = L.extend({ pane: "pmEdit" }, EDIT_STYLE);
      if (geometry.type === "LineString") return L.polyline(L.GeoJSON.coordsToLatLngs(c, 0), L.extend(style, { fill: false }));
      if (geometry.type === "Polygon") return L.polygon(L.GeoJSON.coordsToLatLngs(c, 1), style);
      if (geometry.type === "MultiPolygon") return L.polygon(L.GeoJSON.coordsToLatLngs(c, 2), style);
      return null;
    }

    function drawShape(geometry) {
      editLayer.clearLayers();
      state.shape = geometry ? shapeLayer(geometry) : null;
      if (state.shape) editLayer.addLayer(state.shape);
    }

    function deselect() {
      if (state.mode === "reshape" || state.mode === "split" || state.mode === "join") stopModes();
      state.item = null;
      state.draft = null;
      drawShape(null);
      featureBox.hidden = true;
      featureBox.removeAttribute("data-feature-id");
      reloadButton.hidden = true;
      showError("");
    }

    function select(layer, id) {
      return call("GET", itemUrl(layer, id)).then(function (answer) {
        if (!answer.ok) { say(messageOf(answer), true); return null; }
        showItem(layer, answer.data);
        return answer.data;
      });
    }

    function showItem(layer, feature) {
      if (state.mode === "reshape") stopReshape(true);
      state.item = feature;
      state.draft = null;
      remember(layer, feature);
      drawShape(feature.geometry);
      buildForm(layer, feature.properties || {});
      titleBox.textContent = title(layer) + ": " + nameOf(feature);
      featureBox.hidden = false;
      featureBox.dataset.featureId = String(feature.id);
      featureBox.dataset.version = String(feature.properties.version);
      reshapeButton.hidden = false;
      deleteButton.hidden = false;
      pathTools.hidden = layer !== "paths";
      reloadButton.hidden = true;
      showError("");
      if (details && !details.open) details.open = true;
    }

    function startDraft(geometry) {
      state.item = null;
      state.draft = { geometry: geometry };
      drawShape(geometry);
      var defaults = {};
      specs[state.layer].fields.forEach(function (f) { if (f.default !== null && f.default !== undefined) defaults[f.name] = f.default; });
      buildForm(state.layer, defaults);
      titleBox.textContent = t("New: %(layer)s", { layer: title(state.layer) });
      featureBox.hidden = false;
      featureBox.dataset.featureId = "new";
      featureBox.removeAttribute("data-version");
      reshapeButton.hidden = true;
      deleteButton.hidden = true;
      saveShapeButton.hidden = true;
      pathTools.hidden = true;
      reloadButton.hidden = true;
      showError("");
      setHint(t("Fill in the form and save it."));
      if (details && !details.open) details.open = true;
      var first = fieldsBox.querySelector("input, select");
      if (first && !phone) first.focus();
    }

    // ---- the attribute form, from the layer's field specs

    function buildForm(layer, values) {
      clear(fieldsBox);
      specs[layer].fields.forEach(function (f) {
        var value = values[f.name];
        var wrap = el("div", "pm-edit-field");
        wrap.dataset.field = f.name;
        var input;
        var lab;
        if (f.type === "bool") {
          lab = el("label", "pm-check");
          input = el("input");
          input.type = "checkbox";
          input.checked = value === true;
          lab.appendChild(input);
          lab.appendChild(document.createTextNode(" " + label(f.name)));
        } else {
          lab = el("label", "pm-wide", label(f.name) + (f.required ? " *" : ""));
          if (f.choices) {
            input = el("select");
            if (!f.required || value === null || value === undefined) {
              var none = el("option", null, "—");
              none.value = "";
              input.appendChild(none);
            }
            f.choices.forEach(function (c) {
              var option = el("option", null, pm.valueLabel(c));
              option.value = c;
              input.appendChild(option);
            });
            input.value = value === null || value === undefined ? "" : String(value);
          } else {
            input = el("input");
            if (f.type === "int" || f.type === "float") {
              input.type = "number";
              input.step = f.type === "int" ? "1" : "any";
              if (f.min !== null && f.min !== undefined) input.min = String(f.min);
              if (f.max !== null && f.max !== undefined) input.max = String(f.max);
              input.inputMode = f.type === "int" ? "numeric" : "decimal";
            } else {
              input.type = "text";
              if (f.maxLength) input.maxLength = f.maxLength;
              if (f.type === "hours" || f.name === "hours") input.placeholder = HOURS_EXAMPLE;
            }
            input.value = value === null || value === undefined ? "" : String(value);
          }
          lab.appendChild(input);
        }
        input.name = f.name;
        if (f.required) input.setAttribute("aria-required", "true");
        wrap.appendChild(lab);
        var error = el("div", "pm-field-error");
        error.dataset.fieldError = f.name;
        error.setAttribute("role", "alert");
        wrap.appendChild(error);
        fieldsBox.appendChild(wrap);
      });
    }

    function formValues(layer) {
      var out = {};
      specs[layer].fields.forEach(function (f) {
        var input = form.elements.namedItem(f.name);
        if (!input) return;
        if (f.type === "bool") { out[f.name] = input.checked; return; }
        var raw = input.value;
        if (raw === "" || raw === null) { out[f.name] = null; return; }
        if (f.type === "int" || f.type === "float") {
          var n = Number(raw);
          out[f.name] = isFinite(n) ? n : raw;
          return;
        }
        out[f.name] = raw;
      });
      return out;
    }

    function clearFieldErrors() {
      fieldsBox.querySelectorAll(".pm-field-error").forEach(function (e) { e.textContent = ""; });
      fieldsBox.querySelectorAll(".pm-invalid").forEach(function (e) { e.classList.remove("pm-invalid"); });
    }

    // A refused write: the API's words, by field when it names fields; a version conflict offers Reload.
    function refused(answer) {
      var details = answer.data && answer.data.details;
      if (answer.status === 422 && Array.isArray(details)) {
        details.forEach(function (d) {
          var box = d && d.field ? fieldsBox.querySelector('[data-field-error="' + CSS.escape(String(d.field)) + '"]') : null;
          if (box) {
            box.textContent = box.textContent ? box.textContent + "; " + d.message : String(d.message);
            box.parentNode.classList.add("pm-invalid");
          }
        });
      }
      showError(messageOf(answer));
      reloadButton.hidden = !(answer.status === 409 && state.item && details && details.version !== undefined);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (state.busy) return;
      clearFieldErrors();
      showError("");
      var layer = state.layer;
      var values = formValues(layer);
      if (state.draft) { create(layer, values); return; }
      if (!state.item) return;
      var item = state.item;
      var changed = {}, before = {};
      Object.keys(values).forEach(function (name) {
        if (!same(values[name], item.properties[name])) {
          changed[name] = values[name];
          before[name] = has(item.properties, name) ? item.properties[name] : null;
        }
      });
      if (!Object.keys(changed).length) { say(t("No changes.")); return; }
      changed.version = item.properties.version;
      state.busy = true;
      call("PATCH", itemUrl(layer, item.id), { properties: changed }).then(function (answer) {
        state.busy = false;
        if (!answer.ok) { refused(answer); return; }
        remember(layer, answer.data);
        push({ type: "update", layer: layer, id: item.id, props: before, geometry: null,
               label: t("edit of %(name)s", { name: nameOf(item) }) });
        showItem(layer, answer.data);
        say(t("Saved."));
        refreshLayer(layer);
      });
    });

    function create(layer, values) {
      var body = { type: "Feature", geometry: state.draft.geometry, properties: values, campus: config.campus };
      state.busy = true;
      call("POST", fill(config.itemsUrl, { layer: layer }), body).then(function (answer) {
        state.busy = false;
        if (!answer.ok) { refused(answer); return; }
        remember(layer, answer.data);
        push({ type: "create", layer: layer, id: answer.data.id, label: t("new %(name)s", { name: nameOf(answer.data) }) });
        showItem(layer, answer.data);
        say(t("Created."));
        setHint(t("Click a feature on the map to edit it, or draw a new one."));
        refreshLayer(layer);
      });
    }

    cancelButton.addEventListener("click", function () {
      stopModes();
      deselect();
      say("");
      setHint(t("Click a feature on the map to edit it, or draw a new one."));
    });

    reloadButton.addEventListener("click", function () {
      if (!state.item) return;
      var layer = state.layer, id = state.item.id;
      select(layer, id).then(function (feature) {
        if (feature) say(t("Reloaded: version %(version)s.", { version: feature.properties.version }));
      });
    });

    // ---- move and reshape (Leaflet.draw's edit handles, plus a handle that moves a whole line or area)

    var mover = null;
    reshapeButton.addEventListener("click", function () {
      if (!state.item || !state.shape) return;
      if (state.mode === "reshape") { stopReshape(true); setMode(null); return; }
      stopModes();
      startReshape();
    });

    function startReshape() {
      var shape = state.shape;
      var multi = state.item.geometry.type === "MultiPolygon";
      if (!(shape instanceof L.Marker)) {
        // Leaflet.draw's vertex editing restyles the shape with these (its edit toolbar would set them).
        shape.options.original = L.extend({}, shape.options);
        shape.options.editing = L.extend({}, shape.options, { dashArray: "6, 6" });
      }
      if (shape.editing && !multi) shape.editing.enable();
      else if (shape.dragging) shape.dragging.enable();
      if (!(shape instanceof L.Marker)) addMover(shape);
      setMode("reshape");
      setHint(t("Drag the corners, or the centre handle to move it all; then save the shape."));
    }

    function addMover(shape) {
      var centre = shape.getBounds().getCenter();
      mover = L.marker(centre, { draggable: true, keyboard: false, zIndexOffset: 1000,
                                 icon: L.divIcon({ className: "pm-edit-mover", iconSize: [26, 26], html: "" }) });
      mover.bindTooltip(t("Move it all"));
      var start = null, original = null;
      function walk(latlngs, fn) {
        latlngs.forEach(function (x, i) { if (Array.isArray(x)) walk(x, fn); else fn(x, i); });
      }
      mover.on("dragstart", function () {
        // Where the handle's icon really sits (Leaflet rounds it to a pixel): the shape moves by the drag alone.
        start = map.layerPointToLatLng(L.DomUtil.getPosition(mover._icon));
        original = [];
        walk(shape.getLatLngs(), function (ll) { original.push([ll.lat, ll.lng]); });
        if (shape.editing && shape.editing.enabled()) shape.editing.disable();
      });
      mover.on("drag", function () {
        var now = mover.getLatLng(), dlat = now.lat - start.lat, dlng = now.lng - start.lng, i = 0;
        walk(shape.getLatLngs(), function (ll) { ll.lat = original[i][0] + dlat; ll.lng = original[i][1] + dlng; i++; });
        shape.redraw();
      });
      mover.on("dragend", function () {
        shape.edited = true;
        if (shape.editing && state.item.geometry.type !== "MultiPolygon") shape.editing.enable();
      });
      editLayer.addLayer(mover);
    }

    function stopReshape(revert) {
      if (mover) { editLayer.removeLayer(mover); mover = null; }
      var shape = state.shape;
      if (shape) {
        if (shape.editing && shape.editing.enabled()) shape.editing.disable();
        if (shape.dragging && shape.dragging.enabled && shape.dragging.enabled()) shape.dragging.disable();
      }
      if (revert && state.item) drawShape(state.item.geometry);
      if (state.mode === "reshape") setMode(null);
    }

    saveShapeButton.addEventListener("click", function () {
      if (!state.item || !state.shape || state.busy) return;
      var layer = state.layer, item = state.item;
      var geometry = state.shape.toGeoJSON(false).geometry;
      if (same(geometry.coordinates, item.geometry.coordinates)) { say(t("No changes.")); return; }
      showError("");
      state.busy = true;
      call("PATCH", itemUrl(layer, item.id), { properties: { version: item.properties.version }, geometry: geometry })
        .then(function (answer) {
          state.busy = false;
          if (!answer.ok) { refused(answer); return; }
          if (mover) { editLayer.removeLayer(mover); mover = null; }
          setMode(null);
          remember(layer, answer.data);
          push({ type: "update", layer: layer, id: item.id, props: {}, geometry: copy(item.geometry),
                 label: t("shape of %(name)s", { name: nameOf(item) }) });
          showItem(layer, answer.data);
          say(t("Shape saved."));
          refreshLayer(layer);
        });
    });

    // ---- delete

    deleteButton.addEventListener("click", function () {
      if (!state.item || state.busy) return;
      var layer = state.layer, item = state.item;
      if (!window.confirm(t("Delete %(name)s?", { name: nameOf(item) }))) return;
      showError("");
      state.busy = true;
      call("DELETE", itemUrl(layer, item.id), { version: item.properties.version }).then(function (answer) {
        state.busy = false;
        if (!answer.ok) { refused(answer); return; }
        delete state.versions[key(layer, item.id)];
        push({ type: "delete", layer: layer, feature: copy(item), label: t("deletion of %(name)s", { name: nameOf(item) }) });
        deselect();
        say(t("Deleted."));
        refreshLayer(layer);
      });
    });

    // ---- paths: split at a clicked point, join with a clicked path

    splitButton.addEventListener("click", function () {
      if (!state.item) return;
      if (state.mode === "split") { setMode(null); return; }
      stopModes();
      setMode("split");
      setHint(t("Click the point on the path where it should be split (within %(m)s m of it).", { m: config.splitMaxM }));
    });
    joinButton.addEventListener("click", function () {
      if (!state.item) return;
      if (state.mode === "join") { setMode(null); return; }
      stopModes();
      setMode("join");
      setHint(t("Click the path to join with this one (they must share an end)."));
    });

    function split(latlng) {
      var item = state.item;
      setMode(null);
      showError("");
      state.busy = true;
      call("POST", fill(config.splitUrl, { id: item.id }), { at: [latlng.lng, latlng.lat], version: item.properties.version })
        .then(function (answer) {
          state.busy = false;
          if (!answer.ok) { refused(answer); return; }
          var pieces = answer.data.features || [];
          pieces.forEach(function (f) { remember("paths", f); });
          if (pieces.length === 2) {
            push({ type: "split", layer: "paths", id: pieces[0].id, other: pieces[1].id,
                   label: t("split of %(name)s", { name: nameOf(item) }) });
          }
          if (pieces.length) showItem("paths", pieces[0]);
          say(t("Split in two."));
          refreshLayer("paths");
        });
    }

    function join(otherId) {
      var item = state.item;
      setMode(null);
      showError("");
      state.busy = true;
      call("GET", itemUrl("paths", otherId)).then(function (got) {
        if (!got.ok) { state.busy = false; refused(got); return null; }
        var other = got.data;
        return call("POST", config.joinUrl, { ids: [item.id, other.id],
                                              versions: [item.properties.version, other.properties.version] })
          .then(function (answer) {
            state.busy = false;
            if (!answer.ok) { refused(answer); return; }
            remember("paths", answer.data);
            delete state.versions[key("paths", other.id)];
            push({ type: "join", layer: "paths", id: item.id, geometry: copy(item.geometry), removed: copy(other),
                   label: t("join of %(name)s", { name: nameOf(item) }) });
            showItem("paths", answer.data);
            say(t("Joined."));
            refreshLayer("paths");
          });
      });
    }

    // ---- picking features with a click

    function nearest(latlng, containerPoint, exceptId) {
      var group = pm.layer(state.layer);
      if (!group || !map.hasLayer(group)) return null;
      var tolerance = L.Browser.touch ? PICK_PX.touch : PICK_PX.mouse;
      var best = null, bestScore = Infinity;
      group.eachLayer(function (l) {
        var f = l.feature;
        if (!f || !f.geometry || (exceptId !== undefined && String(f.id) === String(exceptId))) return;
        var g = f.geometry, score = Infinity;
        if (g.type === "Point") {
          score = map.latLngToContainerPoint([g.coordinates[1], g.coordinates[0]]).distanceTo(containerPoint);
        } else {
          linesOf(g).forEach(function (line) {
            for (var i = 1; i < line.length; i++) {
              var a = map.latLngToContainerPoint([line[i - 1][1], line[i - 1][0]]);
              var b = map.latLngToContainerPoint([line[i][1], line[i][0]]);
              score = Math.min(score, L.LineUtil.pointToSegmentDistance(containerPoint, a, b));
            }
          });
          var inside = polygonsOf(g).some(function (p) { return polygonHolds(p, latlng.lng, latlng.lat); });
          if (inside) {
            // Inside an area: the smallest area around the click wins (a building inside a zone).
            var b = l.getBounds ? l.getBounds() : null;
            score = -1 / (1 + (b ? Math.abs((b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth())) * 1e10 : 0));
          }
        }
        if (score <= tolerance && score < bestScore) { best = f; bestScore = score; }
      });
      return best;
    }

    map.on("click", function (e) {
      if (state.busy || state.mode === "draw" || state.mode === "reshape") return;
      if (state.mode === "split") { split(e.latlng); return; }
      if (state.mode === "join") {
        var other = nearest(e.latlng, e.containerPoint, state.item ? state.item.id : undefined);
        if (!other) { setHint(t("No other path there: click closer to the path to join with.")); return; }
        join(other.id);
        return;
      }
      if (!state.layer) return;
      var found = nearest(e.latlng, e.containerPoint);
      if (!found) return;
      say("");
      select(state.layer, found.id).then(function (feature) {
        if (feature) setHint(t("Edit the fields and save, or move, reshape or delete it."));
      });
    });

    // ---- undo within the session

    function push(op) {
      state.undo.push(op);
      updateUndo();
    }
    function updateUndo() {
      var top = state.undo[state.undo.length - 1];
      undoButton.disabled = !top || state.busy;
      undoButton.title = top ? t("Undo the %(what)s", { what: top.label }) : "";
      undoButton.dataset.count = String(state.undo.length);
    }
    function versionOf(layer, id) { return state.versions[key(layer, id)]; }
    // A feature made again gets a new id: later undo steps about it must use that one.
    function renamed(layer, oldId, newId) {
      state.undo.forEach(function (op) {
        if (op.layer !== layer) return;
        if (String(op.id) === String(oldId)) op.id = newId;
        if (String(op.other) === String(oldId)) op.other = newId;
      });
    }
    function recreate(layer, feature) {
      var props = {};
      specs[layer].fields.forEach(function (f) {
        if (has(feature.properties, f.name) && !META[f.name]) props[f.name] = feature.properties[f.name];
      });
      return call("POST", fill(config.itemsUrl, { layer: layer }),
                  { type: "Feature", geometry: feature.geometry, properties: props, campus: config.campus })
        .then(function (answer) {
          if (answer.ok) {
            remember(layer, answer.data);
            if (String(answer.data.id) !== String(feature.id)) renamed(layer, feature.id, answer.data.id);
          }
          return answer;
        });
    }

    function inverse(op) {
      var layer = op.layer;
      if (op.type === "update" || op.type === "join") {
        var body = { properties: L.extend({}, op.props || {}, { version: versionOf(layer, op.id) }) };
        if (op.geometry) body.geometry = op.geometry;
        return call("PATCH", itemUrl(layer, op.id), body).then(function (answer) {
          if (!answer.ok || op.type !== "join") { if (answer.ok) remember(layer, answer.data); return answer; }
          remember(layer, answer.data);
          return recreate(layer, op.removed);
        });
      }
      if (op.type === "create") {
        return call("DELETE", itemUrl(layer, op.id), { version: versionOf(layer, op.id) });
      }
      if (op.type === "delete") return recreate(layer, op.feature);
      if (op.type === "split") {
        return call("POST", config.joinUrl, { ids: [op.id, op.other],
                                              versions: [versionOf(layer, op.id), versionOf(layer, op.other)] })
          .then(function (answer) {
            if (answer.ok) { remember(layer, answer.data); delete state.versions[key(layer, op.other)]; }
            return answer;
          });
      }
      return Promise.resolve({ ok: false, status: 0, data: { message: "?" } });
    }

    undoButton.addEventListener("click", function () {
      var op = state.undo.pop();
      if (!op || state.busy) { if (op) state.undo.push(op); return; }
      stopModes();
      showError("");
      state.busy = true;
      updateUndo();
      var shownId = state.item ? state.item.id : null;
      var shownLayer = state.layer;
      inverse(op).then(function (answer) {
        state.busy = false;
        updateUndo();
        if (!answer.ok) {
          // Refused (someone changed it since, or it is referenced now): said as the API says it; the step is
          // dropped, since doing it again would be refused again.
          say(messageOf(answer), true);
          return;
        }
        say(t("Undone."));
        refreshLayer(op.layer);
        if (shownLayer !== op.layer || shownId === null) return;
        if (op.type === "create" && String(op.id) === String(shownId)) { deselect(); return; }
        if (String(op.id) === String(shownId)) select(op.layer, op.id);
      });
    });

    chooseLayer(config.layers[0].id);
    updateUndo();
  };
})();

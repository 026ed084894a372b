/* patrolmap: data layers fetched from the GeoJSON API for the current view.
 *
 * Every string that comes from the data is put on the page with textContent, never
 * as HTML, so a name or note such as <img src=x onerror=...> shows as text. Only a
 * test build (UNSAFE_NO_ESCAPING_FOR_TESTS, marked on <body>) puts it in as HTML, to
 * prove that the Content-Security-Policy alone still stops what it would inject.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  var layers = {};
  var statusBox = null;

  // The interface's words in the page's language, keyed by their English (see pages.MAP_TEXTS);
  // coded values (dorm, fire_lane, open ...) as people read them.
  var words = { texts: {} };
  var values = {};
  pm.texts = function (_map, config) {
    words.texts = config.texts || {};
    values = config.values || {};
  };
  var t = kit.texts(words);
  // A coded value's words: those of its field first ("category:lab"), then the code's own.
  function valueLabel(value, field) {
    var has = function (key) { return Object.prototype.hasOwnProperty.call(values, key); };
    if (field && has(field + ":" + value)) return values[field + ":" + value];
    return has(value) ? values[value] : String(value).replace(/_/g, " ");
  }
  // Stored times come as ISO 8601 in the campus's zone: show them as 2026-03-04 08:15, 24-hour.
  var ISO_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$/;
  pm.formatTime = function (text) {
    var m = ISO_TIME.exec(text);
    return m ? m[1] + " " + m[2] : text;
  };
  // For page tools (violations.js): the same words, value labels and element helper.
  pm.t = function (key, params) { return t(key, params); };
  pm.valueLabel = function (value, field) { return valueLabel(value, field); };
  pm.el = function (tag, className, text) { return el(tag, className, text); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function bboxOf(map) {
    var b = map.getBounds();
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map(function (v) { return v.toFixed(7); }).join(",");
  }

  // A test build's mark; never set in production (the app refuses the flag outside tests).
  function unescapedForTests() {
    return Boolean(document.body && document.body.hasAttribute("data-pm-unsafe-no-escaping"));
  }

  var CODED = { kind: true, status: true, access: true, category: true, urgency: true, state: true };
  function formatValue(value, field) {
    if (value === true) return t("yes");
    if (value === false) return t("no");
    if (typeof value === "string" && CODED[field]) return valueLabel(value, field);
    if (typeof value === "string" && ISO_TIME.test(value)) return pm.formatTime(value);
    return String(value);
  }

  // Page tools may add to a layer's popups (e.g. status buttons on violations): layer id -> function(feature, box).
  pm.popupExtras = pm.popupExtras || {};

  function popupContent(config, props, feature) {
    var box = el("div", "pm-popup");
    box.appendChild(el("div", "pm-popup-title", config.title));
    var table = el("table");
    config.popup.forEach(function (field) {
      var value = props[field];
      if (value === null || value === undefined || value === "") return;
      var row = el("tr");
      row.appendChild(el("th", null, config.labels[field] || field));
      var cell = el("td", "pm-value-" + field, formatValue(value, field));
      if (unescapedForTests()) cell.innerHTML = formatValue(value, field);
      row.appendChild(cell);
      table.appendChild(row);
    });
    box.appendChild(table);
    var extra = pm.popupExtras[config.id];
    if (extra && feature) extra(feature, box);
    return box;
  }

  function colorOf(style, props) {
    if (style.by && style.colors && Object.prototype.hasOwnProperty.call(style.colors, props[style.by])) {
      return style.colors[props[style.by]];
    }
    return style.color;
  }

  function featureStyle(style) {
    return function (feature) {
      var props = feature.properties || {};
      var strong = style.emphasis && props[style.emphasis] === true;
      var color = strong && feature.geometry.type !== "Point" ? "#d7191c" : colorOf(style, props);
      return { color: color, weight: strong ? style.weight * 2.5 : style.weight,
               fillColor: colorOf(style, props), fillOpacity: style.fillOpacity, opacity: 0.9 };
    };
  }

  // Points above lines above areas, whatever order the layers' data arrives in,
  // so that a checkpoint on a building can still be clicked.
  var PANES = { pmAreas: 410, pmLines: 420, pmPoints: 430, pmCells: 640 };

  function ensurePanes(map) {
    Object.keys(PANES).forEach(function (name) {
      if (!map.getPane(name)) map.createPane(name).style.zIndex = PANES[name];
    });
  }

  function paneOf(feature) {
    var type = feature.geometry ? feature.geometry.type : "";
    if (type.indexOf("Point") >= 0) return "pmPoints";
    if (type.indexOf("LineString") >= 0) return "pmLines";
    return "pmAreas";
  }

  function drawFeatures(group, config, data) {
    var style = config.style;
    var byStyle = featureStyle(style);
    L.geoJSON(data, {
      style: function (feature) {
        var options = byStyle(feature);
        options.pane = paneOf(feature);
        return options;
      },
      pointToLayer: function (feature, latlng) {
        var props = feature.properties || {};
        var strong = style.emphasis && props[style.emphasis] === true;
        return L.circleMarker(latlng, {
          pane: "pmPoints", radius: style.radius, color: strong ? "#000" : "#fff", weight: strong ? 2 : 1,
          fillColor: colorOf(style, props), fillOpacity: 0.9,
        });
      },
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return popupContent(config, feature.properties || {}, feature); });
      },
    }).eachLayer(function (layer) { group.addLayer(layer); });
  }

  function drawCells(group, config, data, map) {
    data.features.forEach(function (cell) {
      var count = cell.properties.count;
      var label = el("span", null, count > 9999 ? Math.round(count / 1000) + "k" : count);
      var size = count < 10 ? 26 : count < 100 ? 32 : count < 1000 ? 38 : 46;
      var icon = L.divIcon({ html: label, className: "pm-cell pm-cell-" + config.id,
                             iconSize: [size, size] });
      var c = cell.geometry.coordinates;
      var marker = L.marker([c[1], c[0]], { icon: icon, title: config.title + ": " + count, pane: "pmCells" });
      marker.on("click", function () {
        var b = cell.properties.bounds;
        map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
      });
      group.addLayer(marker);
    });
  }

  // Not counted in pm.pending on its own: a layer counts its whole refresh (busy).
  function fetchJson(url, signal) {
    return kit.request("GET", url, undefined, { signal: signal, track: false });
  }

  pm.apiLayer = function (config) {
    var group = L.featureGroup();
    var map = null;
    var controller = null;
    group.config = config;
    group.info = { matched: 0, shown: 0, cells: false, error: null };

    function query(extra) {
      var params = new URLSearchParams(extra);
      params.set("bbox", bboxOf(map));
      if (config.campus) params.set("campus", config.campus);
      return params.toString();
    }

    var timer = null;
    // Moves come in bursts (fitBounds right after the layer is added, a drag, a pinch):
    // wait for the burst to end instead of starting and aborting a request per step.
    group.scheduleRefresh = function () {
      if (timer) clearTimeout(timer);
      else busy(1);
      timer = setTimeout(function () { timer = null; group.refresh(); busy(-1); }, 60);
    };

    var lastQuery = null;

    group.refresh = function (force) {
      if (!map) return Promise.resolve();
      var current = query({ limit: config.limit, count: "false" });
      // A move that changes nothing (a resize, a control) needs no new request.
      if (current === lastQuery && force !== true) return Promise.resolve();
      lastQuery = current;
      if (controller) controller.abort();
      busy(1);
      controller = new AbortController();
      var signal = controller.signal;
      group.loading = true;
      return fetchJson(config.url + "?" + current, signal).then(function (data) {
        if (data.numberMatched === undefined || data.numberMatched > data.numberReturned) {
          var size = map.getSize();
          var extra = { nx: Math.max(1, Math.round(size.x / 70)), ny: Math.max(1, Math.round(size.y / 70)) };
          return fetchJson(config.cellsUrl + "?" + query(extra), signal).then(function (cells) {
            group.clearLayers();
            drawCells(group, config, cells, map);
            group.info = { matched: cells.numberMatched, shown: 0, cells: true, error: null };
          });
        }
        // A popup's own autopan moves the map and refreshes the layer: keep that popup open.
        var openId = null;
        group.eachLayer(function (l) { if (l.feature && l.isPopupOpen && l.isPopupOpen()) openId = l.feature.id; });
        group.clearLayers();
        drawFeatures(group, config, data);
        if (openId !== null) {
          group.eachLayer(function (l) { if (l.feature && l.feature.id === openId) l.openPopup(); });
        }
        group.info = { matched: data.numberMatched, shown: data.numberReturned, cells: false, error: null };
      }).catch(function (err) {
        if (err.name === "AbortError") return;
        lastQuery = null;
        group.info = { matched: 0, shown: 0, cells: false, error: err.message };
      }).then(function () {
        group.loading = false;
        busy(-1);
        group.fire("pm:loaded");
        pm.updateStatus();
      });
    };

    group.onAdd = function (m) {
      ensurePanes(m);
      L.FeatureGroup.prototype.onAdd.call(group, m);
      map = m;
      group.active = true;
      map.on("moveend", group.scheduleRefresh);
      group.scheduleRefresh();
    };
    group.onRemove = function (m) {
      m.off("moveend", group.scheduleRefresh);
      if (timer) { clearTimeout(timer); timer = null; busy(-1); }
      if (controller) controller.abort();
      group.clearLayers();
      lastQuery = null;
      map = null;
      group.active = false;
      L.FeatureGroup.prototype.onRemove.call(group, m);
      pm.updateStatus();
    };
    layers[config.id] = group;
    return group;
  };

  pm.layer = function (id) { return layers[id]; };

  // How many layers are waiting for data; tests and the page wait for this to reach 0.
  pm.pending = 0;
  var busy = kit.busy;

  pm.updateStatus = function () {
    if (!statusBox) return;
    statusBox.textContent = "";
    Object.keys(layers).forEach(function (id) {
      var layer = layers[id];
      if (!layer.active) return;
      var info = layer.info;
      var text = info.error ? layer.config.title + ": " + t("could not load: %(reason)s", { reason: info.error })
        : info.cells ? layer.config.title + ": " + t("%(count)s in view, grouped (zoom in for details)",
                                                     { count: info.matched })
        : info.matched > info.shown ? layer.config.title + ": " + t("%(shown)s of %(count)s shown",
                                                                    { shown: info.shown, count: info.matched })
        : layer.config.title + ": " + info.shown;
      statusBox.appendChild(el("div", info.error ? "pm-status-error" : null, text));
    });
  };

  pm.status = function (map) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      statusBox = el("div", "pm-status leaflet-control");
      L.DomEvent.disableClickPropagation(statusBox);
      return statusBox;
    };
    control.addTo(map);
  };

  pm.legend = function (map, config) {
    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("details", "pm-legend leaflet-control");
      var summary = el("summary", null, t("Legend"));
      box.appendChild(summary);
      var body = el("div");
      body.innerHTML = config.html; // built and escaped on the server from fixed labels
      box.appendChild(body);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
  };

  function localDateTimeValue(date) {
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  function offsetString(date) {
    var minutes = -date.getTimezoneOffset();
    var sign = minutes >= 0 ? "+" : "-";
    minutes = Math.abs(minutes);
    return sign + String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
  }

  function recordForm(map, config, latlng, done) {
    var form = el("form", "pm-record-form");
    form.appendChild(el("div", "pm-popup-title", t("Record a parking violation")));
    var kind = el("select");
    kind.name = "kind";
    config.kinds.forEach(function (k) {
      var option = el("option", null, valueLabel(k));
      option.value = k;
      kind.appendChild(option);
    });
    var when = el("input");
    when.type = "datetime-local";
    when.name = "observed_at";
    when.value = localDateTimeValue(new Date());
    var plate = el("input");
    plate.name = "plate";
    plate.placeholder = t("e.g. 京A12345, or 无牌 if there is none");
    plate.maxLength = 32;
    var note = el("textarea");
    note.name = "note";
    note.rows = 2;
    note.maxLength = 2000;
    [[t("Kind"), kind], [t("Time"), when], [t("Plate"), plate], [t("Note"), note]].forEach(function (pair) {
      var label = el("label", null, pair[0]);
      label.appendChild(pair[1]);
      form.appendChild(label);
    });
    var error = el("div", "pm-form-error");
    error.setAttribute("role", "alert");
    form.appendChild(error);
    var submit = el("button", null, t("Save"));
    submit.type = "submit";
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      var observed = when.value ? new Date(when.value) : new Date();
      var body = {
        campus: config.campus, lon: latlng.lng, lat: latlng.lat, kind: kind.value,
        observed_at: localDateTimeValue(observed) + ":00" + offsetString(observed),
        plate: plate.value || null, note: note.value || null,
      };
      kit.request("POST", config.url, body, { track: false })
        .then(function (feature) { done(feature); })
        .catch(function (err) { error.textContent = err.message; })
        .then(function () { submit.disabled = false; });
    });
    return form;
  }

  pm.recordControl = function (map, config) {
    var active = false;
    var lastFix = null;
    var control = L.control({ position: "topleft" });
    var button;
    function openForm(latlng) {
      var popup = L.popup({ minWidth: 240, className: "pm-record-popup" }).setLatLng(latlng);
      popup.setContent(recordForm(map, config, latlng, function (feature) {
        if (feature.warnings && feature.warnings.length) {
          // Recorded, but something looks odd (a non-standard plate): say so where it was recorded.
          var box = el("div", "pm-record-done");
          box.appendChild(el("div", "pm-popup-title", t("Recorded.")));
          feature.warnings.forEach(function (w) { box.appendChild(el("div", "pm-form-warning", w)); });
          popup.setContent(box);
        } else {
          map.closePopup(popup);
        }
        setActive(false);
        var layer = pm.layer(config.layer);
        if (layer) {
          if (!map.hasLayer(layer)) map.addLayer(layer);
          layer.refresh(true);
        }
        map.fire("pm:recorded", { feature: feature });
      }));
      popup.openOn(map);
    }
    function setActive(on) {
      active = on;
      button.classList.toggle("pm-active", on);
      map.getContainer().classList.toggle("pm-recording", on);
    }
    control.onAdd = function () {
      var box = el("div", "leaflet-bar pm-record-control");
      button = el("a", "pm-record-toggle", t("✚ Record"));
      button.href = "#";
      button.setAttribute("role", "button");
      button.title = t("Click the map where the violation is");
      var here = el("a", "pm-record-here", t("◎ Here"));
      here.href = "#";
      here.setAttribute("role", "button");
      here.title = t("Record a violation at my current position");
      L.DomEvent.on(button, "click", function (e) {
        L.DomEvent.preventDefault(e);
        setActive(!active);
      });
      L.DomEvent.on(here, "click", function (e) {
        L.DomEvent.preventDefault(e);
        if (lastFix) { openForm(lastFix); return; }
        if (!navigator.geolocation) return;
        navigator.geolocation.getCurrentPosition(function (pos) {
          lastFix = L.latLng(pos.coords.latitude, pos.coords.longitude);
          map.setView(lastFix, Math.max(map.getZoom(), 18));
          openForm(lastFix);
        }, function (err) {
          window.alert(t("Your position could not be found: %(reason)s", { reason: err.message }));
        }, { enableHighAccuracy: true, timeout: 15000 });
      });
      box.appendChild(button);
      box.appendChild(here);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
    map.on("locationfound", function (e) { lastFix = e.latlng; });
    map.on("click", function (e) {
      if (!active) return;
      openForm(e.latlng);
    });
  };
})();

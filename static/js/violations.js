/* The traffic staff's tools on /violations: hotspots for a time window, marked hotspots,
 * repeat offenders and zombie cars, duty-post suggestions.
 *
 * Everything the API returns is put on the page with textContent (pm.el), never as HTML.
 * All requests carry the page's language, and writes the session's CSRF token.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  var CLASS_COLORS = {
    hot_99: "#b2182b", hot_95: "#ef8a62", hot_90: "#fddbc7", not_significant: "#f7f7f7",
    cold_90: "#d1e5f0", cold_95: "#67a9cf", cold_99: "#2166ac",
  };
  var CLASS_WORDS = {
    hot_99: "hot spot, 99 percent confidence", hot_95: "hot spot, 95 percent confidence", hot_90: "hot spot, 90 percent confidence",
    not_significant: "not significant", cold_90: "cold spot, 90 percent confidence",
    cold_95: "cold spot, 95 percent confidence", cold_99: "cold spot, 99 percent confidence",
  };

  function t(key, params) { return pm.t(key, params); }
  function el(tag, className, text) { return pm.el(tag, className, text); }

  function query(params) {
    return Object.keys(params).filter(function (k) {
      return params[k] !== "" && params[k] !== null && params[k] !== undefined;
    }).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]);
    }).join("&");
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function section(id) {
    var box = document.getElementById(id);
    return {
      box: box,
      part: function (role) { return box.querySelector('[data-role="' + role + '"]'); },
      error: function (err) { box.querySelector('[data-role="error"]').textContent = err ? err.message : ""; },
      value: function (name) { var input = box.querySelector('[name="' + name + '"]'); return input ? input.value : ""; },
    };
  }

  pm.violationTools = function (map, config) {
    var filterForm = document.getElementById("pm-hotspot-form");
    if (!filterForm) return;
    kit.toolsPanel(map, "pm-tools-details");
    var hexLayer = L.featureGroup().addTo(map);
    var heatLayer = null;
    var historyLayer = L.featureGroup().addTo(map);
    var postLayer = L.featureGroup().addTo(map);
    var window_ = {};  // the chosen time window, shared by every tool
    pm.violationTools.state = { hexLayer: hexLayer, historyLayer: historyLayer, postLayer: postLayer };

    function readWindow() {
      var form = new FormData(filterForm);
      var kinds = form.getAll("kinds");
      window_ = {
        campus: config.campus, from: form.get("from") || "", to: form.get("to") || "",
        days: form.get("days") || "", hours: (form.get("hours") || "").trim(),
        kinds: kinds.length === filterForm.querySelectorAll('[name="kinds"]').length ? "" : kinds.join(","),
      };
      return window_;
    }

    // ---- computed hotspots
    var hot = section("pm-hotspot-form");
    function showHotspots() {
      var params = readWindow();
      params.cell_m = hot.value("cell_m");
      hot.error(null);
      return kit.request("GET", config.hotspotsUrl + "?" + query(params)).then(function (data) {
        drawHexagons(data);
        drawHeat(data);
        summarise(data);
        listTop(data);
        loadMarked();
        map.fire("pm:hotspots", { data: data });
      }).catch(function (err) { hot.error(err); });
    }

    function drawHexagons(data) {
      hexLayer.clearLayers();
      L.geoJSON(data, {
        style: function (f) {
          var cls = f.properties["class"];
          return { color: "#555", weight: cls === "not_significant" ? 0.3 : 1, fillColor: CLASS_COLORS[cls] || "#fff",
                   fillOpacity: cls === "not_significant" ? 0.15 : 0.6 };
        },
        onEachFeature: function (f, layer) {
          var p = f.properties;
          layer.bindTooltip(function () {
            var box = el("div");
            box.appendChild(el("div", "pm-popup-title", t(CLASS_WORDS[p["class"]] || p["class"])));
            box.appendChild(el("div", null, t("%(count)s violations", { count: p.count })));
            box.appendChild(el("div", null, "Gi* z = " + Number(p.gi_z).toFixed(2) + ", p = " + Number(p.p_value).toPrecision(2)));
            return box;
          }, { sticky: true });
        },
      }).eachLayer(function (l) { hexLayer.addLayer(l); });
    }

    function drawHeat(data) {
      if (heatLayer) { map.removeLayer(heatLayer); heatLayer = null; }
      if (!filterForm.querySelector('[name="heat"]').checked || !L.heatLayer) return;
      var max = 1;
      data.features.forEach(function (f) { max = Math.max(max, f.properties.count); });
      var points = data.features.filter(function (f) { return f.properties.count > 0; }).map(function (f) {
        var c = L.geoJSON(f).getBounds().getCenter();
        return [c.lat, c.lng, f.properties.count / max];
      });
      heatLayer = L.heatLayer(points, { radius: 25, blur: 20, maxZoom: 18 }).addTo(map);
    }

    function summarise(data) {
      var hotCells = data.features.filter(function (f) { return String(f.properties["class"]).indexOf("hot") === 0; });
      hot.part("summary").textContent = t("%(count)s violations in this window; %(hot)s hot cells", {
        count: data.numberMatched, hot: hotCells.length,
      });
    }

    function listTop(data) {
      var body = hot.part("top").querySelector("tbody");
      clear(body);
      (data.top || []).forEach(function (item, index) {
        var row = el("tr");
        row.appendChild(el("td", null, index + 1));
        row.appendChild(el("td", null, item.count));
        var building = item.building ? item.building + (item.building_kind ? " (" + pm.valueLabel(item.building_kind) + ")" : "") : "";
        row.appendChild(el("td", null, building));
        row.appendChild(el("td", null, (item.peak_hours || []).map(function (h) {
          return h.hours + " (" + h.count + ")";
        }).join(", ")));
        row.addEventListener("click", function () {
          if (item.bbox) map.fitBounds([[item.bbox[1], item.bbox[0]], [item.bbox[3], item.bbox[2]]], { maxZoom: 19 });
          else if (item.lon !== undefined) map.setView([item.lat, item.lon], 18);
        });
        body.appendChild(row);
      });
    }

    filterForm.addEventListener("submit", function (event) {
      event.preventDefault();
      showHotspots();
    });

    // ---- marked hotspots
    var marked = section("pm-marked-tool");
    function loadMarked() {
      var params = readWindow();
      params.counts = "true";
      return kit.request("GET", config.markedUrl + "?" + query(params)).then(function (data) {
        var list = marked.part("list");
        clear(list);
        data.features.forEach(function (f) {
          var p = f.properties;
          var item = el("li");
          var link = el("button", "pm-link", p.name);
          link.type = "button";
          link.addEventListener("click", function () { map.fitBounds(L.geoJSON(f).getBounds(), { maxZoom: 19 }); });
          item.appendChild(link);
          var words = " · " + pm.valueLabel(p.kind) + (p.hours ? " · " + p.hours : "");
          if (p.count !== undefined && p.count !== null) words += " · " + t("%(count)s violations", { count: p.count });
          item.appendChild(el("span", null, words));
          list.appendChild(item);
        });
        marked.error(null);
      }).catch(function (err) { marked.error(err); });
    }

    function markedForm(layer) {
      var form = el("form", "pm-record-form");
      form.appendChild(el("div", "pm-popup-title", t("Mark this hotspot")));
      var name = el("input"); name.name = "name"; name.required = true; name.maxLength = 200;
      var kind = el("select"); kind.name = "kind";
      ["no_parking_watch", "fire_lane_watch", "peak_hour_post", "tow_away_zone"].forEach(function (k) {
        var option = el("option", null, pm.valueLabel(k)); option.value = k; kind.appendChild(option);
      });
      var hours = el("input"); hours.name = "hours"; hours.placeholder = "07:00-09:00"; hours.value = window_.hours || "";
      var note = el("textarea"); note.name = "note"; note.rows = 2; note.maxLength = 2000;
      [[t("Name"), name], [t("Kind"), kind], [t("Hours"), hours], [t("Note"), note]].forEach(function (pair) {
        var label = el("label", null, pair[0]); label.appendChild(pair[1]); form.appendChild(label);
      });
      var error = el("div", "pm-form-error"); error.setAttribute("role", "alert"); form.appendChild(error);
      var save = el("button", null, t("Save")); save.type = "submit"; form.appendChild(save);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        save.disabled = true;
        var feature = layer.toGeoJSON();
        feature.properties = { name: name.value, kind: kind.value, hours: hours.value || null, note: note.value || null };
        var body = { type: "Feature", geometry: feature.geometry, properties: feature.properties, campus: config.campus };
        kit.request("POST", config.markedUrl, body).then(function () {
          map.removeLayer(layer);
          var stored = pm.layer("hotspots");
          if (stored) { if (!map.hasLayer(stored)) map.addLayer(stored); stored.refresh(true); }
          loadMarked();
        }).catch(function (err) { error.textContent = err.message; }).then(function () { save.disabled = false; });
      });
      return form;
    }

    var drawButton = marked.part("draw");
    if (drawButton && L.Draw && L.Draw.Polygon) {
      drawButton.addEventListener("click", function () {
        var handler = new L.Draw.Polygon(map, { showArea: false, shapeOptions: { color: "#6a3d9a" } });
        pm.violationTools.state.drawing = handler;
        handler.enable();
      });
      map.on(L.Draw.Event.CREATED, function (e) {
        var layer = e.layer.addTo(map);
        layer.bindPopup(markedForm(layer), { minWidth: 240 }).openPopup();
      });
    }

    // ---- repeat offenders and zombie cars
    var offenders = section("pm-offender-tool");
    function listPlates(rows, describe) {
      var list = offenders.part("list");
      clear(list);
      rows.forEach(function (row) {
        var item = el("li");
        if (row.plate) {
          var link = el("button", "pm-link", row.plate);
          link.type = "button";
          link.addEventListener("click", function () { showPlate(row.plate); });
          item.appendChild(link);
        } else {
          item.appendChild(el("span", null, t("(plate not shown)")));
        }
        item.appendChild(el("span", null, " · " + describe(row)));
        list.appendChild(item);
      });
      if (!rows.length) list.appendChild(el("li", null, t("none found")));
    }

    function rowsOf(data) {
      if (data.type === "FeatureCollection") return data.features.map(function (f) { return f.properties; });
      return data.plates || [];
    }

    offenders.part("repeat").addEventListener("click", function () {
      var params = readWindow();
      params.min_count = offenders.value("min_count");
      kit.request("GET", config.repeatUrl + "?" + query(params)).then(function (data) {
        offenders.error(null);
        listPlates(rowsOf(data), function (r) { return t("%(count)s violations", { count: r.count }); });
      }).catch(function (err) { offenders.error(err); });
    });
    offenders.part("zombies").addEventListener("click", function () {
      var params = { campus: config.campus, min_days: offenders.value("min_days"), radius_m: offenders.value("radius_m") };
      kit.request("GET", config.zombiesUrl + "?" + query(params)).then(function (data) {
        offenders.error(null);
        listPlates(rowsOf(data), function (r) { return t("seen on %(days)s days", { days: r.days }); });
      }).catch(function (err) { offenders.error(err); });
    });

    function showPlate(plate) {
      kit.request("GET", config.plateUrl + "?" + query({ plate: plate, campus: config.campus })).then(function (data) {
        historyLayer.clearLayers();
        var points = [];
        data.features.forEach(function (f, index) {
          var c = f.geometry.coordinates;
          points.push([c[1], c[0]]);
          var marker = L.circleMarker([c[1], c[0]], { radius: 7, color: "#000", weight: 2, fillColor: "#ffeb3b", fillOpacity: 1 });
          marker.bindTooltip(function () {
            return el("div", null, (index + 1) + ". " + pm.formatTime(String(f.properties.observed_at)) + " · " +
                      pm.valueLabel(f.properties.kind));
          });
          historyLayer.addLayer(marker);
        });
        if (points.length > 1) historyLayer.addLayer(L.polyline(points, { color: "#000", dashArray: "4 4", weight: 2 }));
        if (points.length) map.fitBounds(historyLayer.getBounds(), { maxZoom: 18, padding: [30, 30] });
        map.fire("pm:plate", { plate: plate, count: points.length });
      }).catch(function (err) { offenders.error(err); });
    }

    // ---- before and after a measure
    var compare = section("pm-compare-tool");
    compare.part("compare").addEventListener("click", function () {
      var w = readWindow();
      var params = { campus: config.campus, hours: w.hours, days: w.days, kinds: w.kinds, cell_m: hot.value("cell_m") };
      ["before_from", "before_to", "after_from", "after_to"].forEach(function (k) { params[k] = compare.value(k); });
      kit.request("GET", config.compareUrl + "?" + query(params)).then(function (data) {
        compare.error(null);
        hexLayer.clearLayers();
        var most = 1;
        data.features.forEach(function (f) { most = Math.max(most, Math.abs(f.properties.change)); });
        L.geoJSON(data, {
          style: function (f) {
            var c = f.properties.change;
            return { color: "#555", weight: 0.5, fillOpacity: 0.15 + 0.6 * Math.abs(c) / most,
                     fillColor: c > 0 ? "#d7191c" : c < 0 ? "#1a9641" : "#f7f7f7" };
          },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(function () {
              return el("div", null, t("%(before)s before, %(after)s after",
                                       { before: f.properties.before, after: f.properties.after }));
            }, { sticky: true });
          },
        }).eachLayer(function (l) { hexLayer.addLayer(l); });
        var p = data.periods;
        compare.part("summary").textContent = t(
          "Before: %(before)s violations in %(before_days)s days; after: %(after)s in %(after_days)s days",
          { before: p.before.violations, before_days: p.before.days, after: p.after.violations, after_days: p.after.days });
        var list = compare.part("list");
        clear(list);
        data.marked.forEach(function (m) {
          list.appendChild(el("li", null, m.name + " · " + t("%(before)s before, %(after)s after",
                                                            { before: m.before, after: m.after })));
        });
        map.fire("pm:compared", { data: data });
      }).catch(function (err) { compare.error(err); });
    });

    // ---- duty posts
    var posts = section("pm-post-tool");
    var suggested = [];
    posts.part("suggest").addEventListener("click", function () {
      var w = readWindow();
      var body = { campus: config.campus, k: Number(posts.value("k")), radius_m: Number(posts.value("radius_m")) };
      ["hours", "days", "from", "to", "kinds"].forEach(function (key) { if (w[key]) body[key] = w[key]; });
      kit.request("POST", config.suggestUrl, body).then(function (data) {
        posts.error(null);
        suggested = data.features;
        postLayer.clearLayers();
        var list = posts.part("list");
        clear(list);
        suggested.forEach(function (f, index) {
          var c = f.geometry.coordinates;
          var covered = f.properties.covered !== undefined ? f.properties.covered : f.properties.count;
          var marker = L.marker([c[1], c[0]], {
            // The icon's html is a number we made, never text from the API.
            icon: L.divIcon({ className: "pm-cell pm-post", html: String(index + 1), iconSize: [28, 28] }),
            title: t("Duty post %(n)s", { n: index + 1 }),
          });
          postLayer.addLayer(marker);
          list.appendChild(el("li", null, t("covers %(count)s violations", { count: covered })));
        });
        var save = posts.part("save");
        if (save) save.hidden = !suggested.length;
      }).catch(function (err) { posts.error(err); });
    });
    var saveButton = posts.part("save");
    if (saveButton) {
      saveButton.addEventListener("click", function () {
        var hours = window_.hours || null;
        var body = {
          campus: config.campus, type: "FeatureCollection",
          features: suggested.map(function (f, index) {
            return { type: "Feature", geometry: f.geometry,
                     properties: { name: t("Duty post %(n)s", { n: index + 1 }), hours: hours } };
          }),
        };
        kit.request("POST", config.dutyPostsUrl, body).then(function () {
          posts.error(null);
          postLayer.clearLayers();
          saveButton.hidden = true;
          var stored = pm.layer("duty-posts");
          if (stored) { if (!map.hasLayer(stored)) map.addLayer(stored); stored.refresh(true); }
          map.fire("pm:posts-saved");
        }).catch(function (err) { posts.error(err); });
      });
    }

    // ---- status changes and evidence photos, in each violation's popup
    pm.popupExtras.violations = function (feature, box) {
      var id = feature.id;
      var status = feature.properties.status;
      var next = (config.transitions || {})[status] || [];
      if (config.canEdit && next.length) {
        var form = el("form", "pm-status-form");
        var reason = el("input");
        reason.name = "reason";
        reason.placeholder = t("reason (needed to void)");
        reason.maxLength = 500;
        form.appendChild(reason);
        var error = el("div", "pm-form-error");
        next.forEach(function (to) {
          var button = el("button", "pm-status-" + to, pm.valueLabel(to));
          button.type = "button";
          button.addEventListener("click", function () {
            var body = { to: to, version: feature.properties.version };
            if (reason.value) body.reason = reason.value;
            kit.request("POST", config.transitionUrl.replace("{id}", id), body).then(function () {
              map.closePopup();
              var layer = pm.layer("violations");
              if (layer) layer.refresh(true);
              map.fire("pm:transition", { id: id, to: to });
            }).catch(function (err) { error.textContent = err.message; });
          });
          form.appendChild(button);
        });
        form.appendChild(error);
        box.appendChild(form);
      }
      if (config.seesPhotos) {
        var photos = el("div", "pm-photos");
        box.appendChild(photos);
        kit.request("GET", config.photosUrl.replace("{id}", id)).then(function (data) {
          (data.photos || []).forEach(function (p) {
            if (!p.available && p.available !== undefined) return;
            var link = el("a");
            link.href = config.photoUrl.replace("{sha256}", p.sha256);
            link.target = "_blank";
            link.rel = "noopener";
            var img = el("img", "pm-photo");
            img.src = link.href;
            img.alt = t("evidence photo");
            link.appendChild(img);
            photos.appendChild(link);
          });
        }).catch(function () { /* no photos shown; the popup still works */ });
        if (config.canEdit) {
          var upload = el("input");
          upload.type = "file";
          upload.accept = "image/jpeg,image/png";
          upload.setAttribute("capture", "environment");
          upload.setAttribute("aria-label", t("Add an evidence photo"));
          var note = el("div", "pm-form-error");
          upload.addEventListener("change", function () {
            if (!upload.files.length) return;
            var data = new FormData();
            data.append("file", upload.files[0]);
            kit.request("POST", config.photosUrl.replace("{id}", id), data).then(function (p) {
              var img = el("img", "pm-photo");
              img.src = config.photoUrl.replace("{sha256}", p.sha256);
              img.alt = t("evidence photo");
              photos.appendChild(img);
              note.textContent = "";
            }).catch(function (err) { note.textContent = err.message; });
          });
          box.appendChild(upload);
          box.appendChild(note);
        }
      }
    };

    loadMarked();
  };
})();

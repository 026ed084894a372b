/* The patrol lead's shift view on /patrol (巡更): a saved route and a date -> its stops on the map
 * coloured by status (on time, late, missed, pending), the officers' shared tracks, a table of the
 * round's stops, counts, and links to the QR plaques, the walk page and the missed-checkpoint CSV.
 *
 * config: {campus, routesUrl, shiftUrl ("/api/routes/{id}/shifts/{date}"), missedUrl,
 *          qrUrl ("/patrol/routes/{id}/qr"), walkUrl ("/patrol/routes/{id}/walk"), today, texts}.
 * Everything the API returns is put on the page with textContent (pm.el), never as HTML.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var COLORS = { on_time: "#1a9641", late: "#f0a202", missed: "#d7191c", pending: "#9e9e9e" };
  var WORDS = { on_time: "on time", late: "late", missed: "missed", pending: "pending" };
  var TRACK_COLOR = "#6a3d9a";

  function el(tag, className, text) {
    if (pm.el) return pm.el(tag, className, text);
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function clock(iso) {
    var m = /T(\d{2}:\d{2})/.exec(iso || "");
    return m ? m[1] : "";
  }

  function addDays(isoDate, days) {
    var d = new Date(isoDate + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  pm.patrolShifts = function (map, config) {
    var box = document.getElementById("pm-shift-tools");
    if (!box) return;
    var t = pm.kit.texts(config, pm.t);
    function part(role) { return box.querySelector('[data-role="' + role + '"]'); }
    function field(name) { return box.querySelector('[name="' + name + '"]'); }
    function showError(err) { part("error").textContent = err ? err.message : ""; }

    // Status markers above the map's own checkpoint layer (its pane is 430), below tooltips (650).
    if (!map.getPane("pmShiftStops")) map.createPane("pmShiftStops").style.zIndex = 620;
    var stopLayer = L.featureGroup().addTo(map);
    var trackLayer = L.featureGroup().addTo(map);
    var state = (pm.patrolShifts.state = { stopLayer: stopLayer, trackLayer: trackLayer, data: null, round: null });
    var routeSelect = field("route"), dateInput = field("date"), roundSelect = field("round");
    dateInput.value = config.today || new Date().toISOString().slice(0, 10);

    function loadRoutes() {
      return pm.kit.request("GET", config.routesUrl + "?campus=" + encodeURIComponent(config.campus)).then(function (data) {
        var chosen = routeSelect.value;
        clear(routeSelect);
        var routes = data.routes || [];
        if (!routes.length) {
          var none = el("option", null, t("no saved routes on this campus"));
          none.value = "";
          routeSelect.appendChild(none);
        }
        routes.forEach(function (r) {
          var option = el("option", null, r.name);
          option.value = String(r.id);
          routeSelect.appendChild(option);
        });
        if (chosen && routes.some(function (r) { return String(r.id) === chosen; })) routeSelect.value = chosen;
        state.routes = routes;
        showError(null);
      }).catch(showError);
    }

    function links(routeId, date) {
      part("links").hidden = false;
      part("qr").href = config.qrUrl.replace("{id}", routeId);
      part("walk").href = config.walkUrl.replace("{id}", routeId);
      part("missed").href = config.missedUrl + "?campus=" + encodeURIComponent(config.campus) +
        "&from=" + addDays(date, -6) + "&to=" + date + "&format=csv";
    }

    function show() {
      var routeId = routeSelect.value, date = dateInput.value;
      if (!routeId || !date) return Promise.resolve();
      links(routeId, date);
      return pm.kit.request("GET", config.shiftUrl.replace("{id}", routeId).replace("{date}", date)).then(function (data) {
        state.data = data;
        showError(null);
        clear(roundSelect);
        data.rounds.forEach(function (r) {
          var option = el("option", null, t("Round %(visit)s", { visit: r.visit }) + " · " + clock(r.start) + "–" + clock(r.end));
          option.value = String(r.visit);
          roundSelect.appendChild(option);
        });
        roundSelect.disabled = data.rounds.length < 2;
        // The round under way, else the last one over, else the first.
        var current = data.rounds.filter(function (r) { return r.current; })[0] ||
          data.rounds.filter(function (r) { return r.over; }).slice(-1)[0] || data.rounds[0];
        roundSelect.value = String(current.visit);
        drawTracks(data);
        drawRound();
        map.fire("pm:shift", { data: data });
      }).catch(function (err) {
        state.data = null;
        stopLayer.clearLayers();
        trackLayer.clearLayers();
        clear(part("stops").querySelector("tbody"));
        part("summary").textContent = "";
        showError(err);
      });
    }

    function drawRound() {
      var data = state.data;
      if (!data) return;
      var round = data.rounds.filter(function (r) { return String(r.visit) === roundSelect.value; })[0] || data.rounds[0];
      state.round = round.visit;
      stopLayer.clearLayers();
      var body = part("stops").querySelector("tbody");
      clear(body);
      round.teams.forEach(function (team) {
        team.stops.forEach(function (stop) {
          if (stop.lat !== null && stop.lon !== null) {
            var marker = L.circleMarker([stop.lat, stop.lon], {
              radius: 11, weight: 3, color: "#222", fillColor: COLORS[stop.status], fillOpacity: 0.95,
              pane: "pmShiftStops",
            });
            marker.pmStatus = stop.status;
            marker.pmCheckpoint = stop.checkpoint;
            marker.bindTooltip(function () { return tooltip(team.team, stop); });
            stopLayer.addLayer(marker);
          }
          var row = el("tr");
          row.dataset.status = stop.status;
          row.dataset.checkpoint = String(stop.checkpoint);
          row.appendChild(el("td", null, team.team));
          row.appendChild(el("td", null, stop.seq + ". " + (stop.name || stop.checkpoint)));
          row.appendChild(el("td", null, clock(stop.planned_at)));
          row.appendChild(el("td", null, stop.checked_in_at ? clock(stop.checked_in_at) + (stop.officer ? " " + stop.officer : "") : ""));
          var cell = el("td", "pm-status-" + stop.status, t(WORDS[stop.status]));
          cell.style.color = stop.status === "pending" ? "#555" : COLORS[stop.status];
          row.appendChild(cell);
          row.addEventListener("click", function () {
            if (stop.lat !== null) map.setView([stop.lat, stop.lon], Math.max(map.getZoom(), 18));
          });
          body.appendChild(row);
        });
      });
      var words = "%(on_time)s on time, %(late)s late, %(missed)s missed, %(pending)s pending";
      part("summary").textContent = t("Round %(visit)s", { visit: round.visit }) + ": " + t(words, round.totals) +
        " · " + data.shift_date + ": " + t(words, data.totals);
      if (stopLayer.getLayers().length) map.fitBounds(stopLayer.getBounds().pad(0.2), { maxZoom: 18 });
    }

    function tooltip(team, stop) {
      var node = el("div");
      node.appendChild(el("div", "pm-popup-title", stop.seq + ". " + (stop.name || stop.checkpoint)));
      node.appendChild(el("div", null, t("Team %(team)s", { team: team }) + " · " + t(WORDS[stop.status])));
      node.appendChild(el("div", null, t("planned %(time)s", { time: clock(stop.planned_at) })));
      if (stop.checked_in_at) {
        var done = t("checked in %(time)s", { time: clock(stop.checked_in_at) });
        if (stop.officer) done += " " + t("by %(officer)s", { officer: stop.officer });
        if (stop.method) done += " (" + t(stop.method === "qr" ? "QR code" : "GPS") + ")";
        node.appendChild(el("div", null, done));
      }
      return node;
    }

    function drawTracks(data) {
      trackLayer.clearLayers();
      L.geoJSON(data.tracks, {
        style: function () { return { color: TRACK_COLOR, weight: 3, opacity: 0.8, dashArray: "6 4" }; },
        onEachFeature: function (f, layer) {
          layer.bindTooltip(function () {
            return el("div", null, t("track of %(officer)s", { officer: f.properties.officer }) + " · " +
                      clock(f.properties.start) + "–" + clock(f.properties.end));
          }, { sticky: true });
        },
      }).eachLayer(function (l) { trackLayer.addLayer(l); });
    }

    part("show").addEventListener("click", show);
    roundSelect.addEventListener("change", drawRound);
    routeSelect.addEventListener("change", show);
    dateInput.addEventListener("change", show);
    // Only the list loads by itself; a shift is fetched when the lead asks (a route may have no shift today).
    state.ready = loadRoutes();
    state.show = show;
    state.reloadRoutes = loadRoutes;
    // The route planner (patrol.js) saves, deletes and lists routes: follow its list.
    map.on("pm:saved pm:routes-listed pm:routes-changed", function () { loadRoutes(); });
  };
})();

/* Patrol officers' phone pages (巡更): the check-in page a plaque's QR code opens, and the walk page
 * of a route (its stops in order with their status this round, GPS check-ins, a shared track).
 *
 * No map here: these pages load fast on a phone on a weak signal. Everything the API returns is
 * put on the page with textContent, never as HTML; writes carry the session's CSRF token.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  var kit = pm.kit;
  var config = {};
  var t = kit.texts(config);
  var TRACK_FLUSH_MS = 30000;
  var TRACK_MAX_BATCH = 500;

  // "2026-11-23T22:05:00+08:00" -> "22:05": the campus's local time, as the API gives it.
  function clock(iso) {
    var m = /T(\d{2}:\d{2})/.exec(iso || "");
    return m ? m[1] : "";
  }

  // The phone's position, or null when it has none (denied, no fix in time): QR check-ins still work.
  function position(required) {
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) {
        if (required) reject(new Error(t("Your position could not be found: %(reason)s", { reason: "-" })));
        else resolve(null);
        return;
      }
      navigator.geolocation.getCurrentPosition(resolve, function (err) {
        if (required) reject(new Error(t("Your position could not be found: %(reason)s", { reason: err.message })));
        else resolve(null);
      }, { enableHighAccuracy: true, timeout: required ? 20000 : 8000, maximumAge: 0 });
    });
  }

  var STATUS_WORDS = { on_time: "on time", late: "late", missed: "missed", pending: "pending" };
  function statusWord(status) { return t(STATUS_WORDS[status] || status); }

  function statusLine(stop) {
    var parts = [statusWord(stop.status), t("planned %(time)s", { time: clock(stop.planned_at) })];
    if (stop.checked_in_at) {
      parts.push(t("checked in %(time)s", { time: clock(stop.checked_in_at) }));
      if (stop.officer) parts.push(t("by %(officer)s", { officer: stop.officer }));
    }
    return parts.join(" · ");
  }

  // ---- the check-in page (/patrol/checkin/<token>)
  function checkinPage(box) {
    box.querySelectorAll("[data-role=checkin]").forEach(function (button) {
      var item = button.closest("[data-route]");
      var error = item.querySelector("[data-role=error]");
      var result = item.querySelector("[data-role=result]");
      button.addEventListener("click", function () {
        button.disabled = true;
        error.textContent = "";
        result.textContent = t("Checking in…");
        position(false).then(function (pos) {
          var body = { checkpoint: config.checkpoint, team: Number(item.dataset.team), qr: config.qr };
          if (pos) {
            body.position = [pos.coords.longitude, pos.coords.latitude];
            body.accuracy_m = pos.coords.accuracy;
          }
          return kit.request("POST", config.checkinUrl.replace("{id}", item.dataset.route), body);
        }).then(function (data) {
          result.textContent = t("Checked in: %(status)s", { status: statusWord(data.status) });
          item.dataset.status = data.status;
        }).catch(function (err) {
          result.textContent = "";
          error.textContent = err.message;
          button.disabled = false;
        });
      });
    });
  }

  // ---- the walk page (/patrol/routes/<id>/walk)
  function walkPage(box) {
    var summary = box.querySelector("[data-role=summary]");
    var pageError = box.querySelector(":scope > [data-role=error]");
    var items = {};
    box.querySelectorAll("li[data-checkpoint]").forEach(function (li) { items[li.dataset.checkpoint] = li; });
    pm.walk = { refreshed: 0 };

    function refresh() {
      if (!config.shiftDate) return Promise.resolve();
      return kit.request("GET", config.shiftUrl.replace("{date}", config.shiftDate)).then(function (data) {
        var round = data.rounds.filter(function (r) { return r.current; })[0] ||
          data.rounds.filter(function (r) { return r.visit === config.visit; })[0];
        if (!round) return;
        config.visit = round.visit;
        var team = round.teams.filter(function (x) { return x.team === config.team; })[0];
        var counts = { on_time: 0, late: 0, missed: 0, pending: 0 };
        (team ? team.stops : []).forEach(function (stop) {
          counts[stop.status] += 1;
          var li = items[String(stop.checkpoint)];
          if (!li) return;
          li.dataset.status = stop.status;
          li.querySelector("[data-role=status]").textContent = statusLine(stop);
        });
        summary.textContent = t("Round %(visit)s", { visit: round.visit }) + ": " +
          t("%(on_time)s on time, %(late)s late, %(missed)s missed, %(pending)s pending", counts);
        pm.walk.refreshed += 1;
      }).catch(function (err) { pageError.textContent = err.message; });
    }

    Object.keys(items).forEach(function (id) {
      var li = items[id];
      var button = li.querySelector("[data-role=checkin]");
      var error = li.querySelector("[data-role=error]");
      button.addEventListener("click", function () {
        button.disabled = true;
        error.textContent = t("Finding your position…");
        position(true).then(function (pos) {
          error.textContent = t("Checking in…");
          return kit.request("POST", config.checkinUrl, {
            checkpoint: Number(id), team: config.team,
            position: [pos.coords.longitude, pos.coords.latitude], accuracy_m: pos.coords.accuracy,
          });
        }).then(function (data) {
          error.textContent = "";
          li.dataset.status = data.status;
          li.querySelector("[data-role=status]").textContent = t("Checked in: %(status)s", { status: statusWord(data.status) });
          return refresh();
        }).catch(function (err) { error.textContent = err.message; }).then(function () { button.disabled = false; });
      });
    });

    // ---- sharing the track: positions buffered and sent in batches while the switch is on
    var trackSwitch = box.querySelector("[data-role=track]");
    var trackStatus = box.querySelector("[data-role=track-status]");
    var watch = null, timer = null, buffer = [], sent = 0;
    function flush() {
      if (!buffer.length) return Promise.resolve();
      var batch = buffer.splice(0, TRACK_MAX_BATCH);
      return kit.request("POST", config.trackUrl, { points: batch }).then(function (data) {
        sent += data.stored;
        trackStatus.textContent = t("sent %(count)s positions", { count: sent });
      }).catch(function (err) {
        buffer = batch.concat(buffer).slice(-2000);  // keep them for the next try, within the API's limit
        trackStatus.textContent = err.message;
      });
    }
    pm.walk.flushTrack = flush;
    pm.walk.buffered = function () { return buffer.length; };
    if (trackSwitch) {
      trackSwitch.addEventListener("change", function () {
        if (trackSwitch.checked && navigator.geolocation) {
          watch = navigator.geolocation.watchPosition(function (pos) {
            buffer.push([pos.coords.longitude, pos.coords.latitude, new Date(pos.timestamp).toISOString(),
                         pos.coords.accuracy]);
          }, function (err) {
            trackStatus.textContent = t("Your position could not be found: %(reason)s", { reason: err.message });
          }, { enableHighAccuracy: true, maximumAge: 5000 });
          timer = window.setInterval(flush, TRACK_FLUSH_MS);
        } else {
          if (watch !== null) navigator.geolocation.clearWatch(watch);
          if (timer !== null) window.clearInterval(timer);
          watch = timer = null;
          flush();
        }
      });
    }
    refresh();
    window.setInterval(refresh, 60000);
  }

  // ---- the QR sheet (/patrol/routes/<id>/qr): reissue a lost or copied plaque, then show the new code
  function qrSheet(box) {
    box.querySelectorAll("[data-role=reissue]").forEach(function (button) {
      var error = button.parentNode.querySelector("[data-role=error]");
      button.addEventListener("click", function () {
        if (!window.confirm(t("Reissue this plaque? Its old QR code stops working at once."))) return;
        button.disabled = true;
        kit.request("POST", button.dataset.url, { reason: "plaque reissued from the QR sheet" }).then(function () {
          window.location.reload();
        }).catch(function (err) { error.textContent = err.message; button.disabled = false; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    kit.pageConfig(config);
    var checkin = document.getElementById("pm-checkin");
    if (checkin) checkinPage(checkin);
    var walk = document.getElementById("pm-walk");
    if (walk) walkPage(walk);
    var sheet = document.getElementById("pm-qr-sheet");
    if (sheet) qrSheet(sheet);
  });
})();

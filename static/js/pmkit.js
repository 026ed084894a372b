/* The page scripts' shared helpers, on window.patrolmap.kit: the page's words, the CSRF token, and JSON
 * requests to the API counted in patrolmap.pending (tests and people wait for it to reach 0).
 *
 * Loaded before every page script (templates/*.html), so that all of them speak to the API the same way:
 * the page's language in Accept-Language, the session's CSRF token on writes, the API's own
 * {"message": ...} as the error people read.
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});
  pm.pending = pm.pending || 0;
  var has = function (obj, key) { return Boolean(obj) && Object.prototype.hasOwnProperty.call(obj, key); };

  // A text keyed by its English, in the page's language, with its %(name)s placeholders filled.
  function translate(texts, key, params) {
    var text = has(texts, key) ? texts[key] : key;
    return text.replace(/%\((\w+)\)s/g, function (whole, name) {
      return has(params, name) ? String(params[name]) : whole;
    });
  }

  // t(key, params) over config.texts, read at each call (a page may fill its config after loading);
  // a key it lacks goes to fallback when one is given (the map's own words, pm.t).
  function texts(config, fallback) {
    return function (key, params) {
      var own = config.texts || {};
      if (fallback && !has(own, key)) return fallback(key, params);
      return translate(own, key, params);
    };
  }

  // A page's settings, from its <script type="application/json" id="pm-page-config">, put into config.
  function pageConfig(config) {
    var node = document.getElementById("pm-page-config");
    if (node) Object.assign(config, JSON.parse(node.textContent));
    return config;
  }

  function csrf() {
    var token = document.querySelector('meta[name="csrf-token"]');
    return token ? token.getAttribute("content") : "";
  }

  function language() {
    return document.documentElement.lang || "en";
  }

  // Requests under way, mirrored on <html data-pm-pending> for anyone who looks there.
  function busy(delta) {
    pm.pending = (pm.pending || 0) + delta;
    document.documentElement.dataset.pmPending = String(pm.pending);
  }

  function tracked(promise) {
    busy(1);
    return promise.then(function (v) { busy(-1); return v; }, function (e) { busy(-1); throw e; });
  }

  // The error for a refused request: the API's message (with its status and details), else the status line.
  function failure(status, statusText, data) {
    var err = new Error((data && (data.message || data.error)) || statusText || String(status));
    err.status = status;
    err.details = data ? data.details : undefined;
    return err;
  }

  // An answer's JSON (null for 204 or no JSON), or the API's refusal as an Error.
  function answer(res) {
    if (res.status === 204) return null;
    return res.json().then(function (data) {
      if (!res.ok) throw failure(res.status, res.statusText, data);
      return data;
    }, function () {
      if (!res.ok) throw failure(res.status, res.status + " " + res.statusText, null);
      return null;
    });
  }

  /* One request to the API. body: a value sent as JSON, or FormData sent as it is; options: signal (an
   * AbortSignal), raw (resolve with the Response itself, whatever its status), track (false: not counted in
   * pm.pending, for callers that count a larger piece of work themselves). */
  function request(method, url, body, options) {
    options = options || {};
    var headers = { Accept: "application/json", "Accept-Language": language() };
    var token = method === "GET" ? "" : csrf();
    if (token) headers["X-CSRF-Token"] = token;
    var form = typeof FormData !== "undefined" && body instanceof FormData;
    if (body !== undefined && !form) headers["Content-Type"] = "application/json";
    var sent = fetch(url, {
      method: method, headers: headers, credentials: "same-origin", signal: options.signal,
      body: body === undefined || form ? body : JSON.stringify(body),
    });
    var result = options.raw ? sent : sent.then(answer);
    return options.track === false ? result : tracked(result);
  }

  /* Whether a GeoJSON polygon's rings (outer first, then holes) hold the point (x, y): even-odd rule. */
  function ringHolds(ring, x, y) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  function polygonHolds(rings, x, y) {
    if (!rings.length || !ringHolds(rings[0], x, y)) return false;
    for (var i = 1; i < rings.length; i++) if (ringHolds(rings[i], x, y)) return false;
    return true;
  }

  // A page's tool panel (<details>): on a phone the map comes first, so the panel starts folded under
  // its title; folding or unfolding it changes the map's size, which Leaflet must be told of.
  var PHONE = "(max-width: 800px)";
  function isPhone() { return Boolean(window.matchMedia && window.matchMedia(PHONE).matches); }
  function toolsPanel(map, id) {
    var details = document.getElementById(id);
    if (!details) return null;
    if (isPhone()) details.open = false;
    details.addEventListener("toggle", function () { map.invalidateSize(); });
    return details;
  }

  // The panels' forms name their parts data-role="..." and their inputs name="...".
  function part(box, role) { return box ? box.querySelector('[data-role="' + role + '"]') : null; }
  function field(box, name) { return box ? box.querySelector('[name="' + name + '"]') : null; }
  // An error (or null to clear it) in the form's data-role="error" line, as people read it.
  function showError(box, err) {
    var target = part(box, "error");
    if (target) target.textContent = err ? (err.message || String(err)) : "";
  }

  pm.kit = {
    polygonHolds: polygonHolds, isPhone: isPhone, toolsPanel: toolsPanel, part: part, field: field,
    showError: showError,
    translate: translate, texts: texts, pageConfig: pageConfig, csrf: csrf, language: language,
    busy: busy, tracked: tracked, failure: failure, request: request,
  };
})();

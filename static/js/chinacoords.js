/* patrolmap.chinacoords: WGS84 <-> GCJ-02 in the browser, and a Leaflet CRS for GCJ-02 tiles.
 *
 * patrolmap stores and serves WGS84. Basemaps such as AMap/Gaode are drawn in GCJ-02, the
 * offset coordinates maps published in mainland China must use. Rather than convert every
 * feature, click and bbox, the map switches to a CRS whose projection converts WGS84 ->
 * GCJ-02 before spherical Mercator (and back when unprojecting) whenever the chosen basemap
 * says `pmCrs: "gcj02"`. Leaflet then draws WGS84 latlngs where the GCJ-02 tiles show them,
 * map clicks and map.getBounds() come back in WGS84, and GPS fixes (WGS84) need nothing.
 *
 * The algorithm is the same as patrolmap/geo/chinacoords.py (the standard one on the
 * Krasovsky ellipsoid, applied only inside the usual rough "China" box); the browser tests
 * check that both agree. Arguments are (lng, lat); results are [lng, lat].
 */
(function () {
  "use strict";
  var pm = (window.patrolmap = window.patrolmap || {});

  var A = 6378245.0; // Krasovsky 1940 semi-major axis
  var EE = 0.00669342162296594323; // and its first eccentricity squared
  var LNG_MIN = 72.004, LNG_MAX = 137.8347, LAT_MIN = 0.8293, LAT_MAX = 55.8271;
  var TOLERANCE = 1e-10; // degrees; about 0.01 mm
  var MAX_STEPS = 10;

  function outOfChina(lng, lat) {
    return !(lng >= LNG_MIN && lng <= LNG_MAX && lat >= LAT_MIN && lat <= LAT_MAX);
  }

  // The GCJ-02 offset [dlng, dlat] in degrees at (lng, lat), ignoring the box.
  function offset(lng, lat) {
    var x = lng - 105.0, y = lat - 35.0;
    var xpi = x * Math.PI, ypi = y * Math.PI;
    var common = 20.0 * Math.sin(6.0 * xpi) + 20.0 * Math.sin(2.0 * xpi);
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) +
      2.0 / 3.0 * (common + 20.0 * Math.sin(ypi) + 40.0 * Math.sin(ypi / 3.0) +
                   160.0 * Math.sin(ypi / 12.0) + 320.0 * Math.sin(ypi / 30.0));
    var dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) +
      2.0 / 3.0 * (common + 20.0 * Math.sin(xpi) + 40.0 * Math.sin(xpi / 3.0) +
                   150.0 * Math.sin(xpi / 12.0) + 300.0 * Math.sin(xpi / 30.0));
    var radlat = lat / 180.0 * Math.PI;
    var s = Math.sin(radlat);
    var magic = 1.0 - EE * s * s;
    var sqrtMagic = Math.sqrt(magic);
    dlat = dlat * 180.0 / (A * (1.0 - EE) / (magic * sqrtMagic) * Math.PI);
    dlng = dlng * 180.0 / (A / sqrtMagic * Math.cos(radlat) * Math.PI);
    return [dlng, dlat];
  }

  function wgs84ToGcj02(lng, lat) {
    if (outOfChina(lng, lat)) return [lng, lat];
    var d = offset(lng, lat);
    return [lng + d[0], lat + d[1]];
  }

  // No closed form: step back by the forward transform's residual until it is below 1e-10 degree.
  function gcj02ToWgs84(lng, lat) {
    if (outOfChina(lng, lat)) return [lng, lat];
    var wLng = lng, wLat = lat;
    for (var i = 0; i < MAX_STEPS; i++) {
      var d = offset(wLng, wLat);
      var rLng = wLng + d[0] - lng, rLat = wLat + d[1] - lat;
      wLng -= rLng;
      wLat -= rLat;
      if (Math.abs(rLng) < TOLERANCE && Math.abs(rLat) < TOLERANCE) break;
    }
    return [wLng, wLat];
  }

  var cc = (pm.chinacoords = {
    outOfChina: outOfChina,
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
  });

  if (!window.L) return;

  var mercator = L.Projection.SphericalMercator;

  // Spherical Mercator of the GCJ-02 position: what AMap's tile grid is cut in.
  cc.projection = {
    R: mercator.R,
    MAX_LATITUDE: mercator.MAX_LATITUDE,
    bounds: mercator.bounds,
    project: function (latlng) {
      var g = wgs84ToGcj02(latlng.lng, latlng.lat);
      return mercator.project(L.latLng(g[1], g[0]));
    },
    unproject: function (point) {
      var g = mercator.unproject(point);
      var w = gcj02ToWgs84(g.lng, g.lat);
      return L.latLng(w[1], w[0]);
    },
  };

  cc.CRS = L.extend({}, L.CRS.EPSG3857, { code: "PM:GCJ02", projection: cc.projection });

  cc.crsFor = function (name) { return name === "gcj02" ? cc.CRS : L.CRS.EPSG3857; };

  // Switch the map's CRS, keeping its WGS84 centre and zoom; every layer re-projects.
  cc.setCrs = function (map, name) {
    var crs = cc.crsFor(name);
    if (map.options.crs === crs) return;
    if (!map._loaded) { map.options.crs = crs; return; }
    var center = map.getCenter();
    var zoom = map.getZoom();
    map.options.crs = crs;
    // Leaflet 1.9 has no public call for this: _resetView re-projects every layer (viewreset)
    // and re-cuts the tile grid, as when the map was first shown.
    map._resetView(center, zoom);
  };

  cc.crsName = function (map) { return map.options.crs === cc.CRS ? "gcj02" : "wgs84"; };

  // A basemap: one tile layer, or a layer group of a base and its annotation (Tianditu), that
  // puts the map in its CRS just before it is added, so that no tile is asked for in the
  // wrong grid. config: {crs: "wgs84"|"gcj02", layers: [{url, options}, ...]}.
  pm.basemap = function (config) {
    var crs = config.crs || "wgs84";
    var tiles = config.layers.map(function (t) {
      return L.tileLayer(t.url, L.extend({}, t.options, { pmCrs: crs }));
    });
    var layer = tiles.length === 1 ? tiles[0] : L.layerGroup(tiles, { pmCrs: crs });
    var before = layer.beforeAdd;
    layer.beforeAdd = function (map) {
      cc.setCrs(map, crs);
      if (before) before.call(layer, map);
    };
    return layer;
  };

  // Follow the basemap the user picks in the layer control (its `pmCrs` option says its CRS),
  // also for base layers not made by pm.basemap; start in the CRS of the one shown first.
  pm.basemapCrs = function (map) {
    map.on("baselayerchange", function (e) {
      cc.setCrs(map, (e.layer && e.layer.options && e.layer.options.pmCrs) || "wgs84");
    });
    map.eachLayer(function (layer) {
      if (layer.options && layer.options.pmCrs) cc.setCrs(map, layer.options.pmCrs);
    });
  };
})();

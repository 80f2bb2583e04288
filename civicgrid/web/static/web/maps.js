// Maps (Leaflet) and the cockpit chart (ECharts). Grid polygons come from the app's own
// GeoJSON endpoints; tiles only if a tile URL is configured, so the map works offline too.
(function () {
  "use strict";

  function colour(n, max) {
    if (!n) return "#e8ecf0";
    var t = Math.min(1, n / Math.max(1, max));
    var light = Math.round(85 - t * 45);
    return "hsl(4, 70%, " + light + "%)";
  }

  function initMap(el) {
    if (!window.L) return;
    var map = L.map(el, { preferCanvas: true });
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
    }
    var point = el.dataset.point ? el.dataset.point.split(",").map(Number) : null;
    var fitted = false;
    if (point) {
      L.circleMarker(point, { radius: 8, color: "#b3261e", weight: 3 }).addTo(map);
      map.setView(point, 16);
      fitted = true;
    }
    if (!el.dataset.geojson) return;
    fetch(el.dataset.geojson, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })  // a grid outside one's scope: no polygon
      .then(function (data) {
        if (!data) return;
        var max = 0;
        (data.features || []).forEach(function (f) { max = Math.max(max, (f.properties || {}).open || 0); });
        var layer = L.geoJSON(data, {
          style: function (f) {
            var open = (f.properties || {}).open;
            return { color: "#66717d", weight: 1, fillOpacity: 0.6, fillColor: open === undefined ? "#f3d6d4" : colour(open, max) };
          },
          onEachFeature: function (f, l) {
            var p = f.properties || {};
            l.bindTooltip(p.name + (p.open !== undefined ? " · " + p.open : ""));
          }
        }).addTo(map);
        if (!fitted && layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
        el.dataset.ready = "1";
      });
  }

  function initChart() {
    var el = document.getElementById("category-chart");
    var source = document.getElementById("category-data");
    if (!el || !source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el);
    chart.setOption({
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.categories.slice().reverse() },
      series: [{ type: "bar", data: data.counts.slice().reverse(), itemStyle: { color: "#b3261e" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".map").forEach(initMap);
    initChart();
  });
})();

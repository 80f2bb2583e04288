// The leaders' cockpit: the trend chart (ECharts), the map (Leaflet: a choropleth of townships,
// villages or grids, the open cases, the early-warning signals) and a refresh every few minutes
// without reloading the page. Data come from <script type="application/json" id="cockpit-data">
// and from the map's JSON endpoint; nothing inline (the Content-Security-Policy forbids it).
(function () {
  "use strict";

  var REFRESH_MS = 5 * 60 * 1000;
  var data = null;
  var chart = null;
  var map = null;
  var layers = { units: null, cases: null, signals: null, legend: null };
  var fitted = false;

  function readData(root) {
    var source = (root || document).getElementById("cockpit-data");
    return source ? JSON.parse(source.textContent) : null;
  }

  // ------------------------------------------------------------------ trend chart

  function drawTrend() {
    var el = document.getElementById("cp-trend");
    if (!el || !window.echarts || !data) return;
    if (!chart) {
      chart = echarts.init(el);
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var t = data.trends;
    chart.setOption({
      animation: false,  // a wall display refreshes; a growing line would flicker each time
      grid: { left: 8, right: 16, top: 28, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [data.series.intake, data.series.closed] },
      xAxis: { type: "category", data: t.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: data.series.intake, type: "line", data: t.intake, itemStyle: { color: "#b3261e" } },
        { name: data.series.closed, type: "line", data: t.closed, itemStyle: { color: "#1f7a33" } }
      ]
    });
    el.dataset.ready = "1";
  }

  // ------------------------------------------------------------------ map

  function colour(n, max) {
    if (!n) return "#e8ecf0";
    var t = Math.min(1, n / Math.max(1, max));
    return "hsl(4, 70%, " + Math.round(85 - t * 45) + "%)";
  }

  function control(selector) { return document.querySelector(selector); }

  function mapUrl() {
    var level = control("[data-map-level]");
    var measure = control("[data-map-measure]");
    var params = new URLSearchParams({ region: data.region });
    params.set("level", level ? level.value : document.getElementById("cp-map").dataset.level);
    params.set("measure", measure ? measure.value : "open");
    return data.map + "?" + params.toString();
  }

  function legend(max) {
    if (layers.legend) layers.legend.remove();
    var box = L.control({ position: "bottomright" });
    box.onAdd = function () {
      var div = L.DomUtil.create("div", "cp-legend");
      [0, Math.ceil(max / 3), Math.ceil((2 * max) / 3), max].forEach(function (v, i, all) {
        if (i > 0 && v === all[i - 1]) return;
        var row = document.createElement("div");
        var swatch = document.createElement("i");
        swatch.style.background = colour(v, max);
        row.appendChild(swatch);
        row.appendChild(document.createTextNode(String(v)));
        div.appendChild(row);
      });
      return div;
    };
    layers.legend = box.addTo(map);
  }

  function showUnits(geojson) {
    if (layers.units) layers.units.remove();
    var max = 0;
    geojson.features.forEach(function (f) { max = Math.max(max, f.properties.value || 0); });
    layers.units = L.geoJSON(geojson, {
      style: function (f) {
        return { color: "#66717d", weight: 1, fillOpacity: 0.65, fillColor: colour(f.properties.value, max) };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(p.name + " · " + p.value);
        layer.on("click", function () { window.location.href = p.url; });
      }
    }).addTo(map);
    legend(max);
    if (!fitted && layers.units.getBounds().isValid()) {
      map.fitBounds(layers.units.getBounds(), { animate: false, maxZoom: 17 });
      fitted = true;
    }
  }

  function showCases(points) {
    if (layers.cases) layers.cases.remove();
    layers.cases = L.layerGroup();
    (points || []).forEach(function (p) {
      var colourOf = p[4] ? "#b3261e" : p[3] ? "#d49a00" : "#1d5fa8";
      var label = p[2] + (p[4] ? " · " + data.labels.overdue : "") + (p[3] ? " · " + data.labels.urgent : "");
      L.circleMarker([p[0], p[1]], { radius: 4, color: colourOf, weight: 1, fillOpacity: 0.8 })
        .bindTooltip(label)
        .on("click", function () { window.location.href = data.cases_url + encodeURIComponent(p[2]) + "/"; })
        .addTo(layers.cases);
    });
    var box = control("[data-map-cases]");
    if (!box || box.checked) layers.cases.addTo(map);
  }

  function showSignals(geojson) {
    if (layers.signals) layers.signals.remove();
    layers.signals = null;
    var box = control("[data-map-signals]");
    if (!geojson || !geojson.features) {
      if (box) box.closest("label").hidden = true;
      return;
    }
    layers.signals = L.geoJSON(geojson, {
      style: function () { return { color: "#7b2cbf", weight: 3, fillOpacity: 0.15, dashArray: "4 3" }; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 9, color: "#7b2cbf", weight: 3, fillOpacity: 0.2 });
      },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        var text = data.labels.signals + ": " + (p.category || "") +
          (p.relative_risk ? " · RR " + Number(p.relative_risk).toFixed(1) : "");
        layer.bindTooltip(text);
        if (p.url) layer.on("click", function () { window.location.href = p.url; });
      }
    });
    if (!box || box.checked) layers.signals.addTo(map);
  }

  function loadMap() {
    var el = document.getElementById("cp-map");
    if (!el || !map) return Promise.resolve();
    el.dataset.ready = "";
    return fetch(mapUrl(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (!geojson) return;
        showUnits(geojson);
        showCases(geojson.cases);
        showSignals(geojson.signals);
        el.dataset.ready = "1";
      });
  }

  function initMap() {
    var el = document.getElementById("cp-map");
    if (!el || !window.L || !data) return;
    map = L.map(el, { preferCanvas: true, zoomSnap: 0.25, maxZoom: 19 });
    map.setView([30.0, 121.2], 10);
    if (data.tiles) {
      L.tileLayer(data.tiles, { attribution: data.attribution || "", maxZoom: 19 }).addTo(map);
    }
    ["[data-map-level]", "[data-map-measure]"].forEach(function (s) {
      var c = control(s);
      if (c) c.addEventListener("change", loadMap);
    });
    [["[data-map-cases]", "cases"], ["[data-map-signals]", "signals"]].forEach(function (pair) {
      var c = control(pair[0]);
      if (!c) return;
      c.addEventListener("change", function () {
        var layer = layers[pair[1]];
        if (!layer) return;
        if (c.checked) layer.addTo(map); else layer.remove();
      });
    });
    if (window.ResizeObserver) new ResizeObserver(function () { map.invalidateSize(); }).observe(el);
    loadMap();
  }

  // ------------------------------------------------------------------ refresh

  function refresh(event) {
    if (document.hidden && !event) return;
    var cockpit = document.querySelector("[data-cockpit]");
    cockpit.dataset.refreshing = "1";
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Cockpit-Refresh": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (next) old.replaceWith(document.importNode(next, true));
        });
        var next = readData(fresh);
        if (next) {
          data = next;
          drawTrend();
        }
        return loadMap();
      })
      .catch(function () { /* offline for a moment: the next refresh tries again */ })
      .then(function () { cockpit.dataset.refreshing = ""; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    data = readData();
    if (!data) return;
    drawTrend();
    initMap();
    window.setInterval(refresh, REFRESH_MS);
    var button = document.querySelector("[data-refresh]");
    if (button) button.addEventListener("click", refresh);
  });
})();

// Charts of a report page: the descriptions come from the JSON block "report-charts"
// (written by the server, no inline script) and are drawn with ECharts.
(function () {
  "use strict";
  var COLOURS = ["#b3261e", "#1f6fb2", "#2e7d32", "#8a5a00"];

  function option(chart) {
    var legend = chart.series.length > 1 ? { top: 0 } : undefined;
    var series = chart.series.map(function (s, i) {
      return {
        name: s.name,
        type: chart.type === "line" ? "line" : "bar",
        data: s.data,
        itemStyle: { color: COLOURS[i % COLOURS.length] },
        lineStyle: chart.type === "line" ? { color: COLOURS[i % COLOURS.length] } : undefined
      };
    });
    var categoryAxis = { type: "category", data: chart.categories, axisLabel: { hideOverlap: true } };
    var valueAxis = { type: "value", minInterval: 1 };
    if (chart.type === "hbar") {
      categoryAxis.inverse = true;
      return {
        legend: legend, tooltip: { trigger: "axis" },
        grid: { left: 8, right: 24, top: legend ? 28 : 8, bottom: 8, containLabel: true },
        xAxis: valueAxis, yAxis: categoryAxis, series: series
      };
    }
    return {
      legend: legend, tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: legend ? 28 : 8, bottom: 8, containLabel: true },
      xAxis: categoryAxis, yAxis: valueAxis, series: series
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("report-charts");
    if (!source || !window.echarts) return;
    var charts = JSON.parse(source.textContent);
    var drawn = [];
    charts.forEach(function (chart) {
      var el = document.getElementById("chart-" + chart.id);
      if (!el) return;
      var instance = echarts.init(el);
      instance.setOption(option(chart));
      el.dataset.ready = "1";
      drawn.push(instance);
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (c) { c.resize(); });
    });
  });
})();

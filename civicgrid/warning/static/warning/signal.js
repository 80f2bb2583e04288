// The daily counts of a signal's places (ECharts): the signal's own days shaded.
(function () {
  "use strict";

  function initChart() {
    var el = document.getElementById("signal-chart");
    var source = document.getElementById("signal-series");
    if (!el || !source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el);
    chart.setOption({
      grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        name: el.dataset.label || "",
        type: "bar",
        data: data.counts,
        itemStyle: { color: "#b3261e" },
        markArea: {
          itemStyle: { color: "rgba(179, 38, 30, 0.12)" },
          data: [[{ name: el.dataset.window || "", xAxis: data.start }, { xAxis: data.end }]]
        }
      }]
    });
    el.dataset.ready = "1";
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", initChart);
})();

// A dry run or import of a large file runs on the server: show its progress, reload when done.
(function () {
  "use strict";
  var bar = document.getElementById("run-progress");
  if (!bar) return;
  var text = document.getElementById("run-progress-text");
  var url = bar.getAttribute("data-url");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (run) {
        bar.max = Math.max(run.total, 1);
        bar.value = run.done;
        if (text) text.textContent = run.label + " · " + run.done.toLocaleString() + " / " + run.total.toLocaleString();
        if (run.running) { window.setTimeout(poll, 1000); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();

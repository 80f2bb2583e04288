// The visit pages on a phone: the due list asks where the worker stands (nearest first), the
// visit form fills its GPS fields, the walk page records a track while the worker walks.
(function () {
  "use strict";
  var geo = navigator.geolocation;
  var options = { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 };

  // Due list: without a position in the address, ask once and reload sorted from there.
  var where = document.getElementById("due-where");
  if (where && where.dataset.located === "0" && geo) {
    geo.getCurrentPosition(function (pos) {
      var url = new URL(window.location.href);
      url.searchParams.set("lat", pos.coords.latitude.toFixed(6));
      url.searchParams.set("lng", pos.coords.longitude.toFixed(6));
      window.location.replace(url.toString());
    }, function () { /* keep the grid's centre */ }, options);
  }

  // Visit form: the GPS of the visit, asked at once and on the button.
  var visit = document.getElementById("visit-form");
  if (visit) {
    var status = document.getElementById("location-status");
    var locate = function () {
      if (!geo) { status.textContent = "—"; return; }
      status.textContent = "…";
      geo.getCurrentPosition(function (pos) {
        visit.elements.lat.value = pos.coords.latitude.toFixed(6);
        visit.elements.lng.value = pos.coords.longitude.toFixed(6);
        status.textContent = visit.elements.lat.value + ", " + visit.elements.lng.value;
      }, function (err) { status.textContent = err.message; }, options);
    };
    document.getElementById("use-location").addEventListener("click", locate);
    if (!visit.elements.lat.value) locate();
    var problem = visit.elements.found_problem;
    var description = visit.elements.description;
    if (problem && description) {
      description.addEventListener("input", function () {
        if (description.value.trim()) problem.checked = true;
      });
    }
    visit.addEventListener("submit", function () {
      var button = visit.querySelector("button[type=submit]");
      window.setTimeout(function () { button.disabled = true; }, 0);  // no double visit
    });
  }

  // Walk: start fills the start time and follows the position; stop fills the end time.
  var patrol = document.getElementById("patrol-form");
  if (patrol) {
    var points = [];
    var watch = null;
    var shown = document.getElementById("patrol-points");
    var pstatus = document.getElementById("patrol-status");
    var local = function (d) {
      var pad = function (n) { return String(n).padStart(2, "0"); };
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
        "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
    };
    try { points = JSON.parse(patrol.elements.track.value || "[]") || []; } catch (e) { points = []; }
    shown.textContent = points.length;
    var add = function (pos) {
      points.push([+pos.coords.latitude.toFixed(6), +pos.coords.longitude.toFixed(6), pos.timestamp]);
      patrol.elements.track.value = JSON.stringify(points);
      shown.textContent = points.length;
    };
    document.getElementById("patrol-start").addEventListener("click", function () {
      if (!patrol.elements.started_at.value) patrol.elements.started_at.value = local(new Date());
      if (!geo) { pstatus.textContent = "—"; return; }
      pstatus.textContent = "…";
      if (watch === null) {
        watch = geo.watchPosition(function (pos) { pstatus.textContent = "✓"; add(pos); },
          function (err) { pstatus.textContent = err.message; }, options);
      }
    });
    document.getElementById("patrol-stop").addEventListener("click", function () {
      if (watch !== null && geo) geo.clearWatch(watch);
      watch = null;
      patrol.elements.ended_at.value = local(new Date());
      pstatus.textContent = "■";
    });
  }
})();

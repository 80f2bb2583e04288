// The check form on a phone: the hazard's description shows only when a hazard is found,
// and the GPS button fills the hidden lat/lng fields.
(function () {
  "use strict";
  var form = document.getElementById("check-form");
  if (!form) return;
  var details = ["field-description", "field-photo"].map(function (id) { return document.getElementById(id); });
  function sync() {
    var chosen = form.querySelector("input[name=hazard]:checked");
    var hazard = chosen && chosen.value === "yes";
    details.forEach(function (el) { if (el) el.hidden = !hazard; });
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=hazard]"), function (el) {
    el.addEventListener("change", sync);
  });
  sync();
  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (button) {
    button.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = "—"; return; }
      status.textContent = "…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        form.elements.lat.value = pos.coords.latitude.toFixed(6);
        form.elements.lng.value = pos.coords.longitude.toFixed(6);
        status.textContent = form.elements.lat.value + ", " + form.elements.lng.value;
      }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
})();

// The report page: category search, GPS location, and a draft kept on the phone so that a
// report typed with a flaky connection is not lost (the idempotency key in the form makes a
// resubmission return the first case instead of a second one).
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) return;
  var key = "civicgrid-draft-" + form.dataset.draft;
  var fields = ["description", "address", "category", "grid", "lat", "lng", "idempotency_key"];

  try {
    var saved = JSON.parse(localStorage.getItem(key) || "null");
    if (saved) {
      fields.forEach(function (name) {
        var el = form.elements[name];
        if (el && saved[name] && !el.value) el.value = saved[name];
        if (el && name === "idempotency_key" && saved[name]) el.value = saved[name];
      });
    }
  } catch (e) { /* storage unavailable: no draft */ }

  function save() {
    var draft = {};
    fields.forEach(function (name) {
      var el = form.elements[name];
      if (el) draft[name] = el.value;
    });
    try { localStorage.setItem(key, JSON.stringify(draft)); } catch (e) { /* ignore */ }
  }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
  form.addEventListener("submit", save);
  if (document.querySelector(".messages .success")) {
    try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
  }

  var search = document.getElementById("category-search");
  var select = form.elements.category;
  if (search && select) {
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = q && option.value && option.text.toLowerCase().indexOf(q) < 0;
      });
    });
  }

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
        save();
      }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
})();

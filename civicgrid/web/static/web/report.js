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

  // Tap on the map to set the place (Leaflet, if loaded); the GPS button moves the marker too.
  var marker = null;
  var map = null;
  function place(lat, lng, zoom) {
    form.elements.lat.value = Number(lat).toFixed(6);
    form.elements.lng.value = Number(lng).toFixed(6);
    if (map) {
      if (marker) marker.setLatLng([lat, lng]);
      else marker = L.marker([lat, lng]).addTo(map);
      if (zoom) map.setView([lat, lng], 16);
    }
    save();
  }
  function initMap() {
    var el = document.getElementById("report-map");
    if (!el || !window.L) return;
    map = L.map(el);
    map.setView([30.03, 121.15], 11);
    if (el.dataset.tiles) {
      L.tileLayer(el.dataset.tiles, { attribution: el.dataset.attribution || "", maxZoom: 19 }).addTo(map);
    }
    if (el.dataset.geojson) {
      fetch(el.dataset.geojson, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          var layer = L.geoJSON(data, { style: { color: "#66717d", weight: 1, fillOpacity: 0.1 } }).addTo(map);
          if (layer.getBounds().isValid() && !marker) map.fitBounds(layer.getBounds());
        });
    }
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, false); });
    if (form.elements.lat.value && form.elements.lng.value) {
      place(form.elements.lat.value, form.elements.lng.value, true);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initMap);
  else initMap();

  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (button) {
    button.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = "—"; return; }
      status.textContent = "…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, true);
        status.textContent = form.elements.lat.value + ", " + form.elements.lng.value;
      }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
})();

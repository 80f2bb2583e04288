// Small behaviours every page shares, kept out of the markup so the Content-Security-Policy
// can forbid inline scripts: a select that submits its form when changed, a print button,
// menu groups that close when another opens or the page is clicked elsewhere.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.submit();
});
document.addEventListener("click", function (event) {
  var el = event.target.closest && event.target.closest("[data-print]");
  if (el) { event.preventDefault(); window.print(); }
});
document.addEventListener("click", function (event) {
  var inside = event.target.closest && event.target.closest("details.nav-group");
  document.querySelectorAll("details.nav-group[open]").forEach(function (group) {
    if (group !== inside) group.removeAttribute("open");
  });
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.nav-group[open]").forEach(function (group) {
    group.removeAttribute("open");
  });
});

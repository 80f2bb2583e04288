// Small behaviours every page shares, kept out of the markup so the Content-Security-Policy
// can forbid inline scripts: a select that submits its form when changed, a print button.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) el.form.submit();
});
document.addEventListener("click", function (event) {
  var el = event.target.closest && event.target.closest("[data-print]");
  if (el) { event.preventDefault(); window.print(); }
});

// Bulk actions: a form's [data-needs-selection] buttons are enabled only while one of its
// checkboxes is ticked (the server refuses an empty selection too, saying so).
"use strict";

function syncSelection(form) {
  const ticked = Array.from(form.elements).some((el) => el.type === "checkbox" && el.checked);
  form.querySelectorAll("[data-needs-selection]").forEach((button) => {
    button.disabled = !ticked;
  });
}

function syncAllSelections() {
  document.querySelectorAll("form[data-selection]").forEach(syncSelection);
}

document.addEventListener("change", (event) => {
  const form = event.target.form;
  if (event.target.type === "checkbox" && form && form.hasAttribute("data-selection")) {
    syncSelection(form);
  }
});
document.addEventListener("DOMContentLoaded", syncAllSelections);
// A page restored from the back-forward cache keeps the boxes it had ticked.
window.addEventListener("pageshow", syncAllSelections);

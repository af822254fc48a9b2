// A typed-name confirmation: the form's button is enabled only while the field holds the
// exact name (the server checks it again).
"use strict";

document.addEventListener("input", (event) => {
  const field = event.target.closest("[data-confirm-name]");
  if (!field) return;
  const button = field.form.querySelector("[data-confirm-button]");
  if (button) button.disabled = field.value !== field.dataset.confirmName;
});

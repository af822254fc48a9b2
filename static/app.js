// Site-wide behaviour that HTMX attributes cannot express: upload progress and toasts.
"use strict";

document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = document.getElementById("upload-progress");
  if (!bar || !event.detail.lengthComputable || event.target.id !== "upload-form") return;
  bar.hidden = false;
  bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const bar = document.getElementById("upload-progress");
  if (bar && event.detail.elt && event.detail.elt.id === "upload-form") {
    bar.hidden = false;
    bar.value = 0;
  }
});

// Once the upload is answered (preview or refusal), the bar has said what it had to.
document.addEventListener("htmx:afterRequest", (event) => {
  const bar = document.getElementById("upload-progress");
  if (bar && event.detail.elt && event.detail.elt.id === "upload-form") bar.hidden = true;
});

// Toasts: dismiss on click or after a while.
document.addEventListener("click", (event) => {
  const close = event.target.closest(".toast-close");
  if (close) close.closest(".toast").remove();
});

document.addEventListener("htmx:afterSwap", () => {
  document.querySelectorAll("#toasts .toast:not([data-timer])").forEach((toast) => {
    toast.dataset.timer = "1";
    setTimeout(() => toast.remove(), 8000);
  });
});

// A failed request that returned no toast (network error) still tells the user.
document.addEventListener("htmx:sendError", () => {
  const toasts = document.getElementById("toasts");
  if (!toasts) return;
  const toast = document.createElement("div");
  toast.className = "toast toast-error";
  toast.setAttribute("role", "alert");
  toast.textContent = "The server could not be reached. Check your connection and try again.";
  toasts.append(toast);
});

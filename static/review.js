// The review screen's keys: j/k move between items, a label's number sets it on the item
// in focus (the first open one when none is). Buttons and forms work without this file.
"use strict";

(() => {
  const root = document.getElementById("review");
  if (!root) return;
  const entries = () => Array.from(root.querySelectorAll("article.review-entry"));

  function focused() {
    const active = document.activeElement && document.activeElement.closest("article.review-entry");
    return active || entries().find((e) => !e.dataset.done) || entries()[0] || null;
  }

  function move(step) {
    const all = entries();
    const at = all.indexOf(focused());
    const next = all[Math.min(Math.max(at + step, 0), all.length - 1)];
    if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    if (event.key === "j") { event.preventDefault(); move(1); return; }
    if (event.key === "k") { event.preventDefault(); move(-1); return; }
    const entry = focused();
    const button = entry && entry.querySelector(`button[data-key="${event.key}"]`);
    if (button) { event.preventDefault(); button.click(); }
  });

  // After a decision the card is replaced: keep the focus on it for the next key.
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const card = event.detail.target;
    if (card && card.id && card.id.startsWith("review-")) {
      const fresh = document.getElementById(card.id);
      if (fresh) fresh.focus();
    }
  });
})();

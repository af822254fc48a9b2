// What the annotate screen does for an item's shape (annotate.js calls it): the correction box
// of a translation review (a key focuses it, Escape leaves it, its text goes with the label when
// it differs from the translation) and the sentence scrolled into view inside its document.
"use strict";

window.labelloopItemShape = (() => {
  const box = (item) => (item ? item.querySelector(".correction-box") : null);

  // The correction to send with the label: null when the box is absent, empty or unchanged.
  function correction(item) {
    const area = box(item);
    if (!area) return null;
    const text = area.value.trim();
    return text && text !== area.dataset.original.trim() ? text : null;
  }

  function markChanged(area) {
    area.classList.toggle("changed", area.value.trim() !== area.dataset.original.trim());
  }

  // An item taken back from the outbox comes back with the correction that was typed.
  function restore(item, entry) {
    const area = box(item);
    if (area && typeof entry.correction === "string") area.value = entry.correction;
    if (area) markChanged(area);
  }

  // The sentence a third of the way down its document's box, its neighbours around it.
  function place(item) {
    const doc = item ? item.querySelector(".document") : null;
    const mark = doc ? doc.querySelector("mark.sentence") : null;
    if (mark) doc.scrollTop = Math.max(0, mark.offsetTop - doc.clientHeight / 3);
  }

  // The first time an item is on screen: placed, its correction box marked if changed.
  function shown(item) {
    if (!item || item.dataset.placed) return;
    item.dataset.placed = "1";
    const area = box(item);
    if (area) markChanged(area);
    place(item);
  }

  // The correction key: the box of the current item gets the focus, caret at the end.
  function focusCorrection(item) {
    const area = box(item);
    if (!area) return false;
    area.focus({ preventScroll: false });
    area.setSelectionRange(area.value.length, area.value.length);
    return true;
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target.matches(".correction-box")) event.target.blur();
  });
  // A phone turned or a window resized changes the box's height: the sentence stays in view.
  let resizing = null;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(() => place(document.querySelector("#stage article.item:not([hidden])")));
  });
  document.addEventListener("input", (event) => {
    if (event.target.matches(".correction-box")) markChanged(event.target);
  });

  return { correction, restore, shown, focusCorrection };
})();

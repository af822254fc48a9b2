// The annotate screen: keyboard-driven labelling with the next items already on the page.
// A key press shows the next buffered item at once; the label is posted in the background
// and the answer brings one more item for the buffer (plus progress and history updates).
"use strict";

(() => {
  const root = document.getElementById("annotate");
  if (!root) return;
  const projectId = root.dataset.project;
  const multi = root.dataset.multi === "true";
  const stage = document.getElementById("stage");
  const base = `/projects/${projectId}/annotate`;
  const filter = document.getElementById("label-filter");
  const pickerList = document.getElementById("picker-list");
  const timings = (window.labelloopTimings = []);
  let highlighted = 0;

  const articles = () => Array.from(stage.querySelectorAll("article.item"));
  const current = () => articles()[0] || null;
  const buttons = () => Array.from(document.querySelectorAll("#labels .label-btn"));

  let shownId = null;

  function show(pressedAt) {
    const items = articles();
    items.forEach((item, i) => { item.hidden = i !== 0; });
    const empty = document.getElementById("empty-reason");
    if (empty) empty.hidden = items.length > 0;
    const id = items.length ? items[0].dataset.itemId : null;
    const changed = id !== shownId;
    shownId = id;
    buttons().forEach((b) => {
      if (multi && changed) b.setAttribute("aria-pressed", "false");
      b.disabled = items.length === 0;
    });
    if (pressedAt !== undefined) {
      requestAnimationFrame(() => timings.push(performance.now() - pressedAt));
    }
  }

  // Requests go one at a time, in key-press order: an undo never overtakes the label it
  // undoes, and each request tells the server which items the page already holds.
  let chain = Promise.resolve();

  function post(path, values, swap) {
    chain = chain.then(() => htmx.ajax("POST", `${base}/${path}`, {
      target: "#stage", swap: swap, values: values(), source: root,
    })).catch(() => {}).then(() => { dedupe(); show(); });
    return chain;
  }

  function dedupe() {
    const seen = new Set();
    articles().forEach((a) => {
      if (seen.has(a.dataset.itemId)) a.remove();
      seen.add(a.dataset.itemId);
    });
  }

  // Items already answered but whose request has not been sent or finished yet: the
  // server must not hand them back as new items.
  const pending = new Set();

  function have() {
    return [...articles().map((a) => a.dataset.itemId), ...pending].join(",");
  }

  // The annotator's doubt about the current item: sent with its label, then cleared.
  const unsure = document.getElementById("unsure");
  const comment = document.getElementById("comment");

  function takeDoubt() {
    const doubt = {
      flag: unsure.getAttribute("aria-pressed") === "true" ? "unsure" : "",
      comment: comment.value,
    };
    unsure.setAttribute("aria-pressed", "false");
    comment.value = "";
    return doubt;
  }

  function toggleUnsure() {
    const on = unsure.getAttribute("aria-pressed") === "true";
    unsure.setAttribute("aria-pressed", on ? "false" : "true");
  }

  function submit(labels, pressedAt) {
    const item = current();
    if (!item || labels.length === 0) return;
    item.remove();
    show(pressedAt);
    const id = item.dataset.itemId;
    const doubt = takeDoubt();
    pending.add(id);
    post("submit", () => ({ item_id: id, label: labels, have: have(), ...doubt }), "beforeend")
      .then(() => pending.delete(id));
  }

  function skip(pressedAt) {
    const item = current();
    if (!item) return;
    item.remove();
    show(pressedAt);
    const id = item.dataset.itemId;
    takeDoubt();
    pending.add(id);
    post("skip", () => ({ item_id: id, have: have() }), "beforeend").then(() => pending.delete(id));
  }

  function undo() {
    post("undo", () => ({}), "afterbegin");
  }

  function chosen() {
    return buttons().filter((b) => b.getAttribute("aria-pressed") === "true")
      .map((b) => b.dataset.label);
  }

  function choose(label, pressedAt) {
    if (!multi) return submit([label], pressedAt);
    const button = buttons().find((b) => b.dataset.label === label);
    const on = button.getAttribute("aria-pressed") === "true";
    button.setAttribute("aria-pressed", on ? "false" : "true");
  }

  // --- the type-to-filter picker (projects with many labels) ---
  function matches() {
    return Array.from(pickerList.querySelectorAll("li")).filter((li) => !li.hidden);
  }

  function refreshPicker() {
    const q = filter.value.trim().toLowerCase();
    pickerList.hidden = q === "";
    pickerList.querySelectorAll("li").forEach((li) => {
      li.hidden = q !== "" && !li.dataset.label.toLowerCase().includes(q);
    });
    const shown = matches();
    highlighted = Math.min(highlighted, Math.max(shown.length - 1, 0));
    shown.forEach((li, i) => li.setAttribute("aria-selected", i === highlighted ? "true" : "false"));
  }

  if (filter) {
    filter.addEventListener("input", () => { highlighted = 0; refreshPicker(); });
    filter.addEventListener("keydown", (event) => {
      const shown = matches();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlighted = (highlighted + step + shown.length) % Math.max(shown.length, 1);
        refreshPicker();
      } else if (event.key === "Enter") {
        event.preventDefault();
        const pick = shown[highlighted];
        if (pick) {
          const pressedAt = performance.now();
          filter.value = "";
          refreshPicker();
          choose(pick.dataset.label, pressedAt);
          if (!multi) filter.blur();
        }
      } else if (event.key === "Escape") {
        filter.value = "";
        refreshPicker();
        filter.blur();
      }
    });
    pickerList.addEventListener("click", (event) => {
      const li = event.target.closest("li");
      if (li) { filter.value = ""; refreshPicker(); choose(li.dataset.label, performance.now()); }
    });
  }

  // --- keys and clicks ---
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("input, select, textarea")) return;
    const pressedAt = performance.now();
    const key = event.key;
    if (key === "/" && filter) { event.preventDefault(); filter.focus(); return; }
    if (key === "?") { event.preventDefault(); toggleUnsure(); return; }
    if (key === "s") { event.preventDefault(); skip(pressedAt); return; }
    if (key === "u" || key === "Backspace") { event.preventDefault(); undo(); return; }
    if (key === "Enter" && multi && !target.closest("button")) {
      event.preventDefault();
      submit(chosen(), pressedAt);
      return;
    }
    const button = buttons().find((b) => b.dataset.key === key);
    if (button && !button.disabled) { event.preventDefault(); choose(button.dataset.label, pressedAt); }
  });

  document.getElementById("labels").addEventListener("click", (event) => {
    const button = event.target.closest(".label-btn");
    if (button) choose(button.dataset.label, performance.now());
  });
  unsure.addEventListener("click", toggleUnsure);
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Escape") comment.blur();
  });
  document.getElementById("skip").addEventListener("click", () => skip(performance.now()));
  document.getElementById("undo").addEventListener("click", undo);
  const submitMulti = document.getElementById("submit-multi");
  if (submitMulti) submitMulti.addEventListener("click", () => submit(chosen(), performance.now()));

  show();
})();

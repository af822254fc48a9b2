// The annotate screen: keyboard-driven labelling with the next items already on the page.
// A key press shows the next buffered item at once; the label goes to the outbox (outbox.js),
// which keeps it in this browser until the server has it, and each answer brings one more
// item for the buffer (plus progress and history updates).
"use strict";

(() => {
  const root = document.getElementById("annotate");
  if (!root) return;
  const projectId = root.dataset.project;
  const multi = root.dataset.multi === "true";
  const suggest = root.dataset.suggest === "true";
  const correctionKey = root.dataset.correctionKey;
  const shape = window.labelloopItemShape;
  const stage = document.getElementById("stage");
  const base = `/projects/${projectId}/annotate`;
  const filter = document.getElementById("label-filter");
  const pickerList = document.getElementById("picker-list");
  const pickerEmpty = document.getElementById("picker-empty");
  const badge = document.getElementById("unsaved");
  const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"];
  const timings = (window.labelloopTimings = []);
  let highlighted = 0;

  const articles = () => Array.from(stage.querySelectorAll("article.item"));
  const current = () => articles()[0] || null;
  const buttons = () => Array.from(document.querySelectorAll("#labels .label-btn"));

  let shownId = null;

  // The oracle's suggested (or pre-selected) labels of an item, from its data attribute.
  function labelsOf(item, key) {
    try {
      return item && item.dataset[key] ? JSON.parse(item.dataset[key]) : [];
    } catch (error) {
      return [];
    }
  }

  function show(pressedAt) {
    const items = articles();
    items.forEach((item, i) => { item.hidden = i !== 0; });
    const id = items.length ? items[0].dataset.itemId : null;
    const changed = id !== shownId;
    shownId = id;
    const best = items.length ? items[0].dataset.best : undefined;
    const suggested = labelsOf(items[0], "suggested");
    const preselected = labelsOf(items[0], "preselect");
    buttons().forEach((b) => {
      if (multi && changed) {
        b.setAttribute("aria-pressed", preselected.includes(b.dataset.label) ? "true" : "false");
      }
      b.disabled = items.length === 0;
      b.classList.toggle("best", b.dataset.label === best);
      b.classList.toggle("suggested", suggested.includes(b.dataset.label));
    });
    showEmpty(items.length === 0);
    shape.shown(items[0]);
    if (pressedAt !== undefined) {
      requestAnimationFrame(() => timings.push(performance.now() - pressedAt));
    }
  }

  // --- the outbox: labels and skips wait in this browser until the server has them ---
  const outbox = new window.LabelloopOutbox({
    storageKey: `labelloop:unsent:${root.dataset.user}:${projectId}`,
    base,
    csrf,
    have,
    onState: outboxChanged,
    onAnswer: (html, response) => {
      if (response.ok) swap("#stage", html, "beforeend");
      else toastFrom(html, response);
    },
  });

  function have() {
    return [...articles().map((a) => a.dataset.itemId), ...outbox.ids()].join(",");
  }

  function swap(target, html, style) {
    htmx.swap(target, html, { swapStyle: style });
    dedupe();
    show();
  }

  function dedupe() {
    const seen = new Set(outbox.ids());
    articles().forEach((a) => {
      if (seen.has(a.dataset.itemId)) a.remove();
      seen.add(a.dataset.itemId);
    });
  }

  function toastFrom(html, response) {
    const target = response.headers.get("HX-Retarget") || "#toasts";
    htmx.swap(target, html, { swapStyle: response.headers.get("HX-Reswap") || "beforeend" });
    document.querySelectorAll("#toasts .toast:not([data-timer])").forEach((toast) => {
      toast.dataset.timer = "1";
      setTimeout(() => toast.remove(), 8000);
    });
  }

  // One toast about the connection, updated in place: never a pile of them.
  function connectionToast(text) {
    let toast = document.getElementById("connection-toast");
    if (!text) { if (toast) toast.remove(); return; }
    if (!toast) {
      toast = document.createElement("div");
      toast.id = "connection-toast";
      toast.className = "toast toast-warn"; // the labels are safe: a warning, not an error
      toast.setAttribute("role", "alert");
      document.getElementById("toasts").append(toast);
    }
    if (toast.textContent !== text) toast.textContent = text;
  }

  let badgeTimer = null;

  function outboxChanged() {
    const n = outbox.size;
    badge.textContent = `${n} unsaved`;
    clearTimeout(badgeTimer);
    if (n === 0) badge.hidden = true;
    else if (outbox.failures > 0) badge.hidden = false;
    else badgeTimer = setTimeout(() => { badge.hidden = outbox.size === 0; }, 800);
    connectionToast(outbox.failures > 0 ? troubleText(n) : "");
    showEmpty(articles().length === 0);
  }

  function troubleText(n) {
    const kept = `${n} label${n === 1 ? " is" : "s are"} kept in this browser`;
    if (outbox.status === "signed-out") {
      return `Your session has ended: ${kept} and will be sent once you sign in again.`;
    }
    const why = outbox.status === "offline" ? "cannot be reached" : `answers ${outbox.status}`;
    return `The server ${why}: ${kept} and will be sent, in order, when it is back.`;
  }

  function showEmpty(empty) {
    const line = document.getElementById("empty-reason");
    if (!line) return;
    line.hidden = !empty;
    if (empty && outbox.failures > 0) {
      line.dataset.waiting = "1";
      line.textContent = "Waiting for the server: more items come once it answers again.";
    } else if (line.dataset.waiting && outbox.failures === 0) {
      delete line.dataset.waiting;
      line.textContent = "";
    }
  }

  // The progress poll fails too while the server is away: one connection toast, not one a poll.
  root.addEventListener("htmx:sendError", (event) => {
    event.stopPropagation();
    if (!outbox.failures) connectionToast("The server cannot be reached; trying again.");
  });
  root.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.successful && !outbox.failures) connectionToast("");
    if (event.detail.successful && outbox.size) outbox.kick();
  });

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

  // An item leaves the screen only once its answer is safely queued in this browser.
  function answer(kind, labels, pressedAt) {
    const item = current();
    if (!item) return;
    const doubt = takeDoubt();
    const entry = { kind, item_id: item.dataset.itemId, labels, html: item.outerHTML };
    // The label names the suggestion shown with the item: stored as accepted or changed.
    if (kind === "submit" && item.dataset.suggestionId) entry.suggestion_id = item.dataset.suggestionId;
    const correction = kind === "submit" ? shape.correction(item) : null;
    if (correction !== null) entry.correction = correction;
    try {
      outbox.add(kind === "submit" ? { ...entry, ...doubt } : entry);
    } catch (error) {
      connectionToast("This browser cannot keep the label (storage is full or blocked).");
      return;
    }
    item.remove();
    show(pressedAt);
  }

  function submit(labels, pressedAt) {
    if (labels.length) answer("submit", labels, pressedAt);
  }

  // Undo takes back a label still waiting in this browser; else the server undoes the last one.
  const SIGNED_OUT_UNDO = "Your session has ended: sign in again to undo a saved label.";
  let undoing = Promise.resolve();

  function undo() {
    undoing = undoing.then(undoOnce, undoOnce);
  }

  async function undoOnce() {
    const entry = outbox.takeLast();
    if (entry) return restore(entry);
    await outbox.exclusive(async () => {
      try {
        const response = await fetch(`${base}/undo`, {
          method: "POST", credentials: "same-origin", redirect: "manual", headers: outbox.headers(),
        });
        const html = await response.text();
        if (window.LabelloopOutbox.signedOut(response)) connectionToast(SIGNED_OUT_UNDO);
        else if (response.ok) swap("#stage", html, "afterbegin");
        else toastFrom(html, response);
      } catch (error) {
        connectionToast("Undo needs the server, which cannot be reached right now.");
      }
    });
  }

  function restore(entry) {
    stage.insertAdjacentHTML("afterbegin", entry.html);
    delete current().dataset.placed;
    shape.restore(current(), entry);
    if (entry.flag) unsure.setAttribute("aria-pressed", "true");
    if (entry.comment) comment.value = entry.comment;
    show();
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

  // --- the type-to-filter picker (projects with many labels), fuzzy (labelmatch.js) ---
  const options = pickerList ? Array.from(pickerList.querySelectorAll("li")) : [];

  function matches() {
    return Array.from(pickerList.querySelectorAll("li")).filter((li) => !li.hidden);
  }

  function refreshPicker() {
    const q = filter.value.trim();
    const found = q ? window.labelloopMatch.rank(q, options.map((li) => li.dataset.label)) : [];
    const order = new Map(found.map((label, i) => [label, i]));
    options.forEach((li) => { li.hidden = !order.has(li.dataset.label); });
    options.filter((li) => order.has(li.dataset.label))
      .sort((a, b) => order.get(a.dataset.label) - order.get(b.dataset.label))
      .forEach((li) => pickerList.append(li));
    pickerList.hidden = found.length === 0;
    pickerEmpty.hidden = !(q && found.length === 0);
    pickerEmpty.textContent = q && !found.length ? `No label matches “${q}”.` : "";
    highlighted = Math.min(highlighted, Math.max(found.length - 1, 0));
    matches().forEach((li, i) => li.setAttribute("aria-selected", i === highlighted ? "true" : "false"));
  }

  function clearPicker() {
    filter.value = "";
    refreshPicker();
  }

  function pickerKey(event) {
    const shown = matches();
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlighted = (highlighted + step + shown.length) % Math.max(shown.length, 1);
      refreshPicker();
    } else if (event.key === "Enter") {
      event.preventDefault();
      const pick = shown[highlighted];
      if (!pick) return;
      const pressedAt = performance.now();
      clearPicker();
      choose(pick.dataset.label, pressedAt);
      if (!multi) filter.blur();
    } else if (event.key === "Escape") {
      clearPicker();
      filter.blur();
    }
  }

  if (filter) {
    filter.addEventListener("input", () => { highlighted = 0; refreshPicker(); });
    filter.addEventListener("keydown", pickerKey);
    pickerList.addEventListener("click", (event) => {
      const li = event.target.closest("li");
      if (li) { clearPicker(); choose(li.dataset.label, performance.now()); }
    });
  }

  // --- keys and clicks ---
  function suggestion(key) {
    const item = current();
    return item ? item.querySelector(`.suggest-btn[data-key="${key}"]`) : null;
  }

  function acceptBest(pressedAt) {
    const item = current();
    if (item && item.dataset.best) submit([item.dataset.best], pressedAt);
  }

  function onKey(event) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("input, select, textarea")) return;
    const pressedAt = performance.now();
    const key = event.key;
    const act = (fn) => { event.preventDefault(); fn(); };
    if (key === "/" && filter) return act(() => filter.focus({ preventScroll: true }));
    if (key === "?") return act(toggleUnsure);
    if (correctionKey && key === correctionKey && current()) {
      return act(() => shape.focusCorrection(current()));
    }
    if (key === "s") return act(() => answer("skip", [], pressedAt));
    if (key === "u" || key === "Backspace") return act(undo);
    if (key === "Enter" && !target.closest("button, summary, a")) {
      return act(() => (multi ? submit(chosen(), pressedAt) : acceptBest(pressedAt)));
    }
    const guess = suggest ? suggestion(key) : null;
    if (guess) return act(() => submit([guess.dataset.label], pressedAt));
    const button = buttons().find((b) => b.dataset.key === key || b.dataset.letter === key);
    if (button && !button.disabled) act(() => choose(button.dataset.label, pressedAt));
  }

  document.addEventListener("keydown", onKey);
  document.getElementById("labels").addEventListener("click", (event) => {
    const button = event.target.closest(".label-btn");
    if (button) choose(button.dataset.label, performance.now());
  });
  stage.addEventListener("click", (event) => {
    const button = event.target.closest(".suggest-btn");
    if (button) submit([button.dataset.label], performance.now());
  });
  unsure.addEventListener("click", toggleUnsure);
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Escape") comment.blur();
  });
  document.getElementById("skip").addEventListener("click", () => answer("skip", [], performance.now()));
  document.getElementById("undo").addEventListener("click", undo);
  const submitMulti = document.getElementById("submit-multi");
  if (submitMulti) submitMulti.addEventListener("click", () => submit(chosen(), performance.now()));

  // Work left unsent by an earlier visit goes first; its items are already answered.
  dedupe();
  show();
  outboxChanged();
  if (outbox.size) outbox.kick();
})();

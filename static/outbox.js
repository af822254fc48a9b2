// The annotate screen's unsent work, kept in this browser until the server has it.
// A label or skip is written to localStorage before its item leaves the screen, sent one at a
// time in the order given, and retried with growing pauses while the server cannot be
// reached (or answers 5xx / 429, or the session needs a new sign-in). Each label carries an
// idempotency key, so a retry whose first attempt did get through is not stored twice.
"use strict";

window.LabelloopOutbox = class {
  // onAnswer(html, response): a final answer (2xx, or a 4xx that no retry can fix);
  // onState(): the number of unsent entries or the failure count changed;
  // have(): the item ids the page holds, sent so the server hands back other ones.
  constructor({ storageKey, base, csrf, onAnswer, onState, have }) {
    Object.assign(this, { base, csrf, onAnswer, onState, have });
    // Each page keeps its own list (two tabs never overwrite each other's); a new page adopts
    // every list left for this user and project, in the order given. Should the other page
    // still be sending them, the idempotency keys make the second sends harmless.
    this.prefix = storageKey;
    this.storageKey = `${storageKey}:${Date.now()}-${Math.random().toString(36).slice(2)}`;
    this.entries = this.adopt();
    this.failures = 0; // consecutive failed attempts of the first entry
    this.status = ""; // why the last attempt failed: "offline", "signed-out" or an HTTP status
    this.sending = null; // the promise of the running drain, if any
    this.held = null; // a request (undo) that must not interleave with the sends
    this.timer = null;
    window.addEventListener("online", () => this.kick());
  }

  adopt() {
    const keys = Object.keys(localStorage).filter((k) => k.startsWith(`${this.prefix}:`));
    const seen = new Set();
    const entries = keys.flatMap((k) => this.read(k))
      .filter((entry) => !seen.has(entry.key) && seen.add(entry.key))
      .sort((a, b) => a.at - b.at);
    try {
      this.entries = entries;
      this.save();
      keys.forEach((k) => localStorage.removeItem(k));
    } catch (error) { /* kept where they were */ }
    return entries;
  }

  read(key) {
    try {
      const stored = JSON.parse(localStorage.getItem(key) || "[]");
      return Array.isArray(stored) ? stored : [];
    } catch (error) {
      return [];
    }
  }

  save() {
    if (this.entries.length) localStorage.setItem(this.storageKey, JSON.stringify(this.entries));
    else localStorage.removeItem(this.storageKey);
  }

  get size() { return this.entries.length; }
  ids() { return this.entries.map((entry) => String(entry.item_id)); }

  // Queue an entry; throws (and keeps nothing) when the browser cannot store it.
  add(entry) {
    const key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    this.entries.push({ ...entry, key, at: Date.now() });
    try {
      this.save();
    } catch (error) {
      this.entries.pop();
      throw error;
    }
    this.onState();
    this.kick();
  }

  // The newest entry, taken back before it was sent (undo while it waits); null if none.
  takeLast() {
    const inFlight = this.sending && !this.timer ? 1 : 0;
    if (this.entries.length <= inFlight) return null;
    const entry = this.entries.pop();
    this.save();
    if (!this.entries.length) this.failures = 0;
    this.onState();
    return entry;
  }

  kick() {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.sending) this.sending = this.drain().finally(() => { this.sending = null; });
  }

  // Run ``request`` once every earlier entry was sent, holding later sends until it is done.
  async exclusive(request) {
    while (this.sending && !this.timer) await this.sending;
    let release;
    this.held = new Promise((resolve) => { release = resolve; });
    try {
      return await request();
    } finally {
      this.held = null;
      release();
      this.kick();
    }
  }

  async drain() {
    while (this.entries.length && !this.timer) {
      if (this.held) await this.held;
      const entry = this.entries[0];
      const answer = await this.send(entry);
      if (answer === null) {
        this.failures += 1;
        this.onState();
        this.retryLater();
        return;
      }
      this.entries.shift();
      this.save();
      this.failures = 0;
      this.status = "";
      this.onAnswer(answer.html, answer.response);
      this.onState();
    }
  }

  retryLater() {
    const pause = Math.min(500 * 2 ** (this.failures - 1), 8000) * (0.8 + 0.4 * Math.random());
    this.nextTry = Date.now() + pause;
    this.timer = setTimeout(() => { this.timer = null; this.kick(); }, pause);
  }

  // One attempt: {html, response} for a final answer, null to try again later.
  async send(entry) {
    try {
      const response = await fetch(`${this.base}/${entry.kind}`, {
        method: "POST",
        body: this.body(entry),
        redirect: "manual",
        credentials: "same-origin",
        headers: { ...this.headers(), "Idempotency-Key": entry.key },
      });
      if (window.LabelloopOutbox.signedOut(response)) {
        this.status = "signed-out";
        return null;
      }
      if (response.status >= 500 || [408, 429].includes(response.status)) {
        this.status = String(response.status);
        return null;
      }
      return { html: await response.text(), response };
    } catch (error) {
      this.status = "offline";
      return null;
    }
  }

  // What htmx sends: the server answers as to htmx, and signs in back to this page.
  headers() {
    return { "X-CSRF-Token": this.csrf, "HX-Request": "true", "HX-Current-URL": location.href };
  }

  // The session ended (or its CSRF token with it): a new sign-in, not a retry, is needed. Any
  // answer that sends the browser to sign in counts, whatever its status: never a success.
  static signedOut(response) {
    return response.type === "opaqueredirect" || [401, 403].includes(response.status)
      || response.headers.has("HX-Redirect");
  }

  body(entry) {
    const body = new URLSearchParams();
    body.append("item_id", entry.item_id);
    (entry.labels || []).forEach((label) => body.append("label", label));
    if (entry.flag) body.append("flag", entry.flag);
    if (entry.comment) body.append("comment", entry.comment);
    if (entry.suggestion_id) body.append("suggestion_id", entry.suggestion_id);
    if (entry.correction) body.append("correction", entry.correction);
    body.append("have", this.have());
    return body;
  }
};

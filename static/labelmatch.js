// Word-aware fuzzy matching for the annotate screen's label filter: "physical card" finds
// get_physical_card. A label is split into words (snake_case, kebab-case, camelCase, spaces);
// every word typed must match a different word of the label: whole (4), as its start (3),
// inside it (2), or as letters in order, "crd" in "card" (1). The score is the sum; 0 is no match.
"use strict";

window.labelloopMatch = (() => {
  function words(text) {
    return text.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase()
      .split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  }

  function inOrder(term, word) {
    let i = 0;
    for (const c of word) if (c === term[i]) i += 1;
    return i === term.length;
  }

  function wordScore(term, word) {
    if (word === term) return 4;
    if (word.startsWith(term)) return 3;
    if (word.includes(term)) return 2;
    return term.length > 1 && inOrder(term, word) ? 1 : 0;
  }

  function score(query, label) {
    const terms = words(query);
    if (!terms.length) return 0;
    const names = words(label);
    const used = new Set();
    let total = 0;
    for (const term of terms) {
      let best = 0;
      let at = -1;
      names.forEach((name, i) => {
        const s = used.has(i) ? 0 : wordScore(term, name);
        if (s > best) { best = s; at = i; }
      });
      if (best === 0) return names.join("").includes(terms.join("")) ? 1 : 0; // "physicalcard"
      used.add(at);
      total += best;
    }
    return total;
  }

  // The labels that match, best first; ties keep the order given (the most used first).
  function rank(query, labels) {
    return labels.map((label, i) => ({ label, i, s: score(query, label) }))
      .filter((m) => m.s > 0)
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((m) => m.label);
  }

  return { score, rank, words };
})();

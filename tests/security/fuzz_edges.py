"""Schemathesis hooks for the fuzz run (``SCHEMATHESIS_HOOKS``): JSON's edge values in bodies.

Schemathesis draws only finite floats and strings it can encode as UTF-8 (lone surrogates
excluded whatever its ``codec`` setting), so by itself it never sends NaN, Infinity, a number
past the float range or a lone surrogate escape: values Python's json module reads and the
app must refuse with a 422 (``test_input_edges.py``). These hooks put one such value in half
of the generated JSON bodies, chosen from the body itself so a run is reproducible, and log
each one with the status it got to the file named by ``LABELLOOP_FUZZ_EDGES_LOG``.
"""

from __future__ import annotations

import copy
import json
import os
import random
from typing import Any

import schemathesis

# JSON texts that stand in for one value of the body.
EDGES = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", '"\\ud800"', '"a\\udc00b"']
_MARK = "\x01edge\x01"  # replaced by the edge once the body is JSON
_sent: dict[int, str] = {}  # id(case) -> the edge its request carries


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Send some JSON bodies with an edge value (or a key with a lone surrogate) in them."""
    if "json" not in (case.media_type or "") or not isinstance(case.body, dict | list):
        return
    rng = random.Random(json.dumps(case.body, sort_keys=True, default=str))
    if rng.random() < 0.5:
        return
    body = copy.deepcopy(case.body)
    edge = rng.choice([*EDGES, "key"])
    if edge == "key":
        body = {"k\ud800": body}  # json.dumps writes the surrogate as its \u escape
        text = json.dumps(body)
    else:
        body = _place(body, rng)
        text = json.dumps(body).replace(json.dumps(_MARK), edge)
    kwargs["data"] = text.encode()
    _sent[id(case)] = edge


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    edge = _sent.pop(id(case), None)
    log = os.environ.get("LABELLOOP_FUZZ_EDGES_LOG")
    if edge is not None and log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps({"edge": edge, "status": response.status_code}) + "\n")


def _place(body: dict | list, rng: random.Random) -> dict | list:
    """``body`` with one of its values, or a new member when it is empty, set to the mark."""
    slots: list[tuple[dict | list, Any]] = []
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        members = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in members:
            slots.append((node, key))
            if isinstance(value, dict | list):
                stack.append(value)
    if not slots:
        return {"edge": _MARK} if isinstance(body, dict) else [_MARK]
    parent, key = rng.choice(slots)
    parent[key] = _MARK
    return body

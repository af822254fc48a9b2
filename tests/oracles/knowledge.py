"""A small knowledge service of the ``http`` oracle kind, served for real on a local port.

It knows the topic of every text of ``tests.factories.TOPICS`` and answers as its ``mode``
says: ``right``, ``wrong`` (another label), ``nonsense`` (a label outside the set), ``error``
(HTTP 500), ``slow`` (answers after ``delay`` seconds), ``mixed`` (wrong about every text
whose number, as ``topic_texts`` numbers them, is a multiple of 7; right otherwise). It counts
the texts it was asked about.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.factories import TOPICS

TRUTH = {text: label for label, texts in TOPICS.items() for text in texts}


@dataclass
class Knowledge:
    url: str = ""
    mode: str = "right"
    delay: float = 0.0
    asked: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, texts: list[str], labels: list[str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.asked += texts
        if self.mode == "error":
            return 500, {"detail": "the knowledge base is down"}
        if self.mode == "slow":
            time.sleep(self.delay)  # the service being slow is what is tested
        answers: list[str | None] = []
        for text in texts:
            truth = TRUTH.get(_topic_text(text))
            if truth is None:
                answers.append(None)
            elif self.mode == "wrong" or (self.mode == "mixed" and _number(text) % 7 == 0):
                answers.append(next(label for label in labels if label != truth))
            elif self.mode == "nonsense":
                answers.append("astrology")
            else:
                answers.append(truth)
        return 200, {"labels": answers, "confidences": [0.9 if a else None for a in answers]}


def _number(text: str) -> int:
    last = text.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 1


def _topic_text(text: str) -> str:
    """The TOPICS sentence a test text starts with (``topic_texts`` adds a counter)."""
    return next((t for t in TRUTH if text.startswith(t)), text)


@contextmanager
def serve(mode: str = "right") -> Iterator[Knowledge]:
    knowledge = Knowledge(mode=mode)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            knowledge.headers.append(dict(self.headers))
            status, reply = knowledge.answer(body["texts"], body["labels"])
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    knowledge.url = f"http://127.0.0.1:{server.server_address[1]}/label"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield knowledge
    finally:
        server.shutdown()
        server.server_close()

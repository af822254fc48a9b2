"""What runs while the crash test kills: R1 annotators, and multipart imports."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select

from app.db import Database
from app.models import Item
from tests.factories import TOPICS, auth
from tests.security.crash_cluster import DEADLINE

IMPORT_ROWS = 3_000


def _oracle(text: str) -> str:
    """The true label of a factory text (its topic phrase)."""
    return next(
        label for label, phrases in TOPICS.items() if any(text.startswith(p) for p in phrases)
    )


@dataclass
class Load:
    """R1 load: every client fetches one item from the queue, labels it, and repeats.

    A request cut by a kill is sent again once the driver reports the server back (``up``);
    only a 2xx answer counts as acknowledged. Even-numbered clients send an Idempotency-Key.
    """

    url: str
    project_id: int
    tokens: list[str]
    up: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    acked: dict[tuple[int, str], str] = field(default_factory=dict)  # (item, client): label
    failures: list[str] = field(default_factory=list)
    cut: int = 0  # requests that met a killed server
    posts_cut: int = 0  # labels acknowledged only on a retry after a cut
    stored_before_cut: int = 0  # ... whose cut request had already been stored
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.up.set()
        self.threads = [threading.Thread(target=self._client, args=(k,)) for k in self.clients]
        for thread in self.threads:
            thread.start()

    @property
    def clients(self) -> range:
        return range(len(self.tokens))

    def wait_for_acks(self, more: int) -> None:
        """Wait until ``more`` labels beyond the current count are acknowledged."""
        target = len(self.acked) + more
        with self.changed:
            done = self.changed.wait_for(
                lambda: len(self.acked) >= target or bool(self.failures), timeout=DEADLINE
            )
        assert not self.failures, self.failures
        assert done, f"only {len(self.acked)} of {target} labels acknowledged"

    def finish(self) -> None:
        self.stop.set()
        self.up.set()
        for thread in self.threads:
            thread.join()

    def _client(self, k: int) -> None:
        name, base = f"c{k}", f"/api/v1/projects/{self.project_id}"
        with httpx.Client(base_url=self.url, headers=auth(self.tokens[k]), timeout=60) as api:
            for seq in itertools.count():
                got, _ = self._send(api, "GET", f"{base}/queue", params={"limit": 1})
                if got is None or not self._ok(got, name) or not self._served(got, name):
                    return
                item = got.json()["items"][0]
                body = {"item_id": item["id"], "label": _oracle(item["text"])}
                headers = {"Idempotency-Key": f"{name}-{seq}"} if k % 2 == 0 else {}
                posted, cuts = self._send(
                    api, "POST", f"{base}/annotations", json=body, headers=headers
                )
                if posted is None or not self._ok(posted, name):
                    return
                with self.changed:
                    self.acked[(item["id"], name)] = body["label"]
                    if cuts:  # answered on a retry: was the cut request already stored?
                        self.posts_cut += 1
                        self.stored_before_cut += posted.status_code == 200 or (
                            posted.headers.get("Idempotent-Replayed") == "true"
                        )
                    self.changed.notify_all()

    def _send(
        self, api: httpx.Client, method: str, url: str, **kwargs: object
    ) -> tuple[httpx.Response | None, int]:
        """The server's answer (None once the load is stopped), and how often a kill cut it."""
        cuts = 0
        while not self.stop.is_set():
            try:
                return api.request(method, url, **kwargs), cuts  # type: ignore[arg-type]
            except httpx.TransportError:
                cuts += 1
                with self.changed:
                    self.cut += 1
                while not self.up.wait(timeout=1):
                    if self.stop.is_set():
                        return None, cuts
        return None, cuts

    def _ok(self, response: httpx.Response, name: str) -> bool:
        if response.is_success:
            return True
        self._fail(
            f"{name}: {response.request.method} {response.status_code} {response.text[:200]}"
        )
        return False

    def _served(self, response: httpx.Response, name: str) -> bool:
        if response.json()["items"]:
            return True
        self._fail(f"{name}: the queue is empty (make the pool larger)")
        return False

    def _fail(self, message: str) -> None:
        with self.changed:
            self.failures.append(message)
            self.changed.notify_all()


@dataclass
class Upload:
    """One multipart import of an ``IMPORT_ROWS``-row CSV, sent from a thread."""

    number: int
    sent: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    thread: threading.Thread | None = None


def start_upload(url: str, project_id: int, token: str, number: int) -> Upload:
    """POST the file; ``sent`` is set once the whole body is on the wire (or the send failed)."""
    upload = Upload(number)
    boundary = uuid.uuid4().hex
    rows = "".join(f"f{number}-{i},crash file {number} row {i}\r\n" for i in range(IMPORT_ROWS))
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="crash-{number}.csv"\r\nContent-Type: text/csv\r\n\r\n'
        f"id,text\r\n{rows}\r\n--{boundary}--\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1 << 16):
            yield body[start : start + (1 << 16)]
        upload.sent.set()

    def send() -> None:
        headers = {**auth(token), "Content-Type": f"multipart/form-data; boundary={boundary}"}
        try:
            response = httpx.post(
                f"{url}/api/v1/projects/{project_id}/imports",
                content=chunks(),
                headers=headers,
                timeout=60,
            )
            upload.status = response.status_code
        except httpx.TransportError:
            pass  # cut by the kill: not acknowledged
        finally:
            upload.sent.set()

    upload.thread = threading.Thread(target=send)
    upload.thread.start()
    return upload


def imported_rows(db: Database, project_id: int, number: int) -> int:
    with db.reader() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.project_id == project_id, Item.external_id.like(f"f{number}-%"))
            )
            or 0
        )

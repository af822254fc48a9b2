"""R7 over a real socket: oversized bodies are refused while they stream, hang-ups leave no trace.

The shared ``labelloop serve`` process has a 1 MB upload limit; requests are written by hand
on a raw socket so the test controls Content-Length, chunking and when the client goes away.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from tests.factories import auth, create_project
from tests.security.conftest import UPLOAD_LIMIT, Live, snapshot

LIMIT = UPLOAD_LIMIT
BOUNDARY = "labelloop-stream-boundary"


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def _head(path: str, token: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra}\r\n"
    ).encode()


def _part_start() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ntext\r\n"
    ).encode()


def _answered(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _status(sock: socket.socket) -> int:
    sock.settimeout(30)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _send_until_answered(sock: socket.socket, pieces: Iterator[bytes]) -> int:
    """Send pieces until the server answers (or hangs up); returns the bytes sent."""
    sent = 0
    for piece in pieces:
        if _answered(sock):
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


def _rows(n: int) -> Iterator[bytes]:
    line = b"a fairly ordinary line of text for the upload test\r\n"
    for i in range(n):
        yield b"%d " % i + line * 1000


def test_declared_length_over_the_limit_is_413_before_the_body(live: Live) -> None:
    db, token = live.db, live.user()
    project = create_project(db, name=f"streams-{token[-8:]}")
    before = snapshot(db)
    with _connect(live.url) as sock:
        path = f"/api/v1/projects/{project.id}/imports"
        sock.sendall(_head(path, token, f"Content-Length: {100 * LIMIT}\r\n") + _part_start())
        assert _status(sock) == 413  # answered although almost none of the body was sent
    assert snapshot(db) == before


def test_chunked_body_over_the_limit_is_413_while_streaming(live: Live) -> None:
    db, token = live.db, live.user()
    project = create_project(db, name=f"streams-{token[-8:]}")
    before = snapshot(db)
    total = 64 * LIMIT

    def chunks() -> Iterator[bytes]:
        for data in (_part_start(), *_rows(total // 52_000)):
            yield b"%x\r\n%s\r\n" % (len(data), data)

    with _connect(live.url) as sock:
        path = f"/api/v1/projects/{project.id}/imports"
        sock.sendall(_head(path, token, "Transfer-Encoding: chunked\r\n"))
        sent = _send_until_answered(sock, chunks())
        assert _status(sock) == 413
    assert sent < total / 4, f"the server read {sent} bytes of a {total}-byte body"
    assert snapshot(db) == before


def test_client_hanging_up_mid_upload_leaves_nothing(live: Live) -> None:
    db, token = live.db, live.user()
    project = create_project(db, name=f"streams-{token[-8:]}")
    before = snapshot(db)
    path = f"/api/v1/projects/{project.id}/imports"
    for _ in range(3):
        with _connect(live.url) as sock:
            sock.sendall(_head(path, token, f"Content-Length: {LIMIT - 1000}\r\n") + _part_start())
            for rows in _rows(4):
                sock.sendall(rows)
    # The server is still healthy, and the next upload is the only thing that lands.
    with httpx.Client(base_url=live.url, headers=auth(token), timeout=30) as api:
        response = api.post(path, files={"file": ("ok.csv", b"text\nafter the hang-ups\n")})
        assert response.status_code == 201 and response.json()["imported"] == 1
    after = snapshot(db)
    assert (after.items, after.annotations) == (before.items + 1, before.annotations)
    log = live.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]
    assert not list(live.settings.data_dir.glob("uploads/*"))


def test_slow_body_is_still_read(live: Live) -> None:
    """Bytes arriving in small pieces over time are not an error (no premature timeout)."""
    token = live.user()
    project = create_project(live.db, name=f"streams-{token[-8:]}")
    body = _part_start() + b"line one\r\nline two\r\n\r\n--%s--\r\n" % BOUNDARY.encode()
    with _connect(live.url) as sock:
        path = f"/api/v1/projects/{project.id}/imports"
        sock.sendall(_head(path, token, f"Content-Length: {len(body)}\r\n"))
        for i in range(0, len(body), 16):
            sock.sendall(body[i : i + 16])
            time.sleep(0.01)  # pacing the client, not waiting for a result
        assert _status(sock) == 201

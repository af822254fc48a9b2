"""R9: schemathesis over /openapi.json per role against a real server: no 5xx, no schema breaks.

Runs the ``st`` command line against a ``labelloop serve`` process on each database, once
as an admin, once as an annotator and once without a token. CI uses a few examples per
operation; set ``LABELLOOP_FUZZ_EXAMPLES`` (and optionally ``LABELLOOP_FUZZ_SEED``) for a
longer run. The hooks of ``fuzz_edges.py`` put NaN, Infinity, 1e400 and lone surrogates in
half of the JSON bodies, which schemathesis never generates by itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from app.models import Item, Project
from app.scheduler.worker import Worker
from app.training import service as training
from tests.factories import create_project
from tests.security.conftest import Live

EXAMPLES = int(os.environ.get("LABELLOOP_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("LABELLOOP_FUZZ_SEED", "20261130")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
ST = Path(sys.executable).with_name("st")
EDGE_HOOKS = Path(__file__).with_name("fuzz_edges.py")


# Most generated ids and labels point at the seeded project, so requests reach the services
# instead of stopping at 404; the rest stay random. Import form fields name real formats.
CONFIG = """
[dictionaries]
projects = {{ values = [{project}] }}
items = {{ values = [{items}] }}
labels = {{ values = [{labels}] }}
formats = {{ values = ["csv", "tsv", "jsonl", "json"] }}
fields = {{ values = ["text", "label", "id"] }}

[parameters]
"path.project_id" = {{ dictionary = "projects", probability = 0.8 }}
"body.item_id" = {{ dictionary = "items", probability = 0.8 }}
"body.label" = {{ dictionary = "labels", probability = 0.8 }}
"body.labels[*]" = {{ dictionary = "labels", probability = 0.8 }}
"body.format" = {{ dictionary = "formats", probability = 0.9 }}
"body.text_field" = {{ dictionary = "fields", probability = 0.7 }}
"body.label_field" = {{ dictionary = "fields", probability = 0.5 }}
"body.id_field" = {{ dictionary = "fields", probability = 0.5 }}
"""


def _seed(live: Live, config: Path) -> dict[str, str | None]:
    """A project with a published model (so predict and the queue have data); one token per role."""
    worker = Worker(live.db, live.settings)
    project = create_project(live.db, name="fuzzed", n_items=60, n_labeled=24)
    with live.db.writer() as session, session.begin():
        training.queue_run(session, project.id, reason="manual")
    while worker.run_once():  # this project's run, and any other queued by earlier tests
        pass
    with live.db.reader() as session:
        assert session.get_one(Project, project.id).current_model_id is not None
        items = session.scalars(select(Item.id).where(Item.project_id == project.id)).all()
    config.write_text(
        CONFIG.format(
            project=project.id,
            items=", ".join(map(str, items[::10])),
            labels=", ".join(f'"{label}"' for label in project.labels),
        )
    )
    # The admin goes last: its run may disable or delete users (the annotator among them) and
    # revoke tokens, which would leave the other roles' runs with nothing but 401s.
    return {"anonymous": None, "annotator": live.user("annotator"), "admin": live.user("admin")}


def _fuzz(
    url: str, token: str | None, workdir: Path, edges_log: Path
) -> subprocess.CompletedProcess[str]:
    args = [
        str(ST),
        "--config-file",
        str(workdir / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--request-timeout",
        "60",
        "--no-color",
    ]
    if token is not None:
        args += ["--header", f"Authorization: Bearer {token}"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(EDGE_HOOKS),
        "LABELLOOP_FUZZ_EDGES_LOG": str(edges_log),
    }
    return subprocess.run(
        args, cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def test_no_server_errors_or_schema_violations_for_any_role(live: Live, tmp_path: Path) -> None:
    tokens = _seed(live, tmp_path / "schemathesis.toml")
    failed = {}
    for role, token in tokens.items():
        result = _fuzz(live.url, token, tmp_path, tmp_path / f"edges-{role}.jsonl")
        if result.returncode != 0:
            failed[role] = result.stdout[-6000:] + result.stderr[-2000:]
    assert not failed, "\n\n".join(f"=== {role} ===\n{out}" for role, out in failed.items())
    log = live.log.read_text()
    assert "Traceback" not in log, log[-4000:]
    _check_edges_were_sent_and_refused(tmp_path / "edges-admin.jsonl")


def _check_edges_were_sent_and_refused(edges_log: Path) -> None:
    """The admin's run sent each kind of edge value; none was accepted, and each kind was a
    422 at least once (other requests stop earlier: no token, a method the path lacks)."""
    sent = [json.loads(line) for line in edges_log.read_text().splitlines()]
    assert all(400 <= entry["status"] < 500 for entry in sent), sent
    kinds = {entry["edge"] for entry in sent}
    assert kinds >= {"NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"', "key"}, kinds
    assert {entry["edge"] for entry in sent if entry["status"] == 422} == kinds

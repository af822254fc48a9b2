"""Key -> next item on the annotate screen, in Chromium, with banking77's 77 labels.

Starts ``labelloop serve`` (embedded worker) on a fresh SQLite file, imports ``--items``
banking77 texts of which the first ``--seed`` keep their label (so the first model knows the
classes), waits for that model, then an annotator labels ``--keys`` items in Chromium, taking
turns: Enter (the model's best guess), key 2 (its second guess), and the filter (``/``, the
label's words, Enter). Prints, per way, the time from the key press to the next item painted
(``window.labelloopTimings``), and the same for all keys together.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from app.db import Database, open_database  # noqa: E402
from app.models import Project  # noqa: E402
from app.training.service import queue_run  # noqa: E402
from bench.pages import fresh_database, log  # noqa: E402
from tests.factories import auth, create_project, create_user, import_jsonl  # noqa: E402
from tests.server import serve  # noqa: E402
from tests.web.conftest import CHROMIUM, LAUNCH_ARGS  # noqa: E402

DEFAULT_DATA = "../shared/data/banking77"  # relative to the repo root
WAYS = ("Enter", "2", "filter")
CURRENT = "#stage article.item:not([hidden]) .item-text"


def _rows(data: Path, n: int) -> list[dict[str, str]]:
    """``n`` rows of train.csv, every class early (round robin over the classes)."""
    with (data / "train.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_class: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_class.setdefault(row["category"], []).append(row)
    mixed = [r for group in zip(*by_class.values(), strict=False) for r in group]
    return mixed[:n]


def _project(db: Database, rows: list[dict[str, str]], seed: int) -> int:
    labels = sorted({r["category"] for r in rows})
    project = create_project(db, name="banking77", labels=labels, batch_size=50)
    records = [
        {"id": f"r{i}", "text": r["text"], "label": r["category"] if i < seed else None}
        for i, r in enumerate(rows)
    ]
    with db.writer() as session, session.begin():
        import_jsonl(session, session.get_one(Project, project.id), records)
        queue_run(session, project.id, reason="import")
    return project.id


def _wait_for_model(url: str, project_id: int, token: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        model = httpx.get(f"{url}/api/v1/projects/{project_id}/model", headers=auth(token))
        if (model.json().get("version") or 0) >= 1:
            return
        time.sleep(0.5)  # the embedded worker trains meanwhile
    raise SystemExit(f"no model after {timeout} s")


def _label(page: Page, way: str, gold: dict[str, str]) -> None:
    text = page.locator(CURRENT).inner_text()
    if way == "filter":
        page.keyboard.press("/")
        page.keyboard.type(gold.get(text, "card arrival").replace("_", " "))
    page.keyboard.press("Enter" if way == "filter" else way)
    changed = f"t => {{ const e = document.querySelector({json.dumps(CURRENT)}); "
    page.wait_for_function(changed + "return e && e.innerText !== t; }", arg=text)


def _measure(url: str, project_id: int, keys: int, gold: dict[str, str]) -> list[float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/login")
        page.get_by_label("Username").fill("bench")
        page.get_by_label("Password").fill("bench-password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/")
        page.goto(f"{url}/projects/{project_id}/annotate")
        for k in range(keys):
            _label(page, WAYS[k % len(WAYS)], gold)
        timings: list[float] = page.evaluate("window.labelloopTimings")
        browser.close()
    return timings


def _row(name: str, values: Sequence[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p90:.1f} "
        f"| {max(values):.1f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with banking77's train.csv")
    parser.add_argument("--items", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=770, help="labelled items of --items")
    parser.add_argument("--keys", type=int, default=90, help="items to label in the browser")
    args = parser.parse_args(argv)
    rows = _rows(REPO_ROOT / args.data, args.items)
    gold = {r["text"]: r["category"] for r in rows}
    with (
        tempfile.TemporaryDirectory(prefix="labelloop-keys-") as tmp,
        fresh_database("sqlite", Path(tmp), "") as db_url,
    ):
        db = open_database(db_url)
        _, token = create_user(db, name="bench", role="annotator", password="bench-password")
        project_id = _project(db, rows, args.seed)
        db.dispose()
        with serve(db_url, Path(tmp) / "data", LABELLOOP_CV_FOLDS="3") as url:
            _wait_for_model(url, project_id, token)
            log(f"model ready; labelling {args.keys} items in Chromium")
            timings = _measure(url, project_id, args.keys, gold)
    n_labels = len({r["category"] for r in rows})
    print(f"Key -> next item, {n_labels} labels, {args.items} items (ms)\n")
    print("| way | keys | median | p90 | max |\n|---|---|---|---|---|")
    for i, way in enumerate(WAYS):
        print(_row(way if way != "2" else "key 2 (second guess)", timings[i :: len(WAYS)]))
    print(_row("all", timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

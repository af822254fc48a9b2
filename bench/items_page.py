"""The data manager's filters at 1M items: one page of ``listing.list_items`` per filter.

Per backend: a fresh migrated database filled as ``bench/pages.py`` fills it (bulk insert,
triggers firing; ``--labeled`` of the items seed-labelled by import), then human labels by two
annotators on a further share (a few hundred items labelled by both, differently: they wait
for review), an audit sample, and a published model version whose ranking holds
``--ranked`` items with predictions. Each filter is timed in-process (the service call a
page makes, 100 rows), on the first page and on a page 90 % deep, ``--repeat`` times after one
untimed call. Prints p50 / p95 in ms per filter; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.db import Database, open_database  # noqa: E402
from app.items.filters import ItemFilter  # noqa: E402
from app.items.listing import list_items  # noqa: E402
from app.models import Item, ModelVersion, Project, RankEntry, User  # noqa: E402
from bench.pages import (  # noqa: E402
    LABELS,
    POSTGRES_URL,
    _copy_or_insert,
    deep_cursor,
    fresh_database,
    log,
    populate,
)

NOW = "2026-12-01 12:00:00"
FILTERS: dict[str, ItemFilter] = {
    "no filter": ItemFilter(),
    "search, common word": ItemFilter(q="REFUND"),
    "search, one item": ItemFilter(q="message 123457:"),
    "final label": ItemFilter(label=LABELS[3]),
    "annotator": ItemFilter(annotator="ada"),
    "status labelled": ItemFilter(status="labeled"),
    "status unlabelled": ItemFilter(status="unlabeled"),
    "status needs review": ItemFilter(status="disagreement"),
    "status audit": ItemFilter(status="audit"),
    "source human": ItemFilter(source="human"),
    "source import": ItemFilter(source="import"),
    "model guess": ItemFilter(prediction=LABELS[5]),
    "confidence 40-60 %": ItemFilter(min_confidence=0.4, max_confidence=0.6),
    "sort by score": ItemFilter(sort="score"),
    "search + unlabelled + score": ItemFilter(q="refund", status="unlabeled", sort="score"),
    "annotator's own view": ItemFilter(own_user_id=-1),  # replaced by ada's id
}


def add_people_and_model(db: Database, project_id: int, args: argparse.Namespace) -> int:
    """Human labels, disagreements, an audit sample and a published ranking; ada's id."""
    rng = random.Random(7)
    with db.writer() as session, session.begin():
        users = [User(name=name, role="annotator") for name in ("ada", "bo")]
        session.add_all(users)
        session.flush()
        ids = list(session.scalars(select(Item.id).where(Item.project_id == project_id)))
    ada, bo = users[0].id, users[1].id
    human = rng.sample(ids, int(len(ids) * args.human))
    rows = [
        (project_id, i, ada if k % 2 else bo, _labels(rng), "human") for k, i in enumerate(human)
    ]
    both = human[: args.disagreements]
    rows += [(project_id, i, bo, _labels(rng), "human") for i in both[1::2]]  # ada's + bo's
    rows += [(project_id, i, ada, _labels(rng), "human") for i in both[0::2]]
    columns = ("project_id", "item_id", "user_id", "labels", "source", "created_at", "updated_at")
    _copy_or_insert(db, "annotations", columns, [(*r, NOW, NOW) for r in rows])
    audit = rng.sample(ids, int(len(ids) * 0.005))
    with db.writer() as session, session.begin():
        for start in range(0, len(audit), 5000):
            chunk = audit[start : start + 5000]
            session.execute(update(Item).where(Item.id.in_(chunk)).values(audit=True))
        _publish(session, project_id, rng.sample(ids, args.ranked), rng)
    return ada


def _labels(rng: random.Random) -> str:
    return json.dumps([rng.choice(LABELS)])


def _publish(session: Session, project_id: int, ranked: list[int], rng: random.Random) -> None:
    version = ModelVersion(
        project_id=project_id,
        version=1,
        n_labels=0,
        metrics=None,
        strategy="margin",
        path="bench",
        sha256="0" * 64,
        sklearn_version="bench",
    )
    session.add(version)
    session.flush()
    for rank, item_id in enumerate(ranked):
        best = rng.uniform(0.1, 0.99)
        label = rng.choice(LABELS)
        prediction = {"label": label, "probabilities": {label: round(best, 4)}}
        session.add(
            RankEntry(
                model_version_id=version.id,
                rank=rank,
                item_id=item_id,
                score=1 - best,
                prediction=prediction,
            )
        )
    session.execute(
        update(Project).where(Project.id == project_id).values(current_model_id=version.id)
    )


def timed(db: Database, project_id: int, flt: ItemFilter, after: int, n: int) -> list[float]:
    out = []
    with db.reader() as session:
        project = session.get_one(Project, project_id)
        for k in range(n + 1):
            start = time.perf_counter()
            list_items(session, project, after=after, limit=100, flt=flt)
            if k:  # the first call warms the caches
                out.append((time.perf_counter() - start) * 1000)
    return out


def p50_p95(ms: list[float]) -> str:
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} / {p95:.0f}"


def run(backend: str, args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as url,
    ):
        db = open_database(url)
        try:
            log(f"{backend}: loading {args.items:,} items")
            project_id = populate(db, args.items, args.labeled)
            ada = add_people_and_model(db, project_id, args)
            deep = deep_cursor(db, project_id)
            results = {}
            for name, flt in FILTERS.items():
                if flt.own_user_id == -1:
                    flt = ItemFilter(own_user_id=ada)
                first = timed(db, project_id, flt, 0, args.repeat)
                later = timed(db, project_id, flt, deep, args.repeat)
                results[name] = (p50_p95(first), p50_p95(later))
                log(f"{backend}: {name}: {results[name]}")
            return results
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--labeled", type=float, default=0.1, help="share seed-labelled")
    parser.add_argument("--human", type=float, default=0.02, help="share labelled by people")
    parser.add_argument("--disagreements", type=int, default=400)
    parser.add_argument("--ranked", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = {backend: run(backend, args) for backend in backends}
    header = " | ".join(f"{b} first | {b} 90 % deep" for b in backends)
    print(f"| filter ({args.items:,} items, 100 rows, p50 / p95 ms) | {header} |")
    print("|---" * (1 + 2 * len(backends)) + "|")
    for name in FILTERS:
        cells = " | ".join(f"{results[b][name][0]} | {results[b][name][1]}" for b in backends)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()

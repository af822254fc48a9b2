"""The database's size per item: bytes per table and index of one big project, against its text.

Per backend: a fresh migrated database (a SQLite file; a PostgreSQL database created and
dropped), one project, `--items` synthetic texts (those of `bench/rerank.py`, `--labels` of them
labelled in the file) imported through the import service as one CSV, then one real training
run (TF-IDF: a published ranking of `ranking_depth` rows). Then the size of every table and
index: SQLite's `dbstat` (pages, payload), PostgreSQL's relation sizes (main fork, its TOAST
table, each index). Prints, per backend, bytes per item by table and index and the database
against the raw text (the UTF-8 bytes of the texts). `--save` writes the figures as JSON;
`--against` a saved file adds its figures and the ratio new/old (a before/after from two
checkouts: the script measures the schema of the tree it is in).

    .venv/bin/python bench/disk.py                                    # 100k items, both backends
    .venv/bin/python bench/disk.py --backends sqlite --save before.json
    .venv/bin/python bench/disk.py --backends sqlite --against before.json
    .venv/bin/python bench/disk.py --no-ids       # a file without an id column
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import Database, open_database  # noqa: E402
from app.items.service import ImportOptions, import_records  # noqa: E402
from app.projects.schemas import ProjectCreate  # noqa: E402
from app.projects.service import create_project  # noqa: E402
from bench.pages import POSTGRES_URL, fresh_database  # noqa: E402
from bench.rerank import synthetic_text, topic_vocabulary  # noqa: E402
from tests.factories import queue_and_work  # noqa: E402

CLASSES = 10
# Relations smaller than this (in total) are summed into one "other" row.
SMALL_BYTES = 64 * 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def corpus(n: int, n_labels: int, ids: bool = True) -> tuple[bytes, int]:
    """A CSV of ``n`` synthetic texts (id, text, label: the first ``n_labels`` labelled; no id
    column unless ``ids``) and the UTF-8 bytes of the texts alone."""
    rng = np.random.default_rng(0)
    vocab = topic_vocabulary(CLASSES, rng)
    gold = rng.integers(CLASSES, size=n)
    out, raw = io.StringIO(), 0
    out.write("id,text,label\n" if ids else "text,label\n")
    for i in range(n):
        body = synthetic_text(i, int(gold[i]), vocab, rng)
        raw += len(body.encode())
        label = f"topic{gold[i]}" if i < n_labels else ""
        out.write(f"r{i},{body},{label}\n" if ids else f"{body},{label}\n")
    return out.getvalue().encode(), raw


def build(db: Database, settings: Settings, csv: bytes) -> dict[str, float]:
    """One project with the CSV imported and one training run published; seconds of each."""
    labels = [f"topic{c}" for c in range(CLASSES)]
    start = time.perf_counter()
    with db.writer() as session, session.begin():
        spec = ProjectCreate(name="disk", labels=labels, features="tfidf")
        project = create_project(session, spec)
        import_records(session, project, io.BytesIO(csv), ImportOptions(filename="items.csv"))
    imported = time.perf_counter()
    run = queue_and_work(db, settings, project)
    if run.status != "succeeded":
        raise RuntimeError(f"training run {run.id}: {run.status} {run.error}")
    return {"import_s": imported - start, "train_s": time.perf_counter() - imported}


def sqlite_sizes(db: Database) -> tuple[dict[str, tuple[str, int]], int]:
    """Bytes of each table and index (pages, from ``dbstat``) and of the whole file; an
    unnamed unique index is shown by its columns."""
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        owners = dict(conn.execute(text("SELECT name, tbl_name FROM sqlite_master")).all())
        rows = conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        shown = {}
        for name in owners:
            if name.startswith("sqlite_autoindex_"):
                columns = conn.exec_driver_sql(f"PRAGMA index_info('{name}')").all()
                shown[name] = f"unique({', '.join(c[2] for c in columns)})"
    sizes = {shown.get(n, n): (owners.get(n, n), int(size)) for n, size in rows}
    return sizes, int(pages) * int(page_size)


PG_RELATIONS = """
SELECT c.relname, COALESCE(t.relname, c.relname), pg_relation_size(c.oid),
       CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) ELSE 0 END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = i.indrelid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
"""


def postgres_sizes(db: Database) -> tuple[dict[str, tuple[str, int]], int]:
    """Bytes of each table (main fork, and its TOAST table as ``<table> (toast)``) and index
    after a VACUUM (dead rows of the import's updates reclaimed, as autovacuum would)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        rows = conn.execute(text(PG_RELATIONS)).all()
    sizes: dict[str, tuple[str, int]] = {}
    for name, table, main, toast in rows:
        sizes[name] = (table, int(main))
        if toast:
            sizes[f"{name} (toast)"] = (table, int(toast))
    return sizes, sum(size for _, size in sizes.values())


def measure(backend: str, args: argparse.Namespace, csv: bytes, raw: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="disk-", dir=args.workdir) as tmp,
        fresh_database(backend, Path(tmp), args.postgres_url) as url,
    ):
        settings = Settings(database_url=url, data_dir=Path(tmp) / "data", embedded_worker=False)
        db = open_database(settings.sqlalchemy_url)
        try:
            log(f"{backend}: importing {args.items:,} items and training once")
            timings = build(db, settings, csv)
            sizes, total = sqlite_sizes(db) if backend == "sqlite" else postgres_sizes(db)
        finally:
            db.dispose()
    relations = {name: {"table": table, "bytes": size} for name, (table, size) in sizes.items()}
    return {"items": args.items, "raw": raw, "total": total, "relations": relations} | timings


def rows_of(result: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """(table, bytes) of each relation, the small ones summed into ``other``."""
    out: dict[str, tuple[str, int]] = {}
    other = 0
    for name, rel in result["relations"].items():
        if rel["bytes"] >= SMALL_BYTES:
            out[name] = (rel["table"], rel["bytes"])
        else:
            other += rel["bytes"]
    out["other (small tables and indexes)"] = ("", other)
    return out


def print_table(backend: str, result: dict[str, Any], old: dict[str, Any] | None) -> None:
    n, raw = result["items"], result["raw"]
    rows = rows_of(result)
    before = rows_of(old) if old else {}
    names = sorted(set(rows) | set(before), key=lambda k: -max(rows.get(k, ("", 0))[1], 0))
    print(f"\n{backend}: {n:,} items, raw text {raw / n:.1f} bytes an item ({raw / 1e6:.1f} MB)")
    head = ["relation", "of table", "bytes/item"]
    head += ["before", "after/before"] if old else []
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        table, size = rows.get(name) or (before[name][0], 0)
        cells = [name, table if table != name else "", f"{size / n:.1f}"]
        if old:
            was = before.get(name, ("", 0))[1]
            cells += [f"{was / old['items']:.1f}", _ratio(size / n, was / old["items"])]
        print("| " + " | ".join(cells) + " |")
    total = ["**database**", "", f"{result['total'] / n:.1f}"]
    if old:
        total += [f"{old['total'] / old['items']:.1f}", _ratio(result["total"], old["total"])]
    print("| " + " | ".join(total) + " |")
    line = f"database {result['total'] / 1e6:.1f} MB = {result['total'] / raw:.2f}x the raw text"
    if old:
        line += f" (before: {old['total'] / 1e6:.1f} MB = {old['total'] / old['raw']:.2f}x)"
    print(line + f"; import {result['import_s']:.1f} s, training run {result['train_s']:.1f} s")


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}" if old else "new"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=2000, help="labelled in the imported file")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--save", default=None, help="write the figures to this JSON file")
    parser.add_argument("--against", default=None, help="a --save file to compare with")
    parser.add_argument("--no-ids", action="store_true", help="a file without an id column")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    old = json.loads(Path(args.against).read_text()) if args.against else {}
    csv, raw = corpus(args.items, args.labels, ids=not args.no_ids)
    results = {}
    for backend in args.backends.split(","):
        results[backend] = measure(backend, args, csv, raw)
        print_table(backend, results[backend], old.get(backend))
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

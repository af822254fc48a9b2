"""Overlap under load: six annotators label one pool at once through the API of a real server
process, each item asked of three of them."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import Database
from app.models import Annotation, Lease
from app.queue.service import SETTLED
from tests.factories import TOPICS, create_project, create_user
from tests.server import serve

pytestmark = pytest.mark.process

ANNOTATORS, ITEMS, OVERLAP = 6, 300, 3


def test_every_item_ends_with_k_labels_from_k_different_people(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    project = create_project(db, n_items=ITEMS, overlap=OVERLAP, batch_size=1000)
    users = [create_user(db, name=f"a{k}", role="annotator") for k in range(ANNOTATORS)]
    served: list[list[int]] = [[] for _ in range(ANNOTATORS)]
    failures: list[str] = []
    start = threading.Barrier(ANNOTATORS)

    def annotator(k: int, url: str) -> None:
        try:
            label_until_empty(k, url)
        except Exception as exc:  # noqa: BLE001 - a dead thread must fail the test
            failures.append(f"{k}: {exc!r}")

    def label_until_empty(k: int, url: str) -> None:
        base = f"/api/v1/projects/{project.id}"
        rng = random.Random(k)
        headers = {"Authorization": f"Bearer {users[k][1]}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as api:
            start.wait()
            while True:
                got = api.get(f"{base}/queue", params={"limit": rng.randint(1, 5)})
                if got.status_code != 200:
                    failures.append(f"{k}: queue {got.status_code} {got.text[:200]}")
                    return
                items = [item["id"] for item in got.json()["items"]]
                if not items:
                    return  # every item is full or already labelled by this annotator
                served[k] += items
                for item_id in items:
                    label = rng.choice(sorted(TOPICS))
                    posted = api.post(
                        f"{base}/annotations", json={"item_id": item_id, "label": label}
                    )
                    if posted.status_code >= 300:
                        failures.append(f"{k}: label {posted.status_code} {posted.text[:200]}")

    with serve(db_url, tmp_path / "data") as url:
        threads = [threading.Thread(target=annotator, args=(k, url)) for k in range(ANNOTATORS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert failures == []
    for k, items in enumerate(served):
        assert len(items) == len(set(items)), f"annotator {k} was served an item twice"
    by_item, live = _annotators_by_item_and_live_leases(db, project.id)
    assert len(by_item) == ITEMS
    wrong = {i: u for i, u in by_item.items() if len(u) != OVERLAP or len(set(u)) != OVERLAP}
    assert not wrong, f"items without exactly {OVERLAP} labels by different people: {wrong}"
    assert sum(len(s) for s in served) == ITEMS * OVERLAP  # nothing served beyond the overlap
    assert live == []  # every lease handed out ended as a label


def _annotators_by_item_and_live_leases(
    db: Database, project_id: int
) -> tuple[dict[int, list[int | None]], list[int]]:
    """The annotators of each labelled item of the project, and the items still leased."""
    with db.reader() as session:
        by_item: dict[int, list[int | None]] = defaultdict(list)
        for item_id, user_id in session.execute(
            select(Annotation.item_id, Annotation.user_id).where(
                Annotation.project_id == project_id
            )
        ):
            by_item[item_id].append(user_id)
        live = session.scalars(
            select(Lease.item_id).where(Lease.project_id == project_id, Lease.expires_at < SETTLED)
        ).all()
    return by_item, list(live)

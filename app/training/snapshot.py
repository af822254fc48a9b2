"""What a run trains on: the project's labels and options at one moment, and the pool's features.

The snapshot is taken in one short write transaction (it records what the run has seen); the
pool's ids and texts are read afterwards, outside it, so the write lock is never held for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.annotations.outcomes import item_outcomes
from app.config import Settings
from app.db import Database
from app.learning.options import QueryOptions
from app.models import Annotation, Item, ModelVersion, Oracle, Project, Suggestion, TrainingRun
from app.projects.service import options
from app.training import encoders, featurestore, mapped, shapes, taskshape
from app.training.details import PublishedModel


@dataclass
class Snapshot:
    project_id: int
    labels: list[str]
    multi_label: bool
    options: QueryOptions
    pool_version: int
    random_seed: int
    label_events: int
    item_ids: np.ndarray  # (n_items,) ascending
    labeled: dict[int, list[str]]  # item id -> final labels (consensus, adjudicated...)
    previous_model: PublishedModel | None = None  # the published (real) model
    # Final labels of the audit sample: measured on, never trained on or ranked.
    audit: dict[int, list[str]] = field(default_factory=dict)
    # Items with labels but no final outcome yet (fewer than the overlap, or disagreement):
    # not trained on, and not ranked for the queue as if unlabelled.
    unsettled: frozenset[int] = frozenset()
    # The oracles' answers the ranking may weigh (the committee vote): item id -> label.
    votes: dict[int, str] = field(default_factory=dict)
    # What an item is (several fields, a sentence of a document): how it is featurised.
    shape: taskshape.Shape = taskshape.PLAIN

    @property
    def strategy(self) -> str:
        return self.options.strategy

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    def labeled_ids(self) -> np.ndarray:
        """(L,) int64 ids of the labelled items, in annotation order."""
        return np.fromiter(self.labeled, dtype=np.int64, count=len(self.labeled))

    def touched_ids(self) -> np.ndarray:
        """(n,) int64 ids of every item with a label, final or not, audit included: the
        items a ranking leaves out."""
        ids = [*self.labeled, *self.audit, *self.unsettled]
        return np.fromiter(ids, dtype=np.int64, count=len(ids))

    def targets(self, labeled_ids: np.ndarray) -> np.ndarray:
        """(n,) label indices, or (n, k) 0/1 indicators for multi-label projects."""
        index = {label: i for i, label in enumerate(self.labels)}
        if not self.multi_label:
            return np.array([index[self.labeled[i][0]] for i in labeled_ids], dtype=np.int64)
        y = np.zeros((len(labeled_ids), len(self.labels)), dtype=np.int8)
        for row, item_id in enumerate(labeled_ids):
            y[row, [index[label] for label in self.labeled[item_id]]] = 1
        return y


def take(db: Database, settings: Settings, run_id: int) -> Snapshot:
    """The run's snapshot, its pool ids included (read after the snapshot's transaction)."""
    snap = _snapshot(db, run_id)
    snap.item_ids = pool_ids(db, settings, snap.project_id, snap.pool_version)
    return snap


def features(db: Database, settings: Settings, snap: Snapshot) -> featurestore.PoolFeatures:
    """The pool's features of the project's kind, from the caches (built or extended first);
    items with several fields or sentences of documents through ``shapes``."""
    project_dir = settings.project_dir(snap.project_id)

    def plain() -> featurestore.PoolFeatures:
        return featurestore.load(
            project_dir,
            snap.options.features,
            snap.pool_version,
            snap.item_ids,
            lambda: _texts(db, snap.project_id),
            lambda ids: texts_of(db, ids),
            fast_features(settings),
        )

    if snap.shape.plain:
        return plain()
    kind = snap.options.features
    fast = fast_features(settings)
    embedder = fast.embedder if kind == "static" else (lambda: featurestore.MINILM)
    pool = shapes.Pool(db, project_dir, kind, snap.pool_version, snap.item_ids, embedder)
    return shapes.load(pool, snap.shape, plain)


def fast_features(settings: Settings) -> featurestore.FastFeatures:
    """Static vectors for kind "static" and for big MiniLM pools (``fast_features_above``)."""

    def embedder() -> featurestore.Embedder:
        encoder = encoders.static_encoder(settings.data_dir)
        path = encoders.static_path(settings.data_dir)
        chunk = featurestore.STATIC_CHUNK
        return featurestore.Embedder(encoders.STATIC_KEY, encoder.dim, encoder.encode, chunk, path)

    return featurestore.FastFeatures(settings.fast_features_above, embedder)


def _snapshot(db: Database, run_id: int) -> Snapshot:
    with db.writer() as session, session.begin():
        run = session.get_one(TrainingRun, run_id)
        project = session.get_one(Project, run.project_id)
        opts = options(project)
        outcomes = item_outcomes(session, project.id, opts, multi_label=project.multi_label)
        labeled: dict[int, list[str]] = {}
        audit: dict[int, list[str]] = {}
        # Machine labels left out of training (``machine_train`` off) are neither trained on
        # nor ranked: they sit with the unsettled items.
        machine = frozenset() if opts.machine_train else machine_labelled(session, project.id)
        for item_id, found in outcomes.items():
            if found.outcome.final and item_id not in machine:
                (audit if found.audit else labeled)[item_id] = list(found.outcome.labels)
        unsettled = frozenset(
            i for i, found in outcomes.items() if not found.outcome.final or i in machine
        )
        run.seen_events = project.label_events
        run.n_labels = len(labeled)
        previous = (
            session.get(ModelVersion, project.current_model_id)
            if project.current_model_id is not None
            else None
        )
        return Snapshot(
            project_id=project.id,
            labels=list(project.labels),
            multi_label=project.multi_label,
            options=opts,
            pool_version=project.pool_version,
            random_seed=project.random_seed,
            label_events=project.label_events,
            item_ids=np.zeros(0, dtype=np.int64),  # filled by pool_ids, outside this lock
            labeled=labeled,
            previous_model=PublishedModel.of(previous)
            if previous is not None and previous.version > 0
            else None,
            audit=audit,
            unsettled=unsettled,
            votes=oracle_votes(session, project.id) if opts.oracle_vote else {},
            shape=taskshape.Shape.of(project),
        )


def pool_ids(db: Database, settings: Settings, project_id: int, pool_version: int) -> np.ndarray:
    """Every item id of the project at ``pool_version``, ascending, int64.

    Read once per pool version (an import bumps it) and kept in the project's folder: a
    million ids take seconds through the database and milliseconds from the file. Read after
    the snapshot's transaction, so the write lock is never held for it; an import that
    commits in between only adds ids, which are then ranked one version early.
    """
    path = settings.project_dir(project_id) / "pool" / f"ids-{pool_version}.npy"
    if path.is_file():
        cached: np.ndarray = np.load(path)
        return cached
    with db.reader() as session:
        ids = _item_ids(session, project_id)
    mapped.save_replacing(path, ids, "ids-*.npy")
    return ids


def _item_ids(session: Any, project_id: int) -> np.ndarray:
    """The project's item ids straight from the driver's cursor (a C loop, not ORM rows).

    ``project_id`` is an int, so formatting it into the statement is safe.
    """
    sql = f"SELECT id FROM items WHERE project_id = {int(project_id)} ORDER BY id"
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))


def _texts(db: Database, project_id: int) -> list[str]:
    with db.reader() as session:
        return list(
            session.scalars(
                select(Item.text).where(Item.project_id == project_id).order_by(Item.id)
            )
        )


def texts_of(db: Database, ids: np.ndarray) -> list[str]:
    """Texts of ``ids`` (ascending), in that order."""
    with db.reader() as session:
        found = dict(
            session.execute(select(Item.id, Item.text).where(Item.id.in_(ids.tolist()))).all()
        )
    return [found[int(i)] for i in ids]


def machine_labelled(session: Session, project_id: int) -> frozenset[int]:
    """Items labelled by the machine-label route."""
    return frozenset(
        session.scalars(
            select(Annotation.item_id).where(
                Annotation.project_id == project_id, Annotation.source == "machine"
            )
        )
    )


def oracle_votes(session: Session, project_id: int) -> dict[int, str]:
    """Each item's newest answer from the project's enabled oracles (single labels)."""
    rows = session.execute(
        select(Suggestion.item_id, Suggestion.labels)
        .join(Oracle, Oracle.id == Suggestion.oracle_id)
        .where(
            Suggestion.project_id == project_id,
            Suggestion.labels.is_not(None),
            Oracle.enabled.is_(True),
        )
        .order_by(Suggestion.id)
    )
    return {item_id: labels[0] for item_id, labels in rows if labels}

"""Training on items with several fields and on sentences of documents, through the worker:
features per field (a pair's relation learnt), sentences placed in their documents, rankings
published, and /predict taking fields or documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.annotations.service import submit
from app.config import Settings
from app.db import Database
from app.items.service import random_key, text_hash
from app.models import Document, Item, ModelVersion, Project, RankEntry, RunStatus
from app.training import artifacts, shapes
from app.training.details import ModelDetails
from tests.factories import TOPICS, auth, create_project, create_user, queue_and_work

PHRASES = [phrase for phrases in TOPICS.values() for phrase in phrases]


def _shape(db: Database, project: Project, task: str, fields: list[str], primary: str) -> None:
    with db.writer() as session, session.begin():
        row = session.get_one(Project, project.id)
        row.task, row.item_fields, row.primary_field = task, fields, primary


def _add_items(db: Database, project_id: int, rows: list[dict[str, Any]]) -> list[int]:
    """Items written through the ORM as an import stores them (hash over every field)."""
    with db.writer() as session, session.begin():
        project = session.get_one(Project, project_id)
        items = []
        for row in rows:
            digest = text_hash(json.dumps(row.get("fields") or row["text"], sort_keys=True))
            items.append(
                Item(
                    project_id=project_id,
                    text_hash=digest,
                    random_key=random_key(project.random_seed, digest),
                    **row,
                )
            )
        session.add_all(items)
        project.pool_version += 1
        session.flush()
        return [item.id for item in items]


def _label(db: Database, project_id: int, labels: dict[int, str]) -> None:
    user, _ = create_user(db, name=f"ann{len(labels)}", role="annotator")
    with db.writer() as session, session.begin():
        project = session.get_one(Project, project_id)
        for item_id, label in labels.items():
            submit(session, project, user, item_id=item_id, labels=[label])


def _predictions(session: Any, version_id: int) -> dict[int, Any]:
    """The published ranking's prediction of each ranked item."""
    rows = select(RankEntry.item_id, RankEntry.prediction)
    return dict(session.execute(rows.where(RankEntry.model_version_id == version_id)).all())


def _pair(i: int, rng: np.random.Generator) -> tuple[dict[str, str], str]:
    """A source and a 'translation' that is either the source reworded by case and
    punctuation (ok) or another source (mistranslation): the label needs both fields."""
    source = f"{PHRASES[i % len(PHRASES)]} in round {i}"
    if rng.random() < 0.5:
        return {"source": source, "translation": source.upper() + "."}, "ok"
    other = f"{PHRASES[(i + 1 + rng.integers(len(PHRASES) - 1)) % len(PHRASES)]} in round {i}"
    return {"source": source, "translation": other}, "mistranslation"


@pytest.mark.parametrize("features", ["tfidf", "both"])
def test_a_translation_review_project_trains_on_pair_features_and_predicts_fields(
    db: Database, settings: Settings, client: TestClient, features: str
) -> None:
    project = create_project(db, labels=["ok", "mistranslation"], features=features)
    _shape(db, project, "translation_review", ["source", "translation"], "translation")
    rng = np.random.default_rng(3)
    pairs = [_pair(i, rng) for i in range(60)]
    rows = [{"text": p["translation"], "fields": p} for p, _ in pairs]
    ids = _add_items(db, project.id, rows)
    _label(db, project.id, {ids[i]: pairs[i][1] for i in range(40)})

    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        version = session.get_one(ModelVersion, run.model_version_id)
        predicted = _predictions(session, version.id)
    assert len(predicted) == 20  # every unlabelled pair, ranked
    right = [predicted[ids[i]]["label"] == pairs[i][1] for i in range(40, 60)]
    assert sum(right) >= 17, right  # from 40 labels; one field alone says nothing
    details = ModelDetails.of(version)
    assert (details.task, details.fields) == ("translation_review", ["source", "translation"])
    model = artifacts.load(Path(version.path), version.sha256)["model"]
    if features == "tfidf":  # one shared vocabulary of width d: [a, b, a*b, |a-b|]
        featurizer = artifacts.load(Path(details.featurizer_path), details.featurizer_sha256)
        assert model.n_features_in_ == 4 * featurizer.n_features_
    else:  # and 4 x 384 embedding columns beside them
        assert model.n_features_in_ % 4 == 0 and model.n_features_in_ > 4 * 384
        field_stores = settings.project_dir(project.id) / "field-embeddings"
        assert len(list(field_stores.iterdir())) == 1  # the source's; the primary reuses items'

    _, token = create_user(db, name="reader", role="annotator")
    new = [
        {"source": f"{PHRASES[0]} in round 99", "translation": f"{PHRASES[0]} IN ROUND 99."},
        {"source": f"{PHRASES[0]} in round 99", "translation": f"{PHRASES[7]} in round 99"},
    ]
    url = f"/api/v1/projects/{project.id}/predict"
    answer = client.post(url, json={"items": [{"fields": f} for f in new]}, headers=auth(token))
    assert answer.status_code == 200, answer.text
    assert [p["label"] for p in answer.json()["predictions"]] == ["ok", "mistranslation"]


def _documents(db: Database, project_id: int, n_docs: int, rng: np.random.Generator) -> list[Any]:
    """Documents of five sentences drawn at random from the topics: a sentence's words do not
    say where it stands. Returns (item id, position) of every sentence."""
    placed = []
    for d in range(n_docs):
        sentences = [f"{PHRASES[rng.integers(len(PHRASES))]} in part {d}-{p}." for p in range(5)]
        text = " ".join(sentences)
        with db.writer() as session, session.begin():
            doc = Document(
                project_id=project_id, text=text, text_hash=text_hash(text), n_sentences=5
            )
            session.add(doc)
            session.flush()
            doc_id = doc.id
        rows, start = [], 0
        for p, sentence in enumerate(sentences):
            rows.append(
                {"text": sentence, "document_id": doc_id, "position": p,
                 "start_offset": start, "end_offset": start + len(sentence)}
            )  # fmt: skip
            start += len(sentence) + 1
        placed += zip(_add_items(db, project_id, rows), range(5), strict=True)
    return placed


def test_a_sentence_selection_project_learns_where_sentences_stand(
    db: Database, settings: Settings, client: TestClient
) -> None:
    project = create_project(db, labels=["include", "exclude"])
    _shape(db, project, "sentence_selection", [], "text")
    placed = _documents(db, project.id, 16, np.random.default_rng(5))
    labelled = placed[:50]  # ten documents; the first sentence is the one to keep
    _label(db, project.id, {i: "include" if p == 0 else "exclude" for i, p in labelled})

    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        version = session.get_one(ModelVersion, run.model_version_id)
        predicted = _predictions(session, version.id)
    assert len(predicted) == 30  # the other six documents' sentences, ranked across them
    right = [predicted[i]["label"] == ("include" if p == 0 else "exclude") for i, p in placed[50:]]
    assert all(right), right
    assert ModelDetails.of(version).task == "sentence_selection"

    _, token = create_user(db, name="reader", role="annotator")
    url = f"/api/v1/projects/{project.id}/predict"
    sentences = [f"{PHRASES[k]} in part x." for k in (3, 9, 1)]
    answer = client.post(
        url, json={"documents": [{"sentences": sentences}, {"sentences": sentences[::-1]}]},
        headers=auth(token),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    labels = [p["label"] for p in answer.json()["predictions"]]
    assert labels == ["include", "exclude", "exclude"] * 2
    refused = client.post(url, json={"texts": sentences}, headers=auth(token))
    assert refused.status_code == 422 and "documents" in refused.text


def test_predict_names_a_missing_or_unknown_field(
    db: Database, settings: Settings, client: TestClient
) -> None:
    project = create_project(db, labels=["ok", "mistranslation"])
    _shape(db, project, "translation_review", ["source", "translation"], "translation")
    _, token = create_user(db, name="reader", role="annotator")
    url = f"/api/v1/projects/{project.id}/predict"
    both = {"source": "a", "translation": "b"}
    cases = [
        ({"items": [{"fields": both}, {"fields": {"source": "a"}}]}, "items[1]", "translation"),
        ({"items": [{"fields": {**both, "note": "c"}}]}, "items[0].fields", "'note'"),
        ({"texts": ["a"]}, "source, translation", "items"),
        ({"texts": ["a"], "items": [{"fields": both}]}, "exactly one", "documents"),
    ]  # fmt: skip
    for body, *named in cases:
        answer = client.post(url, json=body, headers=auth(token))
        assert answer.status_code == 422, answer.text
        assert all(name in answer.text for name in named), answer.text
    # Fields that fit, but no model yet: 409, as for texts.
    assert (
        client.post(url, json={"items": [{"fields": both}]}, headers=auth(token)).status_code == 409
    )


def test_a_one_text_project_trains_as_before(db: Database, settings: Settings) -> None:
    project = create_project(db, n_items=45, n_labeled=15)
    run = queue_and_work(db, settings, project)
    assert run.status == RunStatus.SUCCEEDED, run.error
    with db.reader() as session:
        version = session.get_one(ModelVersion, run.model_version_id)
        assert shapes.Shape.of(session.get_one(Project, project.id)).plain
    assert not {"task", "fields", "primary_field"} & set(version.details)
    directory = settings.project_dir(project.id)
    assert not list(directory.glob("features-fields-*"))
    assert not (directory / "field-embeddings").exists()


def test_new_pairs_extend_the_fields_cache_without_refitting(
    db: Database, settings: Settings
) -> None:
    project = create_project(db, labels=["ok", "mistranslation"])
    _shape(db, project, "translation_review", ["source", "translation"], "translation")
    rng = np.random.default_rng(4)
    pairs = [_pair(i, rng) for i in range(50)]
    ids = _add_items(db, project.id, [{"text": p["translation"], "fields": p} for p, _ in pairs])
    _label(db, project.id, {ids[i]: pairs[i][1] for i in range(30)})
    first = queue_and_work(db, settings, project)
    more = [_pair(i, rng) for i in range(50, 70)]
    new = _add_items(db, project.id, [{"text": p["translation"], "fields": p} for p, _ in more])
    second = queue_and_work(db, settings, project)
    assert second.status == RunStatus.SUCCEEDED, second.error
    with db.reader() as session:
        versions = [session.get_one(ModelVersion, r.model_version_id) for r in (first, second)]
        ranked = set(_predictions(session, versions[1].id))
    assert set(new) <= ranked and len(ranked) == 40
    fitted = {ModelDetails.of(v).featurizer_sha256 for v in versions}
    assert len(fitted) == 1  # 70 items of a featuriser fitted on 50: extended, not refitted

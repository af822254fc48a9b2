"""The annotate screen for each task shape: named fields (escaped, stacked or side by side),
the correction box of a translation review, a sentence marked inside its document, and what
is left when that document is gone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.annotations.service import submit
from app.db import Database
from app.models import Annotation, Document, Item, Project, User
from tests.web.shapes import sentence_project, translation_project
from tests.web.test_views import _sign_in, _user, web  # noqa: F401 - the fixture

DOCUMENT = "The storm hit the coast at night. Roads were closed. Schools open again on Monday."


def _first_item(page: str) -> str:
    """The first (shown) item of the page."""
    match = re.search(r'<article class="item".*?</article>', page, re.S)
    assert match, "the page should show an item"
    return match.group(0)


def _bo(web: TestClient, db: Database) -> str:  # noqa: F811
    _user(db, "bo", "annotator")
    return _sign_in(web, "bo")


def test_fields_are_shown_by_name_and_escaped(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    pairs = [("<b>Hallo</b> & <script>alert(1)</script>", '<i>Hello</i> & "friends"')]
    project = translation_project(db, pairs)
    _bo(web, db)
    item = _first_item(web.get(f"/projects/{project.id}/annotate").text)
    assert "<b>Hallo</b>" not in item and "<script>" not in item and "<i>Hello</i>" not in item
    assert "&lt;b&gt;Hallo&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in item
    names = re.findall(r"<dt>([^<]*)</dt>", item)
    assert names == ["source", "translation"]  # the project's order
    assert 'class="fields side-by-side"' in item
    box = re.search(r'<textarea id="correction-\d+"[^>]*>\n(.*?)</textarea>', item, re.S)
    assert box, "a translation review has a correction box"
    assert box.group(1) == "&lt;i&gt;Hello&lt;/i&gt; &amp; &#34;friends&#34;"
    assert 'data-original="&lt;i&gt;Hello&lt;/i&gt; &amp; &#34;friends&#34;"' in box.group(0)


def test_the_project_layout_stacks_or_sets_fields_side_by_side(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = translation_project(db)
    with db.writer() as session, session.begin():
        stored = session.get_one(Project, project.id)
        stored.task, stored.layout = "classification", "stacked"
    _bo(web, db)
    url = f"/projects/{project.id}/annotate"
    item = _first_item(web.get(url).text)
    assert 'class="fields stacked"' in item and "correction-box" not in item
    with db.writer() as session, session.begin():
        session.get_one(Project, project.id).layout = "side_by_side"
    assert 'class="fields side-by-side"' in _first_item(web.get(url).text)


def test_the_correction_key_is_no_label_key(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    labels = [f"error{i}" for i in range(14)]
    project = translation_project(db)
    with db.writer() as session, session.begin():
        session.get_one(Project, project.id).labels = labels
    _bo(web, db)
    page = web.get(f"/projects/{project.id}/annotate").text
    keys = re.findall(r'class="label-btn" data-label="[^"]*"[^>]*data-key="([^"]*)"', page)
    assert len(keys) == 14 and "e" not in keys and "s" not in keys and "u" not in keys
    assert 'data-correction-key="e"' in page


def test_a_sentence_is_marked_inside_its_document(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, [DOCUMENT])
    _bo(web, db)
    page = web.get(f"/projects/{project.id}/annotate").text
    item = _first_item(page)
    shown = re.search(r'<mark class="sentence"[^>]*>([^<]*)</mark>', item)
    assert shown, "the sentence is marked"
    with db.reader() as session:
        sentence = session.scalars(
            select(Item).where(Item.project_id == project.id, Item.text == shown.group(1))
        ).one()
    assert assert_position(item) == (sentence.position + 1, 3)
    document = re.search(r'<div class="document"[^>]*>(.*?)</div>', item, re.S)
    assert document and re.sub(r"<[^>]+>", "", document.group(1)) == DOCUMENT
    include = re.search(r'data-label="include"[^>]*>', page)
    exclude = re.search(r'data-label="exclude"[^>]*>', page)
    assert include and 'data-key="1"' in include.group(0) and 'data-letter="i"' in include.group(0)
    assert exclude and 'data-key="2"' in exclude.group(0) and 'data-letter="x"' in exclude.group(0)


def assert_position(item: str) -> tuple[int, int]:
    found = re.search(r"Sentence <strong>(\d+)</strong> of (\d+)", item)
    assert found, "the position is shown"
    return int(found.group(1)), int(found.group(2))


def test_a_long_document_is_cut_around_its_sentence(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    filler = " ".join(f"Filler sentence number {i} says little." for i in range(400))
    project = sentence_project(db, [f"{filler} The key sentence is here. {filler}"])
    with db.writer() as session, session.begin():  # only the middle sentence is left to label
        session.execute(
            update(Item)
            .where(Item.project_id == project.id, Item.text != "The key sentence is here.")
            .values(document_id=None)
        )
        session.execute(
            Item.__table__.delete().where(Item.project_id == project.id, Item.document_id.is_(None))
        )
    _bo(web, db)
    item = _first_item(web.get(f"/projects/{project.id}/annotate").text)
    assert '<mark class="sentence" data-testid="sentence">The key sentence is here.</mark>' in item
    assert assert_position(item) == (401, 801)
    assert len(item) < 12_000 and item.count("…") == 2  # not 2 × 16 KB of filler


def test_a_sentence_without_its_document_is_shown_alone(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, [DOCUMENT])
    with db.writer() as session, session.begin():
        session.execute(update(Item).where(Item.project_id == project.id).values(document_id=None))
    _bo(web, db)
    response = web.get(f"/projects/{project.id}/annotate")
    assert response.status_code == 200
    item = _first_item(response.text)
    assert "no longer stored" in item and '<mark class="sentence"' in item


def test_offsets_that_miss_the_sentence_show_it_alone(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, [DOCUMENT])
    with db.writer() as session, session.begin():
        session.execute(update(Item).where(Item.project_id == project.id).values(start_offset=5000))
    _bo(web, db)
    response = web.get(f"/projects/{project.id}/annotate")
    assert response.status_code == 200 and "no longer stored" in _first_item(response.text)


def test_a_sentence_whose_document_was_deleted_is_shown_alone_and_labelled(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, [DOCUMENT, "A second document. It stays."])
    csrf = _bo(web, db)
    url = f"/projects/{project.id}/annotate"
    first = _first_item(web.get(url).text)
    item_id = int(re.search(r'data-item-id="(\d+)"', first).group(1))  # type: ignore[union-attr]
    with db.writer() as session, session.begin():
        document_id = session.get_one(Item, item_id).document_id
        session.delete(session.get_one(Document, document_id))
    page = web.get(url)
    assert page.status_code == 200
    shown = _first_item(page.text)  # the sentence outlives its document, and is leased
    assert f'data-item-id="{item_id}"' in shown and "no longer stored" in shown
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    late = web.post(f"{url}/submit", data={"item_id": item_id, "label": "include"}, headers=headers)
    assert late.status_code == 200
    with db.reader() as session:
        stored = session.scalars(select(Annotation.labels).where(Annotation.item_id == item_id))
        assert stored.all() == [["include"]]


def _label_as_bo(db: Database, project_id: int, external_id: str, correction: str) -> int:
    """bo's label "ok" with ``correction`` for the item; returns the item's id."""
    with db.writer() as session, session.begin():
        bo = session.scalars(select(User).where(User.name == "bo")).one()
        item = session.scalars(select(Item).where(Item.external_id == external_id)).one()
        project = session.get_one(Project, project_id)
        submit(session, project, bo, item_id=item.id, labels=["ok"], correction=correction)
        return item.id


def test_history_shows_the_correction(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = translation_project(db)
    _bo(web, db)
    _label_as_bo(db, project.id, "p1", "I have <no> time.")
    page = web.get(f"/projects/{project.id}/annotate").text
    found = re.search(r'data-testid="history-correction">(.*?)</span>\n', page, re.S)
    assert found and "I have &lt;no&gt; time." in found.group(1)


def test_undo_brings_the_withdrawn_correction_back_to_the_box(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = translation_project(db)
    csrf = _bo(web, db)
    item_id = _label_as_bo(db, project.id, "p3", "We go to the cinema tomorrow.")
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    undone = web.post(f"/projects/{project.id}/annotate/undo", headers=headers)
    assert undone.status_code == 200
    box = re.search(r'<textarea id="correction-(\d+)"[^>]*>\n(.*?)</textarea>', undone.text, re.S)
    assert box and int(box.group(1)) == item_id
    assert box.group(2) == "We go to the cinema tomorrow."


def test_a_correction_is_stored_with_the_label_and_kept_by_a_change_from_history(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = translation_project(db)
    csrf = _bo(web, db)
    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.external_id == "p1")).one()
    url = f"/projects/{project.id}/annotate"
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true", "Idempotency-Key": "k-1"}
    form = {"item_id": str(item_id), "label": "mistranslation", "correction": " I have no time. "}
    assert web.post(f"{url}/submit", data=form, headers=headers).status_code == 200
    assert web.post(f"{url}/submit", data=form, headers=headers).status_code == 200  # a retry
    page = web.get(url).text
    hidden = '<input type="hidden" name="correction" value="I have no time.">'
    assert hidden in page  # the history's form sends the correction back with a new label
    changed = {"label": "omission", "correction": "I have no time."}
    relabel = web.post(f"{url}/history/{item_id}", data=changed, headers=headers)
    assert relabel.status_code == 200 and "I have no time." in relabel.text
    with db.reader() as session:
        stored = session.scalars(select(Annotation).where(Annotation.item_id == item_id)).one()
    assert (stored.labels, stored.correction) == (["omission"], "I have no time.")


def test_a_correction_outside_a_translation_review_is_refused(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, [DOCUMENT])
    csrf = _bo(web, db)
    with db.reader() as session:
        item_id = session.scalars(select(Item.id).where(Item.project_id == project.id)).first()
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    form = {"item_id": str(item_id), "label": "include", "correction": "no"}
    refused = web.post(f"/projects/{project.id}/annotate/submit", data=form, headers=headers)
    assert refused.status_code == 422 and "correction" in refused.text
    with db.reader() as session:
        assert session.scalars(select(Annotation)).all() == []

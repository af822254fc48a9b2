"""What the annotate screen says about an item and the model: the retrain countdown agrees with
the API, an undone item keeps the model's guess, and a warm-up pick and an audit pick are
each called one."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import Item
from tests.factories import auth, create_project, create_user, queue_and_work
from tests.web.test_views import _sign_in, web  # noqa: F401 - the fixture


def _annotator(db: Database) -> str:
    """Signs in as ``bo`` on the web later; returns bo's API token."""
    _, token = create_user(db, name="bo", role="annotator", password="bo-password")
    return token


def _first_item(web: TestClient, project_id: int) -> int:  # noqa: F811
    page = web.get(f"/projects/{project_id}/annotate").text
    match = re.search(r'data-item-id="(\d+)"', page)
    assert match, page
    return int(match.group(1))


def _until_retrain(html: str) -> int:
    match = re.search(r"(\d+) until retrain", html)
    assert match, html
    return int(match.group(1))


def test_until_retrain_after_a_label_agrees_with_the_api(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = create_project(db, n_items=30, batch_size=20)
    token = _annotator(db)
    csrf = _sign_in(web, "bo")
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    assert _until_retrain(web.get(f"/projects/{project.id}/annotate").text) == 20
    for expected in (19, 18):
        item_id = _first_item(web, project.id)
        form = {"item_id": str(item_id), "label": "food"}
        answer = web.post(f"/projects/{project.id}/annotate/submit", data=form, headers=headers)
        api = web.get(f"/api/v1/projects/{project.id}/model", headers=auth(token)).json()
        assert _until_retrain(answer.text) == api["labels_until_retrain"] == expected
        polled = web.get(f"/projects/{project.id}/annotate/progress").text
        assert _until_retrain(polled) == expected


def test_an_undone_item_keeps_the_models_guess(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    project = create_project(db, n_items=40, n_labeled=15)
    queue_and_work(db, settings, project)
    _annotator(db)
    csrf = _sign_in(web, "bo")
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    page = web.get(f"/projects/{project.id}/annotate").text
    assert "Model guess:" in page
    item_id = _first_item(web, project.id)
    form = {"item_id": str(item_id), "label": "food"}
    web.post(f"/projects/{project.id}/annotate/submit", data=form, headers=headers)
    undone = web.post(f"/projects/{project.id}/annotate/undo", headers=headers)
    assert undone.status_code == 200
    assert f'data-item-id="{item_id}"' in undone.text
    assert "No model guess yet" not in undone.text
    assert "Model guess:" in undone.text and "you undid its label" in undone.text


def test_a_warm_up_pick_is_explained_as_one(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    project = create_project(db, n_items=40, n_labeled=9, warm_up=10.0, batch_size=5)
    queue_and_work(db, settings, project)
    _annotator(db)
    _sign_in(web, "bo")
    page = web.get(f"/projects/{project.id}/annotate").text
    first = page.split('class="why"')[1].split("</p>")[0]
    assert "picked during the warm-up" in first and "typical item" in first
    assert "margin score" not in first


def _articles(page: str) -> dict[int, str]:
    """Each item's whole article, by item id, in the page's order."""
    found = {}
    for article in page.split('<article class="item"')[1:]:
        match = re.search(r'data-item-id="(\d+)"', article)
        assert match, article
        found[int(match.group(1))] = article.split("</article>")[0]
    return found


def _explanations(page: str) -> dict[int, str]:
    """Each item's "Why this item" text, by item id, in the page's order."""
    return {
        item_id: article.split('class="why"')[1].split("</p>")[0]
        for item_id, article in _articles(page).items()
    }


def _page_with_audit_picks(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> tuple[str, set[int]]:
    """bo's annotate page of a trained project with an audit sample, and its audit item ids."""
    project = create_project(db, n_items=40, n_labeled=20, audit_share=0.1)
    queue_and_work(db, settings, project)  # ranks every unlabelled item, audit ones too
    _annotator(db)
    _sign_in(web, "bo")
    page = web.get(f"/projects/{project.id}/annotate").text
    with db.reader() as session:
        return page, set(session.scalars(select(Item.id).where(Item.audit)))


def test_an_audit_pick_is_explained_as_one_even_when_the_ranking_holds_it(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    page, audit = _page_with_audit_picks(web, db, settings)
    why = _explanations(page)
    assert len(why) == 4 and len(audit) == 2  # 10 % of the 20 labels and these 4 items
    for item_id, text in why.items():
        if item_id in audit:
            assert "random audit item" in text and "measure the model's accuracy" in text
            assert "margin score" not in text and "rank" not in text
        else:
            assert "margin score" in text and "random audit item" not in text


def test_an_audit_pick_is_labelled_blind_without_the_models_guess(
    web: TestClient,  # noqa: F811
    db: Database,
    settings: Settings,
) -> None:
    page, audit = _page_with_audit_picks(web, db, settings)
    articles = _articles(page)
    assert audit and audit < set(articles)
    for item_id, article in articles.items():
        guessed = "Model guess:" in article or "data-best=" in article or "suggest-btn" in article
        assert guessed != (item_id in audit), article
        assert ('data-testid="blind"' in article) == (item_id in audit)

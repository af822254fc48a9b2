"""The review screen: every label and the model's guess per item; a label button settles the
item in place; annotators have no review link and no review page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.models import Adjudication
from tests.factories import create_user
from tests.review.conftest import Team, shaped_in_review, standard_queue
from tests.review.conftest import team as team  # noqa: F401 - the fixture
from tests.web.shapes import PAIRS, sentence_project, translation_project
from tests.web.test_views import _sign_in, web  # noqa: F401 - the fixture


def test_reviewer_sees_labels_and_guess_and_settles_an_item(
    web: TestClient,  # noqa: F811
    db: Database,
    team: Team,  # noqa: F811
) -> None:
    standard_queue(db, team)
    csrf = _sign_in(web, "rev")
    pid, item = team.project.id, team.items[0]
    assert f'href="/projects/{pid}/review"' in web.get(f"/projects/{pid}").text
    page = web.get(f"/projects/{pid}/review").text
    card = page.split(f'id="review-{item}"')[1].split("</article>")[0]
    assert "ann1" in card and "ann2" in card and "disagreement" in card
    doubted = page.split(f'id="review-{team.items[3]}"')[1].split("</article>")[0]
    assert "Model guess:" in doubted and "<strong>sports</strong>" in doubted
    flagged = page.split(f'id="review-{team.items[2]}"')[1].split("</article>")[0]
    assert "unsure" in flagged and "bread or sport?" in flagged
    done = web.post(
        f"/projects/{pid}/review/{item}",
        data={"label": "food", "note": "bread"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert done.status_code == 200, done.text
    assert f'data-testid="final-{item}">food<' in done.text and ">adjudicated<" in done.text
    with db.reader() as session:
        assert session.scalar(select(Adjudication.labels).where(Adjudication.item_id == item)) == [
            "food"
        ]
    assert f'id="review-{item}"' not in web.get(f"/projects/{pid}/review").text


def test_annotators_get_no_review_link_nor_page(
    web: TestClient,  # noqa: F811
    db: Database,
    team: Team,  # noqa: F811
) -> None:
    _sign_in(web, "ann1")
    pid = team.project.id
    assert f'href="/projects/{pid}/review"' not in web.get(f"/projects/{pid}").text
    assert web.get(f"/projects/{pid}/review").status_code == 403


def _card(client: TestClient, project_id: int, item_id: int) -> str:
    page = client.get(f"/projects/{project_id}/review")
    assert page.status_code == 200, page.text
    return page.text.split(f'id="review-{item_id}"')[1].split("</article>")[0]


def test_a_translation_review_card_shows_source_translation_and_corrections(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = translation_project(db)
    votes = {"ann1": ("omission", "The dog sleeps <here>."), "ann2": ("ok", None)}
    shaped = shaped_in_review(db, project, votes)
    create_user(db, name="rev-web", role="admin", password="rev-web-password")
    _sign_in(web, "rev-web")
    card = _card(web, project.id, shaped.item_id)
    source, translation = PAIRS[0]
    assert f'<dd dir="auto">{source}</dd>' in card
    assert f'<dd dir="auto">{translation}</dd>' in card
    assert "The dog sleeps &lt;here&gt;." in card and "correction-box" not in card
    assert card.count(f'data-testid="correction-{shaped.item_id}"') == 2


def test_a_sentence_card_shows_the_sentence_in_its_document(
    web: TestClient,  # noqa: F811
    db: Database,
) -> None:
    project = sentence_project(db, ["One here. Two there. Three."])
    shaped = shaped_in_review(db, project, {"ann1": ("include", None), "ann2": ("exclude", None)})
    create_user(db, name="rev-web", role="admin", password="rev-web-password")
    _sign_in(web, "rev-web")
    card = _card(web, project.id, shaped.item_id)
    assert "Sentence <strong>1</strong> of 3 · document doc0" in card
    assert '<mark class="sentence" data-testid="sentence">One here.</mark>' in card

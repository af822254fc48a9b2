"""Oracles on the screens over HTTP: the settings page's guidelines, oracle options and oracles
(refusals said beside the form, with what was typed, never a key), the annotate screen's
suggestion and its accepted/changed mark, and the dashboard's oracle panel."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Annotation, Item, Oracle, Project, Suggestion
from app.projects import service as projects
from tests.factories import create_project, create_user

HTMLISH = re.compile(r"<[^>]+>")
PUBLIC_URL = "http://93.184.215.14/v1"  # an address literal: public, and no DNS look-up
FAKE_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def web(settings: Settings, db: Database) -> Iterator[TestClient]:
    create_user(db, name="ada", role="admin", password="ada-password")
    with TestClient(create_app(settings, worker=False), follow_redirects=False) as client:
        token = _csrf(client, "/login")
        form = {"username": "ada", "password": "ada-password", "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
        client.headers["X-CSRF-Token"] = _csrf(client, "/")
        yield client


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, "the page should carry a CSRF token"
    return match.group(1)


def _problem(page: str) -> str:
    match = re.search(r'data-testid="problem">(.*?)</p>', page, re.S)
    assert match, "the page should say what was refused"
    return HTMLISH.sub("", match.group(1))


def _oracle_form(**fields: str) -> dict[str, str]:
    form = {"name": "gpt", "kind": "openai", "url": PUBLIC_URL, "model": "small"}
    return {**form, **fields}


def _add_oracle(db: Database, project_id: int, name: str = "gpt") -> int:
    with db.writer() as session, session.begin():
        oracle = Oracle(
            project_id=project_id,
            name=name,
            kind="openai",
            config={"base_url": PUBLIC_URL, "model": "small"},
            enabled=True,
            concurrency=1,
            calls_used=3,
            tokens_used=1200,
            failures=0,
            budget_tokens=5000,
            cost_per_1k_tokens=0.5,
        )
        session.add(oracle)
        session.flush()
        return oracle.id


def _suggest(db: Database, project_id: int, oracle_id: int, labels: dict[int, str]) -> None:
    """Answers of the oracle: ``labels`` item id -> label."""
    with db.writer() as session, session.begin():
        for item_id, label in labels.items():
            session.add(
                Suggestion(
                    project_id=project_id,
                    item_id=item_id,
                    oracle_id=oracle_id,
                    labels=[label],
                    confidence=0.8,
                    model="small",
                    prompt_version="v1",
                    prompt_tokens=100,
                    completion_tokens=10,
                    latency_seconds=1.5,
                )
            )


def _items(db: Database, project_id: int) -> list[int]:
    with db.reader() as session:
        return list(
            session.scalars(select(Item.id).where(Item.project_id == project_id).order_by(Item.id))
        )


def test_guidelines_and_descriptions_are_saved_and_shown(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food"], n_items=4)
    form = {
        "guidelines": "Label the topic.\r\nRecipes are food.",
        "label": ["sports", "food"],
        "description": ["games and teams", "  "],
    }
    done = web.post(f"/projects/{project.id}/guidelines", data=form)
    assert done.status_code == 303
    assert "Guidelines and label descriptions saved." in web.get(done.headers["location"]).text
    with db.reader() as session:
        stored = session.get_one(Project, project.id)
        assert stored.guidelines == "Label the topic.\nRecipes are food."
        assert stored.label_descriptions == {"sports": "games and teams"}
    screen = web.get(f"/projects/{project.id}/annotate").text
    assert 'data-testid="guidelines"' in screen and "Recipes are food." in screen
    assert 'title="games and teams"' in screen


def test_a_refused_description_keeps_what_was_typed(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food"], n_items=2)
    form = {"guidelines": "Typed, not saved.", "label": ["sports"], "description": ["x" * 301]}
    page = web.post(f"/projects/{project.id}/guidelines", data=form)
    assert page.status_code == 422
    assert "at most 300 characters" in _problem(page.text)
    assert "Typed, not saved." in page.text
    with db.reader() as session:
        assert session.get_one(Project, project.id).guidelines == ""


def test_oracle_options_are_saved_and_bounds_refused(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=2)
    url = f"/projects/{project.id}/oracle-options"
    form = {
        "suggest_preselect": "true",
        "oracle_examples": "5",
        "machine_labels": "true",
        "machine_threshold": "0.95",
        "machine_target": "0.92",
    }
    assert web.post(url, data=form).status_code == 303
    with db.reader() as session:
        options = projects.options(session.get_one(Project, project.id))
    assert (options.suggest_preselect, options.oracle_vote, options.machine_train) == (
        True,
        False,
        False,
    )
    assert (options.oracle_examples, options.machine_threshold) == (5, 0.95)
    refused = web.post(url, data={**form, "machine_target": "0.3"})
    assert refused.status_code == 422
    assert _problem(refused.text) == "Target accuracy of machine labels: must be at least 0.5."
    assert 'value="0.3"' in refused.text  # what was typed, beside the reason
    blank = web.post(url, data={"machine_threshold": "", "machine_target": "0.3"})
    assert blank.status_code == 422 and 'value="0.95"' in blank.text  # the stored threshold


def test_an_oracle_is_added_switched_off_and_removed(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=2)
    form = _oracle_form(api_key_env="MY_KEY", budget_calls="100", temperature="0.2")
    added = web.post(f"/projects/{project.id}/oracles", data=form)
    assert added.status_code == 303, added.text
    page = web.get(added.headers["location"]).text
    assert "Oracle &#39;gpt&#39; added" in page and "MY_KEY" in page
    with db.reader() as session:
        oracle = session.scalars(select(Oracle).where(Oracle.project_id == project.id)).one()
        assert (oracle.budget_calls, oracle.config["temperature"]) == (100, 0.2)
    url = f"/projects/{project.id}/oracles"
    assert web.post(f"{url}/change", data={"oracle_id": str(oracle.id)}).status_code == 303
    with db.reader() as session:
        assert session.get_one(Oracle, oracle.id).enabled is False
    on = {"oracle_id": str(oracle.id), "enabled": "true"}
    assert web.post(f"{url}/change", data=on).status_code == 303
    assert web.post(f"{url}/remove", data={"oracle_id": str(oracle.id)}).status_code == 303
    with db.reader() as session:
        assert session.get(Oracle, oracle.id) is None
    gone = web.post(f"{url}/remove", data={"oracle_id": str(oracle.id)})
    assert gone.status_code == 404 and "not found" in _problem(gone.text)


def test_a_refused_oracle_keeps_the_form_but_never_a_key(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=2)
    url = f"/projects/{project.id}/oracles"
    pasted = web.post(url, data=_oracle_form(name="typed name", api_key_env=FAKE_KEY))
    assert pasted.status_code == 422
    assert _problem(pasted.text).startswith("API key variable: give the name of an environment")
    assert FAKE_KEY not in pasted.text
    assert 'value="typed name"' in pasted.text and f'value="{PUBLIC_URL}"' in pasted.text
    internal = web.post(url, data=_oracle_form(url="http://127.0.0.1:8080/v1"))
    assert internal.status_code == 422
    assert "internal address" in _problem(internal.text)
    assert "LABELLOOP_ORACLE_HOSTS" in _problem(internal.text)
    bad = web.post(url, data=_oracle_form(concurrency="99"))
    assert bad.status_code == 422 and _problem(bad.text) == "Concurrency: must be at most 16."
    assert web.post(url, data=_oracle_form()).status_code == 303
    taken = web.post(url, data=_oracle_form())
    assert taken.status_code == 409 and "already has an oracle named" in _problem(taken.text)
    with db.reader() as session:
        assert len(session.scalars(select(Oracle)).all()) == 1


def _preselect(db: Database, project_id: int) -> None:
    with db.writer() as session, session.begin():
        project = session.get_one(Project, project_id)
        project.settings = {**(project.settings or {}), "suggest_preselect": True}


def test_the_suggestion_is_shown_preselected_and_marked(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food", "weather"], n_items=6)
    oracle_id = _add_oracle(db, project.id)
    items = _items(db, project.id)
    first, second, third = items[:3]
    suggested = dict(zip(items, ["food", "sports", "weather"] * 2, strict=True))
    _suggest(db, project.id, oracle_id, suggested)
    _preselect(db, project.id)
    screen = web.get(f"/projects/{project.id}/annotate").text
    articles = re.findall(r'<article[^>]*data-item-id="(\d+)"[^>]*data-best="([^"]*)"', screen)
    assert len(articles) >= 2  # the current item and the ones fetched ahead
    assert all(suggested[int(item_id)] == best for item_id, best in articles)
    assert "Suggested by <strong>gpt</strong>" in screen
    with db.reader() as session:
        ids = {i: s for i, s in session.execute(select(Suggestion.item_id, Suggestion.id))}
    url = f"/projects/{project.id}/annotate/submit"
    sent = {first: "food", second: "weather"}
    for item_id, label in sent.items():
        form = {"item_id": str(item_id), "label": label, "suggestion_id": str(ids[item_id])}
        assert web.post(url, data=form).status_code == 200
    stale = {"item_id": str(third), "label": "weather", "suggestion_id": "999999"}
    assert web.post(url, data=stale).status_code == 200  # stored, though not marked
    with db.reader() as session:
        rows = session.execute(
            select(Annotation.item_id, Annotation.source, Annotation.suggestion)
        ).all()
    marks = {item_id: (source, mark) for item_id, source, mark in rows}
    assert marks == {
        first: ("human", "accepted"),
        second: ("human", "changed"),
        third: ("human", None),
    }


def test_the_panel_shows_the_oracle_measured(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food"], n_items=6)
    oracle_id = _add_oracle(db, project.id, name="local")
    items = _items(db, project.id)
    _suggest(db, project.id, oracle_id, {i: "food" for i in items[:4]})
    url = f"/projects/{project.id}/annotate/submit"
    for item_id, label in zip(items[:4], ["food", "food", "food", "sports"], strict=True):
        assert web.post(url, data={"item_id": str(item_id), "label": label}).status_code == 200
    dashboard = web.get(f"/projects/{project.id}").text
    assert f'hx-get="/projects/{project.id}/oracles/panel"' in dashboard
    panel = web.get(f"/projects/{project.id}/oracles/panel")
    assert panel.status_code == 200
    text = re.sub(r"\s+", " ", HTMLISH.sub(" ", panel.text))
    assert "Oracle local" in text
    assert "Accuracy 0.750 (0.301–0.954, n = 4)" in text  # 3 of 4; Wilson 95 % interval
    assert "Answered 4" in text and "Coverage 67 %" in text
    assert "1,200 of 5,000" in text and "0.6000" in text  # tokens of the budget, cost
    assert "Machine-label route: closed — n = 0" in text


def test_no_oracle_no_panel(web: TestClient, db: Database) -> None:
    project = create_project(db, n_items=2)
    panel = web.get(f"/projects/{project.id}/oracles/panel")
    assert panel.status_code == 200 and 'data-testid="oracle-panel"' not in panel.text


def test_multi_label_preselects_and_failures_are_not_shown(web: TestClient, db: Database) -> None:
    project = create_project(db, labels=["sports", "food"], n_items=3, multi_label=True)
    oracle_id = _add_oracle(db, project.id)
    answered, *failed = _items(db, project.id)
    _suggest(db, project.id, oracle_id, {answered: "food"})
    with db.writer() as session, session.begin():
        for item_id in failed:  # calls that failed: no labels, an error
            row = Suggestion(project_id=project.id, item_id=item_id, oracle_id=oracle_id)
            row.labels, row.model, row.prompt_version = None, "small", "v1"
            row.latency_seconds, row.error, row.error_kind = 0.1, "refused", "unreachable"
            session.add(row)
    _preselect(db, project.id)
    screen = web.get(f"/projects/{project.id}/annotate").text
    articles = dict(re.findall(r'<article[^>]*data-item-id="(\d+)"([^>]*)>', screen))
    assert 'data-preselect="[&#34;food&#34;]"' in articles[str(answered)]
    assert all("data-suggestion-id" not in articles[str(i)] for i in failed)
    assert screen.count('data-testid="suggestion"') == 1

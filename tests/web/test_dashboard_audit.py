"""The dashboard shows the audit sample's accuracy beside the cross-validated figures, says what
it means, and plots it with its interval on the learning curve."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import ModelVersion, RunStatus
from app.training.audit import figures
from tests.factories import create_project, queue_and_work
from tests.training.test_audit import AUDITED, N_ITEMS, N_LABELED, mark_audit
from tests.web import test_agreement_panel

web = test_agreement_panel.web  # the fixture: a client with an admin signed in


def _cell(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</(dd|p)>', page, re.S)
    assert match, f"no {testid} on the page"
    return match.group(1)


def test_dashboard_shows_the_audit_accuracy_with_its_interval_and_plots_it(
    web: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=N_ITEMS, n_labeled=N_LABELED)
    mark_audit(db, project, AUDITED)
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    with db.reader() as session:
        version = session.scalars(select(ModelVersion).where(ModelVersion.project_id == project.id))
        audit = figures(version.one().metrics)
    assert audit is not None
    page = web.get(f"/projects/{project.id}").text
    shown = _cell(page, "audit-accuracy")
    assert f"{audit.accuracy:.3f}" in shown
    assert f"{audit.accuracy_low:.3f}–{audit.accuracy_high:.3f}" in shown
    assert f"n = {len(AUDITED)}" in shown
    note = _cell(page, "audit-note")
    assert "drawn at random" in note and "never learnt from" in note
    assert 'class="series audit"' in page and 'class="whisker"' in page
    assert "audit accuracy (random sample" in page  # the legend
    live = web.get(f"/projects/{project.id}/live").text
    assert f"{audit.accuracy:.3f}" in _cell(live, "audit-accuracy")


def test_dashboard_without_audit_labels_shows_a_dash_and_no_audit_curve(
    web: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=N_ITEMS, n_labeled=30)
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    page = web.get(f"/projects/{project.id}").text
    assert _cell(page, "audit-accuracy") == "—"
    assert "audit share" in _cell(page, "audit-note")
    assert re.search(r'data-testid="model-accuracy">0\.\d{3}<', page)  # the CV figure
    assert 'class="series audit"' not in page and 'class="whisker"' not in page


def test_pages_render_with_audit_figures_and_no_cross_validated_ones(
    web: TestClient, db: Database, settings: Settings
) -> None:
    project = create_project(db, n_items=30, n_labeled=6)
    mark_audit(db, project, range(3, 6))  # three labels to train on: too few folds
    assert queue_and_work(db, settings, project).status == RunStatus.SUCCEEDED
    page = web.get(f"/projects/{project.id}")
    assert page.status_code == 200
    assert _cell(page.text, "model-accuracy") == "—"
    assert "n = 3" in _cell(page.text, "audit-accuracy")
    assert "too few audit labels for an interval" in _cell(page.text, "audit-note")
    annotate = web.get(f"/projects/{project.id}/annotate")
    assert annotate.status_code == 200 and "% acc." not in annotate.text

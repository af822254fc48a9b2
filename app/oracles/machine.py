"""The machine-label route: unlabelled items the oracle and the model agree on are labelled
by the machine, only while that route's measured accuracy allows it.

The route is measured on the human-labelled items that were in it when the oracle answered
(``app.oracles.trust.route``); it labels only while the 95 % lower bound of that accuracy is
above the project's ``machine_target``. A machine label is an annotation of source
``machine`` with no annotator: marked in the export, left out of training when
``machine_train`` is off, and sent to review like any other on request. Items someone holds a
lease on are left to that person.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.learning.options import QueryOptions
from app.models import Annotation, Item, Lease, Oracle, Project
from app.models.base import utcnow
from app.oracles import trust
from app.projects.service import options as project_options
from app.training import service as training


def apply(session: Session, project_id: int) -> int:
    """Label what the open routes of the project's oracles allow; returns how many."""
    project = session.get_one(Project, project_id)
    options = project_options(project)
    if not options.machine_labels or project.multi_label:
        return 0
    oracles = session.scalars(
        select(Oracle).where(Oracle.project_id == project_id, Oracle.enabled.is_(True))
    )
    labelled = 0
    for oracle in oracles:
        labelled += _apply_one(session, project, oracle, options)
    if labelled:
        events = session.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(label_events=Project.label_events + labelled)
            .returning(Project.label_events)
        ).scalar_one()
        training.maybe_queue_run(
            session, project_id, label_events=events, batch_size=project.batch_size
        )
    return labelled


def _apply_one(session: Session, project: Project, oracle: Oracle, options: QueryOptions) -> int:
    answered = trust.answers(session, oracle)
    finals = trust.human_finals(session, project, [a.item_id for a in answered])
    if not trust.route(answered, finals, options, 0).open:
        return 0
    agreed = {
        a.item_id: a.label
        for a in answered
        if a.item_id not in finals
        and a.classifier_label == a.label
        and (a.classifier_confidence or 0.0) >= options.machine_threshold
    }
    if not agreed:
        return 0
    free = session.scalars(
        select(Item.id).where(
            Item.id.in_(list(agreed)),
            Item.labeled.is_(False),
            Item.audit.is_(False),
            ~exists().where(Lease.item_id == Item.id),
        )
    ).all()
    now = utcnow()
    for item_id in free:
        session.add(
            Annotation(
                project_id=project.id,
                item_id=item_id,
                user_id=None,
                labels=[agreed[item_id]],
                source="machine",
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()
    return len(free)

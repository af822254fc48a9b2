"""How far an oracle can be trusted: its answers measured against people's final labels.

Measured on the items both labelled (the oracle first, then people), with a Wilson 95 %
interval; the machine-label route is measured on exactly the items that were in the route when
the oracle answered (oracle and published model agree, the model at least ``threshold`` sure),
and only opens while that measurement's lower bound beats the project's target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.annotations.outcomes import item_outcomes
from app.learning import oracle_trust
from app.learning.options import QueryOptions
from app.models import Annotation, Oracle, Project, Suggestion
from app.oracles.schemas import Interval, RouteOut, TrustOut
from app.projects.service import options as project_options


@dataclass(frozen=True)
class Answered:
    item_id: int
    label: str
    classifier_label: str | None
    classifier_confidence: float | None


def answers(session: Session, oracle: Oracle) -> list[Answered]:
    """The oracle's latest answer per item (an item asked again keeps its newest)."""
    stmt = (
        select(
            Suggestion.item_id,
            Suggestion.labels,
            Suggestion.classifier_label,
            Suggestion.classifier_confidence,
        )
        .where(Suggestion.oracle_id == oracle.id, Suggestion.labels.is_not(None))
        .order_by(Suggestion.id)
    )
    latest = {row[0]: row for row in session.execute(stmt)}
    return [Answered(i, r[1][0], r[2], r[3]) for i, r in latest.items() if r[1]]


def human_finals(session: Session, project: Project, item_ids: list[int]) -> dict[int, str]:
    """Final human labels (consensus, adjudication or import; never machine) of ``item_ids``."""
    if not item_ids:
        return {}
    machine = set(
        session.scalars(
            select(Annotation.item_id).where(
                Annotation.project_id == project.id,
                Annotation.source == "machine",
                Annotation.item_id.in_(item_ids),
            )
        )
    )
    options = project_options(project)
    outcomes = item_outcomes(
        session, project.id, options, multi_label=project.multi_label, item_ids=item_ids
    )
    return {
        i: found.outcome.labels[0]
        for i, found in outcomes.items()
        if found.outcome.final and found.outcome.labels and i not in machine
    }


def _interval(successes: int, n: int) -> Interval | None:
    if n == 0:
        return None
    low, high = oracle_trust.wilson_interval(successes, n)
    return Interval(low=low, high=high)


def route(
    answered: list[Answered], finals: dict[int, str], options: QueryOptions, machine: int
) -> RouteOut:
    """The machine-label route's measurement and whether it may label."""
    inside = [
        a
        for a in answered
        if a.item_id in finals
        and a.classifier_label == a.label
        and (a.classifier_confidence or 0.0) >= options.machine_threshold
    ]
    right = sum(finals[a.item_id] == a.label for a in inside)
    n = len(inside)
    is_open = n >= oracle_trust.MIN_ROUTE_SAMPLE and oracle_trust.gate_open(
        right, n, options.machine_target
    )
    return RouteOut(
        threshold=options.machine_threshold,
        target=options.machine_target,
        n=n,
        accuracy=right / n if n else None,
        interval=_interval(right, n),
        open=is_open,
        machine_labels=machine,
    )


def trust(session: Session, project: Project, oracle: Oracle) -> TrustOut:
    answered = answers(session, oracle)
    finals = human_finals(session, project, [a.item_id for a in answered])
    both = [a for a in answered if a.item_id in finals]
    measured = oracle_trust.agreement_metrics(
        [a.label for a in both], [finals[a.item_id] for a in both], project.labels
    )
    with_model = [a for a in answered if a.classifier_label is not None]
    shown = session.execute(
        select(Annotation.suggestion, func.count())
        .join(Suggestion, Suggestion.id == Annotation.suggestion_id)
        .where(Suggestion.oracle_id == oracle.id, Annotation.suggestion.is_not(None))
        .group_by(Annotation.suggestion)
    ).all()
    n_shown = sum(count for _, count in shown)
    accepted = sum(count for kind, count in shown if kind == "accepted")
    options = project_options(project)
    return TrustOut(
        n=measured.n,
        accuracy=measured.accuracy,
        interval=_interval(sum(finals[a.item_id] == a.label for a in both), len(both)),
        macro_f1=measured.macro_f1,
        agreement_with_model=(
            float(np.mean([a.classifier_label == a.label for a in with_model]))
            if with_model
            else None
        ),
        n_with_model=len(with_model),
        accepted_share=accepted / n_shown if n_shown else None,
        n_shown=n_shown,
        route=route(answered, finals, options, machine_count(session, project)),
    )


def machine_count(session: Session, project: Project) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Annotation)
            .where(Annotation.project_id == project.id, Annotation.source == "machine")
        )
        or 0
    )

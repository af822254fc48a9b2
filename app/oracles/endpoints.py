"""JSON routes for a project's oracles: configuration (managers), and what they are worth."""

from __future__ import annotations

import statistics
from collections import Counter

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import ActorDep, ReadSession, SettingsDep, WriteSession
from app.errors import responses
from app.fields import PathId
from app.models import Oracle, Project, Suggestion
from app.oracles import service, trust
from app.oracles.schemas import OracleIn, OracleOut, OraclePatch, OracleStatsOut
from app.projects import service as projects
from app.projects.access import ManagedProject, ManagedReadProject, ReadProject
from app.routing import GuardedRoute

router = APIRouter(
    prefix="/projects/{project_id}/oracles",
    tags=["oracles"],
    responses=responses(404),
    route_class=GuardedRoute,
)


@router.get("", responses=responses(403))
def list_oracles(project: ManagedReadProject, session: ReadSession) -> list[OracleOut]:
    """The project's oracles, their budgets and what they have used (managers)."""
    return [service.out(o) for o in service.list_oracles(session, project)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(403, 409))
def add_oracle(
    project: ManagedProject,
    body: OracleIn,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
) -> OracleOut:
    """Add an oracle; its host must be public or listed in LABELLOOP_ORACLE_HOSTS (audited)."""
    oracle = service.add_oracle(session, project, body, actor=actor, allowed=settings.oracle_hosts)
    return service.out(oracle)


@router.patch("/{oracle_id}", responses=responses(403, 409))
def change_oracle(
    project: ManagedProject,
    oracle_id: PathId,
    body: OraclePatch,
    session: WriteSession,
    actor: ActorDep,
    settings: SettingsDep,
) -> OracleOut:
    """Change an oracle (and clear its back-off: the next batch is asked at once)."""
    oracle = service.get_oracle(session, project, oracle_id)
    changed = service.change_oracle(
        session, project, oracle, body, actor=actor, allowed=settings.oracle_hosts
    )
    return service.out(changed)


@router.delete("/{oracle_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403))
def remove_oracle(
    project: ManagedProject, oracle_id: PathId, session: WriteSession, actor: ActorDep
) -> None:
    """Remove an oracle and its suggestions; labels people gave stay (audited)."""
    service.remove_oracle(
        session, project, service.get_oracle(session, project, oracle_id), actor=actor
    )


@router.get("/{oracle_id}/stats")
def oracle_stats(project: ReadProject, oracle_id: PathId, session: ReadSession) -> OracleStatsOut:
    """Accuracy and macro-F1 against people's labels (95 % interval), agreement with the model,
    coverage, tokens, cost, latency and the machine-label route's state (any member)."""
    return stats(session, project, service.get_oracle(session, project, oracle_id))


def stats(session: Session, project: Project, oracle: Oracle) -> OracleStatsOut:
    rows = session.execute(
        select(Suggestion.labels, Suggestion.error_kind, Suggestion.latency_seconds).where(
            Suggestion.oracle_id == oracle.id
        )
    ).all()
    latencies = sorted(r[2] for r in rows if r[0] is not None)
    answered = trust.answers(session, oracle)
    counts = projects.counts(session, project)
    return OracleStatsOut(
        oracle=service.out(oracle),
        answered=len(answered),
        errors=dict(Counter(r[1] for r in rows if r[1] is not None)),
        coverage=(min(1.0, len(answered) / counts.n_items) if counts.n_items else None),
        latency_median=statistics.median(latencies) if latencies else None,
        latency_p95=latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
        trust=trust.trust(session, project, oracle),
    )

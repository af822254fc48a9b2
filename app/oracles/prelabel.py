"""Background pre-labelling: the worker asks each project's oracles about the items the queue
is about to serve, within their budgets, and stores the answers as suggestions.

One step asks one batch per due oracle. The batch's calls and worst-case tokens are reserved
in the oracle's row first (an UPDATE that succeeds only within the budget), the oracle is asked
outside any transaction, and the calls never sent and the tokens not used are given back:
however many workers run, the budget is never exceeded. A failing, slow, nonsense-answering or
misconfigured oracle is backed off (5 s, doubling, at most 10 minutes) with its last error; the
queue and labelling never wait for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.models import Annotation, Item, Oracle, Project, RankEntry, Suggestion
from app.models.base import utcnow
from app.models.item import UNLABELED
from app.oracles import examples as nearest
from app.oracles import machine
from app.oracles.clients import Client, model_name
from app.oracles.openai import OracleResult
from app.projects.service import options as project_options

log = logging.getLogger("labelloop.oracles")

PER_WORKER = 4  # items per concurrent call in one batch
MAX_EXAMPLE_POOL = 2000  # the most recent human labels searched for examples
BACKOFF_FIRST, BACKOFF_MAX = 5.0, 600.0
FINAL_KINDS = ("format", "label")  # a nonsense answer is not asked again; a timeout is


@dataclass(frozen=True)
class Batch:
    oracle_id: int
    ids: list[int]
    texts: list[str]
    guesses: list[tuple[str | None, float | None]]  # the published model's, when ranked


@dataclass(frozen=True)
class Refund:
    """What a batch gives back of its reservation."""

    calls: int
    tokens: int


def due_oracles(session: Session, now: datetime) -> list[Oracle]:
    """Enabled oracles out of back-off with budget left, oldest first."""
    stmt = select(Oracle).where(
        Oracle.enabled.is_(True),
        or_(Oracle.backoff_until.is_(None), Oracle.backoff_until <= now),
        or_(Oracle.budget_calls.is_(None), Oracle.calls_used < Oracle.budget_calls),
        or_(Oracle.budget_tokens.is_(None), Oracle.tokens_used < Oracle.budget_tokens),
    )
    return list(session.scalars(stmt.order_by(Oracle.id)))


def _asked(oracle_id: int) -> Any:
    """Items this oracle answered (or answered with nonsense): not asked again."""
    s = Suggestion.__table__.c
    return exists().where(
        s.oracle_id == oracle_id,
        s.item_id == Item.id,
        or_(s.error_kind.is_(None), s.error_kind.in_(FINAL_KINDS)),
    )


def pick(session: Session, oracle: Oracle, project: Project, n: int) -> Batch:
    """The next ``n`` unlabelled items to ask about: the current ranking's order first (the
    items about to be served), then the seeded random order. Audit items are left out: a
    suggestion shown there would bias the honest measurement."""
    base = and_(Item.project_id == project.id, UNLABELED, ~Item.audit, ~_asked(oracle.id))
    rows: list[tuple[int, str, dict[str, Any] | None]] = []
    if project.current_model_id is not None:
        ranked = (
            select(Item.id, Item.text, RankEntry.prediction)
            .join(RankEntry, RankEntry.item_id == Item.id)
            .where(RankEntry.model_version_id == project.current_model_id, base)
            .order_by(RankEntry.rank)
            .limit(n)
        )
        rows += [(r[0], r[1], r[2]) for r in session.execute(ranked)]
    if len(rows) < n:
        taken = [r[0] for r in rows]
        rest = (
            select(Item.id, Item.text)
            .where(base, Item.id.not_in(taken))
            .order_by(Item.random_key, Item.id)
            .limit(n - len(rows))
        )
        rows += [(i, t, None) for i, t in session.execute(rest)]
    return Batch(
        oracle.id, [r[0] for r in rows], [r[1] for r in rows], [_guess(r[2]) for r in rows]
    )


def _guess(prediction: dict[str, Any] | None) -> tuple[str | None, float | None]:
    if not prediction or "label" not in prediction:
        return None, None
    label = prediction["label"]
    return label, prediction.get("probabilities", {}).get(label)


def example_pool(session: Session, project_id: int) -> list[nearest.Labelled]:
    """The most recent human labels of the project (imported labels too), newest first."""
    stmt = (
        select(Item.id, Item.text, Annotation.labels)
        .join(Annotation, Annotation.item_id == Item.id)
        .where(Annotation.project_id == project_id, Annotation.source != "machine")
        .order_by(Annotation.id.desc())
        .limit(MAX_EXAMPLE_POOL)
    )
    seen: dict[int, nearest.Labelled] = {}
    for item_id, text, labels in session.execute(stmt):
        seen.setdefault(item_id, nearest.Labelled(item_id, text, tuple(labels)))
    return list(seen.values())


def reserve(session: Session, oracle_id: int, calls: int, tokens: int) -> bool:
    """Take ``calls`` and ``tokens`` from the budget, all or nothing."""
    o = Oracle.__table__.c
    done = session.execute(
        update(Oracle.__table__)
        .where(
            o.id == oracle_id,
            or_(o.budget_calls.is_(None), o.calls_used + calls <= o.budget_calls),
            or_(o.budget_tokens.is_(None), o.tokens_used + tokens <= o.budget_tokens),
        )
        .values(calls_used=o.calls_used + calls, tokens_used=o.tokens_used + tokens)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def record(
    session: Session,
    batch: Batch,
    results: list[OracleResult],
    *,
    model: str,
    prompt_version: str,
    given_back: Refund,
    project_id: int,
) -> None:
    """Store every answer, give back the unused budget, and back the oracle off if most
    failed."""
    now = utcnow()
    for item_id, (label, sure), result in zip(batch.ids, batch.guesses, results, strict=True):
        session.add(
            Suggestion(
                project_id=project_id,
                item_id=item_id,
                oracle_id=batch.oracle_id,
                labels=None if result.label is None else [result.label],
                confidence=result.confidence,
                model=model[:200],
                prompt_version=prompt_version,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                latency_seconds=result.latency_seconds,
                error=result.error,
                error_kind=result.error_kind,
                classifier_label=label,
                classifier_confidence=sure,
                created_at=now,
            )
        )
    oracle = session.get_one(Oracle, batch.oracle_id, with_for_update=True)
    oracle.calls_used = max(0, oracle.calls_used - given_back.calls)
    oracle.tokens_used = max(0, oracle.tokens_used - given_back.tokens)
    failed = [r for r in results if r.error is not None]
    if results and len(failed) * 2 >= len(results):
        back_off(oracle, now, f"{failed[0].error_kind}: {failed[0].error}")
    else:
        oracle.failures, oracle.backoff_until = 0, None


def back_off(oracle: Oracle, now: datetime, error: str) -> None:
    """One more failure in a row: the oracle rests, twice as long as the last time."""
    oracle.failures += 1
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (oracle.failures - 1))
    oracle.backoff_until = now + timedelta(seconds=delay)
    oracle.last_error = error[:2000]
    log.warning("oracle %s backs off %.0f s: %s", oracle.id, delay, oracle.last_error)


def refund(results: list[OracleResult], bounds: list[int]) -> Refund:
    """The calls never sent (refused here, or no connection) and the tokens the answers did
    not use: a call never sent spent nothing, an answer without usage keeps its bound."""
    calls = tokens = 0
    for result, bound in zip(results, bounds, strict=True):
        used = result.total_tokens
        if not result.sent:
            calls, tokens = calls + 1, tokens + bound
        elif used is not None:
            tokens += max(0, bound - used)
    return Refund(calls, tokens)


def step(db: Database, settings: Settings) -> bool:
    """Ask one batch of every due oracle; returns whether any oracle was asked."""
    with db.reader() as session:
        due = [(o.id, o.project_id) for o in due_oracles(session, utcnow())]
    asked = False
    for oracle_id, project_id in due:
        try:
            asked |= _one(db, settings, oracle_id, project_id)
        except Exception as exc:  # noqa: BLE001 - one oracle's trouble never stops the others
            log.exception("pre-labelling with oracle %s failed", oracle_id)
            _rest(db, oracle_id, _describe(exc))
    return asked


def _rest(db: Database, oracle_id: int, error: str) -> None:
    """Back off an oracle whose step raised (a stored configuration that no longer parses,
    say): the next poll would only fail the same way, and its status says why."""
    with db.writer() as session, session.begin():
        oracle = session.get(Oracle, oracle_id, with_for_update=True)
        if oracle is not None:
            back_off(oracle, utcnow(), error)


def _describe(exc: Exception) -> str:
    """An oracle's status line for ``exc``: a stored configuration that no longer fits its kind
    names the fields, never their values (a URL with credentials in it, say)."""
    if isinstance(exc, ValidationError):
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in problems)
        return f"config: the stored configuration does not fit its kind: {fields}"
    return f"error: {type(exc).__name__}: {exc}"


def _one(db: Database, settings: Settings, oracle_id: int, project_id: int) -> bool:
    with db.reader() as session:
        oracle = session.get_one(Oracle, oracle_id)
        project = session.get_one(Project, project_id)
        options = project_options(project)
        client = Client(oracle, project, settings.oracle_hosts)
        batch = pick(session, oracle, project, max(1, oracle.concurrency) * PER_WORKER)
        pool = example_pool(session, project_id) if options.oracle_examples else []
        model = model_name(oracle)
    try:
        if not batch.ids:
            return False
        embeddings = (
            settings.project_dir(project_id) / "embeddings" if options.features != "tfidf" else None
        )
        shots = nearest.nearest(
            list(zip(batch.ids, batch.texts, strict=True)),
            pool,
            options.oracle_examples,
            embeddings_dir=embeddings,
        )
        bounds = [client.token_bound(t, s) for t, s in zip(batch.texts, shots, strict=True)]
        batch, shots, bounds = _fit(db, batch, shots, bounds)
        if not batch.ids:
            return False
        results = client.ask(batch.texts, shots)
        with db.writer() as session, session.begin():
            record(
                session,
                batch,
                results,
                model=model,
                prompt_version=client.prompt_version,
                given_back=refund(results, bounds),
                project_id=project_id,
            )
            machine.apply(session, project_id)
        return True
    finally:
        client.close()


def _fit(
    db: Database, batch: Batch, shots: list[Any], bounds: list[int]
) -> tuple[Batch, list[Any], list[int]]:
    """Reserve the largest head of the batch the budget allows (possibly none)."""
    n = len(batch.ids)
    while n > 0:
        with db.writer() as session, session.begin():
            if reserve(session, batch.oracle_id, n, sum(bounds[:n])):
                break
        n = n // 2 if n > 1 else 0
    head = Batch(batch.oracle_id, batch.ids[:n], batch.texts[:n], batch.guesses[:n])
    return head, shots[:n], bounds[:n]

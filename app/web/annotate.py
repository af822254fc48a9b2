"""The annotate screen: one item at a time, keyboard-driven, the next items fetched ahead.

The page holds the current item plus a few leased items ahead (``BUFFER``); the browser shows
the next one the moment a key is pressed and posts the label in the background. Each answer
brings one more item for the buffer, and out-of-band updates of progress and history.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.annotations import keyed
from app.annotations import service as labelling
from app.annotations.endpoints import IdempotencyKeyHeader
from app.deps import LeaseSession, ReadSession, SettingsDep, WriteSession
from app.errors import Conflict, Invalid
from app.fields import FormId, PathId
from app.items import display
from app.models import Annotation, Lease, ModelVersion, Project, User
from app.models.base import utcnow
from app.oracles import suggestions
from app.projects import service as projects
from app.projects import shape
from app.queue import service as queue
from app.ratelimits import web_rate_limited
from app.routing import GuardedRoute
from app.training import guess, summary
from app.training import service as training
from app.training.details import ModelDetails
from app.web.access import WebLeaseProject, WebReadProject, WebWriteProject
from app.web.security import WebUser, check_csrf
from app.web.templating import render

# The sidebar shows the last few labels: enough to catch a slip, short enough to stay beside
# the item (older ones are changed from the items page).
HISTORY_SHOWN = 8
router = APIRouter(dependencies=[Depends(check_csrf)], route_class=GuardedRoute)
BUFFER = 4
TEMPLATE = "annotate.html"
# The API's limits (app.ratelimits): a label from the screen also fetches the next items.
QUEUE, LABEL = web_rate_limited("queue"), web_rate_limited("label")
BOTH = QUEUE + LABEL


def _have(have: str) -> set[int]:
    return {int(part) for part in have.split(",") if part.strip().isdigit()}


def _progress(session: Session, project: Project) -> dict[str, Any]:
    counts = projects.counts(session, project)
    model = training.published_model(session, project)
    return {
        "counts": counts,
        "model": model,
        "status": training.status(session, project.id),
        "until_retrain": summary.labels_until_retrain(session, project),
    }


def _warm_up(project: Project, model: ModelVersion | None) -> dict[str, Any]:
    """How many ranked items lead as warm-up picks (typical items, not the strategy's)."""
    warm = model is not None and ModelDetails.of(model).warm_up
    return {
        "warm_up_picks": project.batch_size if warm else 0,
        "warm_up_per_label": projects.options(project).warm_up,
    }


SHORTCUTS = [str(d) for d in range(1, 10)] + list("abcdefghijklmnopqrtvwxyz")  # not s, u
MANY_LABELS = 9  # above this, a filter box beside the item finds a label
N_SUGGESTED = 3  # the model's top guesses offered on keys 1-3 (single-label, many labels)
CORRECTION_KEY = "e"  # translation review: focuses the correction box, so no label's key
# Sentence selection: the usual names of its two labels get a letter too (their number keys
# work as well), as long as the numbers cover every label and the letters are free.
LETTERS = {"include": "i", "exclude": "x"}


def _label_keys(project: Project, *, suggest: bool) -> list[tuple[str, str, str]]:
    """(label, shortcut key, second key) in the project's order, so a key always means the
    same label; with suggestions, 1-3 belong to the model's top guesses and the labels' keys
    start at 4."""
    keys = SHORTCUTS[N_SUGGESTED:] if suggest else SHORTCUTS
    if project.task == shape.TRANSLATION_REVIEW:
        keys = [k for k in keys if k != CORRECTION_KEY]
    letters = project.task == shape.SENTENCE_SELECTION and len(project.labels) < 10
    return [
        (
            label,
            keys[i] if i < len(keys) else "",
            LETTERS.get(label.casefold(), "") if letters else "",
        )
        for i, label in enumerate(project.labels)
    ]


def _layout(project: Project) -> dict[str, Any]:
    many = len(project.labels) > MANY_LABELS
    suggest = many and not project.multi_label
    return {
        "many": many,
        "suggest": suggest,
        "labels": _label_keys(project, suggest=suggest),
        "correction_key": CORRECTION_KEY,
        "max_correction": labelling.MAX_CORRECTION,
        "side_by_side": display.side_by_side(project),
    }


def _by_frequency(session: Session, project: Project) -> list[str]:
    """Labels for the type-to-filter picker, the most used first."""
    counts = labelling.label_counts(session, project)
    return sorted(project.labels, key=lambda label: -counts[label])


def _empty_reason(session: Session, project: Project) -> str:
    counts = projects.counts(session, project)
    if counts.n_items == 0:
        return "This project has no items yet: an admin can import a dataset."
    overlap = projects.options(project).overlap
    if overlap > 1:
        return (
            f"Nothing left for you: each item is asked of {overlap} annotators, and every "
            "item you have not labelled has its annotators already (labelled or reserved). "
            "Reserved items come back when their lease expires."
        )
    if counts.n_unlabeled == 0:
        return f"All {counts.n_items} items are labelled. Nothing left to do here."
    leased = (
        session.scalar(
            select(func.count()).where(
                Lease.project_id == project.id,
                Lease.expires_at > utcnow(),
                Lease.expires_at < queue.SETTLED,
            )
        )
        or 0
    )
    return (
        f"The {counts.n_unlabeled} unlabelled items are reserved by annotators or skipped "
        f"by you ({leased} reserved now). Reserved items come back when their lease expires."
    )


def _oracle(session: Session, project: Project, items: list[queue.QueueItem]) -> dict[str, Any]:
    """The oracles' suggestions for ``items``, and whether the screen pre-selects them."""
    found = suggestions.for_items(session, project.id, [q.item.id for q in items])
    return {
        "suggested": {item_id: s for item_id, s in found.items() if s.labels},  # not failures
        "preselect": projects.options(project).suggest_preselect,
    }


def _context(
    session: Session, project: Project, user: User, settings: SettingsDep, **extra: Any
) -> dict[str, Any]:
    return {
        "current_user": user,
        "project": project,
        **_layout(project),
        **_oracle(session, project, extra.get("items", [])),
        "views": display.shown(
            session,
            project,
            [q.item.id for q in extra.get("items", [])],
            undone_by=user.id if extra.get("undone") else None,
        ),
        "picker": _by_frequency(session, project),
        "history": labelling.history(session, project, user, limit=HISTORY_SHOWN),
        "lease_minutes": settings.lease_seconds // 60,
        **(progress := _progress(session, project)),
        **_warm_up(project, progress["model"]),
        **extra,
    }


def _fetch(
    session: Session,
    project: Project,
    user: User,
    settings: SettingsDep,
    have: set[int],
    want: int,
) -> tuple[list[queue.QueueItem], int | None]:
    # The page says which items it holds; whatever it claims, nobody holds more leases
    # through this screen than the API's queue limit allows.
    limit = min(len(have) + want, settings.queue_max_limit)
    batch = queue.next_items(
        session, project, user, limit=limit, lease_seconds=settings.lease_seconds
    )
    fresh = [q for q in batch.items if q.item.id not in have][:want]
    return fresh, batch.model_version


@router.get("/projects/{project_id}/annotate", response_class=HTMLResponse, dependencies=QUEUE)
def annotate_page(
    request: Request,
    project: WebLeaseProject,
    session: LeaseSession,  # writes only leases
    settings: SettingsDep,
    user: WebUser,
) -> HTMLResponse:
    """The annotate screen with the current item and the next ones fetched ahead."""
    items, version = _fetch(session, project, user, settings, set(), BUFFER)
    context = _context(
        session,
        project,
        user,
        settings,
        items=items,
        model_version=version,
        empty_reason=None if items else _empty_reason(session, project),
    )
    return render(request, TEMPLATE, context)


def _after_submit(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    settings: SettingsDep,
    items: list[queue.QueueItem],
    **extra: Any,
) -> HTMLResponse:
    """Items for the page's buffer plus out-of-band progress, history and empty notice."""
    context = _context(session, project, user, settings, items=items, oob=True, **extra)
    return render(request, TEMPLATE, context, block="after_submit")


def _next_fragment(
    request: Request,
    session: Session,
    project: Project,
    user: User,
    settings: SettingsDep,
    have: set[int],
) -> HTMLResponse:
    items, version = _fetch(session, project, user, settings, have, max(1, BUFFER - len(have)))
    empty = None if items else _empty_reason(session, project)
    return _after_submit(
        request,
        session,
        project,
        user,
        settings,
        items,
        model_version=version,
        empty_reason=empty,
        hide_all=True,
    )


@router.post(
    "/projects/{project_id}/annotate/submit", response_class=HTMLResponse, dependencies=BOTH
)
def submit(
    request: Request,
    project: WebWriteProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    item_id: FormId,
    label: Annotated[list[str], Form()] = (),  # type: ignore[assignment]
    have: Annotated[str, Form(max_length=2000)] = "",
    flag: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=labelling.MAX_COMMENT)] = "",
    suggestion_id: Annotated[int | None, Form(ge=1)] = None,
    correction: Annotated[str | None, Form(max_length=2 * labelling.MAX_CORRECTION)] = None,
    key: IdempotencyKeyHeader = None,
) -> HTMLResponse:
    """Store a label (with the annotator's doubt, if any) and hand back one more item.

    The screen retries unsent labels with the key it gave them: a retry stores nothing twice.
    A label given with an oracle's suggestion in view names it, and is marked as that
    suggestion accepted or changed.
    """
    doubt = labelling.check_doubt(flag or None, comment)
    shown = _suggested(session, project.id, item_id, suggestion_id)
    wrote = keyed.submit_once(
        session,
        project,
        user,
        key=key,
        item_id=item_id,
        labels=list(label),
        doubt=doubt,
        correction=correction,
    )
    if wrote and suggestion_id is not None and shown is not None:
        _mark(session, user, item_id, suggestion_id, shown)
    return _next_fragment(request, session, project, user, settings, _have(have) - {item_id})


def _mark(session: Session, user: User, item_id: int, suggestion_id: int, shown: list[str]) -> None:
    """Mark the user's label of the item as given with the suggestion in view."""
    mine = select(Annotation.id).where(Annotation.item_id == item_id, Annotation.user_id == user.id)
    suggestions.mark(session, session.scalars(mine).one(), suggestion_id, shown)


def _suggested(
    session: Session, project_id: int, item_id: int, suggestion_id: int | None
) -> list[str] | None:
    """The labels the annotator was shown, checked before the label is stored. A suggestion
    gone since (its oracle was removed) is no reason to lose a label kept in the browser:
    the label is stored unmarked."""
    if suggestion_id is None:
        return None
    try:
        return suggestions.check(session, project_id, item_id, suggestion_id)
    except Invalid:
        return None


@router.post(
    "/projects/{project_id}/annotate/skip", response_class=HTMLResponse, dependencies=QUEUE
)
def skip(
    request: Request,
    project: WebLeaseProject,
    session: LeaseSession,  # writes only leases
    settings: SettingsDep,
    user: WebUser,
    item_id: FormId,
    have: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Pass on an item (it goes to someone else) and hand back one more item."""
    queue.skip(session, project, user, item_id)
    return _next_fragment(request, session, project, user, settings, _have(have) - {item_id})


@router.post("/projects/{project_id}/annotate/undo", response_class=HTMLResponse)
def undo(
    request: Request,
    project: WebWriteProject,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
) -> HTMLResponse:
    """Withdraw the last label; the item comes back on screen to be labelled again."""
    item = labelling.undo_last(session, project, user, lease_seconds=settings.lease_seconds)
    if item is None:
        raise Conflict("nothing to undo yet")
    prediction = guess.stored_prediction(session, project.id, item.id)
    undone = queue.QueueItem(item=item, score=None, prediction=prediction)
    return _after_submit(
        request,
        session,
        project,
        user,
        settings,
        [undone],
        undone=True,
        model_version=None,
        empty_reason=None,
        hide_all=False,
    )


@router.post(
    "/projects/{project_id}/annotate/history/{item_id}",
    response_class=HTMLResponse,
    dependencies=LABEL,
)
def relabel(
    request: Request,
    project: WebWriteProject,
    item_id: PathId,
    session: WriteSession,
    settings: SettingsDep,
    user: WebUser,
    label: Annotated[list[str], Form()] = (),  # type: ignore[assignment]
    correction: Annotated[str | None, Form(max_length=2 * labelling.MAX_CORRECTION)] = None,
) -> HTMLResponse:
    """Change a label from the history panel (its correction, if any, kept)."""
    labelling.submit(
        session, project, user, item_id=item_id, labels=list(label), correction=correction
    )
    context = _context(
        session, project, user, settings, items=[], model_version=None, empty_reason=None
    )
    return render(request, TEMPLATE, context, block="history")


@router.get("/projects/{project_id}/annotate/progress", response_class=HTMLResponse)
def progress(
    request: Request, project: WebReadProject, session: ReadSession, user: WebUser
) -> HTMLResponse:
    """The progress bar and model status (polled)."""
    context = {"current_user": user, "project": project, **_progress(session, project)}
    return render(request, TEMPLATE, context, block="progress")

"""A label from the annotate screen sent with an idempotency key: the browser keeps unsent
labels and retries them, so a retry whose first attempt was stored must not store again."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

from sqlalchemy.orm import Session

from app.annotations import idempotency
from app.annotations.service import Doubt, LabelRules, submit
from app.models import User

STORED = 200  # the status recorded under the key; the screen replays it as "already stored"


def submit_once(
    session: Session,
    project: LabelRules,
    user: User,
    *,
    key: str | None,
    item_id: int,
    labels: list[str],
    doubt: Doubt,
    correction: str | None = None,
) -> bool:
    """Store the label unless ``key`` already stored this very request; True if it wrote.

    A translation review's ``correction`` goes with the label. Without a key this is a plain
    submit. The same key with another item or label is refused (422) like on the API; keys
    are the user's, shared with the API, and kept 24 hours.
    """
    label: dict[str, object] = {"item_id": item_id, "labels": labels}
    store = partial(submit, session, project, user, item_id=item_id, labels=labels)
    if key is None:
        store(doubt=doubt, correction=correction)
        return True
    body: dict[str, object] = {**label, **asdict(doubt)}
    if correction is not None:  # keys given before corrections existed keep their fingerprint
        body["correction"] = correction
    request_hash = idempotency.fingerprint("POST", f"/projects/{project.id}/annotate", body)
    if idempotency.claim(session, user.id, key, request_hash) is not None:
        return False
    store(doubt=doubt, correction=correction)
    idempotency.record(session, user.id, key, STORED, label)
    return True

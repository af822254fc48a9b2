"""The review queue's JSON shapes, and the body of an adjudication."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.fields import Text
from app.items.documents import PlaceOut
from app.review.service import MAX_NOTE, Entry


class AdjudicationIn(BaseModel):
    """``label`` for single-label projects, ``labels`` (a list) for multi-label ones."""

    model_config = ConfigDict(strict=True, extra="forbid")

    label: Text | None = Field(default=None, max_length=200)
    labels: list[Text] | None = Field(default=None, max_length=1000)
    note: Text | None = Field(default=None, max_length=MAX_NOTE)

    @model_validator(mode="after")
    def _one_of(self) -> AdjudicationIn:
        if (self.label is None) == (self.labels is None):
            raise ValueError("send exactly one of 'label' or 'labels'")
        return self

    def label_list(self) -> list[str]:
        return [self.label] if self.label is not None else list(self.labels or [])


class VoteOut(BaseModel):
    annotator: str | None = Field(description="None for an imported label.")
    labels: list[str]
    flag: str | None
    comment: str | None
    labelled_at: datetime
    correction: str | None = Field(
        description="Translation review: the annotator's corrected translation (None: none)."
    )


class GuessOut(BaseModel):
    labels: list[str]
    confidence: float | None
    source: str = Field(description='"label issues" (out-of-fold) or "model vN".')


class OutcomeOut(BaseModel):
    status: str = Field(description="pending, individual, consensus, disagreement or adjudicated.")
    labels: list[str] = Field(description="The final label(s); empty unless final.")
    agreement: float


class AdjudicationOut(BaseModel):
    labels: list[str]
    reviewer: str | None
    reason: str = Field(description="disagreement, flagged, suspicious, requested or manual.")
    note: str | None
    updated_at: datetime


class ReviewItemOut(BaseModel):
    item_id: int
    external_id: str | None
    text: str = Field(description="The primary field's text.")
    fields: dict[str, str] | None = Field(
        description="Every named field of the item, as the queue gives them (None: one text)."
    )
    document: PlaceOut | None = Field(description="A sentence's place in its document.")
    reasons: list[str] = Field(
        description="disagreement, flagged, suspicious and/or requested (sent to review by hand)."
    )
    annotations: list[VoteOut]
    outcome: OutcomeOut
    model_guess: GuessOut | None
    adjudication: AdjudicationOut | None


class ReviewQueueOut(BaseModel):
    items: list[ReviewItemOut]
    next_after: int | None = Field(description="Pass as ``after`` for the next page.")


def entry_out(entry: Entry) -> ReviewItemOut:
    adjudication = entry.adjudication
    return ReviewItemOut(
        item_id=entry.item.id,
        external_id=entry.item.external_id,
        text=entry.item.text,
        fields=entry.item.fields,
        document=entry.place,
        reasons=entry.reasons,
        annotations=[VoteOut(**vars(v)) for v in entry.votes],
        outcome=OutcomeOut(
            status=entry.outcome.status,
            labels=list(entry.outcome.labels),
            agreement=entry.outcome.agreement,
        ),
        model_guess=GuessOut(**vars(entry.guess)) if entry.guess else None,
        adjudication=None
        if adjudication is None
        else AdjudicationOut(
            labels=adjudication.labels,
            reviewer=entry.reviewer,
            reason=adjudication.reason,
            note=adjudication.note,
            updated_at=adjudication.updated_at,
        ),
    )

"""The checks an import makes of its records once they are read: labels the project has, one
label per text, ids neither repeated nor taken. Each refusal names the row and line through
the formatter of every import error (``formats.base.located``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NoReturn, Protocol

from app.errors import Invalid
from app.items.formats import Record
from app.items.formats.base import located, where
from app.items.staging import Labelled

ID_TWICE = "id {!r} appears twice in the file"
ID_TAKEN = "id {!r} already exists in the project"


class Placed(Protocol):
    """Where a record is in the file: a read record, or a staged row."""

    @property
    def row(self) -> int: ...

    @property
    def line(self) -> int | None: ...


def refuse(place: Placed, problem: str) -> NoReturn:
    """Refuse the import (422) for ``problem`` at ``place``: "row 2 (line 3): ..."."""
    raise Invalid(located(problem, place.row, place.line))


def check_labels(labels: tuple[str, ...], chunk: list[Record]) -> None:
    """Refuse the first record with a label the project (``labels``) does not have."""
    known = set(labels)
    for record in chunk:
        for label in record.labels:
            if label not in known:
                listed = ", ".join(labels[:20]) + (", ..." if len(labels) > 20 else "")
                refuse(record, f"unknown label {label!r}; the project's labels are: {listed}")


def check_id(record: Record, seen: set[str], taken: Collection[str]) -> None:
    """Refuse the record's id if an earlier record (``seen``, which it joins) or the project
    (``taken``) has it."""
    external_id = record.external_id
    if external_id is None:
        return
    if external_id in seen:
        refuse(record, ID_TWICE.format(external_id))
    if external_id in taken:
        refuse(record, ID_TAKEN.format(external_id))
    seen.add(external_id)


def first_of_each(
    chunk: list[Record], hashes: list[bytes], known: Collection[bytes]
) -> tuple[dict[bytes, Record], list[tuple[bytes, Record]]]:
    """The first record of each item (by hash) the project does not have (``known``), and
    the probes: a text's first labelled record where its first record has no label, staged
    too so that ``refuse_conflicts`` sees its labels (then dropped as a repeat).

    Two records of one text with different labels are refused: the file contradicts itself.
    """
    fresh: dict[bytes, Record] = {}
    labelled: dict[bytes, Record] = {}
    for record, digest in zip(chunk, hashes, strict=True):
        if record.labels:
            first = labelled.setdefault(digest, record)
            if set(first.labels) != set(record.labels):
                _refuse_conflict(Labelled(first.row, first.line, first.labels), record)
        if digest not in known and digest not in fresh:
            fresh[digest] = record
    probes = [(d, r) for d, r in labelled.items() if d in fresh and fresh[d] is not r]
    return fresh, probes


def refuse_conflicts(pairs: Iterable[tuple[Labelled, Labelled]]) -> None:
    """Refuse the first (earlier, later) pair of rows of one text whose label sets differ."""
    for first, later in pairs:
        if set(first.labels) != set(later.labels):
            _refuse_conflict(first, later)


def _refuse_conflict(first: Labelled, later: Record | Labelled) -> NoReturn:
    here, there = _labels_text(later.labels), _labels_text(first.labels)
    earlier = where(first.row, first.line)
    refuse(
        later,
        f"labelled {here}, but {earlier} has the same text labelled {there}; "
        "give the text one label (or leave it out of one row)",
    )


def _labels_text(labels: tuple[str, ...]) -> str:
    return " and ".join(repr(label) for label in labels)

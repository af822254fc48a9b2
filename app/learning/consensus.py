"""An item's consensus: what its annotators' labels add up to, or why it goes to review.

Pure: label lists in, an :class:`Outcome` out. Majority vote, as Prodigy's review recipe and
most crowd-labelling studies start from; a tie, or a majority shared by fewer than
``min_agreement`` of the annotators, is not a consensus but a question for a reviewer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["pending", "individual", "consensus", "disagreement", "adjudicated"]


@dataclass(frozen=True)
class Outcome:
    """``labels`` is what training and the export use; empty unless the status is final.

    * ``pending``: fewer labels than the project asks for (overlap);
    * ``individual``: one annotator's label in a project with overlap 1;
    * ``consensus``: the majority of several annotators;
    * ``disagreement``: a tie or too little agreement, waiting for review;
    * ``adjudicated``: a reviewer's label, whatever the annotators said.
    """

    status: Status
    labels: tuple[str, ...]
    agreement: float  # share of the annotators who gave exactly ``labels`` (0 if none)

    @property
    def final(self) -> bool:
        return self.status in ("individual", "consensus", "adjudicated")


def consensus(
    votes: Sequence[Sequence[str]],
    *,
    overlap: int,
    min_agreement: float,
    multi_label: bool = False,
    adjudicated: Sequence[str] | None = None,
) -> Outcome:
    """The outcome of one item's annotations (one label list per annotator).

    With one vote and overlap 1 the vote is the label. With several votes (overlap > 1, or a
    second opinion asked of an overlap-1 item) a single-label item takes the most frequent
    label unless another is as frequent (a tie) or its share is below ``min_agreement``; a
    multi-label item takes every label more than half the annotators gave, and its agreement
    is the share of annotators whose set is exactly that one. An adjudication overrides all.
    """
    if adjudicated is not None:
        return Outcome("adjudicated", tuple(adjudicated), _share(votes, tuple(adjudicated)))
    if not votes or len(votes) < overlap:
        return Outcome("pending", (), 0.0)
    if len(votes) == 1:
        return Outcome("individual", tuple(votes[0]), 1.0)
    labels = _majority_set(votes) if multi_label else _majority_label(votes)
    if labels is None:
        return Outcome("disagreement", (), 0.0)
    agreement = _share(votes, labels)
    if agreement < min_agreement or (multi_label and agreement == 0.0):
        return Outcome("disagreement", (), agreement)
    return Outcome("consensus", labels, agreement)


def _majority_label(votes: Sequence[Sequence[str]]) -> tuple[str, ...] | None:
    counts = Counter(tuple(vote) for vote in votes).most_common(2)
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def _majority_set(votes: Sequence[Sequence[str]]) -> tuple[str, ...]:
    counts = Counter(label for vote in votes for label in set(vote))
    return tuple(sorted(label for label, n in counts.items() if 2 * n > len(votes)))


def _share(votes: Sequence[Sequence[str]], labels: tuple[str, ...]) -> float:
    if not votes:
        return 0.0
    wanted = sorted(labels)
    return sum(sorted(vote) == wanted for vote in votes) / len(votes)

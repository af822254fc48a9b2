"""What an oracle is told: the project's guidelines, its labels (with their one-line
descriptions) and a few human-labelled examples close to the item.

The text of the instructions is versioned (``version``): every suggestion records the version
it was asked with, so a change of guidelines or descriptions shows in the measurements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TEMPLATE = "1"  # bump when the wording below changes
MAX_EXAMPLE_CHARS = 500  # of each example's text: long examples crowd out the item


@dataclass(frozen=True, slots=True)
class Example:
    """A human-labelled item shown to the oracle as a worked example."""

    text: str
    labels: tuple[str, ...]


def instructions(guidelines: str, labels: Sequence[str], descriptions: Mapping[str, str]) -> str:
    """The project's guidelines, then one line per label that has a description."""
    parts = [guidelines.strip()] if guidelines.strip() else []
    described = [f"- {label}: {descriptions[label]}" for label in labels if descriptions.get(label)]
    if described:
        parts.append("What the labels mean:\n" + "\n".join(described))
    return "\n\n".join(parts)


def version(text: str) -> str:
    """A short fingerprint of the template and the project's instructions."""
    return hashlib.sha256(f"{TEMPLATE}\n{text}".encode()).hexdigest()[:12]


def examples_block(examples: Sequence[Example]) -> str:
    """The examples as ``Text: ... / Label: ...`` pairs (empty without examples)."""
    if not examples:
        return ""
    lines = ["Labelled examples:"]
    for example in examples:
        text = " ".join(example.text.split())[:MAX_EXAMPLE_CHARS]
        lines.append(f"Text: {text}\nLabel: {', '.join(example.labels)}")
    return "\n\n".join(lines)

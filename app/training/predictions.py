"""Turn probability rows into the API's prediction objects."""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_LISTED = 10


def to_predictions(
    proba: np.ndarray, labels: list[str], *, multi_label: bool
) -> list[dict[str, Any]]:
    """One prediction dict per row of ``proba`` (shape (n, k), k = len(labels)).

    Probabilities list every label for up to 10 labels, else the 10 most likely.
    """
    out: list[dict[str, Any]] = []
    k = len(labels)
    top = np.argsort(-proba, axis=1, kind="stable")[:, : min(k, MAX_LISTED)]
    for row, order in zip(proba, top, strict=True):
        probabilities = {labels[j]: round(float(row[j]), 4) for j in order}
        if multi_label:
            out.append(
                {
                    "labels": [labels[j] for j in range(k) if row[j] >= 0.5],
                    "probabilities": probabilities,
                }
            )
        else:
            out.append({"label": labels[int(order[0])], "probabilities": probabilities})
    return out

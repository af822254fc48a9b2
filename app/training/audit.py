"""The audit sample's figures of a run: the fitted model's accuracy and macro-F1 on the
project's audit items (drawn uniformly at random, never trained on), stored with the version's
metrics under ``audit_*`` keys and read back for the API, the dashboard and the curve."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from app.learning.audit import AuditMetrics, audit_metrics

if TYPE_CHECKING:  # the worker's types: the web reads the figures without scikit-learn
    from app.training.featurestore import PoolFeatures
    from app.training.snapshot import Snapshot

PREFIX = "audit_"
_FIELDS = tuple(AuditMetrics.__dataclass_fields__)
_REQUIRED = ("n", "accuracy", "accuracy_low", "accuracy_high", "macro_f1")  # no interval: small n


def measure(snap: Snapshot, feats: PoolFeatures, model: Any) -> dict[str, float]:
    """``audit_*`` figures of ``model`` on the snapshot's audit items ({} without any)."""
    ids = np.fromiter(sorted(snap.audit), dtype=np.int64, count=len(snap.audit))
    if ids.size == 0:
        return {}
    truth = replace(snap, labeled=snap.audit).targets(ids)  # the audit items' own targets
    found = audit_metrics(truth, model.predict(feats.rows(ids)), seed=snap.random_seed)
    return {} if found is None else {PREFIX + k: v for k, v in found.as_dict().items()}


def with_audit(
    metrics: dict[str, float] | None, audit: dict[str, float]
) -> dict[str, float] | None:
    """The version's metrics: the cross-validated ones and the audit figures (None: neither)."""
    merged = {**(metrics or {}), **audit}
    return merged or None


def figures(metrics: dict[str, float] | None) -> AuditMetrics | None:
    """The audit figures stored in a version's metrics, or None (no audit items labelled)."""
    stored = metrics or {}
    if any(PREFIX + name not in stored for name in _REQUIRED):
        return None
    values: dict[str, Any] = {n: stored[PREFIX + n] for n in _FIELDS if PREFIX + n in stored}
    values["n"] = int(values["n"])
    return AuditMetrics(**values)


def describe(found: AuditMetrics) -> str:
    """One line for people: the accuracy, its interval and n."""
    return (
        f"audit accuracy {found.accuracy:.3f} (95 % interval {found.accuracy_low:.3f}"
        f"–{found.accuracy_high:.3f}, n = {found.n})"
    )


def cross_validated(metrics: dict[str, float] | None) -> dict[str, float] | None:
    """The cross-validated metrics alone (None: too few labels to cross-validate)."""
    found = {k: v for k, v in (metrics or {}).items() if not k.startswith(PREFIX)}
    return found or None

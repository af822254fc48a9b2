"""Stopping signal: Cohen's kappa of successive predictions and the stabilised rule."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.metrics import cohen_kappa_score

from app.learning.stopping import StopPoint, cohen_kappa, stabilised, stable_sample, stop_set


def test_kappa_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 300)
    b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 5, 300))
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_kappa_of_identical_predictions_is_one() -> None:
    a = np.array([0, 1, 2, 2, 1])
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(np.zeros(4, int), np.zeros(4, int)) == 1.0  # one label everywhere


def test_kappa_of_chance_agreement_is_near_zero() -> None:
    rng = np.random.default_rng(1)
    assert abs(cohen_kappa(rng.integers(0, 3, 5000), rng.integers(0, 3, 5000))) < 0.05
    assert cohen_kappa(np.array([0, 0, 1]), np.array([1, 1, 0])) < 0


def test_multi_label_kappa_counts_every_label_decision() -> None:
    a = np.array([[1, 0], [0, 1], [1, 1]])
    b = np.array([[1, 0], [0, 0], [1, 1]])
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a.ravel(), b.ravel()))


def test_kappa_rejects_mismatched_or_empty_predictions() -> None:
    with pytest.raises(ValueError, match="same shape"):
        cohen_kappa(np.array([0, 1]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="non-empty"):
        cohen_kappa(np.array([]), np.array([]))


def test_stop_set_is_fixed_for_a_seed_and_capped() -> None:
    assert_array_equal(stop_set(1000, 50, seed=3), stop_set(1000, 50, seed=3))
    sample = stop_set(1000, 50, seed=3)
    assert sample.shape == (50,) and np.all(np.diff(sample) > 0)
    assert_array_equal(stop_set(5, 50, seed=0), np.arange(5))


def _history(kappas: list[float | None], metrics: list[float | None] | None = None) -> list:
    metrics = metrics or [None] * len(kappas)
    return [StopPoint(k, m) for k, m in zip(kappas, metrics, strict=True)]


def test_stabilised_needs_n_consecutive_agreeing_runs() -> None:
    assert stabilised(_history([None, 0.8, 0.995, 0.995, 0.999]), runs=3)
    assert not stabilised(_history([None, 0.995, 0.98, 0.995, 0.999]), runs=3)
    assert not stabilised(_history([None, 0.999, 0.999]), runs=3)  # too few runs yet
    assert not stabilised([], runs=1)
    assert stabilised(_history([0.9, 0.95]), threshold=0.9, runs=2)


def test_a_still_rising_metric_blocks_the_signal() -> None:
    kappas = [None, 0.999, 0.999, 0.999]
    assert not stabilised(_history(kappas, [0.60, 0.62, 0.65, 0.70]), runs=3)
    assert stabilised(_history(kappas, [0.60, 0.70, 0.705, 0.702]), runs=2)
    assert stabilised(_history(kappas, [None, None, 0.70, 0.70]), runs=3)


def test_runs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="runs"):
        stabilised(_history([1.0]), runs=0)


def test_stable_sample_keeps_most_ids_as_the_pool_grows() -> None:
    ids = np.arange(1, 5001, dtype=np.int64)
    sample = stable_sample(ids, 1000, seed=7)
    assert sample.shape == (1000,) and np.all(np.diff(sample) > 0) and np.isin(sample, ids).all()
    assert np.array_equal(sample, stable_sample(ids[::-1].copy(), 1000, seed=7))
    grown = stable_sample(np.arange(1, 6001, dtype=np.int64), 1000, seed=7)
    assert np.intersect1d(sample, grown).size >= 800  # ~5/6 stay; a fresh draw keeps ~1/6
    assert np.intersect1d(sample, stable_sample(ids, 1000, seed=8)).size < 400
    assert stable_sample(ids[:10], 1000, seed=7).size == 10

"""QueryOptions: a project's query options, their defaults in one place and their stored meaning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.learning.options import DEFAULT_OPTIONS, STORED, STORED_DEFAULTS, QueryOptions
from app.learning.ranking import Diversity
from app.projects.schemas import ProjectCreate, ProjectUpdate


def test_a_new_project_gets_the_default_options() -> None:
    created = ProjectCreate(name="news", labels=["a", "b"])
    assert {name: getattr(created, name) for name in STORED} == DEFAULT_OPTIONS.stored()
    assert (created.strategy, created.batch_size) == ("margin", DEFAULT_OPTIONS.batch_size)
    assert DEFAULT_OPTIONS.warm_up == 20 and DEFAULT_OPTIONS.diversity


def test_options_stored_before_they_existed_keep_their_old_meaning() -> None:
    old = QueryOptions.from_stored(strategy="entropy", batch_size=5, settings={"epsilon": 0.1})
    assert (old.warm_up, old.features, old.diversity) == (0.0, "tfidf", False)
    assert old.diversity_method == STORED_DEFAULTS["diversity_method"] == "cluster"
    assert (old.strategy, old.batch_size, old.epsilon) == ("entropy", 5, 0.1)
    assert not old.in_warm_up(n_labeled=0, n_labels=3) and old.batch_diversity() is None
    stored = QueryOptions.from_stored(strategy="margin", batch_size=20, settings=None)
    assert stored.stored() == STORED_DEFAULTS


def test_a_diverse_batch_is_the_project_batch_with_its_method() -> None:
    options = QueryOptions(batch_size=8, diversity_method="farthest_first")
    assert options.batch_diversity() == Diversity(8, 10, "farthest_first")
    assert QueryOptions(diversity=False).batch_diversity() is None
    assert QueryOptions(warm_up=2).in_warm_up(n_labeled=5, n_labels=3)
    assert not QueryOptions(strategy="random", warm_up=2).in_warm_up(n_labeled=5, n_labels=3)


@pytest.mark.parametrize(
    "bad",
    [
        {"strategy": "bald"},
        {"features": "bert"},
        {"diversity_method": "mmr"},
        {"epsilon": 0.6},
        {"committee_size": 1},
        {"warm_up": -1.0},
        {"batch_size": 0},
        {"epsilon": False},  # strict: no bool for a number
    ],
)
def test_the_options_and_the_api_refuse_the_same_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        QueryOptions(**bad)
    with pytest.raises(ValidationError):
        ProjectUpdate(**bad)
    with pytest.raises(ValidationError):
        ProjectCreate(name="news", labels=["a", "b"], **bad)

"""A project's query options, typed and validated in one place, defaults included.

The API schemas, the settings form, the worker, the predictor and the benchmarks all read
`QueryOptions`; a project stores them in `Project.settings` (a JSON dict) and `from_stored` gives
options a project stored before they existed the meaning they had then (`STORED_DEFAULTS`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.learning import strategies

if TYPE_CHECKING:  # ranking pulls in scikit-learn: the web side reads options without it
    from app.learning.ranking import Diversity

Features = Literal["tfidf", "minilm", "static", "both"]
DiversityMethod = Literal["cluster", "farthest_first"]
FEATURE_KINDS: tuple[str, ...] = get_args(Features)
DIVERSITY_METHODS: tuple[str, ...] = get_args(DiversityMethod)
MAX_WARM_UP = 100.0
# Options kept in Project.settings (strategy and batch_size are columns of their own).
STORED = (
    "diversity",
    "epsilon",
    "committee_size",
    "features",
    "warm_up",
    "diversity_method",
    "overlap",
    "min_agreement",
    "audit_share",
    "recheck_share",
    "oracle_vote",
    "suggest_preselect",
    "oracle_examples",
    "machine_labels",
    "machine_threshold",
    "machine_target",
    "machine_train",
)
# What a project stored without an option means: the behaviour it had before the option existed.
STORED_DEFAULTS: dict[str, Any] = {
    "diversity": False,
    "diversity_method": "cluster",
    "epsilon": 0.0,
    "committee_size": 5,
    "features": "tfidf",
    "warm_up": 0.0,
    "overlap": 1,
    "min_agreement": 0.5,
    "audit_share": 0.0,
    "recheck_share": 0.0,
    "oracle_vote": False,
    "suggest_preselect": False,
    "oracle_examples": 3,
    "machine_labels": False,
    "machine_threshold": 0.9,
    "machine_target": 0.9,
    "machine_train": True,
}
MAX_OVERLAP = 10
DIVERSITY_CANDIDATES = 10  # a diverse batch is picked among candidates x batch_size best items

FEATURES_HELP = (
    "Item features: TF-IDF words and characters, MiniLM sentence embeddings (computed once "
    "per item by the worker; a big pool trains on static embeddings until they are done), "
    "static embeddings distilled from MiniLM (fast, a little less accurate), or TF-IDF and "
    "MiniLM side by side."
)
DIVERSITY_HELP = (
    "Diversify each batch: the best item of each of `batch_size` k-means "
    "clusters of the top 10 x batch_size."
)
DIVERSITY_METHOD_HELP = (
    "How a diverse batch is picked among the top 10 x batch_size: the best item of each k-means "
    "cluster (cluster), or greedily far from each other and the labelled items (farthest_first)."
)
WARM_UP_HELP = (
    "Labels per class of warm-up: until the project has this many labels per class, each batch "
    "is the most typical item of the least-labelled k-means clusters of the pool (TypiClust), "
    "then the strategy ranks. 0 turns it off; the random strategy never warms up."
)

OVERLAP_HELP = (
    "Annotators per item: each item is labelled by this many different people before it is "
    "done; training uses their consensus."
)
MIN_AGREEMENT_HELP = (
    "Share of an item's annotators who must give the majority label for it to be the consensus; "
    "ties and lower agreement go to review."
)
AUDIT_SHARE_HELP = (
    "Share of labels spent on a uniformly random audit sample: never used to pick the queue or "
    "to train, it measures the model's accuracy on the data it will meet."
)
RECHECK_SHARE_HELP = (
    "Share of the queue spent on second opinions of labels the model finds suspicious "
    "(confident learning); 0 sends them to review only."
)

ORACLE_VOTE_HELP = (
    "The oracle votes in the ranking: unlabelled items where its suggestion and the model's guess "
    "differ come first (the strategy orders each group)."
)
SUGGEST_PRESELECT_HELP = (
    "Pre-select the oracle's suggestion on the annotate screen (Enter accepts it; the label is "
    "recorded as a human label, marked as an accepted suggestion)."
)
ORACLE_EXAMPLES_HELP = (
    "Human-labelled examples in each oracle prompt: the item's nearest neighbours by the "
    "project's features."
)
MACHINE_LABELS_HELP = (
    "Machine-label route: an unlabelled item whose oracle suggestion the model agrees with, at "
    "least `machine_threshold` sure, is labelled by the machine, only while the 95 % lower "
    "bound of that route's accuracy on human-labelled items is above `machine_target`."
)
MACHINE_THRESHOLD_HELP = "The model's least probability for the machine-label route."
MACHINE_TARGET_HELP = (
    "The accuracy the machine-label route must be shown to beat (95 % lower bound)."
)
MACHINE_TRAIN_HELP = "Train on machine labels (off: they are exported but never trained on)."


def check_strategy(value: str) -> str:
    """The strategy name if it is registered, else ValueError naming the registered ones."""
    names = strategies.strategy_names()
    if value not in names:
        raise ValueError(f"unknown strategy {value!r}; use one of: {', '.join(names)}")
    return value


class QueryOptions(BaseModel):
    """Everything a project chooses about querying, with the defaults of a new project.

    The defaults are the best recipe of bench/label_efficiency.py (margin over MiniLM, each batch
    the best item of 10 k-means clusters of the top 10 x batch, TypiClust warm-up batches until
    20 labels per class; bench/README.md has every dataset).
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    strategy: str = "margin"
    batch_size: int = Field(default=20, ge=1, le=10_000)
    diversity: bool = Field(default=True, description=DIVERSITY_HELP)
    diversity_method: DiversityMethod = Field(default="cluster", description=DIVERSITY_METHOD_HELP)
    epsilon: float = Field(default=0.0, ge=0.0, le=0.5, description="Random share of a batch.")
    committee_size: int = Field(default=5, ge=2, le=20, description="For qbc_* strategies.")
    features: Features = Field(default="minilm", description=FEATURES_HELP)
    warm_up: float = Field(default=20.0, ge=0.0, le=MAX_WARM_UP, description=WARM_UP_HELP)
    overlap: int = Field(default=1, ge=1, le=MAX_OVERLAP, description=OVERLAP_HELP)
    min_agreement: float = Field(default=0.5, ge=0.0, le=1.0, description=MIN_AGREEMENT_HELP)
    audit_share: float = Field(default=0.05, ge=0.0, le=0.5, description=AUDIT_SHARE_HELP)
    recheck_share: float = Field(default=0.0, ge=0.0, le=0.5, description=RECHECK_SHARE_HELP)
    oracle_vote: bool = Field(default=False, description=ORACLE_VOTE_HELP)
    suggest_preselect: bool = Field(default=False, description=SUGGEST_PRESELECT_HELP)
    oracle_examples: int = Field(default=3, ge=0, le=10, description=ORACLE_EXAMPLES_HELP)
    machine_labels: bool = Field(default=False, description=MACHINE_LABELS_HELP)
    machine_threshold: float = Field(
        default=0.9, ge=0.5, le=1.0, description=MACHINE_THRESHOLD_HELP
    )
    machine_target: float = Field(default=0.9, ge=0.5, le=0.999, description=MACHINE_TARGET_HELP)
    machine_train: bool = Field(default=True, description=MACHINE_TRAIN_HELP)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        return check_strategy(value)

    @classmethod
    def from_stored(
        cls, *, strategy: str, batch_size: int, settings: dict[str, Any] | None
    ) -> QueryOptions:
        """The options of a stored project: its settings over `STORED_DEFAULTS`.

        Stored values are trusted as they were validated when written (no range check here:
        a bound tightened later must not make an old project unreadable).
        """
        stored = {**STORED_DEFAULTS, **{k: v for k, v in (settings or {}).items() if k in STORED}}
        return cls.model_construct(strategy=strategy, batch_size=batch_size, **stored)

    def stored(self) -> dict[str, Any]:
        """The options kept in `Project.settings`."""
        return {name: getattr(self, name) for name in STORED}

    def in_warm_up(self, n_labeled: int, n_labels: int, counts: np.ndarray | None = None) -> bool:
        """Whether the next batch is a warm-up batch of typical items (see `ranking.in_warm_up`;
        ``counts``: labels per class, to end it early on imbalanced classes)."""
        from app.learning.ranking import in_warm_up

        return in_warm_up(self.strategy, n_labeled, n_labels, self.warm_up, counts)

    def batch_diversity(self) -> Diversity | None:
        """The diversity of a batch for `ranking.rank_scores`; None without the option."""
        if not self.diversity:
            return None
        from app.learning.ranking import Diversity

        return Diversity(self.batch_size, DIVERSITY_CANDIDATES, self.diversity_method)

    def cold_start_representatives(self) -> int:
        """How many k-means representatives lead a ranking before the first model."""
        return min(max(self.batch_size, 10), 100)


DEFAULT_OPTIONS = QueryOptions()

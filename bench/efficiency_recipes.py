"""The benchmark recipes: a query strategy, its options and its features, parsed from text."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from app.learning.options import (
    DEFAULT_OPTIONS,
    DIVERSITY_CANDIDATES,
    FEATURE_KINDS,
    QueryOptions,
)


@dataclass(frozen=True)
class Spec:
    """A benchmark recipe: `strategy[+option...]@features`: tfidf, minilm, static or both.

    div[N]: farthest-first batch over the N x 25 best (N = 10); clu[N]: the best item of each
    of 25 k-means clusters of the N x 25 best; dens: density weighting
    (power 1); eps[P]: P% random exploration (10); rep: k-means seed set instead of random;
    sub: committee members on random half feature subspaces instead of bootstrap resamples;
    ens: a bootstrap committee as the label model of any strategy (scores its consensus);
    typ[N]: warm-up, TypiClust batches until there are N labels per class (2) or the labels
    look imbalanced (as the product); typfix[N]: the same without the imbalance exit.
    """

    text: str
    strategy: str
    features: str
    diversity: int = 0  # candidates factor of the diverse batch; 0 = off
    diversity_method: str = "farthest_first"
    density: float = 0.0
    epsilon: float = 0.0
    representative: bool = False
    subspace: bool = False
    ensemble: bool = False
    warm_up: float = 0.0  # labels per class of typical-item batches first; 0 = none
    fixed_warm_up: bool = False  # typfix: the warm-up runs on when the classes look imbalanced

    @classmethod
    def of(cls, text: str, options: QueryOptions) -> Spec:
        """The recipe of a project's query options (the product runs k-means seeds too)."""
        return cls(
            text,
            options.strategy,
            options.features,
            diversity=DIVERSITY_CANDIDATES if options.diversity else 0,
            diversity_method=options.diversity_method,
            epsilon=options.epsilon,
            representative=True,
            warm_up=options.warm_up,
        )

    @classmethod
    def parse(cls, text: str) -> Spec:
        """A recipe; `default` is a new project's options (``app.learning.options``)."""
        from app.learning.strategies import strategy_names

        if text == "default":
            return cls.of(text, DEFAULT_OPTIONS)
        body, _, features = text.partition("@")
        strategy, *options = body.split("+")
        strategy = ALIASES.get(strategy, strategy)
        if strategy not in strategy_names() or features not in FEATURE_KINDS:
            raise SystemExit(f"bad recipe {text!r}: strategy or @features unknown")
        kwargs: dict[str, object] = {}
        for option in options:
            if option.startswith(("div", "clu")):
                kwargs["diversity"] = int(option[3:] or 10)
                kwargs["diversity_method"] = "cluster" if option[:3] == "clu" else "farthest_first"
            elif option == "dens":
                kwargs["density"] = 1.0
            elif option.startswith("eps"):
                kwargs["epsilon"] = int(option[3:] or 10) / 100
            elif option == "rep":
                kwargs["representative"] = True
            elif option == "sub":
                kwargs["subspace"] = True
            elif option == "ens":
                kwargs["ensemble"] = True
            elif option.startswith("typfix"):  # the warm-up before it ended on imbalance
                kwargs["warm_up"], kwargs["fixed_warm_up"] = float(option[6:] or 2), True
            elif option.startswith("typ"):
                kwargs["warm_up"] = float(option[3:] or 2)
            else:
                raise SystemExit(f"bad recipe option {option!r} in {text!r}")
        spec = cls(text, strategy, features, **kwargs)
        spec.check()
        return spec

    def check(self) -> None:
        """The product's options of this recipe must be valid ones (``QueryOptions``)."""
        try:
            QueryOptions(
                strategy=self.strategy,
                features=self.features,
                diversity=bool(self.diversity),
                diversity_method=self.diversity_method,
                epsilon=self.epsilon,
                warm_up=self.warm_up,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = problem["loc"][0]
            raise SystemExit(f"bad recipe {self.text!r}: {where}: {problem['msg']}") from None


ALIASES = {"egl": "expected_gradient_length", "lc": "least_confidence"}
DEFAULT_RECIPES = (
    "random@tfidf,margin@tfidf,least_confidence@tfidf,entropy@tfidf,egl@tfidf,"
    "qbc_vote_entropy@tfidf,qbc_kl@tfidf,"
    "random@minilm,margin@minilm,entropy@minilm,egl@minilm,qbc_kl@minilm,"
    "margin+div@minilm,margin+dens@minilm,margin+rep@minilm,margin+div+rep@minilm,"
    "margin+div+rep+eps@minilm,random@both,margin+div+rep@both,margin+clu+rep+typ20@minilm"
)

"""Label efficiency of the query strategies, in-process through `app.learning` (no server).

For each dataset x recipe x seed: start from 25 labels, then 20 rounds of 25 labels chosen by
the recipe, retraining the label model each round and scoring the test set; prints learning-curve
tables, labels needed to reach the random baselines' final accuracy, and pool scoring times.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from pydantic import ValidationError  # noqa: E402

from app.learning.coldstart import IMBALANCE_P_VALUE  # noqa: E402
from app.learning.options import (  # noqa: E402
    DEFAULT_OPTIONS,
    DIVERSITY_CANDIDATES,
    FEATURE_KINDS,
    QueryOptions,
)
from bench.datasets import DEFAULT_DATASETS, LOADERS, Dataset, log  # noqa: E402

# --- features ------------------------------------------------------------------------------------


def text_hash(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """MiniLM vectors on disk, one .npy per (model, truncation, hash of the texts)."""

    def __init__(self, cache_dir: Path, threads: int, dtype: str = "float32") -> None:
        self.dir = cache_dir / "embeddings"
        self.threads = threads
        self.dtype = dtype  # the precision the service stores them in (a round trip)
        self._encoder = None

    def encoder(self):  # noqa: ANN201 - built lazily: loading onnxruntime takes a moment
        if self._encoder is None:
            from app.learning.embeddings import MiniLMEncoder

            self._encoder = MiniLMEncoder(threads=self.threads)
        return self._encoder

    def get(self, texts: Sequence[str], label: str) -> np.ndarray:
        from app.learning.embeddings import MINILM_MODEL_ID

        key = f"{MINILM_MODEL_ID}-len128"
        path = self.dir / key / f"{text_hash(texts)}.npy"
        if path.is_file():
            return np.load(path).astype(self.dtype).astype(np.float32)
        encoder = self.encoder()
        assert encoder.cache_key == key
        log(f"embedding {len(texts)} texts of {label} with {key} (cached in {path.parent})")
        start = time.perf_counter()
        vectors = encoder.encode(list(texts))
        log(f"  {len(texts) / (time.perf_counter() - start):.0f} texts/s")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors.astype(self.dtype).astype(np.float32)


def static_vectors(texts: Sequence[str], cache_dir: Path, label: str) -> np.ndarray:
    """The product's static vectors (distilled from MiniLM once into ``cache_dir``)."""
    from app.training.encoders import static_encoder

    encoder = static_encoder(cache_dir)
    start = time.perf_counter()
    vectors = encoder.encode(list(texts))
    log(f"static vectors of {label}: {len(texts) / (time.perf_counter() - start):.0f} texts/s")
    return vectors


@dataclass
class Features:
    train: object  # (n_train, d) sparse or dense
    test: object  # (n_test, d)


def build_features(
    data: Dataset, kinds: set[str], cache: EmbeddingCache, embedding_weight: float = 1.0
) -> dict[str, Features]:
    from app.learning.features import TfidfFeaturizer, pool_features

    out: dict[str, Features] = {}
    tfidf = embeddings = None
    if kinds & {"tfidf", "both"}:
        featurizer = TfidfFeaturizer()
        tfidf = Features(featurizer.fit_transform(data.train_texts), None)
        tfidf.test = featurizer.transform(data.test_texts)
    if kinds & {"minilm", "both"}:
        embeddings = Features(
            cache.get(data.train_texts, f"{data.name} train"),
            cache.get(data.test_texts, f"{data.name} test"),
        )
    if "static" in kinds:
        out["static"] = Features(
            static_vectors(data.train_texts, cache.dir.parent, f"{data.name} train"),
            static_vectors(data.test_texts, cache.dir.parent, f"{data.name} test"),
        )
    for kind in kinds - {"static"}:
        out[kind] = Features(
            *(
                pool_features(
                    kind,
                    tfidf=None if tfidf is None else getattr(tfidf, part),
                    embeddings=None if embeddings is None else getattr(embeddings, part),
                    embedding_weight=embedding_weight,
                )
                for part in ("train", "test")
            )
        )
    return out


# --- recipes -------------------------------------------------------------------------------------


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


# --- simulation ----------------------------------------------------------------------------------

SEED_SIZE, BATCH, ROUNDS = 25, 25, 20
REPORT_AT = (100, 250, 525)


@dataclass
class Curve:
    labels: list[int]
    accuracy: list[float]
    macro_f1: list[float]
    fit_seconds: float
    rank_seconds: float
    labelled: np.ndarray | None = None  # (n,) pool rows of the final labels
    model: object = None  # the final fitted model


SEED_DRAWS = 100  # seed sets drawn at most, until one holds two labels


def seed_set(X: Any, y: np.ndarray, spec: Spec, seed: int) -> np.ndarray:  # X: (n, d)
    """SEED_SIZE items to label first (representative for recipes that say so, else random),
    drawn again while they hold fewer than two labels: no model can be fitted on one, and the
    product too serves cold-start items until two labels exist. The first draw is the one used
    before (runs that never drew a one-label set are unchanged); the next draws continue the
    same seeded generator, so the set keeps SEED_SIZE items and curves line up by label count."""
    from app.learning.coldstart import representative_items

    seed_rng = np.random.default_rng(seed)
    for draw in range(SEED_DRAWS):
        if spec.representative:
            rng = np.random.default_rng([seed, 2] if draw == 0 else [seed, 2, draw])
            chosen = representative_items(X, SEED_SIZE, rng=rng)
        else:
            chosen = seed_rng.choice(X.shape[0], SEED_SIZE, replace=False)
        if np.unique(y[chosen]).size >= 2:
            if draw:
                log(f"seed {seed}: seed set drawn {draw + 1} times to hold two labels")
            return chosen
    raise RuntimeError(f"seed {seed}: {SEED_DRAWS} seed sets of {SEED_SIZE} held one label")


def simulate(
    data: Dataset, feats: Features, spec: Spec, seed: int, args: argparse.Namespace
) -> Curve:
    """One simulated annotator: 25 seed labels, then `args.rounds` batches chosen by the recipe."""
    from sklearn.metrics import accuracy_score, f1_score

    from app.learning.committee import Committee
    from app.learning.estimators import LabelModel
    from app.learning.ranking import Diversity, in_warm_up, rank_pool
    from app.learning.strategies import needs_committee

    X, y, n_labels = feats.train, data.train_y, len(data.labels)
    rng = np.random.default_rng([seed, 1])
    labelled = seed_set(X, y, spec, seed)
    committee = needs_committee(spec.strategy) or spec.ensemble
    diversity = Diversity(BATCH, spec.diversity, spec.diversity_method) if spec.diversity else None
    present = np.unique(data.test_y)
    curve = Curve([], [], [], 0.0, 0.0)
    for round_ in range(args.rounds + 1):
        start = time.perf_counter()
        if committee:
            model = Committee(
                n_labels,
                n_members=args.committee,
                bootstrap=not spec.subspace,
                max_features=0.5 if spec.subspace else 1.0,
                C=args.C,
                random_state=seed,
            )
        else:
            model = LabelModel(n_labels, C=args.C)
        model.fit(X[labelled], y[labelled])
        curve.fit_seconds += time.perf_counter() - start
        predicted = model.predict(feats.test)
        curve.labels.append(len(labelled))
        curve.accuracy.append(float(accuracy_score(data.test_y, predicted)))
        curve.macro_f1.append(
            float(
                f1_score(data.test_y, predicted, labels=present, average="macro", zero_division=0)
            )
        )
        if round_ == args.rounds:
            curve.labelled, curve.model = labelled, model
            break
        start = time.perf_counter()
        pool = np.setdiff1d(np.arange(X.shape[0]), labelled)
        members = model.predict_proba_members(X[pool]) if committee else None
        proba = members.mean(axis=0) if committee else model.predict_proba(X[pool])
        counts = None if spec.fixed_warm_up else np.bincount(y[labelled], minlength=n_labels)
        warm_up = in_warm_up(
            spec.strategy,
            len(labelled),
            n_labels,
            spec.warm_up,
            counts,
            getattr(args, "imbalance_p", IMBALANCE_P_VALUE),  # other scripts: the default
        )
        ranking = rank_pool(
            spec.strategy,
            proba,
            depth=BATCH,
            rng=rng,
            committee=members if needs_committee(spec.strategy) else None,
            features=X[pool],
            labeled_features=X[labelled] if diversity or warm_up else None,
            diversity=diversity,
            density_power=spec.density,
            epsilon=spec.epsilon,
            warm_up=BATCH if warm_up else 0,
        )
        labelled = np.concatenate([labelled, pool[ranking.indices]])
        curve.rank_seconds += time.perf_counter() - start
    return curve


# --- parallel runs -------------------------------------------------------------------------------

_STATE: dict[str, object] = {}


def _init_worker() -> None:
    import warnings

    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore", module="sklearn")  # few-rows class-count and saga notes
    _STATE["limits"] = threadpool_limits(1)  # one BLAS thread per worker process


def _run_job(job: tuple[str, str, int]) -> tuple[tuple[str, str, int], Curve]:
    name, recipe, seed = job
    data, feats = _STATE["data"][name], _STATE["features"][name]
    spec = Spec.parse(recipe)
    curve = simulate(data, feats[spec.features], spec, seed, _STATE["args"])
    return job, curve


def run_all(args: argparse.Namespace, specs: list[Spec]) -> dict[tuple[str, str], list[Curve]]:
    import multiprocessing as mp

    cache = EmbeddingCache(args.cache_dir, args.threads, args.embedding_dtype)
    _STATE["args"], _STATE["data"], _STATE["features"] = args, {}, {}
    for name in args.datasets:
        data = LOADERS[name](args.cache_dir)
        log(
            f"{name}: {len(data.train_texts)} pool, {len(data.test_texts)} test, "
            f"{len(data.labels)} labels"
        )
        _STATE["data"][name] = data
        kinds = {s.features for s in specs}
        _STATE["features"][name] = build_features(data, kinds, cache, args.embedding_weight)
    jobs = [(d, s.text, seed) for d in args.datasets for s in specs for seed in args.seeds]
    results: dict[tuple[str, str], list[Curve]] = {}
    start = time.perf_counter()
    ctx = mp.get_context("fork")  # workers inherit the loaded features
    with ctx.Pool(args.jobs, initializer=_init_worker) as workers:
        for done, ((name, recipe, seed), curve) in enumerate(
            workers.imap_unordered(_run_job, jobs), start=1
        ):
            results.setdefault((name, recipe), []).append(curve)
            log(
                f"[{done}/{len(jobs)} {time.perf_counter() - start:.0f}s] {name} {recipe} "
                f"seed {seed}: final acc {curve.accuracy[-1]:.3f} fit {curve.fit_seconds:.1f}s "
                f"rank {curve.rank_seconds:.1f}s"
            )
    return results


# --- report --------------------------------------------------------------------------------------


def mean_curve(curves: list[Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.array(curves[0].labels)
    return (
        labels,
        np.mean([c.accuracy for c in curves], axis=0),
        np.mean([c.macro_f1 for c in curves], axis=0),
    )


def aulc(labels: np.ndarray, accuracy: np.ndarray) -> float:
    """Area under the accuracy learning curve, normalised by the label range (0..1)."""
    return float(np.trapezoid(accuracy, labels) / (labels[-1] - labels[0]))


def labels_to_reach(labels: np.ndarray, accuracy: np.ndarray, target: float) -> int | None:
    hit = np.flatnonzero(accuracy >= target - 1e-12)
    return int(labels[hit[0]]) if hit.size else None


def _reach(labels: np.ndarray, accuracy: np.ndarray, target: float | None) -> str:
    if target is None:
        return "-"
    reached = labels_to_reach(labels, accuracy, target)
    if reached is None:
        return f">{labels[-1]}"
    return f"{reached} ({reached / labels[-1]:.2f}x)"


def print_report(results: dict[tuple[str, str], list[Curve]], args: argparse.Namespace) -> None:
    for name in args.datasets:
        rows = {recipe: curves for (d, recipe), curves in results.items() if d == name}
        finals = {r: mean_curve(c)[1][-1] for r, c in rows.items() if r.startswith("random@")}
        seeds = len(next(iter(rows.values())))
        print(
            f"\n### {name}: accuracy / macro-F1 (mean of {seeds} seeds), labels to reach "
            f"random's 525-label accuracy"
        )
        base = finals.get("random@tfidf")
        print(
            f"random@tfidf final {base if base is None else f'{base:.3f}'}; "
            + ", ".join(f"{r} final {v:.3f}" for r, v in finals.items() if r != "random@tfidf")
        )
        points = [n for n in REPORT_AT if n <= SEED_SIZE + BATCH * args.rounds]
        columns = ["recipe", *(f"acc@{n}" for n in points), *(f"F1@{n}" for n in points)]
        columns += ["AULC", "to random@tfidf", "to random, same features", "fit s", "rank s"]
        print("| " + " | ".join(columns) + " |")
        print("|---" * len(columns) + "|")
        for recipe, curves in rows.items():
            labels, acc, f1 = mean_curve(curves)
            at = [int(np.flatnonzero(labels == n)[0]) for n in points]
            same = finals.get(f"random@{Spec.parse(recipe).features}")  # `default` too
            cells = [f"{acc[i]:.3f}" for i in at] + [f"{f1[i]:.3f}" for i in at]
            cells += [
                f"{aulc(labels, acc):.3f}",
                _reach(labels, acc, base),
                _reach(labels, acc, same),
            ]
            cells += [
                f"{np.mean([c.fit_seconds for c in curves]):.1f}",
                f"{np.mean([c.rank_seconds for c in curves]):.1f}",
            ]
            print(f"| {recipe} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


# --- scoring time --------------------------------------------------------------------------------


def time_scoring(specs: list[Spec], sizes: list[int], n_labels: int) -> None:
    """Seconds to rank n pool items from cached (n, 384) float32 features: predict + score +
    rank (depth 20,000; diversity batch 50 over 500 candidates, or a warm-up batch of 50 with
    525 labelled items, where the recipe asks for it)."""
    from app.learning.committee import Committee
    from app.learning.estimators import LabelModel
    from app.learning.ranking import Diversity
    from app.learning.strategies import needs_committee

    rng = np.random.default_rng(0)
    train_X = _unit(rng.normal(size=(525, 384)).astype(np.float32))
    train_y = rng.integers(0, n_labels, 525)
    model = LabelModel(n_labels).fit(train_X, train_y)
    committee = Committee(n_labels, n_members=5).fit(train_X, train_y)
    print(
        f"\n### scoring time: seconds for a pool of n items, 384-d float32 features, "
        f"{n_labels} labels, ranking depth 20,000, best of 3 (2 shared cores)"
    )
    print("| recipe | n | predict + score + rank | score + rank (proba given) |")
    print("|---|---|---|---|")
    for n in sizes:
        X = _unit(rng.normal(size=(n, 384)).astype(np.float32))
        proba = model.predict_proba(X[:100_000])
        proba = np.tile(proba, (n // proba.shape[0] + 1, 1))[:n]
        for spec in specs:
            is_committee = needs_committee(spec.strategy)
            diversity = Diversity(50, 10, spec.diversity_method) if spec.diversity else None
            kwargs = dict(
                depth=20_000,
                rng=rng,
                features=X,
                diversity=diversity,
                density_power=spec.density,
                epsilon=spec.epsilon,
                labeled_features=train_X if spec.warm_up else None,
                warm_up=50 if spec.warm_up else 0,
            )
            scorer = committee if is_committee else model
            full, given = _time_recipe(
                spec.strategy, scorer, X, None if is_committee else proba, kwargs
            )
            print(f"| {spec.text} | {n:,} | {full:.2f} | {given} |", flush=True)
        del X, proba


def _time_recipe(
    strategy: str, scorer: object, X: np.ndarray, proba: np.ndarray | None, kwargs: dict
) -> tuple[float, str]:
    """(predict + score + rank seconds, score + rank seconds or "-" without proba)."""
    from app.learning.ranking import rank_scores, score_pool
    from app.learning.strategies import score

    rng = kwargs["rng"]
    full = _best_of(lambda: rank_scores(score_pool(strategy, scorer, X, rng=rng), **kwargs))
    if proba is None:
        return full, "-"
    given = _best_of(lambda: rank_scores(score(strategy, proba, rng=rng), **kwargs))
    return full, f"{given:.2f}"


def _best_of(run: Callable[[], object], repeats: int = 3) -> float:
    """Least wall-clock seconds of `repeats` calls (the machine is shared: noise only adds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _unit(X: np.ndarray) -> np.ndarray:
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS, help=f"of {', '.join(LOADERS)}")
    parser.add_argument(
        "--recipes",
        default=DEFAULT_RECIPES,
        help="comma-separated strategy[+div[N]|+clu[N]][+dens][+eps[P]][+rep][+sub][+ens]@features",
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="batches after the seed set")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--committee", type=int, default=5, help="committee members")
    parser.add_argument(
        "--embedding-weight", type=float, default=1.0, help="MiniLM block weight in 'both'"
    )
    parser.add_argument(
        "--embedding-dtype",
        choices=("float32", "float16"),
        default="float32",
        help="MiniLM vectors rounded to the precision the service stores them in",
    )
    parser.add_argument(
        "--imbalance-p",
        type=float,
        default=IMBALANCE_P_VALUE,
        help="typ: the warm-up ends when a chi-square test of the labels per class is below it",
    )
    parser.add_argument("--C", type=float, default=10.0, help="inverse regularisation")
    parser.add_argument(
        "--timing", default="100000,1000000", help="pool sizes to time scoring on ('' to skip)"
    )
    parser.add_argument("--timing-labels", type=int, default=77)
    parser.add_argument("--no-simulation", action="store_true", help="only time scoring")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache")
    args = parser.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    if unknown := set(args.datasets) - set(LOADERS):
        parser.error(f"unknown datasets {sorted(unknown)}")
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.timing = [int(n) for n in args.timing.split(",") if n]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    specs = [Spec.parse(text) for text in args.recipes.split(",") if text]
    if not args.no_simulation:
        print_report(run_all(args, specs), args)
    if args.timing:
        timed = list(
            {
                (
                    s.strategy,
                    s.diversity_method if s.diversity else "",
                    s.density,
                    s.epsilon,
                    s.warm_up > 0,
                ): s
                for s in specs
            }.values()
        )
        time_scoring(timed, args.timing, args.timing_labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())

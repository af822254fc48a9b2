"""Label efficiency of the query strategies, in-process through `app.learning` (no server).

For each dataset x recipe x seed: start from 25 labels, then 20 rounds of 25 labels chosen by
the recipe, retraining the label model each round and scoring the test set; prints learning-curve
tables, labels needed to reach the random baselines' final accuracy, and pool scoring times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from efficiency_features import EmbeddingCache, Features, build_features  # noqa: E402
from efficiency_recipes import DEFAULT_RECIPES, Spec  # noqa: E402
from efficiency_timing import time_scoring  # noqa: E402

from app.learning.coldstart import IMBALANCE_P_VALUE  # noqa: E402
from bench.datasets import DEFAULT_DATASETS, LOADERS, Dataset, log  # noqa: E402

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
    from app.learning.ranking import Diversity
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
        model = build_model(spec, committee, n_labels, seed, args)
        model.fit(X[labelled], y[labelled])
        curve.fit_seconds += time.perf_counter() - start
        score_test(curve, model, data.test_y, feats.test, present, len(labelled))
        if round_ == args.rounds:
            curve.labelled, curve.model = labelled, model
            break
        start = time.perf_counter()
        pool = np.setdiff1d(np.arange(X.shape[0]), labelled)
        chosen = next_batch(
            model,
            spec,
            X,
            y,
            labelled,
            pool,
            committee=committee,
            diversity=diversity,
            rng=rng,
            n_labels=n_labels,
            args=args,
        )
        labelled = np.concatenate([labelled, pool[chosen]])
        curve.rank_seconds += time.perf_counter() - start
    return curve


def build_model(
    spec: Spec, committee: bool, n_labels: int, seed: int, args: argparse.Namespace
) -> Any:
    """A new, unfitted label model: a committee where the recipe asks for one, else one model."""
    from app.learning.committee import Committee
    from app.learning.estimators import LabelModel

    if committee:
        return Committee(
            n_labels,
            n_members=args.committee,
            bootstrap=not spec.subspace,
            max_features=0.5 if spec.subspace else 1.0,
            C=args.C,
            random_state=seed,
        )
    return LabelModel(n_labels, C=args.C)


def score_test(
    curve: Curve, model: Any, test_y: np.ndarray, test_X: Any, present: np.ndarray, n: int
) -> None:
    """Appends the model's test accuracy and macro-F1 (over `present` labels) at n labels."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = model.predict(test_X)
    curve.labels.append(n)
    curve.accuracy.append(float(accuracy_score(test_y, predicted)))
    curve.macro_f1.append(
        float(f1_score(test_y, predicted, labels=present, average="macro", zero_division=0))
    )


def next_batch(
    model: Any,
    spec: Spec,
    X: Any,  # (n, d)
    y: np.ndarray,
    labelled: np.ndarray,
    pool: np.ndarray,
    *,
    committee: bool,
    diversity: Any,
    rng: np.random.Generator,
    n_labels: int,
    args: argparse.Namespace,
) -> np.ndarray:
    """Positions in `pool` of the next BATCH items the recipe chooses (warm-up batches too)."""
    from app.learning.ranking import in_warm_up, rank_pool
    from app.learning.strategies import needs_committee

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
    return ranking.indices


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

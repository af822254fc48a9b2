"""How far a second oracle helps and how far it may be trusted, on banking77, in-process.

(b) A SIMULATION: oracles of stated accuracy (gold labels with that share replaced by a random
other label) in the active-learning loop of `bench/label_efficiency.py`, three arms: people
only; the oracle's vote in the ranking (`oracle_trust.disagreement_scores`); the machine-label
route (`oracle_trust.route_mask`, labels added only while `oracle_trust.gate_open`).
(a) With `--local URL`: a running OpenAI-compatible server measured on banking77 test texts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from efficiency_features import (  # noqa: E402  (bench/ is the script's folder)
    EmbeddingCache,
    Features,
    build_features,
)
from efficiency_recipes import Spec  # noqa: E402
from label_efficiency import (  # noqa: E402
    BATCH,
    SEED_SIZE,
    Curve,
    _init_worker,
    labels_to_reach,
    mean_curve,
)

from app.learning.estimators import LabelModel, Matrix  # noqa: E402
from app.learning.oracle_trust import (  # noqa: E402
    MIN_ROUTE_SAMPLE,
    agreement_metrics,
    disagreement_scores,
    gate_open,
    route_mask,
    wilson_interval,
)
from app.oracles.openai import OracleResult  # noqa: E402
from bench.datasets import BANKING77, Dataset, load_banking77, log  # noqa: E402

ARMS = ("people", "vote", "route")
LOCAL_LABELS = 10  # the first intents of categories.json, as tests/oracles/test_openai.py


@dataclass
class Run:
    """One arm of one seed: the curve over human labels, and what the route did."""

    curve: Curve
    machine: int = 0  # machine labels added
    machine_right: int = 0  # of them, equal to the gold label
    route_n: int = 0  # human-labelled items that were in the route when served
    route_right: int = 0  # of them, the oracle's answer equal to the human's
    opened: int | None = None  # the round the gate first opened


def simulated_oracle(gold: np.ndarray, n_labels: int, accuracy: float, seed: int) -> np.ndarray:
    """The answers (n,) of an oracle of exactly `accuracy` on the pool: a seeded random share
    1 - accuracy of the gold labels replaced by a uniformly random other label."""
    rng = np.random.default_rng([seed, round(accuracy * 1000)])
    answers = gold.copy()
    wrong = rng.choice(gold.size, round((1 - accuracy) * gold.size), replace=False)
    answers[wrong] = (gold[wrong] + rng.integers(1, n_labels, wrong.size)) % n_labels
    return answers


def _seed_set(X: Matrix, n: int, spec: Spec, seed: int) -> np.ndarray:
    from app.learning.coldstart import representative_items

    if spec.representative:
        return representative_items(X, SEED_SIZE, rng=np.random.default_rng([seed, 2]))
    return np.random.default_rng(seed).choice(n, SEED_SIZE, replace=False)


def _fit_and_score(
    data: Dataset, feats: Features, rows: np.ndarray, y: np.ndarray, run: Run
) -> LabelModel:
    from sklearn.metrics import accuracy_score, f1_score

    model = LabelModel(len(data.labels), C=10.0).fit(feats.train[rows], y)
    predicted = model.predict(feats.test)
    present = np.unique(data.test_y)
    run.curve.accuracy.append(float(accuracy_score(data.test_y, predicted)))
    run.curve.macro_f1.append(
        float(f1_score(data.test_y, predicted, labels=present, average="macro", zero_division=0))
    )
    return model


def _batch(
    proba: np.ndarray,
    pool_X: Matrix,
    answers: np.ndarray | None,
    checks: np.ndarray,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pool positions people label this round: the route checks, then the recipe's ranking
    (with the oracle's vote when `answers` are given)."""
    from app.learning.ranking import Diversity, rank_scores
    from app.learning.strategies import score

    spec = args.spec
    scores = score(spec.strategy, proba, rng=rng)
    if answers is not None:
        scores = disagreement_scores(scores, answers, proba)
    diversity = Diversity(BATCH, spec.diversity, spec.diversity_method) if spec.diversity else None
    ranking = rank_scores(
        scores,
        depth=BATCH + checks.size,
        rng=rng,
        features=pool_X if diversity or spec.density else None,
        diversity=diversity,
        density_power=spec.density,
        epsilon=spec.epsilon,
    )
    ranked = ranking.indices[~np.isin(ranking.indices, checks)]
    return np.concatenate([checks, ranked])[:BATCH].astype(np.intp)


def run_arm(
    data: Dataset,
    feats: Features,
    arm: str,
    oracle: np.ndarray | None,
    seed: int,
    args: argparse.Namespace,
) -> Run:
    """People label `args.rounds` batches of the recipe after the seed set; the route arm adds
    machine labels after each round while its gate is open."""
    gold, n = data.train_y, data.train_y.size
    rng, check_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 3])
    human = _seed_set(feats.train, n, args.spec, seed)
    machine = np.zeros(0, dtype=np.intp)
    run = Run(Curve([], [], [], 0.0, 0.0))
    for round_ in range(args.rounds + 1):
        rows = np.concatenate([human, machine])
        y = np.concatenate([gold[human], (gold if oracle is None else oracle)[machine]])
        model = _fit_and_score(data, feats, rows, y, run)
        run.curve.labels.append(human.size)
        if round_ == args.rounds:
            return run
        pool = np.setdiff1d(np.arange(n), rows)
        proba = model.predict_proba(feats.train[pool])
        inside = route_mask(oracle[pool], proba, args.threshold) if arm == "route" else None
        checks = np.zeros(0, dtype=np.intp)
        if inside is not None and args.route_checks:
            route = np.flatnonzero(inside)
            checks = check_rng.permutation(route)[: args.route_checks]
        answers = oracle[pool] if arm == "vote" else None
        picked = _batch(proba, feats.train[pool], answers, checks, args, rng)
        human = np.concatenate([human, pool[picked]])
        if inside is None:
            continue
        measured = pool[picked[inside[picked]]]  # people labelled them: gold is their label
        run.route_n += measured.size
        run.route_right += int(np.sum(oracle[measured] == gold[measured]))
        if gate_open(run.route_right, run.route_n, args.target):
            run.opened = round_ + 1 if run.opened is None else run.opened
            inside[picked] = False
            added = pool[inside]
            machine = np.concatenate([machine, added])
            run.machine += added.size
            run.machine_right += int(np.sum(oracle[added] == gold[added]))
    return run


# --- parallel runs -------------------------------------------------------------------------------

_STATE: dict[str, object] = {}


def _run_job(job: tuple[int, float | None, str]) -> tuple[tuple[int, float | None, str], Run]:
    seed, accuracy, arm = job
    data, feats, args = _STATE["data"], _STATE["features"], _STATE["args"]
    oracle = None
    if accuracy is not None:
        oracle = simulated_oracle(data.train_y, len(data.labels), accuracy, seed)
    return job, run_arm(data, feats, arm, oracle, seed, args)


def run_all(args: argparse.Namespace) -> dict[tuple[float | None, str], list[Run]]:
    import multiprocessing as mp

    data = load_banking77(args.cache_dir)
    cache = EmbeddingCache(args.cache_dir, args.threads)
    features = build_features(data, {args.spec.features}, cache)[args.spec.features]
    _STATE.update(data=data, features=features, args=args)
    jobs = [(s, None, "people") for s in args.seeds]
    jobs += [(s, a, arm) for a in args.accuracies for arm in ARMS[1:] for s in args.seeds]
    results: dict[tuple[float | None, str], list[Run]] = {}
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.jobs, initializer=_init_worker) as workers:
        for done, ((seed, accuracy, arm), run) in enumerate(
            workers.imap_unordered(_run_job, jobs), start=1
        ):
            results.setdefault((accuracy, arm), []).append(run)
            log(
                f"[{done}/{len(jobs)} {time.perf_counter() - start:.0f}s] oracle {accuracy} "
                f"{arm} seed {seed}: final acc {run.curve.accuracy[-1]:.3f}, "
                f"machine labels {run.machine}"
            )
    return results


# --- report --------------------------------------------------------------------------------------


def print_simulation(
    results: dict[tuple[float | None, str], list[Run]], args: argparse.Namespace
) -> None:
    base_labels, base_acc, _ = mean_curve([r.curve for r in results[(None, "people")]])
    target = float(base_acc[-1])
    spec = args.spec
    print(
        f"\n### SIMULATED oracles on banking77 ({len(args.seeds)} seeds, mean): recipe "
        f"{spec.text} ({spec.features} features), {SEED_SIZE} seed + {args.rounds} x {BATCH} "
        f"human labels; route: classifier >= {args.threshold} sure and agreeing with the oracle, "
        f"gate: 95 % Wilson lower bound > {args.target} on >= {MIN_ROUTE_SAMPLE} measured items, "
        f"{args.route_checks} route checks a round"
    )
    print(f"people only: final test accuracy {target:.3f} at {base_labels[-1]} labels")
    columns = [
        "oracle accuracy (simulated)",
        "arm",
        "final test acc",
        f"human labels to {target:.3f} (x of {base_labels[-1]})",
        "machine labels",
        "their accuracy (vs gold)",
        "route measured: right / n",
        "gate opened at round",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|---" * len(columns) + "|")
    print(f"| - | people | {target:.3f} | {base_labels[-1]} (1.00x) | - | - | - | - |")
    for accuracy in args.accuracies:
        for arm in ARMS[1:]:
            print(_row(accuracy, arm, results[(accuracy, arm)], target))
    sys.stdout.flush()


def _row(accuracy: float, arm: str, runs: list[Run], target: float) -> str:
    labels, acc, _ = mean_curve([r.curve for r in runs])
    reached = labels_to_reach(labels, acc, target)
    reach = f">{labels[-1]}" if reached is None else f"{reached} ({reached / labels[-1]:.2f}x)"
    cells = [f"{accuracy:.2f}", arm, f"{acc[-1]:.3f}", reach]
    if arm != "route":
        return "| " + " | ".join([*cells, "-", "-", "-", "-"]) + " |"
    machine = sum(r.machine for r in runs)
    right = sum(r.machine_right for r in runs)
    cells += [
        f"{machine / len(runs):.0f}",
        f"{right / machine:.3f}" if machine else "-",
        " + ".join(f"{r.route_right}/{r.route_n}" for r in runs),
        ", ".join("never" if r.opened is None else str(r.opened) for r in runs),
    ]
    return "| " + " | ".join(cells) + " |"


# --- (a) a running server ------------------------------------------------------------------------


def measure_local(args: argparse.Namespace) -> None:
    """Ask the server about `args.local_texts` test texts of the first intents; print its
    accuracy, its Wilson interval and the trust gate's decision for `args.local_target`."""
    from app.oracles.config import OpenAIOracleConfig
    from app.oracles.local import MODEL_ALIAS
    from app.oracles.openai import OpenAIOracle

    labels = json.loads((REPO_ROOT / BANKING77 / "categories.json").read_text())[:LOCAL_LABELS]
    data = load_banking77(args.cache_dir)
    rows = [(t, data.labels[y]) for t, y in zip(data.test_texts, data.test_y, strict=True)]
    rows = [row for row in rows if row[1] in labels]
    picked = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))[: args.local_texts]]
    config = OpenAIOracleConfig.model_validate(
        {
            "base_url": args.local,
            "model": args.local_model or MODEL_ALIAS,
            "api_key_env": args.local_key_env,
            "response_format": args.local_format,
            "timeout_seconds": 120.0,
        }
    )
    start = time.perf_counter()
    with OpenAIOracle(config, labels) as oracle:
        results = [oracle.classify(text) for text, _ in picked]
    seconds = (time.perf_counter() - start) / max(len(picked), 1)
    print(f"\n### {config.model} at {args.local}: banking77 test texts, {len(labels)} intents")
    print(
        "| texts | answered | errors | right | accuracy [95 % Wilson] | macro-F1 | s/text | gate |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(_local_row(results, [gold for _, gold in picked], labels, seconds, args.local_target))


def _local_row(
    results: Sequence[OracleResult],
    gold: Sequence[str],
    labels: Sequence[str],
    seconds: float,
    target: float,
) -> str:
    """The table row: an error (no label) is no answer, so it counts in neither n nor right."""
    answered = [(r.label, g) for r, g in zip(results, gold, strict=True) if r.label is not None]
    kinds = Counter(r.error_kind for r in results if r.label is None)
    errors = ", ".join(f"{count} {kind}" for kind, count in kinds.items()) or "none"
    found = agreement_metrics([a for a, _ in answered], [g for _, g in answered], labels)
    right = sum(a == g for a, g in answered)
    low, high = wilson_interval(right, len(answered))
    accuracy = "-" if found.accuracy is None else f"{found.accuracy:.3f}"
    f1 = "-" if found.macro_f1 is None else f"{found.macro_f1:.3f}"
    gate = "open" if gate_open(right, len(answered), target) else "shut"
    cells = [len(results), len(answered), errors, right, f"{accuracy} [{low:.3f}, {high:.3f}]"]
    cells += [f1, f"{seconds:.2f}", f"{gate} for target {target}"]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


# --- command line --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--rounds", type=int, default=12, help=f"batches of {BATCH} after the seed")
    parser.add_argument("--accuracies", default="0.70,0.85,0.95", help="simulated oracles")
    parser.add_argument("--recipe", default="margin+clu+rep@tfidf", help="as label_efficiency.py")
    parser.add_argument("--threshold", type=float, default=0.5, help="route: classifier's least")
    parser.add_argument("--target", type=float, default=0.9, help="route: accuracy to beat")
    parser.add_argument(
        "--route-checks",
        type=int,
        default=0,
        help="of each batch, random route items people label to measure the route (0: only "
        "what the queue serves, as the product)",
    )
    parser.add_argument("--no-simulation", action="store_true", help="only (a)")
    parser.add_argument("--local", help="(a): an OpenAI-compatible base URL, up to /v1")
    parser.add_argument("--local-texts", type=int, default=50)
    parser.add_argument("--local-target", type=float, default=0.9)
    parser.add_argument("--local-model", help="the model to name (serve-local's alias)")
    parser.add_argument("--local-key-env", help="the variable holding the server's API key")
    parser.add_argument("--local-format", default="json_object_schema", help="response_format")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads (minilm)")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.accuracies = [float(a) for a in args.accuracies.split(",") if a]
    args.spec = Spec.parse(args.recipe)
    if args.spec.warm_up or args.spec.ensemble or args.spec.strategy.startswith("qbc"):
        parser.error("the recipe may not warm up or use a committee")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.no_simulation:
        print_simulation(run_all(args), args)
    if args.local:
        measure_local(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

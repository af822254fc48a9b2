"""How fast the feature kinds embed a pool: static vectors against MiniLM, texts per second.

Texts as ``bench/import.py`` generates them (~22 words, ~145 bytes). Static vectors are
encoded in the chunks the embedding store writes (16,384 texts); MiniLM, 140 times slower, on a
sample. The static encoder is distilled first (timed once, as on a new data directory) unless
``--data-dir`` already holds it. Prints a table; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from app.learning.embeddings import MiniLMEncoder  # noqa: E402
from app.training import encoders, featurestore  # noqa: E402
from bench.datasets import log  # noqa: E402

WORDS = ["the", "a", "card", "payment", "transfer", "account", "money", "bank", "refund"]
WORDS += ["fee", "exchange", "rate", "atm", "cash", "pin"]


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(22)) + f" #{i}" for i in range(n)]


def static_rate(data_dir: Path, n: int) -> tuple[float, float]:
    """(texts/s over ``n`` texts, seconds to distil the encoder or 0 if it was there)."""
    start = time.perf_counter()
    built = not encoders.static_path(data_dir).is_dir()
    encoder = encoders.static_encoder(data_dir)
    distil_s = time.perf_counter() - start if built else 0.0
    pool = texts(n)
    start = time.perf_counter()
    for offset in range(0, n, featurestore.STATIC_CHUNK):
        encoder.encode(pool[offset : offset + featurestore.STATIC_CHUNK])
    return n / (time.perf_counter() - start), distil_s


def minilm_rate(n: int) -> float:
    encoder = MiniLMEncoder()
    sample = texts(n, seed=1)
    start = time.perf_counter()
    encoder.encode(sample)
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="pool sizes for static")
    parser.add_argument("--minilm-sample", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=None, help="holds the static encoder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelloop-fast-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        rows = []
        for n in (int(s) for s in args.sizes.split(",")):
            log(f"static: {n:,} texts")
            rate, distil_s = static_rate(data_dir, n)
            rows.append((f"static ({n:,} texts)", rate, distil_s))
        log(f"MiniLM: {args.minilm_sample:,} texts")
        minilm = minilm_rate(args.minilm_sample)
    print("| features | texts/s | × MiniLM | distillation s |\n|---|---|---|---|")
    for name, rate, distil_s in rows:
        print(f"| {name} | {rate:,.0f} | {rate / minilm:,.0f}× | {distil_s:.0f} |")
    print(f"| MiniLM ({args.minilm_sample:,} texts) | {minilm:,.0f} | 1× | - |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

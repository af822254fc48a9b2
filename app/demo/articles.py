"""The sentence-selection demo: 60 English Wikipedia articles (CC BY-SA 3.0, see NOTICE.md),
imported as documents that the product splits into sentence items, and its guidelines."""

from __future__ import annotations

import json
from pathlib import Path

ARTICLES_FILE = Path(__file__).with_name("sentence_selection_demo.jsonl")
ARTICLES_NAME = "Sentence selection demo"
ARTICLES_GUIDELINES = """\
Choose the sentences that belong in a short summary of the article.

Each item is one sentence, marked inside its article; the article's title is the document's id.

include: the sentence says what the subject is, or states a main fact about it that a reader
of a five-sentence summary should know: what it is made of or how it works, a defining event,
date, place, figure or result, why it matters.

exclude: detail, examples, lists of names or numbers, quotations, etymology, asides, and
background a summary can drop; a sentence that only makes sense after the one before it.

About one sentence in five is include. Judge the sentence in its article: the same words can be
a main fact in one article and a detail in another. The texts are English Wikipedia articles
of 2016, by Wikipedia's contributors, under CC BY-SA 3.0.
"""


def article_rows() -> list[dict[str, str]]:
    """The articles of ``ARTICLES_FILE``: id, title, text, url (the revision, its attribution)."""
    lines = ARTICLES_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def article_records() -> list[dict[str, str]]:
    """One import record an article: its title as the document's id (shown with each sentence)
    and its text, which the import splits into sentences as it would a user's file."""
    return [{"id": row["title"], "text": row["text"]} for row in article_rows()]

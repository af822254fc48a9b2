"""The sentence-selection demo: its articles imported as documents, split into sentence items
whose offsets give back each article's text, as the README and NOTICE describe them."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.db import Database
from app.demo.articles import ARTICLES_GUIDELINES, article_rows
from app.demo.loader import load_demo
from app.items.sentences import split
from app.models import Document, Item
from app.projects.service import counts
from app.projects.shape import DEFAULT_LABELS, SENTENCE_SELECTION
from tests.server import ROOT


def test_each_article_becomes_a_document_whose_sentences_give_back_its_text(
    db: Database,
) -> None:
    rows = article_rows()
    with db.writer() as session, session.begin():
        project, created = load_demo(session, task=SENTENCE_SELECTION)
        assert created
        assert (project.task, project.labels) == (
            SENTENCE_SELECTION,
            DEFAULT_LABELS[SENTENCE_SELECTION],
        )
        assert project.guidelines == ARTICLES_GUIDELINES
        documents = session.scalars(
            select(Document).where(Document.project_id == project.id).order_by(Document.id)
        ).all()
        sentences = {
            d.id: session.scalars(
                select(Item).where(Item.document_id == d.id).order_by(Item.position)
            ).all()
            for d in documents
        }
        shown = counts(session, project)
    assert [(d.external_id, d.text) for d in documents] == [(r["title"], r["text"]) for r in rows]
    for document in documents:
        items = sentences[document.id]
        assert document.n_sentences == len(items) > 1, document.external_id
        assert [i.position for i in items] == list(range(len(items)))
        cursor = 0
        for item in items:
            start, end = item.start_offset, item.end_offset
            assert start is not None and end is not None
            assert item.text == document.text[start:end]
            assert item.text.strip() == item.text != ""
            assert document.text[cursor:start].strip() == ""  # only whitespace between
            cursor = end
        assert document.text[cursor:].strip() == ""
    assert shown.n_items == sum(len(s) for s in sentences.values())
    assert shown.n_labeled == 0  # a document takes no label: no seed set


def test_the_readme_and_notice_give_the_articles_and_sentences_there_are() -> None:
    rows = article_rows()
    n_sentences = sum(len(split(r["text"])) for r in rows)
    assert len({r["title"] for r in rows}) == len({r["id"] for r in rows}) == len(rows)
    assert all(r["url"].startswith("https://en.wikipedia.org/w/index.php?oldid=") for r in rows)
    for name in ("README.md", "app/demo/NOTICE.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        found = re.search(r"([\d,]+) English Wikipedia articles.*?([\d,]+) sentences", text, re.S)
        assert found, f"{name} should say how many articles and sentences the demo has"
        assert int(found.group(1)) == len(rows), name
        assert int(found.group(2).replace(",", "")) == n_sentences, name

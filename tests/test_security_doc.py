"""SECURITY.md names the test behind each control: every one it names must exist."""

from __future__ import annotations

import re

from tests.server import ROOT

REFERENCE = re.compile(r"`([\w/]+\.py)(?:::(\w+))?`")


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) > 30
    for path, name in references:
        if path.startswith("app/"):
            assert (ROOT / path).exists(), path
            continue
        source = (ROOT / "tests" / path).read_text(encoding="utf-8")
        if name:
            assert f"def {name}(" in source, f"SECURITY.md names {path}::{name}, which is gone"
    # ``::name`` after a file refers to that file: "`a.py::x`, `::y`"
    for file, name in re.findall(r"`([\w/]+\.py)::\w+`, `::(\w+)`", text):
        assert f"def {name}(" in (ROOT / "tests" / file).read_text(encoding="utf-8"), name

"""A CSV in a Windows code page is read as such and handed on as UTF-8; a byte that code page
does not define, or a NUL, is still named by row, line and byte, wherever it is."""

from __future__ import annotations

import io
from typing import Any, cast

import pytest

from app.items.formats import ImportFormatError, iter_records
from tests.items.parsing import byte_by_byte

ROWS = "".join(f"{i},café number {i}\n" for i in range(5000))  # well past the sniffed 64 KB
HEAD = ("id,text\n" + ROWS).encode("cp1252")


def test_a_windows_1252_file_is_read_right_even_byte_by_byte() -> None:
    data = "id,text\n1,café au lait\n2,très bien – oui\n".encode("cp1252")
    records = list(iter_records(cast(Any, byte_by_byte(data)), "csv"))
    assert [r.text for r in records] == ["café au lait", "très bien – oui"]


def test_a_byte_the_code_page_lacks_names_row_line_and_byte() -> None:
    with pytest.raises(ImportFormatError) as info:
        list(iter_records(io.BytesIO(HEAD + b"5000,bad \x81 here\n"), "csv"))
    assert str(info.value) == (
        f"row 5001 (line 5002): the file is not valid Windows-1252 (Western European) "
        f"(byte 0x81 at byte {len(HEAD) + 9}); save it as UTF-8"
    )


def test_a_nul_byte_in_a_legacy_file_names_row_line_and_byte() -> None:
    with pytest.raises(ImportFormatError) as info:
        list(iter_records(io.BytesIO(HEAD + b"5000,nul \x00 here\n"), "csv"))
    assert str(info.value).startswith(
        f"row 5001 (line 5002): the file contains a NUL byte (at byte {len(HEAD) + 9})"
    )

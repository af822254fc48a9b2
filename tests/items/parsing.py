"""Helpers of the upload parser tests: parse bytes, expect an error, feed a file in tiny reads."""

import io
from collections.abc import Iterable
from typing import Any

import pytest

from app.items.formats import Format, ImportFormatError, Record, iter_records


class GeneratedFile(io.RawIOBase):
    """A read-only binary file fed by an iterator of chunks, so it is never all in memory."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def parse(data: bytes | str, fmt: Format = "csv", **options: Any) -> list[Record]:
    raw = data.encode() if isinstance(data, str) else data
    return list(iter_records(io.BytesIO(raw), fmt, **options))


def parse_error(data: bytes | str, fmt: Format = "csv", **options: Any) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse(data, fmt, **options)
    return info.value


def byte_by_byte(data: bytes) -> GeneratedFile:
    return GeneratedFile(data[i : i + 1] for i in range(len(data)))

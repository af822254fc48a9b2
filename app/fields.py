"""Request field types shared by both surfaces: ids that fit the database, strings it can store.

PostgreSQL's ``integer`` ends at 2**31 - 1 and its ``text`` cannot hold NUL; checking both at
the edge turns what would be a database error (a 500) into a 422 that names the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path
from pydantic import AfterValidator, Field

MAX_ID = 2**31 - 1  # the largest value of an ``integer`` column on PostgreSQL


def no_nul(value: str) -> str:
    """Refuse NUL characters, which PostgreSQL cannot store in text."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    return value


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
FormId = Annotated[int, Form(ge=1, le=MAX_ID)]
Text = Annotated[str, AfterValidator(no_nul)]

"""Request bodies parsed as strict JSON (filled in below)."""

from __future__ import annotations

from fastapi import Request


class StrictJSONRequest(Request):
    """A request whose ``json()`` refuses values the database cannot store."""

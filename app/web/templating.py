"""Jinja2 templates with named blocks for HTMX fragments (jinja2-fragments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2_fragments.fastapi import Jinja2Blocks

from app.web.security import csrf_token

ROOT = Path(__file__).resolve().parent.parent.parent
HTMX = "htmx-2.0.11.min.js"


def number(value: float) -> str:
    """A number as a person would type it: 20.0 as "20", 0.05 as "0.05"."""
    return f"{value:g}"


templates = Jinja2Blocks(directory=str(ROOT / "templates"))
templates.env.globals.update(htmx_file=HTMX)
templates.env.filters["number"] = number


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a whole page, or only ``block`` of it (for an HTMX swap)."""
    ctx = {"csrf_token": csrf_token(request), "current_user": None, **(context or {})}
    kwargs: dict[str, Any] = {"status_code": status_code, "headers": headers}
    if block is not None:
        kwargs["block_name"] = block
    # an HTMLResponse (a subclass), though its stub promises only a Response
    return cast(HTMLResponse, templates.TemplateResponse(request, name, ctx, **kwargs))


def flash(request: Request, notice: str) -> None:
    """Keep ``notice`` for the next page this browser opens (after a redirect)."""
    request.session["notice"] = notice


def take_flash(request: Request) -> str | None:
    """The notice kept by ``flash``, once."""
    notice = request.session.pop("notice", None)
    return notice if isinstance(notice, str) else None


def sentence(message: str) -> str:
    """A service's message as a sentence for a page: capital first, full stop last."""
    message = message.removeprefix("name: ").replace(" (merge_into)", "")
    message = message[:1].upper() + message[1:]
    return message if message[-1:] in ".?!" else f"{message}."

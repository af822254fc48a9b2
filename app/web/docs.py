"""Interactive API docs from vendored files: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own pages load their scripts from a CDN and start them with an inline script, both
of which the site's CSP refuses (``script-src 'self'``); these pages load the pinned copies
under ``static/vendor/`` and start them from ``static/docs.js``.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.routing import GuardedRoute
from app.web.security import csp_with_style_nonce
from app.web.templating import templates

router = APIRouter(route_class=GuardedRoute)
SWAGGER_UI = "/static/vendor/swagger-ui-dist-5.35.0"
REDOC = "/static/vendor/redoc-2.5.4"
# The <style> elements the ReDoc bundle injects as it loads, before it can be given the nonce:
# the scrollbar CSS of redoc.standalone.js 2.5.4 (a new version needs its hash anew), and an
# empty one (styled-components' first sheet; CSP checks a style element again on every change).
REDOC_STYLE_HASHES = (
    "QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc=",
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  # sha256 of ""
)


def _page(
    request: Request, name: str, context: dict[str, Any], headers: dict[str, str] | None = None
) -> HTMLResponse:
    # no session and no CSRF token (unlike ``render``): the docs are public and stateless
    context = {"openapi_url": request.app.openapi_url, **context}
    return cast(HTMLResponse, templates.TemplateResponse(request, name, context, headers=headers))


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``: *Authorize* takes an API token."""
    return _page(request, "docs/swagger.html", {"assets": SWAGGER_UI})


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``, read-only.

    ReDoc injects its styles as ``<style>`` elements (styled-components), so this page's CSP
    admits those that carry a fresh nonce, which ReDoc is given; scripts stay ``'self'``.
    """
    nonce = secrets.token_urlsafe(16)
    headers = {"Content-Security-Policy": csp_with_style_nonce(nonce, REDOC_STYLE_HASHES)}
    return _page(request, "docs/redoc.html", {"assets": REDOC, "nonce": nonce}, headers)

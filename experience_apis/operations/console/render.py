"""HTML answers: Jinja2 with autoescaping on for everything, and headers that keep pages private."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["pretty"] = lambda value: json.dumps(
    value, indent=2, sort_keys=True, ensure_ascii=False, default=str
)
_env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"
# Self-hosted stylesheet only; no scripts at all, no framing, forms post only here.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page(
    template: str, *, status: int = 200, cookies: list[Cookie] | None = None, **context: Any
) -> Response[str]:
    html = _env.get_template(template).render(**context)
    return Response(
        html, status_code=status, media_type=MediaType.HTML, headers=HEADERS, cookies=cookies or []
    )


def redirect(location: str, *, cookies: list[Cookie] | None = None) -> Response[str]:
    """303: after a form post the browser GETs the next page (no resubmission on reload)."""
    return Response("", status_code=303, headers={**HEADERS, "Location": location}, cookies=cookies or [])

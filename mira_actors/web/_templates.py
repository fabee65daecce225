"""The web view's Jinja2 templates, their filters, and its static files."""

from __future__ import annotations

import math
from importlib import resources
from urllib.parse import quote

import jinja2

STATIC_TYPES = {"app.css": "text/css", "app.js": "text/javascript"}


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mira_actors.web", "templates"),
        autoescape=True,  # every value, in every template: step results are untrusted
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["quote"] = lambda value: quote(str(value), safe="")
    environment.filters["seconds"] = _seconds
    return environment


def _seconds(value: float | None) -> str:
    if value is None:
        return "unknown"
    if not math.isfinite(value):
        return "no deadline"
    return f"{value:.3f} s" if abs(value) < 10 else f"{value:.1f} s"


TEMPLATES = _environment()
STATIC = {
    name: (resources.files("mira_actors.web") / "static" / name).read_bytes()
    for name in STATIC_TYPES
}

"""Load the HTML templates shipped in `templates/` and fill their `{{name}}` placeholders.

The templates are trimmed copies of real saved pages (see `pages_jiji` and `pages_asahi` for which sample
each one comes from).  `{{...}}` never occurs in those samples, so it is a safe placeholder syntax; a
placeholder without a value is an error rather than silently left in the page.
"""

from __future__ import annotations

import functools
import html
import json
import re
from importlib.resources import files
from urllib.parse import quote

_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


@functools.cache
def load(name: str) -> str:
    return (files("crawler.simulator") / "templates" / name).read_text(encoding="utf-8")


def fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, template)


def esc(text: str) -> str:
    """Text for HTML element content and attribute values."""
    return html.escape(text, quote=True)


def js(value: object) -> str:
    """A JSON value for JSON-LD / inline scripts (`</` escaped so it cannot close the script element)."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def q(text: str) -> str:
    """Percent-encoded, as in share links."""
    return quote(text, safe="")

"""The per-outlet base-URL override (`--base-url OUTLET=URL`, setting `OUTLET_BASE_URLS`).

A mirror, a staging copy or the local simulator is crawled under an outlet's real URLs: requests are
moved onto the override origin and everything archived or catalogued keeps the real URL. The crawl's
middleware, the spiders (discovery on the override origin) and the incremental pipeline (catalog keys)
all read the same setting, so its parsing lives here, below all of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def parse_base_urls(value: Any) -> dict[str, str]:
    """`OUTLET_BASE_URLS` as a dict (or its JSON text) -> {outlet: "scheme://host[:port]"}.

    Raises ValueError with one line naming the offending outlet.
    """
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"OUTLET_BASE_URLS: not valid JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise ValueError("OUTLET_BASE_URLS: expected a mapping of outlet name to base URL")
    result: dict[str, str] = {}
    for outlet, url in value.items():
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError(f"OUTLET_BASE_URLS[{outlet!r}]: '{url}' must be http(s)://host[:port]")
        result[str(outlet)] = f"{parts.scheme}://{parts.netloc}"
    return result


def rebase_url(url: str, hosts: frozenset[str] | set[str], base: str) -> str | None:
    """`url` moved onto the `base` origin when its host is one of `hosts`; None when it is not."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in hosts:
        return None
    target = urlsplit(base)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))

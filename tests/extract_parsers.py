"""Module-level page objects for the extraction worker tests: a worker process imports them by name."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from core.items import PageFields


def spin_forever(html: str, url: str) -> PageFields:
    while True:
        pass


def report_pid(html: str, url: str) -> PageFields:
    """The process that ran the page object, in the title."""
    return PageFields(parser="page:pid", title=f"pid {os.getpid()}", body_paragraphs=["body " * 20])


def die(html: str, url: str) -> PageFields:
    os._exit(3)


def die_once(html: str, url: str) -> PageFields:
    """Kills its process the first time (the marker file named in the URL does not exist yet)."""
    marker = Path(parse_qs(urlsplit(url).query)["marker"][0])
    if not marker.exists():
        marker.write_text("died once")
        os._exit(3)
    return report_pid(html, url)

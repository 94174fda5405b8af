"""The fixture corpus of bench/extraction.py: every registered outlet's recorded page, decoded once as
Scrapy would, with the golden fields it is scored against."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import REPO

OUTLET_FIXTURES = REPO / "tests" / "fixtures" / "outlets"
EXTRA_PAGES: list[Path] = []  # tests/fixtures/pages/* are copies of outlet fixtures already in the corpus


@dataclass
class Page:
    name: str
    url: str
    page: Any  # core.items.FetchedPage with its page object
    golden: dict[str, Any]
    real: bool = True  # a saved page of the outlet's site (False: synthetic, built from OUTLETS.md)


def load_corpus() -> list[Page]:
    from core.items import WarcPointer
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixtures import fixture_paths, read_fixture

    pointer = WarcPointer("bench.warc.gz", "bench.warc.gz", 0, 0, "", "", "", "")
    items: list[tuple[str, str, bytes, dict[str, list[str]], Path, bool]] = []
    for meta in fixture_paths(OUTLET_FIXTURES):
        fx = read_fixture(meta)
        stem = meta.name.removesuffix(".fixture.json")
        golden_path = meta.with_name(stem + ".golden.json")
        items.append((f"{fx.outlet}/{stem}", fx.url, fx.body, fx.headers, golden_path, not fx.synthetic))
    for extra in EXTRA_PAGES:
        golden = json.loads(extra.with_name(extra.name + ".golden.json").read_text("utf-8"))
        headers = {"content-type": ["text/html"]}
        body = extra.with_name(extra.name + ".html").read_bytes()
        items.append(
            (
                f"{extra.parent.name}/{extra.name}",
                golden["url"],
                body,
                headers,
                extra.with_name(extra.name + ".golden.json"),
                True,
            )
        )
    pages = []
    for name, url, body, headers, golden_path, real in items:
        match = outlet_for_url(url)
        response = decode_like_scrapy(url, body, headers)
        page = fetched_page(match, response, warc=pointer, fetched_at="")
        golden = json.loads(golden_path.read_text("utf-8"))
        pages.append(Page(name, url, page, golden.get("fields", golden), real))
    return pages

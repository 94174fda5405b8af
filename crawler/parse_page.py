"""`newsarchive parse`: the article JSON a crawl would archive for one saved page, with topic judgements.

For maintainers debugging an outlet's page object and for users checking a page. The page goes through
the same steps as in a crawl: the outlet is chosen by the URL's host (generic extraction when no outlet
claims it), the bytes are decoded by Scrapy's own HtmlResponse (w3lib, header charset first), then
extract_article, topic judgement and story clustering run.

What differs from a crawled row, on purpose: nothing was fetched or archived, so `warc`, `run_id` and
`fetched_at` are null (not made-up values that could be mistaken for a capture), `discovered_via` is ""
and `story_cluster_id` is the id the page would get as the first copy of its story.

Headers file format (`--headers FILE`): raw HTTP response header lines `Name: value`, one per line, as
`curl -D FILE` writes them; a leading status line (`HTTP/1.1 200 OK`) and blank lines are ignored, a
repeated name keeps every value, continuation lines (starting with a space or tab) are joined to the
previous header. Content-Encoding and Transfer-Encoding are ignored: the HTML file holds the decoded body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit, urlunsplit

from scrapy.http import Headers, HtmlResponse

from core.config import ConfigError, TopicConfig
from core.items import Candidate, FetchedPage, PageParser, WarcPointer
from pipelines.article_extraction import extract_article
from pipelines.dedup import StoryClusterIndex
from pipelines.relevance import TopicMatcher
from spiders.base import NewsSpider
from spiders.base import fetched_page as build_fetched_page
from spiders.registry import load_outlets

# Headers that describe the transfer, not the bytes we are given (already decoded).
_TRANSFER_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
# extract_article insists on a pointer (a crawled Article must point to its record); a parsed page has
# none, so it gets this placeholder, which never leaves this module (the output says "warc": null).
_NO_RECORD = WarcPointer("", "", 0, 0, "", "", "", "")

HeaderInput = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]


@dataclass
class OutletMatch:
    name: str  # outlet name, or the URL's host when no outlet claims it
    spider: NewsSpider | None  # None = generic extraction

    @property
    def parser(self) -> PageParser | None:
        return type(self.spider).page_parser if self.spider is not None else None


def parse_headers(text: str, source: str = "headers") -> list[tuple[str, str]]:
    """`Name: value` lines -> [(name, value)], repeated names kept. ConfigError names the bad line."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line[0] in " \t" and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {line.strip()}")
            continue
        if number == 1 and line.upper().startswith("HTTP/"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise ConfigError(f"{source}: line {number} is not 'Name: value': {line[:80]!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def read_headers_file(path: Path) -> list[tuple[str, str]]:
    try:
        text = Path(path).read_bytes().decode("latin-1")  # header bytes map 1:1, as on the wire
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_headers(text, str(path))


def _pairs(headers: HeaderInput | None) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in headers.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs += [(name, v) for v in values]
        return pairs
    return [(str(n), str(v)) for n, v in headers]


def outlet_for_url(url: str, base_urls: Mapping[str, str] | None = None) -> OutletMatch:
    """The outlet whose real host (or, with `base_urls` = {outlet: origin}, whose override origin)
    serves `url`. The spider instance canonicalises URLs and undoes the base-URL override."""
    parts = urlsplit(url)
    outlets = _registry()
    for name, origin in (base_urls or {}).items():
        if name in outlets and parts.netloc.lower() == urlsplit(origin).netloc.lower():
            return OutletMatch(name, _spider(name, origin))
    host = (parts.hostname or "").lower()
    for name, cls in outlets.items():
        if host in cls.hosts:
            return OutletMatch(name, _spider(name, None))
    return OutletMatch(host or "unknown", None)


_spiders: dict[tuple[str, str | None], NewsSpider] = {}
_outlets: dict[str, type[NewsSpider]] = {}


def _registry() -> dict[str, type[NewsSpider]]:
    # Hand-written and TOML outlets alike; loaded once per process (the TOML files are parsed here).
    if not _outlets:
        _outlets.update(load_outlets())
    return _outlets


def _spider(name: str, base_url: str | None) -> NewsSpider:
    # Spiders are built without a crawler: only their URL logic (canonicalize, is_article) is used.
    key = (name, base_url)
    if key not in _spiders:
        spider = _registry()[name]()
        spider.base_url = base_url
        _spiders[key] = spider
    return _spiders[key]


def canonical_url(match: OutletMatch, fetched_url: str) -> str:
    if match.spider is not None:
        return match.spider.canonicalize(fetched_url)
    parts = urlsplit(fetched_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def decode_like_scrapy(url: str, body: bytes, headers: HeaderInput | None) -> HtmlResponse:
    """The HtmlResponse Scrapy would hand the spider for these decoded bytes and headers."""
    kept = [(n, v) for n, v in _pairs(headers) if n.lower() not in _TRANSFER_HEADERS]
    scrapy_headers = Headers()
    for name, value in kept:
        scrapy_headers.appendlist(name, value)
    return HtmlResponse(url=url, body=body, headers=scrapy_headers, status=200)


def fetched_page(
    match: OutletMatch,
    response: HtmlResponse,
    *,
    warc: WarcPointer | None,
    fetched_at: str,
    candidate: Candidate | None = None,
) -> FetchedPage:
    """The FetchedPage NewsSpider.parse_article would yield for this response (the same builder)."""
    return build_fetched_page(
        response,
        url=canonical_url(match, response.url),
        outlet=match.name,
        parser=match.parser,
        candidate=candidate,
        warc=warc,
        fetched_at=fetched_at,
    )


def parse_page(
    url: str,
    html_bytes: bytes,
    headers: HeaderInput | None = None,
    *,
    topics: Sequence[TopicConfig],
    min_extracted_size: int = 50,
) -> dict[str, Any]:
    """The Article JSON for one page, with `warc`, `run_id` and `fetched_at` set to null."""
    url = urldefrag(url.strip()).url  # a fragment is never sent: a crawl's fetched URL has none
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"{url!r}: give the page's absolute http(s) URL")
    match = outlet_for_url(url)
    response = decode_like_scrapy(url, html_bytes, headers)
    page = fetched_page(match, response, warc=_NO_RECORD, fetched_at="")
    article = extract_article(page, run_id="", min_extracted_size=min_extracted_size)
    article.topics = [TopicMatcher(t).judge(article.title, article.text, stage=2) for t in topics]
    article.story_cluster_id = StoryClusterIndex().assign(
        article.text_hash, article.text, article.url, article.published_at
    )
    row = article.to_json()
    row.update(warc=None, run_id=None, fetched_at=None)
    return row

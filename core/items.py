"""The shared vocabulary: what a spider hands to the pipelines and the article record we publish.

This module is a leaf (no Scrapy, no project imports) so that spiders, page objects, pipelines and the
archive library can all speak it.  `Article.to_json()` is the JSON contract downstream consumers rely on;
`SCHEMA_VERSION` follows semver: compatible additions bump the minor, anything else the major.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

SCHEMA_VERSION = "1.1.0"  # 1.1.0: version, previous_version_id, changes (revisits)

Access = Literal["free", "paywalled", "registration", "unknown"]


@dataclass(frozen=True)
class Candidate:
    """What discovery knew about an article URL before fetching it."""

    url: str  # canonical article URL on the outlet's real host
    outlet: str
    source: str  # "feed" | "sitemap" | "listing" | "search" | "seed"
    source_url: str = ""  # the feed/sitemap/listing page where it was found
    published_at: str | None = None  # ISO 8601 with offset, when the source gave one
    title: str | None = None
    keywords: tuple[str, ...] = ()


@dataclass
class Image:
    url: str
    caption: str = ""


@dataclass
class PageFields:
    """What a page object reads from one article page (HTML + URL). Empty string / None = not found."""

    parser: str  # e.g. "page:jiji@2022"
    title: str = ""
    subtitle: str = ""
    lead: str = ""
    published_at: str | None = None  # ISO 8601, +09:00
    published_raw: str = ""
    modified_at: str | None = None
    modified_raw: str = ""
    authors: list[str] = field(default_factory=list)
    section: str = ""
    tags: list[str] = field(default_factory=list)
    body_paragraphs: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    access: Access = "unknown"
    body_complete: bool = True
    canonical_url: str = ""
    # Fields the page object read from every source extract_article would fall back to (JSON-LD, meta
    # tags): an empty value there is the page's answer ("looked, none"), so nothing parses the page again.
    complete_fields: list[str] = field(default_factory=list)


PageParser = Callable[[str, str], PageFields]
"""A page object entry point: (decoded html, canonical url) -> PageFields. Pure: no I/O, no Scrapy."""


@dataclass
class WarcPointer:
    """Where the response record an article came from lives: enough to read it back by offset alone."""

    filename: str  # WARC file name (basename); `path` is relative to the archive root
    path: str
    offset: int
    length: int  # compressed length of the record's gzip member
    record_id: str  # <urn:uuid:...>
    payload_digest: str  # sha1:BASE32 as in WARC-Payload-Digest
    target_uri: str  # WARC-Target-URI (the URL actually fetched)
    date: str  # WARC-Date


@dataclass
class FetchedPage:
    """A fetched article page as a spider yields it to the pipelines.

    `parser` is the outlet's page object, passed as a callable so that pipelines never import spiders.
    """

    url: str  # canonical URL on the outlet's real host (what researchers cite)
    fetched_url: str  # the URL actually requested (differs under a base-URL override or redirect)
    outlet: str
    status: int
    headers: dict[str, list[str]]  # response headers after decompression, lower-case names
    body: bytes  # decoded transfer/content encoding, raw charset
    encoding: str  # charset Scrapy used to decode the body
    text: str  # decoded HTML
    candidate: Candidate | None
    warc: WarcPointer | None
    parser: PageParser | None = None
    fetched_at: str = ""
    truncated: bool = False  # the body stopped early (size limit or a connection lost mid-body)


@dataclass
class TopicMatch:
    name: str
    score: float
    matched: dict[str, int]
    stage: int  # 1 = before fetching (feed/sitemap title), 2 = after extraction
    accepted: bool = False


@dataclass
class Article:
    """One archived article: the record written as a JSON line and into the WARC metadata record."""

    url: str
    fetched_url: str
    outlet: str
    title: str
    published_at: str | None
    text: str
    topics: list[TopicMatch]
    warc: WarcPointer
    run_id: str
    fetched_at: str
    modified_at: str | None = None
    subtitle: str = ""
    lead: str = ""
    authors: list[str] = field(default_factory=list)
    section: str = ""
    tags: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    access: Access = "unknown"
    body_complete: bool = True
    language: str = ""
    charset: dict[str, Any] = field(default_factory=dict)  # declared, used, replacement_chars
    discovered_via: str = ""
    extraction: dict[str, str] = field(default_factory=dict)  # field -> method, plus "versions"
    text_hash: str = ""
    story_cluster_id: str = ""  # "story:<16 hex>": copies of one (wire) story share it
    # Versions: a scheduled revisit that finds new content archives it as version n+1; both stay.
    version: int = 1
    previous_version_id: str | None = None  # the WARC-Record-ID of the previous version's response
    changes: dict[str, Any] = field(default_factory=dict)  # against the previous version (core.textdiff)
    schema_version: str = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data = _plain(self)
        # Field order in the JSON line: identity first, then content, then provenance.
        order = ["schema_version", "url", "outlet", "title", "published_at"]
        return {**{k: data[k] for k in order}, **{k: v for k, v in data.items() if k not in order}}


_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """dataclasses.asdict without its deepcopy of every leaf, which cost ~0.3 ms per article row: the
    leaves of a row are str, int, float, bool or None, which a copy would return unchanged anyway.
    Leaves are told by their exact type first (a row has ~90, and is_dataclass asked of each cost more
    than the rest of the walk), and each dataclass's field names are looked up once per class."""
    kind = type(value)
    if kind in _LEAF_TYPES:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None and is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value

"""What each simulated outlet answers to a request: routing, content negotiation and response headers.

`SimSite.respond()` is the single source of truth for the HTTP server and for `Simulator.served_bytes()`:
both get the same status, header list (in order) and body bytes (compressed if negotiated, before any
chunk framing).  Pages are rendered lazily and cached per path; everything depends only on the seed.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import brotli

from crawler.simulator import feeds, pages_asahi, pages_jiji, search
from crawler.simulator.site import (
    ARTICLES_PER_OUTLET,
    MISSING_JIJI_K,
    ORIGINS,
    OUTLETS,
    SIM_NOW,
    SimArticle,
    build_articles,
)

SERVER = "newsarchive-simulator"
HTML = "text/html; charset=UTF-8"
XML = "application/xml; charset=UTF-8"
RDF = "application/rdf+xml; charset=UTF-8"
TEXT = "text/plain; charset=UTF-8"
_COMPRESSIBLE = ("text/html", "application/xml", "application/rdf+xml")
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    410: "Gone",
    405: "Method Not Allowed",
}
CHUNK_PARTS = 4  # chunked bodies go out in about this many chunks

# Transport test cases on the jiji server (see the package docstring); never linked from any page.
SIM_BROTLI = "/sim/brotli.html"
SIM_OVERSIZE = "/sim/oversize.html"
SIM_DROPPED = "/sim/dropped.html"
OVERSIZE_DEFAULT = 300_000
DROPPED_DEFAULT = (10_000, 5_000)  # (declared Content-Length, bytes actually sent)
MAX_SIM_BYTES = 20 * 1024 * 1024


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as announced (Content-Length), before chunk framing
    chunked: bool = False
    sent_bytes: int | None = None  # set: only this much of `body` is sent, then the connection closes

    @property
    def reason(self) -> str:
        return _REASONS.get(self.status, "")

    @property
    def wire_body(self) -> bytes:
        """The body bytes that actually leave the server (before chunk framing)."""
        return self.body if self.sent_bytes is None else self.body[: self.sent_bytes]

    def chunks(self) -> list[bytes]:
        size = max(1, -(-len(self.body) // CHUNK_PARTS))
        return [self.body[i : i + size] for i in range(0, len(self.body), size)]


@dataclass
class _Doc:
    """A rendered document before transport decisions."""

    status: int
    content_type: str
    text: str = ""
    charset: str = "utf-8"
    last_modified: datetime | None = None
    article: SimArticle | None = None
    chunked: bool = False
    extra: list[tuple[str, str]] = field(default_factory=list)


def _http_date(t: datetime) -> str:
    return format_datetime(t.astimezone(UTC), usegmt=True)


def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110 §12.5.3: gzip (or *) listed with a non-zero q value."""
    return accepts_coding(accept_encoding, ("gzip", "x-gzip", "*"))


def accepts_coding(accept_encoding: str, tokens: tuple[str, ...]) -> bool:
    """One of `tokens` listed in Accept-Encoding with a non-zero q value."""
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in tokens:
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


class SimSite:
    """All outlets of one seed.

    `robots_override` ({outlet: robots.txt text}) replaces an outlet's robots.txt, for tests of what a
    crawler does when robots.txt forbids something; every other byte of the site stays the same.
    """

    def __init__(
        self,
        seed: int,
        articles_per_outlet: int = ARTICLES_PER_OUTLET,
        robots_override: Mapping[str, str] | None = None,
    ) -> None:
        self.seed = seed
        self.robots_override = dict(robots_override or {})
        self.gone: dict[tuple[str, str], int] = {}  # (outlet, article id) -> 404 | 410 (simulator.changes)
        self.replace_articles(build_articles(seed, articles_per_outlet))

    def replace_articles(self, articles: list[SimArticle]) -> None:
        """The site's stories from now on (simulator.changes); every page is rendered afresh."""
        self.articles = articles
        self._newest = {
            outlet: sorted(
                (a for a in self.articles if a.outlet == outlet), key=lambda a: a.published, reverse=True
            )
            for outlet in OUTLETS
        }
        self._by_id = {(a.outlet, a.article_id): a for a in self.articles}
        self._render = functools.lru_cache(maxsize=512)(self._route)

    # ------------------------------------------------------------------ routing
    def _route(self, outlet: str, path_qs: str) -> _Doc:
        parts = urlsplit(path_qs)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        newest = self._newest[outlet]
        if parts.path == "/robots.txt":
            text = self.robots_override.get(outlet, feeds.robots(outlet))
            return _Doc(200, TEXT, text, last_modified=datetime(2025, 1, 1, tzinfo=UTC))
        if parts.path == "/sitemap.xml":
            return self._sitemap_index(outlet)
        handler: Callable[[str, dict[str, str]], _Doc | None] = (
            self._jiji_route if outlet == "jiji" else self._asahi_route
        )
        doc = handler(parts.path, query)
        if doc is None:
            return self._not_found()
        if doc.last_modified is None and newest and doc.status == 200:
            doc.last_modified = newest[0].modified
        return doc

    def _jiji_route(self, path: str, query: dict[str, str]) -> _Doc | None:
        newest = self._newest["jiji"]
        if path == "/rss/ranking.rdf":
            return _Doc(200, RDF, feeds.jiji_ranking_rdf(newest))
        if path.startswith("/sitemap/news/") and path.endswith(".xml"):
            return self._child_sitemap("jiji", path.removeprefix("/sitemap/news/").removesuffix(".xml"))
        if path == "/jc/list" and query.get("g") == "flash":
            return self._listing("jiji", query.get("p", "1"))
        if path in ("/jc/article", "/sp/article"):
            a = self._by_id.get(("jiji", query.get("k", "")))
            if a is None or query.get("k") == MISSING_JIJI_K:
                return self._removed("jiji", query.get("k", ""))
            if path == "/sp/article":
                return self._redirect(a.url)
            return self._article(a)
        return None

    def _asahi_route(self, path: str, query: dict[str, str]) -> _Doc | None:
        newest = self._newest["asahi"]
        if path == "/rss/asahi/newsheadlines.rdf":
            return _Doc(200, RDF, feeds.asahi_headlines_rdf(newest))
        if path.startswith("/sitemap/sitemap-") and path.endswith(".xml"):
            return self._child_sitemap("asahi", path.removeprefix("/sitemap/sitemap-").removesuffix(".xml"))
        if path == "/news/history.html":
            return self._listing("asahi", query.get("page", "1"))
        if path == search.ASAHI_SEARCH_PATH:
            # Served by the asahi server whatever the Host: the crawler maps sitesearch.asahi.com here.
            results = search.find(newest, query.get("Keywords", ""))
            return _Doc(200, HTML, search.asahi_results_page(results, query.get("Keywords", ""), query))
        for prefix in ("/articles/", "/sp/articles/"):
            if path.startswith(prefix) and path.endswith(".html"):
                article_id = path.removeprefix(prefix).removesuffix(".html")
                a = self._by_id.get(("asahi", article_id))
                if a is None:
                    return self._removed("asahi", article_id)
                return self._redirect(a.url) if prefix == "/sp/articles/" else self._article(a)
        return None

    # ------------------------------------------------------------------ documents
    def _article(self, a: SimArticle) -> _Doc:
        render = pages_jiji.article_page if a.outlet == "jiji" else pages_asahi.article_page
        return _Doc(
            200,
            "text/html; charset=Shift_JIS" if a.charset == "shift_jis" else HTML,
            render(a, self._newest[a.outlet]),
            charset="cp932" if a.charset == "shift_jis" else "utf-8",
            last_modified=a.modified,
            article=a,
            chunked=a.chunked,
        )

    def _listing(self, outlet: str, page_arg: str) -> _Doc | None:
        pages = pages_jiji if outlet == "jiji" else pages_asahi
        newest = self._newest[outlet]
        if not page_arg.isdigit() or not 1 <= int(page_arg) <= pages.page_count(len(newest)):
            return None
        page = int(page_arg)
        entries = newest[(page - 1) * pages.PAGE_SIZE :]
        return _Doc(200, HTML, pages.list_page(newest, page), last_modified=entries[0].modified, chunked=True)

    def _sitemap_index(self, outlet: str) -> _Doc:
        groups: dict[str, datetime] = {}
        for a in self._newest[outlet]:
            key = feeds.group_key(outlet, a)
            groups[key] = max(groups.get(key, a.modified), a.modified)
        children = [(feeds.child_sitemap_url(outlet, key), groups[key].isoformat()) for key in sorted(groups)]
        return _Doc(200, XML, feeds.sitemap_index(children), last_modified=max(groups.values()))

    def _child_sitemap(self, outlet: str, key: str) -> _Doc | None:
        members = [a for a in self._newest[outlet] if feeds.group_key(outlet, a) == key]
        if not members:
            return None
        return _Doc(
            200, XML, feeds.news_urlset(outlet, members), last_modified=max(a.modified for a in members)
        )

    def _redirect(self, location: str) -> _Doc:
        text = (
            "<!DOCTYPE html>\n<html><head><title>301 Moved Permanently</title></head><body>"
            f'<h1>Moved Permanently</h1><p>The document has moved <a href="{location}">here</a>.</p></body></html>\n'
        )
        return _Doc(301, HTML, text, extra=[("Location", location)])

    def _removed(self, outlet: str, article_id: str) -> _Doc | None:
        """410 for a story taken down as Gone (simulator.changes); None (404) otherwise."""
        if self.gone.get((outlet, article_id)) != 410:
            return None
        text = '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="UTF-8"><title>410 Gone</title></head><body><h1>この記事は削除されました</h1></body></html>\n'
        return _Doc(410, HTML, text)

    @staticmethod
    def _not_found() -> _Doc:
        text = (
            '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="UTF-8"><title>404 Not Found</title></head>'
            "<body><h1>お探しのページは見つかりませんでした</h1><p>404 Not Found</p></body></html>\n"
        )
        return _Doc(404, HTML, text)

    # ------------------------------------------------------------------ transport
    def respond(
        self,
        outlet: str,
        method: str,
        path_qs: str,
        accept_encoding: str = "gzip",
        if_none_match: str = "",
        if_modified_since: str = "",
    ) -> Response:
        """The full response to one request (HEAD: same headers, empty body)."""
        if outlet not in OUTLETS:
            raise KeyError(outlet)
        base = [("Date", _http_date(SIM_NOW)), ("Server", SERVER)]
        if method not in ("GET", "HEAD"):
            body = b"Method Not Allowed\n"
            headers = [
                *base,
                ("Allow", "GET, HEAD"),
                ("Content-Type", TEXT),
                ("Content-Length", str(len(body))),
            ]
            return Response(405, headers, body)
        if outlet == "jiji" and path_qs.startswith("/sim/"):
            case = self._transport_case(path_qs, base, accept_encoding)
            if case is not None:
                if method == "HEAD":
                    case.body, case.sent_bytes = b"", None
                return case
        doc = self._render(outlet, path_qs)
        raw = doc.text.encode(doc.charset)
        gzipped = doc.content_type.startswith(_COMPRESSIBLE) and accepts_gzip(accept_encoding)
        # mtime=0 keeps the gzip header (and so the bytes) independent of the wall clock
        body = gzip.compress(raw, compresslevel=6, mtime=0) if gzipped else raw
        headers = [*base, ("Content-Type", doc.content_type), *doc.extra]
        etag = ""
        if doc.last_modified is not None:
            headers.append(("Last-Modified", _http_date(doc.last_modified)))
        if doc.article is not None:
            digest = hashlib.sha1(raw).hexdigest()[:20]
            etag = f'"{digest}-gzip"' if gzipped else f'"{digest}"'
            headers.append(("ETag", etag))
            session = hashlib.sha1(f"{self.seed}:{doc.article.url}".encode()).hexdigest()[:16]
            headers.append(("Set-Cookie", f"sim_session={session}; Path=/; HttpOnly"))
            headers.append(("Set-Cookie", "sim_region=jp; Path=/"))
        # Feeds, sitemaps and listings answer If-Modified-Since too (no ETag: like many real servers).
        if doc.status == 200 and _not_modified(doc, etag, if_none_match, if_modified_since):
            keep = ("Date", "Server", "Last-Modified", "ETag")
            return Response(304, [h for h in headers if h[0] in keep], b"")
        if doc.content_type.startswith(_COMPRESSIBLE):
            headers.append(("Vary", "Accept-Encoding"))
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
        if doc.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(body))))
        return Response(doc.status, headers, b"" if method == "HEAD" else body, chunked=doc.chunked)

    def origin(self, outlet: str) -> str:
        return ORIGINS[outlet]

    # ------------------------------------------------------------------ transport test cases
    def _transport_case(
        self, path_qs: str, base: list[tuple[str, str]], accept_encoding: str
    ) -> Response | None:
        """`/sim/...` pages that exercise a crawler's transport handling (not part of the outlet's site)."""
        parts = urlsplit(path_qs)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == SIM_BROTLI:
            raw = _filler_page("brotli", 4_000).encode("utf-8")
            headers = [*base, ("Content-Type", HTML), ("Vary", "Accept-Encoding")]
            if accepts_coding(accept_encoding, ("br",)):
                # quality and window fixed so that the bytes do not depend on the library's defaults
                body = brotli.compress(raw, quality=5, lgwin=22)
                headers.append(("Content-Encoding", "br"))
            elif accepts_gzip(accept_encoding):
                body = gzip.compress(raw, compresslevel=6, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
            else:
                body = raw
            return Response(200, [*headers, ("Content-Length", str(len(body)))], body)
        if parts.path == SIM_OVERSIZE:
            size = _size_arg(query.get("bytes"), OVERSIZE_DEFAULT)
            if size is None:
                return self._bad_request(base)
            # identity on purpose: compression would shrink the body below the size under test
            body = _filler_page("oversize", size).encode("ascii")
            return Response(200, [*base, ("Content-Type", HTML), ("Content-Length", str(len(body)))], body)
        if parts.path == SIM_DROPPED:
            size = _size_arg(query.get("bytes"), DROPPED_DEFAULT[0])
            sent = _size_arg(query.get("sent"), DROPPED_DEFAULT[1])
            if size is None or sent is None or sent >= size:
                return self._bad_request(base)
            body = _filler_page("dropped", size).encode("ascii")
            headers = [*base, ("Content-Type", HTML), ("Content-Length", str(size))]
            return Response(200, headers, body, sent_bytes=sent)
        return None

    @staticmethod
    def _bad_request(base: list[tuple[str, str]]) -> Response:
        body = b"Bad Request\n"
        return Response(400, [*base, ("Content-Type", TEXT), ("Content-Length", str(len(body)))], body)


def _size_arg(value: str | None, default: int) -> int | None:
    if value is None:
        return default
    if not value.isdigit() or not 64 <= int(value) <= MAX_SIM_BYTES:
        return None
    return int(value)


def _filler_page(name: str, size: int) -> str:
    """An ASCII HTML page of exactly `size` characters (`size` >= 64), deterministic, not one repeated byte."""
    head = f"<!DOCTYPE html><html><head><title>{name}</title></head><body><p>"
    tail = "</p></body></html>\n"
    room = size - len(head) - len(tail)
    blocks = [hashlib.sha256(f"{name}:{n}".encode()).hexdigest() + "\n" for n in range(room // 65 + 1)]
    return head + "".join(blocks)[:room] + tail


def _not_modified(doc: _Doc, etag: str, if_none_match: str, if_modified_since: str) -> bool:
    if if_none_match:
        # a gzip and an identity representation of the same page share the validator's digest
        tags = {t.strip().removeprefix("W/").replace("-gzip", "") for t in if_none_match.split(",")}
        return "*" in tags or etag.replace("-gzip", "") in tags
    if if_modified_since and doc.last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return doc.last_modified.replace(microsecond=0) <= since
    return False

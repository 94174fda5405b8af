"""What the browse server of `newsarchive serve` answers, without any socket: a request target (path and
query string) in, a Reply (status, page or file to stream) out, over the archive library
(archive.selection, archive.search_index, archive.export); pages from crawler.browse_pages.

Routes: `/` (filters, per-day chart, results), `/article?url=U` (one article and its versions; any URL
the article was fetched or archived under works), `/download?format=jsonl|parquet|csv|wacz&<filters>`
(the selection, exported into a temporary folder: its data file, or with `bundle=1` the whole bundle
as a zip). Everything else is 404.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from archive.article_index import open_index
from archive.root_access import ArchiveRoot
from archive.search_index import search
from archive.selection import Selection
from archive.selection_stats import Facets, facets, selection_stats
from crawler import browse_pages
from crawler.browse_pages import FORMATS, Filters, ListingView, ResultItem

PAGE_SIZE = 50
_MEDIA_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv; charset=utf-8",
    ".wacz": "application/wacz",
    ".zip": "application/zip",
    ".gz": "application/gzip",
}


class BadRequest(ValueError):
    """A request the reader can fix (a malformed date, an unknown format): 400 with the message."""


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    file: Path | None = None  # streamed instead of `body`
    filename: str = ""  # Content-Disposition: attachment
    cleanup: list[Path] = field(default_factory=list)  # folders deleted once the reply is sent

    @classmethod
    def html(cls, text: str, status: int = HTTPStatus.OK) -> Reply:
        return cls(status, text.encode("utf-8"))


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name) or [""]
    return values[-1].strip()


def parse_filters(params: dict[str, list[str]]) -> Filters:
    page_text = _one(params, "page") or "1"
    try:
        page = max(1, int(page_text))
    except ValueError:
        page = 1
    return Filters(
        topics=tuple(dict.fromkeys(t.strip() for t in params.get("topic", []) if t.strip())),
        outlets=tuple(dict.fromkeys(o.strip() for o in params.get("outlet", []) if o.strip())),
        since=_one(params, "since"),
        until=_one(params, "until"),
        query=_one(params, "q"),
        page=page,
    )


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: '{text}' is not a date (YYYY-MM-DD)") from None


def to_selection(filters: Filters) -> Selection:
    since, until = _day(filters.since, "published from"), _day(filters.until, "to")
    if since and until and since > until:
        raise BadRequest(f"published from {since} is after {until}")
    return Selection(
        topics=filters.topics, outlets=filters.outlets, since=since, until=until, query=filters.query or None
    )


def _row_item(row: dict[str, Any]) -> ResultItem:
    text = str(row.get("lead") or row.get("text") or "").replace("\n", " ")
    snippet = text[:120] + ("…" if len(text) > 120 else "")
    return ResultItem(
        url=str(row.get("url", "")),
        title=str(row.get("title") or ""),
        outlet=str(row.get("outlet") or ""),
        published_at=row.get("published_at"),
        snippet=((snippet, False),) if snippet else (),
    )


def _pieces(text: str, spans: tuple[tuple[int, int], ...]) -> tuple[tuple[str, bool], ...]:
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in spans:
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < len(text):
        out.append((text[pos:], False))
    return tuple(out)


class BrowseApp:
    """Answers one request (path and query string) with a Reply; knows nothing of sockets."""

    def __init__(self, root: ArchiveRoot, *, page_size: int = PAGE_SIZE) -> None:
        self.root = root
        self.page_size = page_size
        self._facets: tuple[int, Facets] | None = None  # (index generation, facets), shared by threads

    def handle(self, target: str) -> Reply:
        parts = urlsplit(target)
        params = parse_qs(parts.query, keep_blank_values=False)
        try:
            if parts.path == "/":
                return self.listing(params)
            if parts.path == "/article":
                return self.article(_one(params, "url"))
            if parts.path == "/download":
                return self.download(params)
            if parts.path == "/favicon.ico":
                return Reply(HTTPStatus.NO_CONTENT)
        except BadRequest as exc:
            return Reply.html(self.error_page("Bad request", str(exc)), HTTPStatus.BAD_REQUEST)
        return Reply.html(self.error_page("Not found", f"no page {parts.path}"), HTTPStatus.NOT_FOUND)

    def error_page(self, title: str, text: str) -> str:
        return browse_pages.message_page(self.root.url, title, text)

    def listing(self, params: dict[str, list[str]]) -> Reply:
        filters = parse_filters(params)
        local, store = self.root.local, self.root.store
        try:
            selection = to_selection(filters)
        except BadRequest as exc:
            known = facets(local, store=store)
            view = self._view(
                filters, topic_choices=known.topics, outlet_choices=known.outlets, error=str(exc)
            )
            return Reply.html(browse_pages.listing_page(view), HTTPStatus.BAD_REQUEST)
        # Refreshes the index for this request.
        stats = selection_stats(local, selection, store=store, known=self._facets)
        self._facets = (stats.generation, stats.facets)  # one tuple assignment: atomic for readers
        start = (filters.page - 1) * self.page_size
        if filters.query:
            no_query = Selection(selection.topics, selection.outlets, selection.since, selection.until)
            hits = search(local, filters.query, no_query, limit=start + self.page_size, store=store)
            items = [
                ResultItem(h.url, h.title, h.outlet, h.published_at, _pieces(h.snippet_text, h.highlights))
                for h in hits[start:]
            ]
        else:
            # Same order and rules as archive.selection.select_articles, reading only this page's rows.
            with open_index(local, store=store, refresh=False) as index:
                ids = index.select_ids(selection, limit=start + self.page_size)[start:]
                items = [_row_item(r) for r in index.rows(ids)]
        view = self._view(
            filters,
            total=stats.total,
            items=items,
            day_counts=stats.per_day,
            topic_choices=stats.facets.topics,
            outlet_choices=stats.facets.outlets,
        )
        return Reply.html(browse_pages.listing_page(view))

    def _view(self, filters: Filters, **fields: Any) -> ListingView:
        return ListingView(
            root_label=self.root.url,
            filters=filters,
            total=fields.pop("total", 0),
            items=fields.pop("items", ()),
            page_size=self.page_size,
            **fields,
        )

    def article(self, url: str) -> Reply:
        if not url:
            raise BadRequest("no url given (/article?url=...)")
        with open_index(self.root.local, store=self.root.store) as index:
            versions = index.versions_of([url])
        if not versions:
            return Reply.html(
                self.error_page("Not found", f"no archived article {url}"), HTTPStatus.NOT_FOUND
            )
        # Versions of several articles come back when only the path matched (the same path on several
        # origins): the URL asked for wins, else the most recently fetched article.
        if any(v.get("url") == url for v in versions):
            canonical = url
        else:
            canonical = max(versions, key=lambda v: str(v.get("fetched_at") or ""))["url"]
        own = [v for v in versions if v.get("url") == canonical]  # oldest first: the last is the latest
        return Reply.html(browse_pages.article_page(self.root.url, own[-1], own))

    def download(self, params: dict[str, list[str]]) -> Reply:
        """The selection exported (archive.export) into a temporary folder: its data file alone, or with
        `bundle=1` the whole bundle (data, manifest.json, README.md, schema) as a zip."""
        fmt = _one(params, "format")
        if fmt not in FORMATS:
            raise BadRequest(f"format: '{fmt}' is not one of {', '.join(FORMATS)}")
        selection = to_selection(parse_filters(params))
        bundle = _one(params, "bundle") in ("1", "yes", "true")
        from archive.export import ExportError, export_selection
        from archive.export_formats import ROW_FORMATS

        work = Path(tempfile.mkdtemp(prefix="newsarchive-serve-"))
        try:
            local, store = self.root.local, self.root.store
            try:
                result = export_selection(local, selection, fmt, work / "bundle", store=store)
            except ExportError as exc:
                raise BadRequest(str(exc)) from None
            if bundle:
                path = _zip_folder(result.out, work / f"newsarchive-selection-{fmt}.zip")
            else:
                path = result.out / ("articles.wacz" if fmt == "wacz" else ROW_FORMATS[fmt])
                path = path.rename(work / f"newsarchive-selection{path.suffix}")
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        media = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return Reply(HTTPStatus.OK, content_type=media, file=path, filename=path.name, cleanup=[work])


def _zip_folder(folder: Path, target: Path) -> Path:
    # Parquet and WACZ are compressed already: stored, not deflated again.
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            kind = zipfile.ZIP_STORED if path.suffix in (".parquet", ".wacz") else zipfile.ZIP_DEFLATED
            zf.write(path, f"{target.stem}/{path.relative_to(folder).as_posix()}", compress_type=kind)
    return target

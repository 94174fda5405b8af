"""Capture every HTTP exchange into WARC files, as received, from inside Scrapy's downloader.

Registered at priority 950 so that process_response sees the response before HttpCompressionMiddleware
(590) decompresses it and before RedirectMiddleware (600) follows it, and process_request has already
run every other middleware's changes to the request headers (what was sent).

Beyond request + response records it writes: revisit records for payloads already archived (this run,
or earlier runs, looked up in the root's catalog: archive.dedup), a metadata record per kept article
(ArticleStorePipeline asks `capture_for(crawler)` for this middleware), truncated records for bodies
over WARC_MAX_BODY (`WARC-Truncated: length`) and for connections lost mid-body (`disconnect`, needs
DOWNLOAD_FAIL_ON_DATALOSS = False), and a CDXJ index per closed file, built on a worker thread.

Known gap: writing and fsyncing records happen on the reactor thread. Records are small and writes are
buffered, so this costs little per page, but a slow disk stalls the crawl.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Headers, Response
from scrapy.statscollectors import StatsCollector

from archive.cdxj import index_missing, write_cdxj_lines
from archive.dedup import DEFAULT_MIN_SIZE, PayloadIndex
from archive.exchange import TRUNCATED_DISCONNECT, TRUNCATED_LENGTH, HttpExchange, RecordLocation
from archive.paths import relpath
from archive.redaction import redact_request_headers
from archive.run import RunLedger
from archive.storage import Store
from archive.stores import open_store
from archive.warc_records import warc_target_uri
from archive.warc_writer import WarcWriter
from core.items import Article, WarcPointer
from pipelines.crawl_catalog import catalog_of
from pipelines.disk_full import stop_on_disk_full

logger = logging.getLogger(__name__)

META_KEY = "newsarchive_warc"
_BYTES_KEY = "newsarchive_warc_body_bytes"
_LIFTED_KEY = "newsarchive_warc_maxsize_lifted"
DEFAULT_MAX_BODY = 32 * 1024 * 1024
# Revisits whose article metadata record has not been written yet; bounded because most revisited
# pages (feeds, listings) never become articles.
_PENDING_REVISITS = 10_000

_captures: weakref.WeakKeyDictionary[Crawler, WarcCaptureMiddleware] = weakref.WeakKeyDictionary()


def capture_for(crawler: Crawler) -> WarcCaptureMiddleware | None:
    """The capture middleware of this crawler, so other components write into the same WARC files."""
    return _captures.get(crawler)


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Every (name, value), repeated names kept. Latin-1 maps header bytes 1:1 onto str."""
    # Headers is a dict of normalised name -> list of values; reading it as such skips getlist()'s
    # key normalisation per name (this runs twice per page).
    return [
        (name.decode("latin-1") if isinstance(name, bytes) else str(name), value.decode("latin-1"))
        for name, values in dict.items(headers)
        for value in values
    ]


def truncation_of(response: Response, body_limit_hit: bool) -> str:
    if "dataloss" in response.flags:
        return TRUNCATED_DISCONNECT
    if "download_stopped" in response.flags:
        return TRUNCATED_LENGTH if body_limit_hit else "unspecified"
    return ""


def exchange_from(
    request: Request, response: Response, fetched_at: datetime | None = None, truncated: str = ""
) -> HttpExchange:
    return HttpExchange(
        url=response.url,
        method=request.method,
        # Authorization and Cookie values are credentials: never archived (archive/redaction.py).
        request_headers=redact_request_headers(header_pairs(request.headers)),
        request_body=request.body or b"",
        protocol=response.protocol or "HTTP/1.1",
        status=response.status,
        response_headers=header_pairs(response.headers),
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address is not None else None,
        fetched_at=fetched_at or datetime.now(UTC),
        truncated=truncated,
    )


class WarcCaptureMiddleware:
    def __init__(
        self,
        root: Path,
        *,
        run_id: str | None = None,
        prefix: str = "newsarchive",
        max_size: int = 1_000_000_000,
        max_age_s: float = 86400,
        gzip_level: int = 6,
        fsync: str = "close",
        warcinfo: dict[str, str] | None = None,
        stats: StatsCollector | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        dedup: bool = True,
        revisit_min_size: int = DEFAULT_MIN_SIZE,
        store: Store | None = None,
    ) -> None:
        """`store`: the remote root of an s3:// archive whose local spool is `root`; the catalog the
        payload index asks about earlier runs then also reads the published runs the spool has shed."""
        self.root = Path(root)
        self.store = store
        self.run_id = run_id
        self.stats = stats
        self.max_body = max_body
        self.ledger = RunLedger.for_run(self.root, run_id) if run_id else None
        self.payloads = PayloadIndex(revisit_min_size) if dedup else None
        self.writer = WarcWriter(
            self.root,
            prefix=prefix,
            max_size=max_size,
            max_age_s=max_age_s,
            gzip_level=gzip_level,
            fsync=fsync,
            warcinfo=warcinfo,
            on_close=self._file_closed,
            dedup=self.payloads,
            # Indexed on a worker thread: sorting and fsyncing the index of a 1 GB file is no job for
            # the reactor thread.
            cdxj=False,
            on_index=self._index_closed,
        )
        self._indexer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdxj")
        self._indexing: list[tuple[Path, Future[Path]]] = []
        self._revisits: OrderedDict[tuple[str, str], RecordLocation] = OrderedDict()
        self._recovered = False
        self.crawler: Crawler | None = None  # set by from_crawler: a full disk stops its crawl

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        root = settings.get("ARCHIVE_ROOT")
        if not root:
            raise NotConfigured("ARCHIVE_ROOT is not set: no WARC capture")
        run_id = settings.get("NEWSARCHIVE_RUN_ID") or None
        # The remote root of an s3:// archive, whose published runs the local spool may have shed.
        store_url = settings.get("ARCHIVE_STORE") or ""
        warcinfo = {
            "operator": settings.get("WARC_OPERATOR") or "",
            "http-header-user-agent": settings.get("USER_AGENT") or "",
            "isPartOf": run_id or "",
        }
        base_urls = settings.getdict("OUTLET_BASE_URLS")
        if base_urls:
            # Under a base-URL override the WARC-Target-URIs name the override host: say so in the file.
            warcinfo["outlet-base-urls"] = json.dumps(base_urls, ensure_ascii=False, sort_keys=True)
        mw = cls(
            Path(root),
            run_id=run_id,
            prefix=settings.get("WARC_PREFIX") or "newsarchive",
            max_size=settings.getint("WARC_MAX_SIZE", 1_000_000_000),
            max_age_s=settings.getfloat("WARC_MAX_AGE", 86400),
            gzip_level=settings.getint("WARC_GZIP_LEVEL", 6),
            fsync=settings.get("WARC_FSYNC") or "close",
            warcinfo=warcinfo,
            stats=crawler.stats,
            max_body=settings.getint("WARC_MAX_BODY", DEFAULT_MAX_BODY),
            dedup=settings.getbool("WARC_DEDUP", True),
            revisit_min_size=settings.getint("WARC_REVISIT_MIN_SIZE", DEFAULT_MIN_SIZE),
            store=open_store(store_url) if store_url else None,
        )
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(mw.bytes_received, signal=signals.bytes_received)
        mw.crawler = crawler
        _captures[crawler] = mw
        return mw

    def spider_opened(self) -> None:
        self.recover()

    def recover(self) -> list[Path]:
        """Repair WARC files a crashed earlier run left open, index closed files that have no index,
        and bring up to date the catalog the payload index asks about earlier runs (once per
        middleware)."""
        if self._recovered:
            return []
        self._recovered = True
        repaired = WarcWriter.recover_open_files(self.root)
        for path in repaired:
            logger.warning("Recovered WARC file left open by a crash: %s", path)
            if self.ledger is not None:
                self.ledger.add_file(relpath(self.root, path), "warc-recovered")
        indexed = index_missing(self.root)
        if self.ledger is not None:
            for path in indexed:
                self.ledger.add_file(relpath(self.root, path), "cdxj")
        if self.payloads is not None:
            # Looked up on disk, not loaded: start-up does not grow with the archive (archive.dedup).
            # The crawler's one refresh of the catalog (pipelines.crawl_catalog), done here, after the
            # repairs above, so the files they indexed are in it.
            shared = catalog_of(self.crawler, self.root, self.store)
            shared.get()
            self.payloads.use_catalog(self.root, self.store, refresh=False)
            ingested = shared.ingested
            if self.crawler is None:
                shared.close()  # not shared with anyone: the payload index has its own connection
            if self.stats is not None:
                self.stats.set_value("newsarchive/warc/catalog_files_ingested", ingested)
        if self.stats is not None and repaired:
            self.stats.inc_value("newsarchive/warc/recovered", len(repaired))
        return repaired

    def process_request(self, request: Request) -> None:
        # A retry or redirect copies meta: every download counts its body bytes afresh.
        request.meta[_BYTES_KEY] = 0
        if self.max_body and ("download_maxsize" not in request.meta or request.meta.get(_LIFTED_KEY)):
            # Scrapy would cancel an oversize download with no response at all (nothing to archive);
            # bytes_received stops it at max_body instead, so the truncated body is kept.
            request.meta["download_maxsize"] = 0
            request.meta[_LIFTED_KEY] = True

    def bytes_received(self, data: bytes, request: Request) -> None:
        if not self.max_body:
            return
        received = request.meta.get(_BYTES_KEY, 0) + len(data)
        request.meta[_BYTES_KEY] = received
        if received > self.max_body:
            raise StopDownload(fail=False)

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._restore_maxsize(request)

    def process_response(self, request: Request, response: Response) -> Response:
        # Before HttpCompressionMiddleware, which caps the decompressed size with this same meta key.
        self._restore_maxsize(request)
        if "cached" in response.flags:
            return response  # a replay from HTTPCACHE was archived when it was really fetched
        self.recover()
        limit_hit = bool(self.max_body) and request.meta.get(_BYTES_KEY, 0) > self.max_body
        truncated = truncation_of(response, limit_hit)
        try:
            result = self.writer.capture(exchange_from(request, response, truncated=truncated))
        except Exception as exc:
            # No page without its record: let the request fail visibly rather than parse it unarchived.
            if self.stats is not None:
                self.stats.inc_value(f"newsarchive/warc/errors/{type(exc).__name__}")
            stop_on_disk_full(self.crawler, exc, "a WARC record")  # every next page would fail too
            raise
        # The pointer must lead to a readable payload: for a revisit, the original response.
        source = result.payload_source
        # response.meta is request.meta; the response may not be bound to its request yet at this stage.
        # vars(), not dataclasses.asdict(): same fields, without asdict's recursive deep copy.
        request.meta[META_KEY] = WarcPointer(**vars(source))
        if result.rec_type == "revisit":
            self._revisits[(source.record_id, result.record.target_uri)] = result.record
            while len(self._revisits) > _PENDING_REVISITS:
                self._revisits.popitem(last=False)
        if self.stats is not None:
            self.stats.inc_value("newsarchive/warc/records")
            if result.rec_type == "revisit":
                self.stats.inc_value("newsarchive/warc/revisits")
            if truncated:
                self.stats.inc_value(f"newsarchive/warc/truncated/{truncated}")
            self.stats.set_value("newsarchive/warc/bytes", self.writer.bytes_written)
        return response

    def write_article(self, article: Article, payload: bytes) -> RecordLocation:
        """Write a kept article's JSON as a metadata record beside its capture.

        WARC-Refers-To is the record the article's pointer names (where its payload is read from);
        WARC-Concurrent-To the record of this fetch: the same response, or the revisit written for it.
        """
        pointer = article.warc
        fetched = warc_target_uri(article.fetched_url)
        this_fetch = self._revisits.pop((pointer.record_id, fetched), None)
        location = self.writer.write_metadata(
            article.fetched_url,
            payload,
            refers_to=pointer.record_id,
            concurrent_to=this_fetch.record_id if this_fetch else pointer.record_id,
            date=this_fetch.date if this_fetch else pointer.date,
        )
        if self.stats is not None:
            self.stats.inc_value("newsarchive/warc/metadata")
            self.stats.set_value("newsarchive/warc/bytes", self.writer.bytes_written)
        return location

    def spider_closed(self) -> None:
        self.writer.close()
        if self.payloads is not None:
            self.payloads.close()
        self._indexer.shutdown(wait=True)
        for warc_path, future in self._indexing:
            try:
                cdxj_path = future.result()
            except Exception:
                # The WARC is complete; the next start indexes it (archive.cdxj.index_missing).
                logger.exception("Could not index %s", warc_path)
                if self.stats is not None:
                    self.stats.inc_value("newsarchive/warc/errors/cdxj")
                continue
            if self.ledger is not None:
                self.ledger.add_file(relpath(self.root, cdxj_path), "cdxj")
        self._indexing.clear()

    def _restore_maxsize(self, request: Request) -> None:
        if request.meta.pop(_LIFTED_KEY, False):
            request.meta.pop("download_maxsize", None)

    def _file_closed(self, path: Path) -> None:
        if self.stats is not None:
            self.stats.inc_value("newsarchive/warc/files")
        if self.ledger is not None:
            self.ledger.add_file(relpath(self.root, path), "warc")

    def _index_closed(self, path: Path, lines: list[str]) -> None:
        self._indexing.append((path, self._indexer.submit(write_cdxj_lines, path, lines)))


def pointer_of(response: Response) -> Any:
    """The WarcPointer of a response's record, or None when it was not captured."""
    return response.meta.get(META_KEY)

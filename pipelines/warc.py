"""Capture every HTTP exchange into WARC files, as received, from inside Scrapy's downloader.

Registered at priority 950 so that process_response sees the response before HttpCompressionMiddleware
(590) decompresses it and before RedirectMiddleware (600) follows it, and process_request has already
run every other middleware's changes to the request headers (what was sent).

Known gap: writing and fsyncing happen on the reactor thread. Records are small and writes are
buffered, so this costs little per page, but a slow disk stalls the crawl.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.statscollectors import StatsCollector

from archive.exchange import HttpExchange
from archive.paths import relpath
from archive.run import RunLedger
from archive.warc_writer import WarcWriter
from crawler.items import WarcPointer

logger = logging.getLogger(__name__)

META_KEY = "newsarchive_warc"


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Every (name, value), repeated names kept. Latin-1 maps header bytes 1:1 onto str."""
    pairs: list[tuple[str, str]] = []
    for name in headers:
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        pairs.extend((key, value.decode("latin-1")) for value in headers.getlist(name))
    return pairs


def exchange_from(request: Request, response: Response, fetched_at: datetime | None = None) -> HttpExchange:
    return HttpExchange(
        url=response.url,
        method=request.method,
        request_headers=header_pairs(request.headers),
        request_body=request.body or b"",
        protocol=response.protocol or "HTTP/1.1",
        status=response.status,
        response_headers=header_pairs(response.headers),
        body=response.body,
        ip_address=str(response.ip_address) if response.ip_address is not None else None,
        fetched_at=fetched_at or datetime.now(UTC),
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
    ) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.stats = stats
        self.ledger = RunLedger.for_run(self.root, run_id) if run_id else None
        self.writer = WarcWriter(
            self.root,
            prefix=prefix,
            max_size=max_size,
            max_age_s=max_age_s,
            gzip_level=gzip_level,
            fsync=fsync,
            warcinfo=warcinfo,
            on_close=self._file_closed,
        )
        self._recovered = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        root = settings.get("ARCHIVE_ROOT")
        if not root:
            raise NotConfigured("ARCHIVE_ROOT is not set: no WARC capture")
        run_id = settings.get("NEWSARCHIVE_RUN_ID") or None
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
        )
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self) -> None:
        self.recover()

    def recover(self) -> list[Path]:
        """Repair WARC files a crashed earlier run left open (once per middleware)."""
        if self._recovered:
            return []
        self._recovered = True
        repaired = WarcWriter.recover_open_files(self.root)
        for path in repaired:
            logger.warning("Recovered WARC file left open by a crash: %s", path)
            if self.ledger is not None:
                self.ledger.add_file(relpath(self.root, path), "warc-recovered")
        if self.stats is not None and repaired:
            self.stats.inc_value("newsarchive/warc/recovered", len(repaired))
        return repaired

    def process_response(self, request: Request, response: Response) -> Response:
        if "cached" in response.flags:
            return response  # a replay from HTTPCACHE was archived when it was really fetched
        self.recover()
        try:
            location = self.writer.write_exchange(exchange_from(request, response))
        except Exception as exc:
            # No page without its record: let the request fail visibly rather than parse it unarchived.
            if self.stats is not None:
                self.stats.inc_value(f"newsarchive/warc/errors/{type(exc).__name__}")
            raise
        # response.meta is request.meta; the response may not be bound to its request yet at this stage.
        request.meta[META_KEY] = WarcPointer(**asdict(location))
        if self.stats is not None:
            self.stats.inc_value("newsarchive/warc/records")
            self.stats.set_value("newsarchive/warc/bytes", self.writer.bytes_written)
        return response

    def spider_closed(self) -> None:
        self.writer.close()

    def _file_closed(self, path: Path) -> None:
        if self.stats is not None:
            self.stats.inc_value("newsarchive/warc/files")
        if self.ledger is not None:
            self.ledger.add_file(relpath(self.root, path), "warc")


def pointer_of(response: Response) -> Any:
    """The WarcPointer of a response's record, or None when it was not captured."""
    return response.meta.get(META_KEY)

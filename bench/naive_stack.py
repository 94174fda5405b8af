"""The stack a researcher would write in an afternoon, as the baseline of issue 14 item 5: warcio
writing every response from a downloader middleware, trafilatura inline in an item pipeline, JSON lines.

Same spiders (same pages) as ours; everything on the reactor thread, warcio's default gzip level, and
`trafilatura.bare_extraction` with its defaults (metadata, date search) on every article page.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from scrapy.http import Request, Response


class NaiveWarcMiddleware:
    """Downloader middleware (priority 950): request + response records through warcio."""

    def __init__(self, root: str) -> None:
        from warcio.warcwriter import WARCWriter

        Path(root).mkdir(parents=True, exist_ok=True)
        self.fh = open(Path(root) / "naive.warc.gz", "wb")
        self.writer = WARCWriter(self.fh, gzip=True, warc_version="1.1")

    @classmethod
    def from_crawler(cls, crawler: Any) -> NaiveWarcMiddleware:
        from scrapy import signals

        mw = cls(crawler.settings.get("ARCHIVE_ROOT"))
        crawler.signals.connect(mw.close, signal=signals.spider_closed)
        return mw

    def close(self) -> None:
        self.fh.close()

    def process_response(self, request: Request, response: Response) -> Response:
        from warcio.statusandheaders import StatusAndHeaders

        headers = [(k.decode(), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        http = StatusAndHeaders(f"{response.status} OK", headers, protocol="HTTP/1.1")
        record = self.writer.create_warc_record(
            request.url, "response", payload=io.BytesIO(response.body), http_headers=http
        )
        req_headers = [(k.decode(), v.decode("latin-1")) for k, vs in request.headers.items() for v in vs]
        req_http = StatusAndHeaders(f"GET {request.url} HTTP/1.1", req_headers, is_http_request=True)
        req = self.writer.create_warc_record(request.url, "request", http_headers=req_http)
        self.writer.write_request_response_pair(req, record)
        return response


class NaiveExtractPipeline:
    """Item pipeline: trafilatura on every article page, one JSON line each."""

    def __init__(self, root: str) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        self.out = open(Path(root) / "naive.jsonl", "w", encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler: Any) -> NaiveExtractPipeline:
        return cls(crawler.settings.get("ARCHIVE_ROOT"))

    def close_spider(self) -> None:
        self.out.close()

    def process_item(self, item: Any) -> Any:
        import trafilatura

        text = getattr(item, "text", None)
        if text is None:
            return item
        doc = trafilatura.bare_extraction(text, url=item.url, with_metadata=True)
        row = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else {}
        self.out.write(
            json.dumps({"url": item.url, **{k: row.get(k) for k in ("title", "date", "text")}}) + "\n"
        )
        return {"url": item.url}

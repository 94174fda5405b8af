"""A real Scrapy crawl against a local server: every exchange lands in the WARC as it was on the wire."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_twisted
import scrapy
from cdxj_indexer.main import CDXJIndexer
from scrapy.crawler import CrawlerRunner
from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import EXTRA_FIELDS
from archive.jsonl import read_rows
from archive.readback import read_record
from archive.run import RunLedger, new_run_id, software_versions, write_manifest
from archive.verify import verify_archive
from core.items import Article, WarcPointer

PAGE_HTML = "<html><head><title>露朝</title></head><body>ロシアと北朝鮮の軍事協力</body></html>"


@dataclass
class Site:
    base: str
    sent: dict[str, bytes] = field(default_factory=dict)  # path?query -> body bytes sent
    requests: list[str] = field(default_factory=list)


def make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            site.requests.append(self.path)
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                self.reply(200, b"User-agent: *\nDisallow: /private\n", [("Content-Type", "text/plain")])
            elif path == "/page":
                body = gzip.compress(PAGE_HTML.encode("utf-8"), mtime=0)
                headers = [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Encoding", "gzip"),
                    ("Set-Cookie", "session=abc123; Path=/"),
                    ("Set-Cookie", "region=tokyo; Path=/"),
                ]
                self.reply(200, body, headers)
            elif path == "/old":
                self.reply(
                    301, b"moved", [("Location", "/page?from=old&id=7"), ("Content-Type", "text/plain")]
                )
            else:
                self.reply(404, b"<h1>not here</h1>", [("Content-Type", "text/html")])

        def reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            site.sent[self.path] = body
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    holder = Site(base="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(holder))
    holder.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder
    server.shutdown()
    server.server_close()
    thread.join(5)


class CaptureSpider(scrapy.Spider):
    name = "capture"
    base = ""
    run_id = ""
    seen: ClassVar[list[tuple[str, int, Any]]] = []

    async def start(self) -> Any:
        for path in ("/old", "/missing?q=1"):
            yield scrapy.Request(self.base + path, callback=self.parse, errback=self.failed)

    def parse(self, response: scrapy.http.Response) -> Any:
        pointer = response.meta.get("newsarchive_warc")
        self.seen.append((response.url, response.status, pointer))
        if response.status == 200 and isinstance(pointer, WarcPointer):
            yield Article(
                url=response.url,
                fetched_url=response.url,
                outlet="testoutlet",
                title="露朝",
                published_at="2026-11-28T10:00:00+09:00",
                text=response.text,
                topics=[],
                warc=pointer,
                run_id=self.run_id,
                fetched_at=datetime.now(UTC).isoformat(),
            )

    def failed(self, failure: Any) -> None:
        response = failure.value.response
        self.seen.append((response.url, response.status, response.meta.get("newsarchive_warc")))


def warc_records(root: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((root / "warc").rglob("*.warc.gz")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, check_digests="raise"):
                out.append(
                    {
                        "type": rec.rec_type,
                        "uri": rec.rec_headers.get_header("WARC-Target-URI"),
                        "id": rec.rec_headers.get_header("WARC-Record-ID"),
                        "concurrent": rec.rec_headers.get_header("WARC-Concurrent-To"),
                        "refers_to": rec.rec_headers.get_header("WARC-Refers-To"),
                        "content_type": rec.rec_headers.get_header("Content-Type"),
                        "ip": rec.rec_headers.get_header("WARC-IP-Address"),
                        "http": rec.http_headers,
                        "body": rec.raw_stream.read(),
                    }
                )
    return out


@pytest_twisted.inlineCallbacks
def test_crawl_archives_every_exchange_as_received(site: Site, tmp_path: Path) -> Iterator[Any]:
    root = tmp_path / "archive"
    run_id = new_run_id()
    settings = {
        "ARCHIVE_ROOT": str(root),
        "NEWSARCHIVE_RUN_ID": run_id,
        "WARC_OPERATOR": "ops@example.org",
        "USER_AGENT": "newsarchive-test/1.0 (+ops@example.org)",
        "DOWNLOADER_MIDDLEWARES": {"pipelines.warc.WarcCaptureMiddleware": 950},
        "ITEM_PIPELINES": {"pipelines.store.ArticleStorePipeline": 800},
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,  # its tldextract would try to fetch the public suffix list
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": False,
        "LOG_LEVEL": "WARNING",
    }
    CaptureSpider.seen = []
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(CaptureSpider)
    yield runner.crawl(crawler, base=site.base, run_id=run_id)

    records = warc_records(root)
    responses = {r["uri"]: r for r in records if r["type"] == "response"}
    requests = {r["uri"]: r for r in records if r["type"] == "request"}
    expected = {
        "/robots.txt",
        "/old",
        "/page?from=old&id=7",
        "/missing?q=1",
    }
    assert set(responses) == {site.base + p for p in expected}
    assert set(requests) == set(responses)
    assert records[0]["type"] == "warcinfo"
    for uri, resp in responses.items():
        path = uri[len(site.base) :]
        assert resp["body"] == site.sent[path]  # byte for byte what the server sent
        assert requests[uri]["concurrent"] == resp["id"]
        assert resp["ip"] == "127.0.0.1"
        assert requests[uri]["http"].protocol == "GET"
        assert requests[uri]["http"].statusline == f"{path} HTTP/1.1"  # query string kept
        assert requests[uri]["http"].get_header("Host") == site.base.removeprefix("http://")
        assert requests[uri]["http"].get_header("User-Agent") == settings["USER_AGENT"]

    page = responses[site.base + "/page?from=old&id=7"]["http"]
    assert page.get_header("Content-Encoding") == "gzip"
    cookies = [v for k, v in page.headers if k.lower() == "set-cookie"]
    assert cookies == ["session=abc123; Path=/", "region=tokyo; Path=/"]
    # Set by HttpCompressionMiddleware (590) before our process_request (950): captured as sent.
    assert "gzip" in (requests[site.base + "/page?from=old&id=7"]["http"].get_header("Accept-Encoding") or "")
    assert responses[site.base + "/old"]["http"].get_statuscode() == "301"
    assert responses[site.base + "/old"]["http"].get_header("Location") == "/page?from=old&id=7"
    assert responses[site.base + "/missing?q=1"]["http"].statusline == "404 Not Found"

    # The pointer stored in meta reads back the response record of the final URL.
    seen = {url: (status, pointer) for url, status, pointer in CaptureSpider.seen}
    status, pointer = seen[site.base + "/page?from=old&id=7"]
    assert status == 200 and isinstance(pointer, WarcPointer)
    rec = read_record(root / pointer.path, pointer.offset, pointer.length)
    assert rec.rec_type == "response" and rec.record_id == pointer.record_id
    assert rec.target_uri == pointer.target_uri == site.base + "/page?from=old&id=7"
    assert rec.payload == PAGE_HTML.encode("utf-8") and rec.raw_payload == site.sent["/page?from=old&id=7"]
    missing_status, missing_pointer = seen[site.base + "/missing?q=1"]
    assert missing_status == 404 and missing_pointer.target_uri == site.base + "/missing?q=1"

    stats = crawler.stats
    assert stats is not None
    assert stats.get_value("newsarchive/warc/records") == 4
    assert stats.get_value("newsarchive/warc/metadata") == 1
    assert stats.get_value("newsarchive/warc/bytes") == sum(p.stat().st_size for p in root.rglob("*.warc.gz"))
    assert stats.get_value("newsarchive/articles/kept") == 1
    assert stats.get_value("newsarchive/articles/kept/testoutlet") == 1

    # Both components registered their closed files with the run; a manifest over them verifies.
    files = RunLedger.for_run(root, run_id).files()
    assert sorted(kind for _, kind in files) == ["articles", "cdxj", "warc"]
    warc_rel = next(rel for rel, kind in files if kind == "warc")
    cdxj = (root / warc_rel).with_name(Path(warc_rel).name.removesuffix(".warc.gz") + ".cdxj")
    assert cdxj.is_file()
    # Written from the lines built while capturing, on the indexing thread: what cdxj-indexer gives.
    indexer_out = StringIO()
    CDXJIndexer(indexer_out, [str(root / warc_rel)], sort=True, fields=EXTRA_FIELDS).process_all()
    assert cdxj.read_text(encoding="utf-8") == indexer_out.getvalue()
    assert len(cdxj.read_text(encoding="utf-8").splitlines()) == 5  # 4 responses + 1 metadata

    # The kept article is also in the WARC: a metadata record whose JSON is the JSONL row.
    (metadata,) = [r for r in records if r["type"] == "metadata"]
    assert metadata["refers_to"] == metadata["concurrent"] == pointer.record_id
    assert metadata["content_type"] == "application/json"
    assert metadata["uri"] == "urn:newsarchive:article:" + pointer.target_uri
    (jsonl,) = [rel for rel, kind in files if kind == "articles"]
    assert jsonl.endswith(".jsonl.gz")
    (row,) = read_rows(root / jsonl)
    assert json.loads(metadata["body"]) == row
    assert row["warc"]["record_id"] == pointer.record_id
    assert not list(root.rglob("*.open"))
    write_manifest(
        root,
        run_id,
        files=files,
        counts={},
        config={},
        versions=software_versions(),
        started_at="",
        finished_at="",
        errors={},
        previous_run_id=None,
    )
    report = verify_archive(root)
    assert report.ok, report.problems
    assert report.counts == {"warc_files": 1, "records": 10, "articles": 1, "manifests": 1}

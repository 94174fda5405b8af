"""Odd transport cases through a real Scrapy crawl: oversize bodies, dropped connections, brotli, 304
and repeated payloads, each checked against the bytes a raw local server put on the wire."""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import brotli
import pytest
import pytest_twisted
import scrapy
from scrapy.crawler import CrawlerRunner
from warcio.archiveiterator import ArchiveIterator

from archive.readback import read_record
from archive.warc_records import PROFILE_IDENTICAL, PROFILE_NOT_MODIFIED
from core.items import WarcPointer

MAX_BODY = 64 * 1024
BIG = hashlib.sha256(b"seed").digest() * (300_000 // 32)  # 300 kB, incompressible enough
DROP_SENT = b"<html>" + b"x" * 494
HTML = "<html><head><title>露朝</title></head><body>ロシアと北朝鮮の軍事協力について。</body></html>"
DUP = (HTML * 3).encode("utf-8") + os.urandom(256)  # above the 128-byte revisit threshold
BR = brotli.compress(HTML.encode("utf-8"))


@dataclass
class RawSite:
    base: str = ""
    sent: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def serve(site: RawSite, conn: socket.socket) -> None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return
        head += chunk
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    site.requests.append((path, headers))

    def reply(status: str, body: bytes, extra: list[str], length: int | None = None) -> None:
        site.sent[path] = body
        head_lines = [
            f"HTTP/1.1 {status}",
            *extra,
            f"Content-Length: {len(body) if length is None else length}",
        ]
        conn.sendall(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + body)

    if path == "/big":
        reply("200 OK", BIG, ["Content-Type: application/octet-stream"])
    elif path == "/drop":
        reply("200 OK", DROP_SENT, ["Content-Type: text/html"], length=10_000)  # then close: 9500 missing
    elif path == "/br":
        reply("200 OK", BR, ["Content-Type: text/html; charset=utf-8", "Content-Encoding: br"])
    elif path.startswith("/etag"):
        if headers.get("if-none-match") == '"v1"':
            reply("304 Not Modified", b"", ['ETag: "v1"'])
        else:
            reply("200 OK", DUP[:-1], ["Content-Type: text/html; charset=utf-8", 'ETag: "v1"'])
    elif path.startswith("/dup"):
        reply("200 OK", DUP, ["Content-Type: text/html; charset=utf-8"])
    else:
        reply("404 Not Found", b"no", ["Content-Type: text/plain"])


@pytest.fixture
def raw_site() -> Iterator[RawSite]:
    site = RawSite()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            serve(site, self.request)  # one request per connection, then close

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(5)


class TransportSpider(scrapy.Spider):
    name = "transport"
    base = ""
    seen: ClassVar[dict[str, tuple[int, list[str], Any, bytes]]] = {}

    async def start(self) -> Any:
        for path in ("/big", "/drop", "/br", "/dup1"):
            yield scrapy.Request(self.base + path, callback=self.parse)
        yield scrapy.Request(self.base + "/etag", callback=self.then_conditional)

    def parse(self, response: scrapy.http.Response) -> Any:
        path = response.url[len(self.base) :]
        self.seen[path] = (
            response.status,
            list(response.flags),
            response.meta.get("newsarchive_warc"),
            response.body,
        )
        if path == "/dup1":  # sequential, so that /dup1 is the original and /dup2 the revisit
            yield scrapy.Request(self.base + "/dup2", callback=self.parse)

    def then_conditional(self, response: scrapy.http.Response) -> Any:
        self.seen["/etag"] = (
            response.status,
            list(response.flags),
            response.meta.get("newsarchive_warc"),
            b"",
        )
        yield scrapy.Request(
            self.base + "/etag",
            headers={"If-None-Match": '"v1"'},
            callback=self.conditional_done,
            dont_filter=True,
        )

    def conditional_done(self, response: scrapy.http.Response) -> None:
        self.seen["/etag 304"] = (
            response.status,
            list(response.flags),
            response.meta.get("newsarchive_warc"),
            b"",
        )


def warc_by_uri(root: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for path in sorted((root / "warc").rglob("*.warc.gz")):
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, check_digests="raise"):
                if rec.rec_type in ("response", "revisit"):
                    item = (rec.rec_type, rec.rec_headers, rec.http_headers, rec.raw_stream.read())
                    out.setdefault(rec.rec_headers.get_header("WARC-Target-URI"), []).append(item)
    return out


@pytest_twisted.inlineCallbacks
def test_transport_cases_are_archived_faithfully(raw_site: RawSite, tmp_path: Path) -> Iterator[Any]:
    root = tmp_path / "archive"
    settings = {
        "ARCHIVE_ROOT": str(root),
        "NEWSARCHIVE_RUN_ID": "20261128T000000Z-transport",
        "DOWNLOADER_MIDDLEWARES": {"pipelines.warc.WarcCaptureMiddleware": 950},
        "WARC_MAX_BODY": MAX_BODY,
        # Below /big's Content-Length: Scrapy alone would cancel it at the headers and archive nothing.
        "DOWNLOAD_MAXSIZE": 200_000,
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "ERROR",
    }
    TransportSpider.seen = {}
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(TransportSpider)
    yield runner.crawl(crawler, base=raw_site.base)
    seen = TransportSpider.seen
    records = warc_by_uri(root)
    base = raw_site.base

    # Over WARC_MAX_BODY: stopped there, kept, marked; the HTTP headers still announce the full length.
    ((kind, warc_h, http_h, body),) = records[base + "/big"]
    assert kind == "response" and warc_h.get_header("WARC-Truncated") == "length"
    assert MAX_BODY < len(body) < len(BIG) and BIG.startswith(body)
    assert http_h.get_header("Content-Length") == str(len(BIG))
    assert "download_stopped" in seen["/big"][1] and seen["/big"][3] == body

    # Connection closed 9500 bytes early.
    ((kind, warc_h, http_h, body),) = records[base + "/drop"]
    assert kind == "response" and warc_h.get_header("WARC-Truncated") == "disconnect"
    assert body == DROP_SENT and "dataloss" in seen["/drop"][1]

    # Brotli kept as sent; readback undoes it.
    ((kind, warc_h, http_h, body),) = records[base + "/br"]
    assert kind == "response" and warc_h.get_header("WARC-Truncated") is None
    assert http_h.get_header("Content-Encoding") == "br" and body == BR
    pointer = seen["/br"][2]
    assert read_record(root / pointer.path, pointer.offset, pointer.length).payload == HTML.encode("utf-8")
    assert seen["/br"][3] == HTML.encode("utf-8")  # Scrapy decoded it after the capture

    # Same payload at a second URL: a revisit, and the page's pointer leads to the readable original.
    ((kind1, h1, _, body1),) = records[base + "/dup1"]
    ((kind2, h2, http2, body2),) = records[base + "/dup2"]
    assert (kind1, kind2) == ("response", "revisit") and body1 == DUP and body2 == b""
    assert h2.get_header("WARC-Profile") == PROFILE_IDENTICAL
    assert h2.get_header("WARC-Refers-To") == h1.get_header("WARC-Record-ID")
    assert h2.get_header("WARC-Refers-To-Target-URI") == base + "/dup1"
    assert h2.get_header("WARC-Refers-To-Date") == h1.get_header("WARC-Date")
    assert http2.get_statuscode() == "200"
    p1, p2 = seen["/dup1"][2], seen["/dup2"][2]
    assert isinstance(p2, WarcPointer) and p2 == p1
    back = read_record(root / p2.path, p2.offset, p2.length)
    assert back.rec_type == "response" and back.raw_payload == DUP

    # A 304 to a conditional request: server-not-modified, pointing at the 200 it confirms.
    ((kind200, h200, _, _), (kind304, h304, http304, body304)) = records[base + "/etag"]
    assert kind200 == "response" and kind304 == "revisit" and body304 == b""
    assert h304.get_header("WARC-Profile") == PROFILE_NOT_MODIFIED
    assert http304.get_statuscode() == "304" and http304.get_header("ETag") == '"v1"'
    assert h304.get_header("WARC-Refers-To") == h200.get_header("WARC-Record-ID")
    assert h304.get_header("WARC-Refers-To-Date") == h200.get_header("WARC-Date")
    status304, _, pointer304, _ = seen["/etag 304"]
    assert status304 == 304 and pointer304 == seen["/etag"][2]  # readable: the 200's record
    assert read_record(root / pointer304.path, pointer304.offset, pointer304.length).raw_payload == DUP[:-1]

    assert sorted(p for p, _ in raw_site.requests) == sorted(
        ["/big", "/drop", "/br", "/dup1", "/dup2", "/etag", "/etag"]
    )
    stats = crawler.stats
    assert stats is not None
    assert stats.get_value("newsarchive/warc/truncated/length") == 1
    assert stats.get_value("newsarchive/warc/truncated/disconnect") == 1
    assert stats.get_value("newsarchive/warc/revisits") == 2

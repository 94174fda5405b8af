"""A misbehaving news site on 127.0.0.1 for the hostile-input tests, and the outlet file that crawls it.

Each route writes its own bytes on the socket (status line, headers, body), so a route can lie about its
Content-Length, stream forever, drip one byte at a time or send a decompression bomb. The site records
every request (path and headers) and how many body bytes each streaming route managed to send before the
client hung up, which is how a test proves that a 2 GB body was not read to the end.
"""

from __future__ import annotations

import functools
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli

JST = timezone(timedelta(hours=9))
ORIGIN = "https://www.hostile-news.jp"
OUTLET_TOML = r"""
name = "hostile"
display_name = "Hostile News"
origin = "https://www.hostile-news.jp"
hosts = ["hostile-news.jp"]

[discovery]
feeds = FEEDS
sitemaps = ["https://www.hostile-news.jp/sitemap.xml"]

[urls]
article = ['^https://www\.hostile-news\.jp/a/[^?#]+$']

[page]
body = ["div.story > p"]
"""
BOMB_SIZE = 128 * 1024 * 1024  # decompressed; four times DOWNLOAD_MAXSIZE (32 MiB)

Route = Callable[[BaseHTTPRequestHandler], None]


def write_outlet_file(folder: Path, feeds: Iterable[str] = ()) -> Path:
    path = folder / "hostile.toml"
    listed = ", ".join(f'"{ORIGIN}{f}"' for f in feeds)
    path.write_text(OUTLET_TOML.replace("FEEDS", f"[{listed}]"), "utf-8")
    return path


def now_jst() -> datetime:
    return datetime.now(JST).replace(microsecond=0)


def article_html(title: str, paragraphs: int = 3) -> bytes:
    body = "".join(
        f"<p>　{title}の本文、第{n}段落。ロシアと北朝鮮の軍事協力について。</p>" for n in range(paragraphs)
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="article:published_time" content="{now_jst().isoformat()}"></head>'
        f'<body><h1>{title}</h1><div class="story">{body}</div></body></html>'
    ).encode()


def urlset(paths: Iterable[str], published: datetime | None = None) -> bytes:
    when = (published or now_jst()).isoformat()
    entries = "".join(
        f"<url><loc>{ORIGIN}{p}</loc><news:news><news:publication_date>{when}</news:publication_date>"
        f"</news:news></url>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{entries}</urlset>'
    ).encode()


def sitemap_index(paths: Iterable[str]) -> bytes:
    children = "".join(f"<sitemap><loc>{ORIGIN}{p}</loc></sitemap>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
    ).encode()


@functools.cache
def gzip_bomb(layers: int = 1) -> bytes:
    data = _deflate_zeros(BOMB_SIZE)
    for _ in range(layers - 1):
        data = gzip.compress(data, 9)
    return data


@functools.cache
def brotli_bomb() -> bytes:
    compressor = brotli.Compressor(quality=5)
    chunk = b"\0" * (1 << 20)
    return b"".join(compressor.process(chunk) for _ in range(BOMB_SIZE >> 20)) + compressor.finish()


@functools.cache
def gzip_xml_bomb() -> bytes:
    """A `.xml.gz` sitemap that inflates to 128 MiB: a urlset followed by endless whitespace."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    parts = [compressor.compress(head)]
    chunk = b" " * (1 << 20)
    parts += [compressor.compress(chunk) for _ in range(BOMB_SIZE >> 20)]
    return b"".join(parts) + compressor.compress(b"</urlset>") + compressor.flush()


def _deflate_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()


# ------------------------------------------------------------------------------------------------ routes


def _head(handler: BaseHTTPRequestHandler, status: int, headers: Iterable[tuple[str, str]]) -> None:
    lines = f"HTTP/1.1 {status} {handler.responses.get(status, ('X',))[0]}\r\n"
    lines += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    handler.wfile.write(lines.encode("latin-1"))


def static(body: bytes, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Route:
    headers = list(headers) or [("Content-Type", "text/html; charset=utf-8")]

    def route(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, status, [*headers, ("Content-Length", str(len(body)))])
        handler.wfile.write(body)

    return route


def short_body(announced: int, sent: bytes) -> Route:
    """Content-Length says `announced`, fewer bytes come, then the connection closes."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        _head(
            handler, 200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(announced))]
        )
        handler.wfile.write(sent)
        handler.wfile.flush()
        handler.close_connection = True

    return route


class Streams:
    """Body bytes sent per streaming path, until the client hung up."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, path: str, count: int) -> None:
        with self.lock:
            self.sent[path] = self.sent.get(path, 0) + count


def endless(
    streams: Streams, path: str, declared: int | None, delay: float = 0.0, chunk: int = 65536
) -> Route:
    """A body of `declared` bytes (or close-delimited when None), streamed until the client gives up."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        headers = [("Content-Type", "text/html; charset=utf-8")]
        headers.append(("Content-Length", str(declared)) if declared is not None else ("Connection", "close"))
        _head(handler, 200, headers)
        handler.close_connection = True
        piece = b"<p>" + b"x" * (chunk - 3)
        limit = declared if declared is not None else 1 << 62
        sent = 0
        try:
            while sent < limit:
                handler.wfile.write(piece)
                handler.wfile.flush()
                sent += len(piece)
                if delay:
                    time.sleep(delay)
        except OSError:  # the client hung up: exactly what the test wants
            pass
        finally:
            streams.add(path, sent)

    return route


class HostileSite:
    """The routes on 127.0.0.1; every request's path and headers are recorded."""

    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def do_GET(self) -> None:
                site.requests.append((self.path, dict(self.headers.items())))
                route = site.routes.get(self.path.split("?")[0]) or static(b"not here", 404)
                route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def server_bind(self) -> None:  # no getfqdn(): it may query DNS
                socket.socket.bind(self.socket, self.server_address)
                self.server_address = self.socket.getsockname()

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self) -> HostileSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

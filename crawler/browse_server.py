"""The HTTP side of `newsarchive serve`: stdlib HTTP, a thread per request, answering with
crawler.browse_app.BrowseApp. Only GET and HEAD are served.

A browse server reads an archive on the reader's machine, so it binds to loopback unless told otherwise.
It also refuses requests whose Host header names another host (a web page the reader visits could
otherwise reach it through DNS rebinding), and sends a Content-Security-Policy that allows nothing but
its own inline styles, same-origin links and forms: an archived article is hostile input.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

from archive.root_access import ArchiveRoot
from crawler.browse_app import BrowseApp, Reply

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


class _Handler(BaseHTTPRequestHandler):
    server: BrowseHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "newsarchive-serve"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        if not self.server.host_allowed(self.headers.get("Host", "")):
            reply = Reply(HTTPStatus.MISDIRECTED_REQUEST, b"unknown Host\n", "text/plain; charset=utf-8")
        else:
            try:
                reply = self.server.app.handle(self.path)
            except Exception:
                logger.exception("serve: %s failed", self.path)
                reply = Reply.html(
                    self.server.app.error_page("Error", "the server failed on this request (see its log)"),
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                )
        try:
            self._send(reply, send_body)
        finally:
            for folder in reply.cleanup:
                shutil.rmtree(folder, ignore_errors=True)

    def _send(self, reply: Reply, send_body: bool) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        size = reply.file.stat().st_size if reply.file is not None else len(reply.body)
        self.send_header("Content-Length", str(size))
        if reply.filename:
            self.send_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(reply.filename)}")
        self.end_headers()
        if not send_body:
            return
        if reply.file is not None:
            for chunk in _chunks(reply.file):
                self.wfile.write(chunk)
        else:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


class BrowseHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: BrowseApp, *, any_host: bool = False) -> None:
        # The stdlib server is IPv4 only unless told otherwise.
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.app = app
        self.any_host = any_host

    def host_allowed(self, header: str) -> bool:
        if self.any_host:
            return True
        host = header.strip().lower()
        if host.startswith("["):
            host = host[1 : host.find("]")]
        else:
            host = host.rsplit(":", 1)[0]
        return host in {"localhost", "127.0.0.1", "::1", str(self.server_address[0]).lower()}


class BrowseServer:
    """A browse server on a background thread (for tests and the CLI): `with BrowseServer(...) as s:`."""

    def __init__(self, root: ArchiveRoot, host: str = "127.0.0.1", port: int = 0, *, public: bool = False):
        self.httpd = BrowseHTTPServer((host, port), BrowseApp(root), any_host=public)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"

    def start(self) -> BrowseServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="browse-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> BrowseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

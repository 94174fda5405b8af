"""The HTTP side of the simulator: one HTTP/1.1 server per outlet on 127.0.0.1, plus the request log.

The standard library's ThreadingHTTPServer is enough here (no dependency, keep-alive works with HTTP/1.1
as long as every response is framed by Content-Length or chunked encoding); responses are written by
hand so that the bytes on the wire are exactly `SimSite.respond()`'s, including real chunk framing.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from crawler.simulator.responses import Response, SimSite
from crawler.simulator.site import ARTICLES_PER_OUTLET, OUTLETS, SimArticle


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end eventually, so stop() leaves no reader blocked forever
    server: _OutletServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the simulator keeps its own JSON request log."""

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # keep the connection usable after a request with a body
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.server.site.respond(
            self.server.outlet,
            self.command,
            target,
            accept_encoding=self.headers.get("Accept-Encoding", ""),
            if_none_match=self.headers.get("If-None-Match", ""),
            if_modified_since=self.headers.get("If-Modified-Since", ""),
        )
        # logged before the bytes go out: a client holding its answer finds its request in the log
        self.server.simulator._log(
            self.server.outlet, self.command, self.headers.get("Host", ""), self.path, response.status
        )
        self._write(response)

    def _write(self, response: Response) -> None:
        headers = list(response.headers)
        if self.close_connection:  # the client asked for it (Connection: close, or HTTP/1.0)
            headers.append(("Connection", "close"))
        head = f"HTTP/1.1 {response.status} {response.reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        self.wfile.write(head.encode("latin-1"))
        if self.command == "HEAD" or response.status == 304:
            return
        if response.sent_bytes is not None:
            # a connection dropped mid-body: fewer bytes than Content-Length announced, then close
            self.wfile.write(response.wire_body)
            self.wfile.flush()
            self.close_connection = True
            return
        if not response.chunked:
            self.wfile.write(response.body)
            return
        for chunk in response.chunks():
            self.wfile.write(f"{len(chunk):X}\r\n".encode("ascii") + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _OutletServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], outlet: str, site: SimSite, simulator: Simulator) -> None:
        self.outlet = outlet
        self.site = site
        self.simulator = simulator
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which may query DNS: skip it
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class Simulator:
    """The simulated outlets, served on 127.0.0.1 (one port per outlet)."""

    def __init__(
        self,
        *,
        seed: int = 20250321,
        host: str = "127.0.0.1",
        ports: Mapping[str, int] | None = None,
        log_path: Path | None = None,
        articles_per_outlet: int = ARTICLES_PER_OUTLET,
        robots_override: Mapping[str, str] | None = None,
    ) -> None:
        """`articles_per_outlet`: more than the default 60 makes a bigger site (benchmarks); the
        default site is the one tests and the demo know, byte for byte. `robots_override`
        ({outlet: text}) serves another robots.txt for that outlet, for tests of robots rules."""
        unknown = set(ports or {}) - set(OUTLETS)
        if unknown:
            raise ValueError(f"unknown outlet(s) in ports: {', '.join(sorted(unknown))}")
        self.seed = seed
        self.host = host
        self.ports = dict(ports or {})
        self.log_path = log_path
        self.site = SimSite(seed, articles_per_outlet, robots_override)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._servers: dict[str, _OutletServer] = {}
        self._threads: list[threading.Thread] = []
        self._log_file: Any = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._servers:
            return
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self.log_path.open("a", encoding="utf-8")
        try:
            for outlet in OUTLETS:
                server = _OutletServer((self.host, self.ports.get(outlet, 0)), outlet, self.site, self)
                self._servers[outlet] = server
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.1},
                    name=f"sim-{outlet}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ views
    @property
    def base_urls(self) -> dict[str, str]:
        if not self._servers:
            raise RuntimeError("the simulator is not running: call start() first")
        return {
            outlet: f"http://{self.host}:{server.server_address[1]}"
            for outlet, server in self._servers.items()
        }

    @property
    def articles(self) -> list[SimArticle]:
        return list(self.site.articles)

    def served_bytes(
        self, outlet: str, path_qs: str, accept_encoding: str = "gzip"
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers in order and body (before chunk framing) of a GET on a keep-alive connection.

        The body is what is actually sent: for `/sim/dropped.html`, shorter than its Content-Length."""
        response = self.site.respond(outlet, "GET", path_qs, accept_encoding=accept_encoding)
        return response.status, list(response.headers), response.wire_body

    # ------------------------------------------------------------------ request log
    def _log(self, outlet: str, method: str, host: str, path: str, status: int) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "outlet": outlet,
            "method": method,
            "host": host,
            "path": path,
            "status": status,
        }
        with self._lock:
            self.requests.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self._log_file.flush()


def serve(port: int, log_path: Path | None, seed: int) -> Simulator:
    """Start the simulator for the CLI: jiji on `port`, asahi on `port + 1` (both random when port == 0)."""
    ports = {} if port == 0 else {"jiji": port, "asahi": port + 1}
    simulator = Simulator(seed=seed, ports=ports, log_path=log_path)
    simulator.start()
    return simulator

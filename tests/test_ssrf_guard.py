"""The SSRF guard in real Scrapy crawls with the project's settings (crawler.ssrf_guard).

Loopback targets go end to end: a local site's redirects and sitemap entries point at canary servers on
127.0.0.2 and [::1] and at a canary file; the canaries must see nothing. Private, link-local and reserved
addresses are reached only through the resolution step: `socket.gethostbyname` (what Scrapy's threaded
resolver calls) maps test names to them, and a connect hook on Twisted's TCP client records every address
a connection is about to be made to and fails the connection instead of connecting when it is not
loopback. The session's network guard (tests/netguard) stays installed underneath: no packet can leave
loopback even if the SSRF guard were broken.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_twisted
import scrapy
from scrapy.crawler import CrawlerRunner
from scrapy.settings import Settings
from twisted.internet import error as tx_error
from twisted.internet import tcp
from twisted.python.failure import Failure
from warcio.archiveiterator import ArchiveIterator

from crawler.ssrf import SsrfRefused
from crawler.ssrf_guard import SsrfResolver

# --------------------------------------------------------------------------------------------- canaries


class _Server:
    """A tiny HTTP server that records the paths it is asked for."""

    def __init__(self, host: str, routes: dict[str, tuple[int, dict[str, str], bytes]] | None = None):
        self.requests: list[str] = []
        self.routes = routes if routes is not None else {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, headers, body = server.routes.get(self.path, (200, {}, b"canary"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self.httpd = server_class((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_FILE_OPENS: list[str] = []
_WATCHED: set[str] = set()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Every open() in the process raises this event, whatever opens the file (Scrapy's file handler too).
    if event == "open" and args and str(args[0]) in _WATCHED:
        _FILE_OPENS.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def canary_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "canary-secret.txt"
    path.write_text("CANARY-SECRET-DO-NOT-READ", "utf-8")
    _WATCHED.add(str(path))
    _FILE_OPENS.clear()
    yield path
    _WATCHED.discard(str(path))


@pytest.fixture
def canaries() -> Iterator[tuple[_Server, _Server]]:
    v4, v6 = _Server("127.0.0.2"), _Server("::1")
    yield v4, v6
    v4.stop()
    v6.stop()


# ------------------------------------------------------------------------------------------ the crawls


@dataclass
class Outcome:
    fetched: list[str] = field(default_factory=list)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)  # (URL of the last hop, error)

    def refusals(self) -> list[tuple[str, str]]:
        return sorted((url, exc.reason) for url, exc in self.failures if isinstance(exc, SsrfRefused))


class ProbeSpider(scrapy.Spider):
    """Follows every sitemap entry and redirect blindly, as a hostile site would like a crawler to."""

    name = "ssrf_probe"
    outcome: ClassVar[Outcome]

    def __init__(self, start: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.start_list = start

    async def start(self) -> Any:
        for url in self.start_list:
            callback = self.parse_sitemap if url.endswith(".xml") else self.fetched
            yield scrapy.Request(url, callback=callback, errback=self.failed, dont_filter=True)

    def parse_sitemap(self, response: scrapy.http.Response) -> Iterator[scrapy.Request]:
        for loc in response.xpath("//*[local-name()='loc']/text()").getall():
            yield scrapy.Request(loc.strip(), callback=self.fetched, errback=self.failed, dont_filter=True)

    def fetched(self, response: scrapy.http.Response) -> None:
        self.outcome.fetched.append(response.url)

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        self.outcome.failures.append((request.url, failure.value))


def project_settings(root: Path, **overrides: Any) -> Settings:
    """The settings `newsarchive crawl` runs with (crawler.settings), at a local pace."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "ARCHIVE_ROOT": str(root),
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
            "LOG_ENABLED": False,
            **overrides,
        },
        priority="cmdline",
    )
    return settings


def crawl(settings: Settings, start: list[str]) -> Any:
    outcome = Outcome()
    ProbeSpider.outcome = outcome
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(ProbeSpider)
    deferred = runner.crawl(crawler, start=start)
    deferred.addCallback(lambda _: (outcome, crawler.stats.get_stats()))
    return deferred


def warc_uris(root: Path) -> list[str]:
    uris = []
    for path in root.rglob("*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("request", "response"):
                    uris.append(record.rec_headers.get_header("WARC-Target-URI"))
    return uris


def _current_resolver() -> Any:
    from twisted.internet import reactor

    return reactor.resolver  # type: ignore[attr-defined]


@pytest_twisted.inlineCallbacks
def test_redirects_and_sitemap_entries_to_loopback_and_file_are_refused(
    tmp_path: Path, canaries: tuple[_Server, _Server], canary_file: Path
) -> Iterator[Any]:
    v4, v6 = canaries
    file_url = canary_file.as_uri()
    site = _Server("127.0.0.1")
    html = {"Content-Type": "text/html"}
    sitemap = "".join(
        f"<url><loc>{u}</loc></url>"
        for u in [f"{v4.origin}/from-sitemap", f"{v6.origin}/from-sitemap", file_url, "data:text/plain,x"]
    )
    site.routes.update(
        {
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"),
            "/sitemap.xml": (
                200,
                {"Content-Type": "application/xml"},
                f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"{sitemap}</urlset>".encode(),
            ),
            "/to-v4": (302, {"Location": f"{v4.origin}/from-redirect"}, b""),
            "/to-v6": (301, {"Location": f"{v6.origin}/from-redirect"}, b""),
            # Two hops: the first stays on the allowed site, the second leaves for the canary.
            "/hop": (302, {"Location": "/to-v4"}, b""),
            "/to-file": (302, {"Location": file_url}, b""),
            "/ok": (200, html, b"<html><body>fine</body></html>"),
        }
    )
    root = tmp_path / "archive"
    settings = project_settings(root, SSRF_ALLOW_HOSTS=[f"127.0.0.1:{site.port}"])
    start = [f"{site.origin}{p}" for p in ("/sitemap.xml", "/to-v4", "/to-v6", "/hop", "/to-file", "/ok")]
    try:
        outcome, stats = yield crawl(settings, start)
    finally:
        site.stop()

    # The canaries saw nothing, the file was never opened.
    assert v4.requests == [] and v6.requests == []
    assert _FILE_OPENS == []
    # The allowed site itself was crawled (robots.txt included): the guard is not simply refusing all.
    assert f"{site.origin}/ok" in outcome.fetched
    assert "/robots.txt" in site.requests and "/hop" in site.requests

    # Every refused URL ended as a failure naming the guard and the reason; a redirect fails as its last hop.
    assert outcome.refusals() == sorted(
        [
            (f"{v4.origin}/from-sitemap", "loopback"),
            (f"{v6.origin}/from-sitemap", "loopback"),
            (file_url, "scheme"),
            ("data:text/plain,x", "scheme"),
            (f"{v4.origin}/from-redirect", "loopback"),  # /to-v4
            (f"{v4.origin}/from-redirect", "loopback"),  # /hop -> /to-v4
            (f"{v6.origin}/from-redirect", "loopback"),
        ]
    )
    assert stats["newsarchive/refused/ssrf/loopback"] == 5  # 2 sitemap entries, 3 redirect hops
    assert stats["newsarchive/refused/ssrf/scheme"] == 2
    assert stats["downloader/exception_type_count/crawler.ssrf.SsrfRefused"] == 7
    # Scrapy itself never follows a redirect to file:; the 302 is a failed request, not a fetch.
    assert f"{site.origin}/to-file" not in outcome.fetched
    assert f"{site.origin}/to-file" in [url for url, _ in outcome.failures]

    # Nothing refused was archived; the allowed exchanges were.
    uris = warc_uris(root)
    assert f"{site.origin}/ok" in uris and f"{site.origin}/to-v4" in uris
    assert not [u for u in uris if u.startswith((v4.origin, v6.origin, "file:", "data:"))]
    # The resolver the middleware installed for this CrawlerRunner crawl is gone again.
    assert not isinstance(_current_resolver(), SsrfResolver)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Test names -> addresses, for Scrapy's threaded resolver; any other name fails to resolve."""
    names: dict[str, str] = {}
    real = socket.gethostbyname

    def gethostbyname(name: str) -> str:
        if name in names:
            return names[name]
        if name in ("localhost", "127.0.0.1"):
            return real(name)
        raise socket.gaierror(socket.EAI_NONAME, f"test resolver: {name} is not a test name")

    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    return names


@pytest.fixture
def connect_hook(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address Twisted is about to connect to; non-loopback ones fail instead of connecting."""
    attempts: list[str] = []
    real = tcp._BaseBaseClient._setRealAddress

    def set_real_address(self: Any, address: tuple[Any, ...]) -> Any:
        host = str(address[0])
        attempts.append(host)
        if not (host.startswith("127.") or host == "::1"):
            self.failIfNotConnected(tx_error.ConnectError(string=f"connect hook: {host} is not loopback"))
            return None
        return real(self, address)

    monkeypatch.setattr(tcp._BaseBaseClient, "_setRealAddress", set_real_address)
    return attempts


@pytest_twisted.inlineCallbacks
def test_names_resolving_to_forbidden_addresses_are_refused_after_resolution(
    tmp_path: Path, fake_dns: dict[str, str], connect_hook: list[str]
) -> Iterator[Any]:
    site = _Server("127.0.0.1")
    fake_dns.update(
        {
            "metadata.ssrf-test": "169.254.169.254",
            "intranet.ssrf-test": "10.0.0.7",
            "reserved.ssrf-test": "240.0.0.1",
            "cgnat.ssrf-test": "100.100.100.200",
            "redirect-target.ssrf-test": "192.168.1.1",
            # Allow-listed by name: the guard lets it through, so the connect hook must stop it.
            "allowed.ssrf-test": "10.9.9.9",
            # Allow-listed by name and really on loopback: it is fetched.
            "alias.ssrf-test": "127.0.0.1",
        }
    )
    site.routes["/go"] = (302, {"Location": f"http://redirect-target.ssrf-test:{site.port}/x"}, b"")
    settings = project_settings(
        tmp_path / "archive",
        ROBOTSTXT_OBEY=False,
        RETRY_ENABLED=False,
        SSRF_ALLOW_HOSTS=[f"127.0.0.1:{site.port}", "allowed.ssrf-test", f"alias.ssrf-test:{site.port}"],
    )
    names = ["metadata", "intranet", "reserved", "cgnat"]
    start = [f"http://{n}.ssrf-test:{site.port}/latest/meta-data/" for n in names]
    start += [
        f"{site.origin}/go",
        f"http://allowed.ssrf-test:{site.port}/",
        f"http://alias.ssrf-test:{site.port}/",
    ]
    try:
        outcome, stats = yield crawl(settings, start)
    finally:
        site.stop()

    # Nothing but loopback was ever connected to, except the allow-listed private name (stopped by the hook).
    assert [a for a in connect_hook if not a.startswith("127.")] == ["10.9.9.9"]
    assert dict(outcome.refusals()) == {
        f"http://metadata.ssrf-test:{site.port}/latest/meta-data/": "link_local",
        f"http://intranet.ssrf-test:{site.port}/latest/meta-data/": "private",
        f"http://reserved.ssrf-test:{site.port}/latest/meta-data/": "reserved",
        f"http://cgnat.ssrf-test:{site.port}/latest/meta-data/": "not_global",
        f"http://redirect-target.ssrf-test:{site.port}/x": "private",  # the hop of /go: 192.168.1.1
    }
    assert stats["newsarchive/refused/ssrf/link_local"] == 1
    assert stats["newsarchive/refused/ssrf/private"] == 2
    assert len(outcome.refusals()) == 5
    # Reported as the guard's refusal, once each, never as an unresolvable host (which would be retried).
    assert stats["downloader/exception_type_count/crawler.ssrf.SsrfRefused"] == 5
    assert not [k for k in stats if "CannotResolveHost" in k or "DNSLookup" in k]
    assert "169.254.169.254" in str(dict(outcome.failures)[start[0]])
    assert f"http://alias.ssrf-test:{site.port}/" in outcome.fetched
    assert site.requests == ["/go", "/"]
    assert not isinstance(_current_resolver(), SsrfResolver)

"""The SSRF guard in Scrapy: a resolver that refuses forbidden addresses after resolution, a download
handler that reports its refusals as such, and a downloader middleware that refuses what must not even be
looked up. The policy itself is crawler.ssrf.

How Scrapy 2.19 connects (read in Twisted 26.10): the HTTP/1.1 handler's Agent builds a
`HostnameEndpoint`, which resolves the host through `reactor.nameResolver` (a wrapper around the
`IResolverSimple` installed from `TWISTED_DNS_RESOLVER`; `DNS_RESOLVER` is its deprecated name) and then
connects `TCP4ClientEndpoint`s to exactly the addresses returned, as IP literals that are never resolved
again. `SsrfResolver` checks those addresses, so a name resolving to 169.254.169.254 is refused, and DNS
rebinding between a check and the connect is impossible: the one resolution is the one checked. IP literals
in URLs go through it too on this path (`gethostbyname("127.0.0.2")` returns itself), but not through a
proxy tunnel (`tcp.Client` and `ReactorBase.resolve` skip resolution for literals), so `SsrfGuardMiddleware`
(first in the chain, for every request and every redirect hop, which re-enters the chain) refuses IP
literals itself, with their port, and every scheme but http(s).

`HostnameEndpoint` turns any failed resolution into a plain DNSLookupError ("no results"), which Scrapy would
retry and report as an unresolvable host. The resolver therefore records what it refused, and
`GuardedHttpDownloadHandler` (Scrapy's HTTP/1.1 handler) raises `SsrfRefused` in its place before any
middleware sees the failure: it is not retried, the middleware counts it once
(`newsarchive/refused/ssrf/<reason>`) and logs one line naming the URL, and the spider's errback counts a
failure (`newsarchive/errors/SsrfRefused`). Nothing was sent, so nothing is archived.

The resolver is installed by Scrapy's CrawlerProcess from the process settings (`newsarchive crawl`,
`scrapy crawl`, Scrapyd). A crawl started with CrawlerRunner installs no resolver: the middleware then
installs one for as long as its crawlers run, so the guarantee does not depend on how a crawl is started.
Limit: with an HTTP proxy (HttpProxyMiddleware, `*_proxy` variables) the proxy resolves the target, so only
the proxy's own address and IP-literal targets are checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Response
from scrapy.resolver import CachingThreadedResolver
from scrapy.settings import BaseSettings
from scrapy.utils.datatypes import LocalCache
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from core.baseurls import parse_base_urls
from crawler.ssrf import ALLOW_HINT, Refusal, SsrfPolicy, SsrfRefused, canonical_host

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

STATS_PREFIX = "newsarchive/refused/ssrf"

# Name -> the refusal of its latest lookup, for GuardedHttpDownloadHandler (the endpoint drops the reason).
_refused_names: LocalCache[str, Refusal] = LocalCache(limit=10_000)


class _RefusedLookup(DNSLookupError):
    """Inside Twisted a refusal must look like a failed lookup: the name resolver wrapper logs any other
    exception as a crash and then reports "no results" anyway."""


def policy_from_settings(settings: BaseSettings) -> SsrfPolicy:
    """`SSRF_ALLOW_HOSTS` plus the origins of `OUTLET_BASE_URLS`; ValueError names a malformed entry."""
    base_urls = parse_base_urls(settings.get("OUTLET_BASE_URLS"))  # its ValueError names OUTLET_BASE_URLS
    try:
        return SsrfPolicy.build(settings.getlist("SSRF_ALLOW_HOSTS"), base_urls)
    except ValueError as exc:
        raise ValueError(f"SSRF_ALLOW_HOSTS: {exc}") from None


def _cache_size(settings: BaseSettings) -> int:
    return settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0


@implementer(IResolverSimple)
class SsrfResolver(CachingThreadedResolver):
    """Scrapy's default resolver (threaded, cached, DNS_TIMEOUT) that fails a lookup whose address the
    policy refuses. Cached answers are checked too: the check runs on every lookup's result."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, policy: SsrfPolicy):
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> SsrfResolver:
        # Scrapy passes the CrawlerProcess here, not a Crawler: only its settings are read.
        settings = crawler.settings
        return cls(
            reactor, _cache_size(settings), settings.getfloat("DNS_TIMEOUT"), policy_from_settings(settings)
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        lookup = super().getHostByName(name, timeout)
        lookup.addCallback(self._checked, name)
        return lookup

    def _checked(self, address: str, name: str) -> str:
        refusal = self.policy.check_resolved(name, address)
        if refusal is not None:
            _refused_names[canonical_host(name)] = refusal
            raise _RefusedLookup(f"SSRF guard refused {name}: {refusal.detail}")
        _refused_names.pop(canonical_host(name), None)
        return address


class GuardedHttpDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, reporting a lookup the SSRF resolver refused as `SsrfRefused`."""

    async def download_request(self, request: Request) -> Response:
        try:
            return await super().download_request(request)
        except CannotResolveHostError:
            proxy = request.meta.get("proxy")
            for host in (urlparse_cached(request).hostname, urlsplit(proxy).hostname if proxy else None):
                refusal = _refused_names.get(canonical_host(host)) if host else None
                if refusal is not None:
                    raise SsrfRefused(request.url, refusal.reason, refusal.detail) from None
            raise


class _ResolverLease:
    """Installs an SsrfResolver on the reactor while crawlers that found none run, then puts the previous
    resolver back, so a crawl under CrawlerRunner is guarded and nothing else in the process is changed."""

    def __init__(self) -> None:
        self.holders = 0
        self.previous: Any = None

    def acquire(self, crawler: Crawler, policy: SsrfPolicy) -> None:
        from twisted.internet import reactor

        current = getattr(reactor, "resolver", None)
        if self.holders == 0:
            if isinstance(current, SsrfResolver):
                return  # installed by CrawlerProcess for the whole process
            guard = SsrfResolver(
                reactor, _cache_size(crawler.settings), crawler.settings.getfloat("DNS_TIMEOUT"), policy
            )
            self.previous = reactor.installResolver(guard)  # type: ignore[attr-defined]
        self.holders += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.holders -= 1
            if self.holders == 0 and self.previous is not None:
                reactor.installResolver(self.previous)  # type: ignore[attr-defined]
                self.previous = None

        crawler.signals.connect(release, signal=signals.engine_stopped, weak=False)


_lease = _ResolverLease()


class SsrfGuardMiddleware:
    """Refuses disallowed schemes and forbidden IP-literal hosts before anything is sent; counts and logs
    every SSRF refusal (see the module docstring)."""

    def __init__(self, policy: SsrfPolicy, stats: StatsCollector | None = None):
        self.policy = policy
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SsrfGuardMiddleware:
        # A malformed allow-list entry is a user mistake and must stop the crawl: ValueError is not caught.
        policy = policy_from_settings(crawler.settings)
        _lease.acquire(crawler, policy)
        return cls(policy, crawler.stats)

    def process_request(self, request: Request) -> None:
        refusal = self.policy.check_url(request.url)
        if refusal is not None:
            raise SsrfRefused(request.url, refusal.reason, refusal.detail)

    def process_exception(self, request: Request, exception: Exception) -> None:
        if not isinstance(exception, SsrfRefused):
            return
        if self.stats is not None:
            self.stats.inc_value(f"{STATS_PREFIX}/{exception.reason}")
        logger.warning("SSRF guard refused %s: %s (%s)", request.url, exception.detail, ALLOW_HINT)

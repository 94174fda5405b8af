"""robots.txt `Crawl-delay` applied as the download delay of the host's downloader slot.

Scrapy 2.19 parses `Crawl-delay` (`RobotParser.crawl_delay`) but applies it nowhere. This extension reads
every robots.txt that RobotsTxtMiddleware downloads (through the public `response_received` signal, with
the parser class ROBOTSTXT_PARSER names) and keeps, per downloader slot, a floor on the delay between two
requests: the Crawl-delay for our user agent, never lower than DOWNLOAD_DELAY, and capped at
ROBOTSTXT_CRAWL_DELAY_MAX (a robots.txt asking for an hour between requests would stall a run for days;
the cap is logged).

The floor must survive AutoThrottle, which recomputes the slot's delay from the latency of every response
(never below DOWNLOAD_DELAY, but possibly below the Crawl-delay). It is therefore re-applied when a
response was downloaded (this extension is built after AutoThrottle, so it runs after it) and when a
request reaches the downloader, both before the slot's queue is processed. DOWNLOAD_DELAY_JITTER spreads
delays ±jitter around the slot's delay; the floor keeps a spread but only above the Crawl-delay, so two
consecutive requests to the host are never closer than it.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler, load_object

logger = logging.getLogger(__name__)


def slot_floor(crawl_delay: float, jitter: float) -> tuple[float, float]:
    """(delay, jitter) for a slot whose randomised delay must never fall below `crawl_delay`.

    Scrapy draws each delay from delay × (1 ± jitter): with delay = c × (1 + j) and jitter j / (1 + j)
    the lowest draw is exactly c, the highest c × (1 + 2j)."""
    jitter = min(max(jitter, 0.0), 1.0)
    return crawl_delay * (1 + jitter), jitter / (1 + jitter)


class CrawlDelay:
    def __init__(self, crawler: Crawler, min_delay: float, max_delay: float, user_agent: str) -> None:
        self.crawler = crawler
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.user_agent = user_agent
        self.parser_class: Any = load_object(crawler.settings["ROBOTSTXT_PARSER"])
        self.jitter = crawler.settings.getfloat("DOWNLOAD_DELAY_JITTER")
        self.floors: dict[str, tuple[float, float]] = {}  # slot key -> (delay, jitter)
        self.delays: dict[str, float] = {}  # slot key -> the Crawl-delay applied (capped, >= DOWNLOAD_DELAY)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured("ROBOTSTXT_OBEY is off: robots.txt, Crawl-delay included, is not obeyed")
        user_agent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or "*"
        ext = cls(
            crawler,
            settings.getfloat("DOWNLOAD_DELAY"),
            settings.getfloat("ROBOTSTXT_CRAWL_DELAY_MAX", 60.0),
            str(user_agent),
        )
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.enforce, signal=signals.response_downloaded)
        crawler.signals.connect(ext.enforce, signal=signals.request_reached_downloader)
        return ext

    def response_received(self, response: Response, request: Request) -> None:
        # RobotsTxtMiddleware's own download is the one marked dont_obey_robotstxt.
        if not request.meta.get("dont_obey_robotstxt") or urlparse_cached(request).path != "/robots.txt":
            return
        if not 200 <= response.status < 300:
            return  # 4xx: no rules; 5xx: the whole host is disallowed (crawler.middlewares)
        try:
            parser = build_from_crawler(self.parser_class, self.crawler, response.body)
            asked = parser.crawl_delay(self.user_agent)
        except Exception as exc:  # a robots.txt is hostile input: a parse failure costs only the delay
            logger.warning("Crawl-delay of %s not read: %s", response.url, exc)
            return
        if asked is None or not math.isfinite(asked) or asked <= 0:  # absent or meaningless
            return
        delay = max(min(float(asked), self.max_delay), self.min_delay)
        if asked > self.max_delay:
            logger.warning(
                "robots.txt of %s asks Crawl-delay %s s: capped at ROBOTSTXT_CRAWL_DELAY_MAX %s s",
                urlparse_cached(request).netloc,
                asked,
                self.max_delay,
            )
        key = self._downloader().get_slot_key(request)
        self.delays[key] = delay
        self.floors[key] = slot_floor(delay, self.jitter)
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value(f"newsarchive/robots/crawl_delay/{key}", delay)
        logger.info("Crawl-delay %s s for %s (robots.txt)", delay, key)
        self.enforce(request=request)

    def enforce(self, request: Request, **_: Any) -> None:
        """Raise the slot's delay to its floor, after AutoThrottle or before the slot's queue moves."""
        if not self.floors:
            return
        downloader = self._downloader()
        key = request.meta.get(downloader.DOWNLOAD_SLOT) or downloader.get_slot_key(request)
        floor = self.floors.get(key)
        slot = downloader.slots.get(key)
        if floor is None or slot is None:
            return
        delay, jitter = floor
        if slot.delay < delay:
            slot.delay = delay
        slot.jitter = min(slot.jitter, jitter)

    def delay_for(self, request: Request) -> float:
        """The Crawl-delay applied to the host of `request` (0.0 when its robots.txt asks none, or was
        not read yet): crawler.redis_politeness paces all workers of a distributed crawl by it."""
        if not self.delays:
            return 0.0
        downloader = self._downloader()
        key = request.meta.get(downloader.DOWNLOAD_SLOT) or downloader.get_slot_key(request)
        return self.delays.get(key, 0.0)

    def _downloader(self) -> Any:
        assert self.crawler.engine is not None
        return self.crawler.engine.downloader

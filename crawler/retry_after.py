"""`Retry-After` on 429 and 503 honoured: the host is left alone until the time it asked for.

Scrapy's RetryMiddleware retries a 429 or a 503 at once (scrapy#3849), which is exactly what a server
that answered "come back in 30 seconds" asked us not to do. This downloader middleware sits just above
it (its process_response runs first) and, when such a response carries `Retry-After` (delay-seconds or
an HTTP-date), pauses the response's downloader slot (its host) until then. It changes nothing else:
RetryMiddleware still decides whether to retry (RETRY_TIMES) and builds the retry; the retry, and every
other request to the paused host, waits in this middleware's process_request until the pause ends. A
request whose retries are used up still fails with `http_429` / `http_503` (never an article row).

A wait longer than RETRY_AFTER_MAX (seconds) is not waited for within the run: the request fails with
`RateLimited` (an IgnoreRequest whose `failure_reason` the spider records: `rate_limited`), and so does
every request to that host until the asked time, without being sent. The next run retries them.

Only the status code says "rate limited": a 200 page that only reads like a rate-limit notice is content
as far as the crawl can tell (out of scope; it would fail extraction or relevance like any odd page).
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from typing import Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import sleep

logger = logging.getLogger(__name__)

RATE_LIMIT_STATUSES = (429, 503)


class RateLimited(IgnoreRequest):
    """The host asked for a pause longer than RETRY_AFTER_MAX: the URL fails, the next run retries it."""

    failure_reason = "rate_limited"


def parse_retry_after(value: str, now: float) -> float | None:
    """Seconds to wait from `now` (a Unix time): `Retry-After: 120` or an HTTP-date; None if unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms parse without a zone
        return None
    return max(0.0, when.timestamp() - now)


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler, max_wait: float) -> None:
        self.crawler = crawler
        self.max_wait = max_wait
        self.paused: dict[str, float] = {}  # slot key -> time.monotonic() before which nothing is sent
        self.reported: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.getbool("RETRY_ENABLED"):
            raise NotConfigured("RETRY_ENABLED is off: nothing is retried, so nothing waits")
        return cls(crawler, crawler.settings.getfloat("RETRY_AFTER_MAX", 600.0))

    async def process_request(self, request: Request) -> None:
        key = self._slot_key(request)
        while (wait := self.paused.get(key, 0.0) - time.monotonic()) > 0:
            if wait > self.max_wait:
                self._inc("rate_limited")
                raise RateLimited(f"{key} asked for a pause of {wait:.0f} s: {request.url} not fetched")
            self._inc("waited")
            await sleep(wait)  # re-checked: another response may have lengthened the pause meanwhile

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in RATE_LIMIT_STATUSES:
            return response
        header = response.headers.get("Retry-After")
        wait = parse_retry_after(header.decode("latin-1"), time.time()) if header else None
        if not wait:  # absent, unreadable or zero: RetryMiddleware's immediate retry, as before
            return response
        key = self._slot_key(request)
        self.paused[key] = max(self.paused.get(key, 0.0), time.monotonic() + wait)
        self._inc(f"paused/{response.status}")
        if wait <= self.max_wait:
            logger.info("%s answered %s, Retry-After %.0f s: pausing the host", key, response.status, wait)
            return response
        if key not in self.reported:  # once per host: every URL of a rate-limited host ends here
            self.reported.add(key)
            logger.warning(
                "%s answered %s with Retry-After %.0f s, more than RETRY_AFTER_MAX %s s: its URLs fail "
                "as rate_limited until then (the next run retries them)",
                key,
                response.status,
                wait,
                self.max_wait,
            )
        if request.meta.get("dont_obey_robotstxt"):  # robots.txt: a 4xx/5xx answer has its own meaning
            return response
        self._inc("rate_limited")
        raise RateLimited(
            f"{response.status} with Retry-After {wait:.0f} s (over RETRY_AFTER_MAX) for {request.url}"
        )

    def _slot_key(self, request: Request) -> str:
        assert self.crawler.engine is not None
        return str(self.crawler.engine.downloader.get_slot_key(request))

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"newsarchive/retry_after/{key}")

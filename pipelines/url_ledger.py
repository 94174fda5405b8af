"""The URL ledger: what became of every URL discovery found in this run (core.url_outcomes).

An extension, one per crawler (outlet). The spider and the pipelines send `core.url_outcomes.url_event`
as a URL moves on (discovered, scheduled, excluded, failed); the article's item signals (scraped,
dropped, error) and Scrapy's request_dropped give the rest. When the spider closes, URLs with no final
state are `pending`, the accounting goes into the stats (`newsarchive/urls/...`, which the manifest and
the summary read: crawler.run_stats) and one JSON line per URL into `runs/<run>/urls-<outlet>.jsonl.gz`,
listed in the run's manifest: the next run's catalog (archive.catalog) learns each URL's state, ETag,
Last-Modified, digest and failure count from it.

Keyed by the candidate's canonical URL (`request.meta["candidate"]`): a redirect or an override origin
never splits one article into two ledger entries.
"""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.python.failure import Failure

from archive.paths import RUNS_DIR, safe_component
from archive.run import RunLedger
from core.clock import now as clock_now
from core.url_outcomes import FINAL_STATES, FOLLOWUP_SOURCES, Accounting, url_event
from pipelines.drops import outcome_of

logger = logging.getLogger(__name__)

STATS_PREFIX = "newsarchive/urls/"
# The spider's own count of distinct candidates (spiders.discovery_spider.add_candidate), which the
# ledger must match: a candidate the ledger never heard of would be a silent loss.
CANDIDATE_SOURCES_PREFIX = "newsarchive/candidates/"
DISCOVERY_KINDS = ("feed", "sitemap", "listing")  # what pipelines.revisits asks for conditionally


def ledger_relpath(run_id: str, outlet: str) -> str:
    return f"{RUNS_DIR}/{run_id}/urls-{safe_component(outlet, 'outlet')}.jsonl.gz"


class UrlLedger:
    def __init__(self, crawler: Crawler, root: Path, run_id: str) -> None:
        self.crawler = crawler
        self.root = root
        self.run_id = run_id
        self.rows: dict[str, dict[str, Any]] = {}
        self.clock = crawler.settings.get("NEWSARCHIVE_NOW") or None
        self.validators: dict[str, dict[str, Any]] = {}

    def now(self) -> datetime:
        return clock_now(self.clock)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        run_id = settings.get("NEWSARCHIVE_RUN_ID") or ""
        if not settings.get("ARCHIVE_ROOT") or not run_id:
            raise NotConfigured("the URL ledger needs ARCHIVE_ROOT and NEWSARCHIVE_RUN_ID")
        ext = cls(crawler, Path(settings["ARCHIVE_ROOT"]), run_id)
        connect = crawler.signals.connect
        connect(ext.on_url_event, signal=url_event)
        connect(ext.item_scraped, signal=signals.item_scraped)
        connect(ext.item_dropped, signal=signals.item_dropped)
        connect(ext.item_error, signal=signals.item_error)
        connect(ext.request_dropped, signal=signals.request_dropped)
        connect(ext.spider_closed, signal=signals.spider_closed)
        connect(ext.response_received, signal=signals.response_received)
        return ext

    def response_received(self, response: Response, request: Request) -> None:
        """Keep the validators of discovery documents, for the next run's conditional requests."""
        if request.meta.get("newsarchive_kind") not in DISCOVERY_KINDS or response.status != 200:
            return
        fields = {k: v for k, v in response_fields(response).items() if k in ("etag", "last_modified")}
        if fields:
            url = str(request.meta.get("newsarchive_url") or request.url)
            self.validators[url] = {"kind": "discovery", "url": url, "time": self.now().isoformat(), **fields}

    # ------------------------------------------------------------------ events
    def on_url_event(
        self,
        url: str,
        state: str,
        reason: str = "",
        source: str = "",
        published_at: str | None = None,
        response: Response | None = None,
        **extra: Any,
    ) -> None:
        row = self.rows.get(url)
        if row is None:
            row = self.rows[url] = {"url": url, "state": "pending", "reason": "discovered", "sources": []}
            row["time"] = self.now().isoformat(timespec="seconds")  # when first seen; outcomes update it
        if source and source not in row["sources"]:
            row["sources"].append(source)
        if published_at and not row.get("published_at"):
            row["published_at"] = published_at
        if extra.get("revisit"):
            row["revisit"] = True
        if state in ("discovered", "scheduled"):
            if row["state"] == "pending":
                row["reason"] = state
            return
        if row.get("revisit") and reason == "already_archived":
            return  # the spider found a URL the catalog revisits: the revisit's outcome is the one
        row["state"], row["reason"] = state, reason
        row["time"] = self.now().isoformat(timespec="seconds")
        if state == "gone":
            row["gone_at"] = row["time"]
        if response is not None:
            row.update(response_fields(response))
        # pydispatch hands every receiver `signal` and `sender` too; only the event's own fields are kept.
        row.update({k: v for k, v in extra.items() if v is not None and k not in ("signal", "sender")})

    def _article_url(self, response: Response | None, item: Any) -> str | None:
        candidate = response.meta.get("candidate") if response is not None else None
        if candidate is not None:
            return str(candidate.url)
        return getattr(item, "url", None)

    def item_scraped(self, item: Any, response: Response) -> None:
        url = self._article_url(response, item)
        if url is None:
            return
        revisit = response.meta.get("newsarchive_revisit") if response is not None else None
        state = "changed" if revisit else "archived"
        version = getattr(item, "version", None)
        self.on_url_event(url, state, response=response, version=version, title=getattr(item, "title", None))

    def item_dropped(self, item: Any, response: Response, exception: BaseException) -> None:
        url = self._article_url(response, item)
        if url is not None:
            state, reason = outcome_of(exception)
            self.on_url_event(url, state, reason, response=response)

    def item_error(self, item: Any, response: Response, failure: Failure) -> None:
        url = self._article_url(response, item)
        if url is not None:
            self.on_url_event(url, "failed", f"pipeline_{failure.type.__name__ if failure.type else 'error'}")

    def request_dropped(self, request: Request) -> None:
        # The scheduler refused it (a duplicate of a request already seen this run).
        candidate = request.meta.get("candidate")
        if candidate is not None and self.rows.get(candidate.url, {}).get("state") == "pending":
            if request.meta.get("redirect_urls"):
                # A redirect back to a URL already requested: a loop, which the duplicate filter ended.
                self.on_url_event(candidate.url, "failed", "redirect_loop")
            else:
                self.on_url_event(candidate.url, "excluded", "duplicate_request")

    # ------------------------------------------------------------------ close
    def accounting(self, finish_reason: str) -> Accounting:
        stats = self.crawler.stats.get_stats() if self.crawler.stats is not None else {}
        found = sum(
            int(v)
            for k, v in stats.items()
            if k.startswith(CANDIDATE_SOURCES_PREFIX)
            and k.count("/") == 2
            and k.rsplit("/", 1)[1] not in ("duplicate", "scheduled")
        )
        candidates = found - int(stats.get(f"{CANDIDATE_SOURCES_PREFIX}duplicate", 0))
        # Revisits are scheduled by the catalog, not found by discovery: they are not candidates.
        # Follow-ups the spider did not also find (their ledger row has no discovery source of its own).
        revisits = sum(
            1 for r in self.rows.values() if r["sources"] and set(r["sources"]) <= FOLLOWUP_SOURCES
        )
        if self.crawler.settings.getbool("URL_LEDGER_SHARED_FRONTIER"):
            # A Redis worker (crawler.redis_mode): URLs it found may be fetched by another worker and
            # URLs it fetched found by another, so neither cross-check holds for one worker's ledger;
            # `runs merge` writes the job's manifest from every worker's.
            return Accounting.from_outcomes(self.rows.values(), candidates_counted=None, finished=False)
        return Accounting.from_outcomes(
            self.rows.values(), candidates_counted=candidates + revisits, finished=finish_reason == "finished"
        )

    def spider_closed(self, reason: str) -> None:
        for row in self.rows.values():
            if row["state"] not in FINAL_STATES:
                row["state"] = "pending"
        acc = self.accounting(reason)
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value(f"{STATS_PREFIX}discovered", acc.discovered)
            for state, count in acc.counts.items():
                stats.set_value(f"{STATS_PREFIX}{state}", count)
            for kind in ("failed", "excluded"):
                for why, count in getattr(acc, kind).items():
                    stats.set_value(f"{STATS_PREFIX}{kind}/{why}", count)
            stats.set_value(f"{STATS_PREFIX}candidates_counted", acc.candidates_counted)
            stats.set_value(f"{STATS_PREFIX}finished", int(acc.finished))
            if self.crawler.settings.getbool("URL_LEDGER_SHARED_FRONTIER"):
                stats.set_value(f"{STATS_PREFIX}shared_frontier", 1)
        for problem in acc.problems():
            logger.error("URL accounting does not add up: %s", problem)
        self._write(getattr(self.crawler.spider, "name", "outlet"))

    def _write(self, outlet: str) -> None:
        if not self.rows and not self.validators:
            return
        rel = ledger_relpath(self.run_id, outlet)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        try:
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                for row in self.rows.values():
                    fh.write(
                        json.dumps({"outlet": outlet, "run_id": self.run_id, **row}, ensure_ascii=False)
                        + "\n"
                    )
                for line in self.validators.values():
                    fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written ledger behind
            raise
        tmp.replace(path)
        RunLedger.for_run(self.root, self.run_id).add_file(rel, "urls")


def response_fields(response: Response) -> dict[str, Any]:
    """What the next run needs to ask conditionally, and where the capture is."""
    fields: dict[str, Any] = {"status": response.status}
    for header, key in (("ETag", "etag"), ("Last-Modified", "last_modified")):
        value = response.headers.get(header)
        if value:
            fields[key] = value.decode("latin-1")
    warc = response.meta.get("newsarchive_warc")
    if warc is not None:
        fields["digest"] = getattr(warc, "payload_digest", None)
        fields["record_id"] = getattr(warc, "record_id", None)
    return {k: v for k, v in fields.items() if v is not None}

"""One crawl run: Scrapy settings from a plan, one crawler per outlet, progress, then the run manifest.

Part of the composition root (used by crawler.cli): it is allowed to know spiders, pipelines and archive.
The manifest is written after every crawler has closed, so it is the last file of the run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.internet import task

from archive.parquet_out import write_parquet_for_run
from archive.publish import PublishReport, latest_published_run_id, publish_pending, publish_run
from archive.run import (
    RunLedger,
    install_schema,
    latest_run_id,
    new_run_id,
    software_versions,
    write_manifest,
)
from archive.storage import Store
from core.config import TopicConfig
from core.items import SCHEMA_VERSION
from core.schema import article_schema, schema_text
from crawler.progress import OutletCounts, ProgressReporter, counts_from_stats, render_summary
from spiders.registry import OUTLETS

PROGRESS_INTERVAL_S = 2.0


@dataclass
class CrawlPlan:
    root: Path
    outlets: list[str]
    topics: list[TopicConfig]
    archive_all: bool
    since: datetime
    until: datetime
    max_articles: int | None
    base_urls: dict[str, str]
    user_agent: str
    contact: str
    log_format: str = "text"
    log_level: str = "WARNING"
    local_only: bool = False  # every outlet is on this machine (demo): no politeness delay needed
    # When the archive root is remote (s3://...), `root` is a local spool the run is written to first and
    # published from, in order, manifest last.
    store: Store | None = None
    delete_local: bool = False
    refetch: bool = False  # fetch article pages the archive already holds (INCREMENTAL off)
    spiders: dict[str, type[Spider]] = field(default_factory=dict)  # outlet -> spider class (registry)

    def public_config(self) -> dict[str, Any]:
        """What the manifest records about the run's configuration (nothing secret lives in a plan)."""
        return {
            "outlets": self.outlets,
            "topics": [{"name": t.name, "source": t.source, "threshold": t.threshold} for t in self.topics],
            "archive_all": self.archive_all,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "max_articles": self.max_articles,
            "base_urls": self.base_urls,
            "user_agent": self.user_agent,
            "archive": self.store.url if self.store is not None else str(self.root),
            "refetch": self.refetch,
        }


@dataclass
class CrawlResult:
    run_id: str
    ok: bool
    finish_reasons: dict[str, str]
    per_outlet: dict[str, OutletCounts]
    elapsed_s: float
    manifest: Path
    files: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    published: list[PublishReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "event": "summary",
            "run_id": self.run_id,
            "ok": self.ok,
            "finish_reasons": self.finish_reasons,
            "elapsed_s": round(self.elapsed_s, 1),
            "outlets": {k: asdict(v) for k, v in self.per_outlet.items()},
            "manifest": str(self.manifest),
            "files": [{"path": p, "kind": k} for p, k in self.files],
            "published": [
                {
                    "run_id": r.run_id,
                    "store": r.store,
                    "ok": r.ok,
                    "uploaded": len(r.uploaded),
                    "already_present": len(r.already_present),
                    "problems": r.problems(),
                    "warnings": r.warnings,
                }
                for r in self.published
            ],
        }


def build_settings(plan: CrawlPlan, run_id: str) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    overrides: dict[str, Any] = {
        "ARCHIVE_ROOT": str(plan.root),
        "NEWSARCHIVE_RUN_ID": run_id,
        "NEWSARCHIVE_CONTACT": plan.contact,
        "WARC_OPERATOR": plan.contact,
        "USER_AGENT": plan.user_agent,
        "OUTLET_BASE_URLS": plan.base_urls,
        "TOPICS": [t.source if not t.source.startswith("builtin:") else t.name for t in plan.topics],
        "TOPIC_ARCHIVE_ALL": plan.archive_all,
        "INCREMENTAL": not plan.refetch,
        "ARCHIVE_STORE": plan.store.url if plan.store is not None else "",
        "LOG_LEVEL": plan.log_level,
        # The CLI configures logging itself (text or JSON lines on stderr).
        "LOG_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,
    }
    if plan.local_only:
        # Every request goes to 127.0.0.1: no host to be polite to, so no artificial delay.
        overrides |= {
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_START_DELAY": 0.1,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
        }
    settings.setdict(overrides, priority="cmdline")
    return settings


def _errors_by_reason(stats: dict[str, Any]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("newsarchive/errors/"):
            errors[key.removeprefix("newsarchive/errors/")] = int(value)
        elif key.startswith("downloader/response_status_count/") and key.rsplit("/", 1)[1][:1] in "45":
            errors[f"http_{key.rsplit('/', 1)[1]}"] = int(value)
        elif key.startswith("downloader/exception_type_count/"):
            errors[key.rsplit("/", 1)[1].rsplit(".", 1)[-1]] = int(value)
        elif key.startswith("spider_exceptions/") and key != "spider_exceptions/count":
            errors[f"spider_{key.rsplit('/', 1)[1]}"] = int(value)
    return errors


def run_crawl(plan: CrawlPlan) -> CrawlResult:
    run_id = new_run_id()
    if plan.store is not None:
        previous = latest_published_run_id(plan.store) or latest_run_id(plan.root)
    else:
        previous = latest_run_id(plan.root)
    started = datetime.now(UTC)
    t0 = time.monotonic()

    process = CrawlerProcess(build_settings(plan, run_id))
    crawlers: dict[str, Crawler] = {}
    for outlet in plan.outlets:
        crawler = process.create_crawler(plan.spiders.get(outlet) or OUTLETS[outlet])
        crawlers[outlet] = crawler
        process.crawl(
            crawler,
            since=plan.since.isoformat(),
            until=plan.until.isoformat(),
            max_articles=plan.max_articles,
        )

    def all_stats() -> dict[str, dict[str, Any]]:
        return {name: c.stats.get_stats() for name, c in crawlers.items() if c.stats is not None}

    reporter = ProgressReporter(all_stats, json_lines=plan.log_format == "json")
    ticker = task.LoopingCall(reporter.tick)
    ticker.start(PROGRESS_INTERVAL_S, now=False)
    process.start()
    if ticker.running:
        ticker.stop()
    reporter.tick()

    stats = all_stats()
    per_outlet = {name: counts_from_stats(s) for name, s in stats.items()}
    finish_reasons = {name: str(s.get("finish_reason", "not started")) for name, s in stats.items()}
    ok = all(
        finish_reasons.get(o) == "finished"
        and per_outlet[o].pages > 0
        and not stats[o].get("spider_exceptions/count")
        for o in plan.outlets
    )

    ledger = RunLedger.for_run(plan.root, run_id)
    # Every root carries the contract its rows follow, and every run a Parquet copy of its JSON lines.
    ledger.add_file(install_schema(plan.root, SCHEMA_VERSION, schema_text()), "schema")
    write_parquet_for_run(plan.root, run_id, json_schema=article_schema())
    files = ledger.files()
    topic_counts: dict[str, int] = {}
    for s in stats.values():
        for key, value in s.items():
            if key.startswith("newsarchive/topics/"):
                name = key.removeprefix("newsarchive/topics/")
                topic_counts[name] = topic_counts.get(name, 0) + int(value)
    errors_by_outlet = {name: _errors_by_reason(s) for name, s in stats.items()}
    errors_total: dict[str, int] = {}
    for reasons in errors_by_outlet.values():
        for reason, count in reasons.items():
            errors_total[reason] = errors_total.get(reason, 0) + count
    manifest = write_manifest(
        plan.root,
        run_id,
        files=files,
        counts={
            "outlets": {k: asdict(v) for k, v in per_outlet.items()},
            "topics": topic_counts,
            "errors_by_outlet": errors_by_outlet,
        },
        config=plan.public_config(),
        versions=software_versions(),
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        errors=errors_total,
        previous_run_id=previous,
    )
    published: list[PublishReport] = []
    if plan.store is not None:
        # Earlier runs whose upload failed go first, so the store's runs/ stays in order.
        published = publish_pending(plan.root, plan.store, delete_local=plan.delete_local)
        published.append(publish_run(plan.root, run_id, plan.store, delete_local=plan.delete_local))
        ok = ok and all(r.ok for r in published)
    elapsed = time.monotonic() - t0
    warcs = [p for p, k in files if k == "warc"]
    articles = [p for p, k in files if k == "articles"]
    kept = sum(c.kept for c in per_outlet.values())
    records = sum(c.warc_records for c in per_outlet.values())
    location = [
        f"Archive root: {plan.root}",
        f"  WARC files:     {len(warcs):>4}  ({records} request/response records)  under warc/",
        f"  Article files:  {len(articles):>4}  ({kept} articles as gzipped JSON lines)  under articles/",
        f"  Run manifest:         {manifest.relative_to(plan.root)}",
    ]
    for report in published:
        state = "published" if report.ok else "NOT fully published (queued; the next run retries)"
        location.append(
            f"Run {report.run_id} {state} to {report.store}: {len(report.uploaded)} uploaded, "
            f"{len(report.already_present)} already there"
        )
        location += [f"  problem: {p}" for p in report.problems()]
        location += [f"  warning: {w}" for w in report.warnings]
    if not ok:
        bad = [o for o in plan.outlets if finish_reasons.get(o) != "finished" or per_outlet[o].pages == 0]
        location.append(f"Problems: {', '.join(bad) or 'see above'} (see the log above; exit code 1)")
    result = CrawlResult(
        run_id=run_id,
        ok=ok,
        finish_reasons=finish_reasons,
        per_outlet=per_outlet,
        elapsed_s=elapsed,
        manifest=manifest,
        files=files,
        published=published,
    )
    result.summary = render_summary(per_outlet, elapsed_s=elapsed, run_id=run_id, location_lines=location)
    return result

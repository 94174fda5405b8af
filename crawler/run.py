"""One crawl run: Scrapy settings from a plan, one crawler per outlet, progress, then the run manifest.

Part of the composition root (used by crawler.cli): it is allowed to know spiders, pipelines and archive.
The steps live in modules of their own: the plan (crawler.crawl_plan), the Scrapy process
(crawler.crawl_process), the counts (crawler.run_stats) and the result with its summary
(crawler.run_summary); this module strings them together. The manifest is written after every crawler
has closed, so it is the last file of the run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

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
from archive.run_history import covered_outlets
from core.items import SCHEMA_VERSION
from core.schema import article_schema, schema_text
from crawler.crawl_plan import CrawlPlan
from crawler.crawl_process import run_crawlers
from crawler.run_stats import RunStats
from crawler.run_summary import CrawlResult, summarize

__all__ = ["LOCAL_ONLY_SETTINGS", "CrawlPlan", "CrawlResult", "build_settings", "run_crawl"]

# Every request goes to 127.0.0.1 (the demo): no host to be polite to, so no artificial delay.
LOCAL_ONLY_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_DELAY": 0,
    "AUTOTHROTTLE_START_DELAY": 0.1,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
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
        "SSRF_ALLOW_HOSTS": plan.allow_hosts,
        "TOPICS": [t.source if not t.source.startswith("builtin:") else t.name for t in plan.topics],
        "TOPIC_ARCHIVE_ALL": plan.archive_all,
        "INCREMENTAL": not plan.refetch,
        "NEWSARCHIVE_NOW": plan.now,
        "DISCOVERY_REPEAT_OUTLETS": repeat_outlets(plan),
        "ARCHIVE_STORE": plan.store.url if plan.store is not None else "",
        "LOG_LEVEL": plan.log_level,
        # The CLI configures logging itself (text or JSON lines on stderr).
        "LOG_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,
    }
    if plan.local_only:
        overrides |= LOCAL_ONLY_SETTINGS
    settings.setdict(overrides, priority="cmdline")
    if plan.redis is not None:  # crawl --redis; imported only then (redis, scrapy_redis)
        from crawler.redis_mode import redis_settings

        settings.setdict(redis_settings(plan.redis, settings, run_id), priority="cmdline")
    return settings


def repeat_outlets(plan: CrawlPlan) -> list[str]:
    """Outlets an earlier run covered from this window's start: they need only feeds and sitemaps."""
    if plan.refetch or plan.full_discovery:
        return []
    return covered_outlets(plan.root, plan.store, plan.outlets, plan.since)


def previous_run_id(plan: CrawlPlan) -> str | None:
    """The run this one follows: the newest published to the remote store, else the newest local one."""
    if plan.store is not None:
        return latest_published_run_id(plan.store) or latest_run_id(plan.root)
    return latest_run_id(plan.root)


def write_run_files(
    plan: CrawlPlan, run_id: str, stats: RunStats, *, started: datetime, previous: str | None
) -> tuple[list[tuple[str, str]], Path]:
    """Complete the run's files (schema, Parquet twins) and write its manifest, last.
    Returns the files the manifest lists and the manifest's path."""
    ledger = RunLedger.for_run(plan.root, run_id)
    # Every root carries the contract its rows follow, and every run a Parquet copy of its JSON lines.
    ledger.add_file(install_schema(plan.root, SCHEMA_VERSION, schema_text()), "schema")
    write_parquet_for_run(plan.root, run_id, json_schema=article_schema())
    files = ledger.files()
    manifest = write_manifest(
        plan.root,
        run_id,
        files=files,
        counts=stats.manifest_counts(),
        config=plan.public_config(),
        versions=software_versions(),
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        errors=stats.errors_total,
        previous_run_id=previous,
    )
    return files, manifest


def publish(plan: CrawlPlan, run_id: str) -> list[PublishReport]:
    """Upload the run to the remote store, if the archive is remote."""
    if plan.store is None:
        return []
    # Earlier runs whose upload failed go first, so the store's runs/ stays in order.
    published = publish_pending(plan.root, plan.store, delete_local=plan.delete_local)
    published.append(publish_run(plan.root, run_id, plan.store, delete_local=plan.delete_local))
    return published


def run_crawl(plan: CrawlPlan) -> CrawlResult:
    run_id = new_run_id()
    previous = previous_run_id(plan)
    started = datetime.now(UTC)
    t0 = time.monotonic()

    stats = RunStats.from_stats(run_crawlers(plan, build_settings(plan, run_id)))
    files, manifest = write_run_files(plan, run_id, stats, started=started, previous=previous)
    published = publish(plan, run_id)
    result = CrawlResult(
        run_id=run_id,
        ok=stats.all_ok(plan.outlets) and all(r.ok for r in published),
        finish_reasons=stats.finish_reasons,
        per_outlet=stats.per_outlet,
        elapsed_s=time.monotonic() - t0,
        manifest=manifest,
        files=files,
        published=published,
    )
    result.summary = summarize(plan.root, result, stats, plan.outlets)
    return result

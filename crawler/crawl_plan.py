"""What one crawl run is asked to do: the plan the CLI builds from its arguments and crawler.run executes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from scrapy import Spider

from archive.storage import Store
from core.config import TopicConfig
from crawler.redis_options import RedisPlan


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
    allow_hosts: list[str] = field(default_factory=list)  # SSRF_ALLOW_HOSTS: HOST[:PORT] (--allow-host)
    spiders: dict[str, type[Spider]] = field(default_factory=dict)  # outlet -> spider class (registry)
    redis: RedisPlan | None = None  # crawl --redis: shared frontier and state (crawler.redis_mode)
    full_discovery: bool = False  # listings and site search even on a repeat run (--full-discovery)
    now: str = ""  # NEWSARCHIVE_NOW: the moment revisits and retries are decided at ("" = the clock)

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
            "allow_hosts": self.allow_hosts,
            **({"now": self.now} if self.now else {}),
        }

"""The Scrapy side of story clusters: StoryClusterPipeline, and the one index a run shares across the
crawlers of its process.

`newsarchive crawl jiji asahi` runs one crawler per outlet in one process. Each crawler builds its own
item pipelines, so a per-pipeline index never compared Jiji's articles with Asahi's: a wire story carried
by both got two cluster ids in the run that fetched them (and one when reextract re-read the archive with
a single index). Every pipeline of a run now takes the run's `RunStoryClusters` from a registry keyed by
archive root and run id, and gives it back when its spider closes; the last one out drops it.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.config import ConfigError
from core.items import Article
from pipelines.dedup import StoryClusterIndex, iter_article_rows, partition_files, seed_from_rows
from pipelines.story_sketch import WINDOW_DAYS

__all__ = ["RunStoryClusters", "StoryClusterPipeline"]


class RunStoryClusters:
    """The index of one run and what it has loaded from the archive; thread-safe.

    When an article's publication day is first met, the article files of that day and `seed_days` days
    either side (every outlet, earlier runs) are loaded into the index, so that a copy crawled today joins
    the cluster of a copy archived by an earlier run. Loading by day keeps the cost bounded by what the
    crawl touches, not by the size of the archive.
    """

    def __init__(self, root: Path | None, run_id: str = "", *, seed_days: int = WINDOW_DAYS) -> None:
        if seed_days < 0:
            raise ConfigError(f"STORY_CLUSTER_SEED_DAYS must be >= 0, got {seed_days}")
        self.root = Path(root) if root else None
        self.run_id = run_id
        self.seed_days = seed_days
        self.index = StoryClusterIndex()
        self._loaded_days: set[str] = set()
        self._load_lock = threading.Lock()

    def seed_days_of(self, published_at: str | None) -> tuple[str, ...]:
        """The days whose archived articles a body published at `published_at` is compared with."""
        if self.root is None or not published_at:
            return ()
        return _days_around(published_at[:10], self.seed_days)  # cached and shared: a tuple, not copied

    def seeding_needed(self, published_at: str | None) -> bool:
        return any(d not in self._loaded_days for d in self.seed_days_of(published_at))

    def ensure_seeded(self, published_at: str | None) -> int:
        """Load the days around `published_at` not loaded yet; the number of archived rows read."""
        wanted = self.seed_days_of(published_at)
        if not wanted or self.root is None:
            return 0
        with self._load_lock:
            missing = [d for d in wanted if d not in self._loaded_days]
            if not missing:
                return 0
            self._loaded_days.update(missing)
            files = partition_files(self.root, missing, exclude_run_id=self.run_id)
            return seed_from_rows(self.index, iter_article_rows(files))


@lru_cache(maxsize=4096)
def _days_around(day: str, seed_days: int) -> tuple[str, ...]:
    # Asked twice per article (is seeding needed, then seed): a crawl's articles share a few dozen days.
    try:
        start = date.fromisoformat(day)
    except ValueError:
        return ()
    return tuple((start + timedelta(days=d)).isoformat() for d in range(-seed_days, seed_days + 1))


# (archive root, run id, seed days) -> the run's clusters and how many pipelines hold them.
_RUNS: dict[tuple[Path | None, str, int], tuple[RunStoryClusters, int]] = {}
_RUNS_LOCK = threading.Lock()


def acquire(root: Path | None, run_id: str, seed_days: int) -> RunStoryClusters:
    """The run's shared clusters (made on first use). Without a run id there is nothing to share by:
    the caller gets clusters of its own."""
    if not run_id:
        return RunStoryClusters(root, run_id, seed_days=seed_days)
    key = (Path(root) if root else None, run_id, seed_days)
    with _RUNS_LOCK:
        clusters, holders = _RUNS.get(key) or (RunStoryClusters(root, run_id, seed_days=seed_days), 0)
        _RUNS[key] = (clusters, holders + 1)
        return clusters


def release(clusters: RunStoryClusters) -> None:
    key = (clusters.root, clusters.run_id, clusters.seed_days)
    with _RUNS_LOCK:
        held = _RUNS.get(key)
        if held is None or held[0] is not clusters:
            return
        if held[1] <= 1:
            del _RUNS[key]  # the run's last crawler closed: its sketches go with it
        else:
            _RUNS[key] = (clusters, held[1] - 1)


class StoryClusterPipeline:
    """Scrapy item pipeline: gives every Article its story_cluster_id (after relevance, before store).

    Constructed directly (tests, tools), it has clusters of its own; `from_crawler` shares the run's
    (see the module docstring)."""

    def __init__(
        self,
        root: Path | None,
        run_id: str = "",
        *,
        seed_days: int = WINDOW_DAYS,
        clusters: RunStoryClusters | None = None,
    ) -> None:
        self.clusters = clusters or RunStoryClusters(root, run_id, seed_days=seed_days)
        self._shared = clusters is not None
        self.crawler: Any = None

    @property
    def index(self) -> StoryClusterIndex:
        return self.clusters.index

    @classmethod
    def from_crawler(cls, crawler: Any) -> StoryClusterPipeline:
        settings = crawler.settings
        root = settings.get("ARCHIVE_ROOT") or None
        # A refused STORY_CLUSTER_SEED_DAYS raises in RunStoryClusters, before acquire registers a holder.
        seed_days = settings.getint("STORY_CLUSTER_SEED_DAYS", WINDOW_DAYS)
        enabled = settings.getbool("STORY_CLUSTER_SEED", True)
        clusters = acquire(
            Path(root) if root and enabled else None, str(settings.get("NEWSARCHIVE_RUN_ID") or ""), seed_days
        )
        pipeline = cls(None, clusters=clusters)
        pipeline.crawler = crawler
        return pipeline

    def close_spider(self) -> None:
        if self._shared:
            release(self.clusters)

    def _count(self, key: str, n: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, n)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self.clusters.seeding_needed(item.published_at):
            # Loading the earlier articles of nearby days reads the disk: not on the reactor.
            item.story_cluster_id = await asyncio.to_thread(self.cluster_of, item)
        else:
            # Sketching is pure Python under the GIL: a thread would not run it alongside the reactor,
            # and the hand-off cost more than it freed (measured in bench/pipeline.py).
            item.story_cluster_id = self.cluster_of(item)
        return item

    def cluster_of(self, article: Article) -> str:
        seeded = self.clusters.ensure_seeded(article.published_at)
        if seeded:
            self._count("newsarchive/story_clusters/seeded_rows", seeded)
        cluster, how = self.clusters.index.place(
            article.text_hash, article.text, article.url, article.published_at
        )
        if how != "new":
            self._count(f"newsarchive/story_clusters/{'copies' if how == 'copy' else how}")
        return cluster

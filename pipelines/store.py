"""Write kept articles as JSON lines partitioned by outlet and published day (JST)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from archive.jsonl import JsonlPartitionWriter
from archive.run import RunLedger
from crawler.items import Article


class ArticleStorePipeline:
    def __init__(self, root: Path, run_id: str, *, stats: StatsCollector | None = None) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.stats = stats
        self.writer = JsonlPartitionWriter(self.root, run_id)
        self.ledger = RunLedger.for_run(self.root, run_id)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = crawler.settings.get("ARCHIVE_ROOT")
        if not root:
            raise NotConfigured("ARCHIVE_ROOT is not set: articles would not be stored")
        run_id = crawler.settings.get("NEWSARCHIVE_RUN_ID")
        if not run_id:
            raise NotConfigured("NEWSARCHIVE_RUN_ID is not set: article files need the run id in their name")
        return cls(Path(root), run_id, stats=crawler.stats)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        self.writer.write(item.to_json())
        if self.stats is not None:
            self.stats.inc_value("newsarchive/articles/kept")
            self.stats.inc_value(f"newsarchive/articles/kept/{item.outlet}")
        return item

    def close_spider(self) -> None:
        for rel in self.writer.close():
            self.ledger.add_file(rel, "articles")

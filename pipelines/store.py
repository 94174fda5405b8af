"""Write kept articles as JSON lines partitioned by outlet and published day (JST), each file with its
Parquet twin written from the same rows in the same pass, and the same JSON as a metadata record in the
WARC files of the crawl, so that a WARC alone is a complete archive.

The twins are not added to the run ledger here: crawler.run lists them (archive.parquet_out.
write_parquet_for_run) after the schema, where the manifest has always listed them, and makes the twins
of rows salvaged after a crash in the same step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from archive.jsonl import JsonlPartitionWriter, encode_line
from archive.parquet_out import ParquetTwins
from archive.run import RunLedger
from core.items import Article
from core.schema import article_schema
from pipelines.warc import WarcCaptureMiddleware, capture_for


class ArticleStorePipeline:
    def __init__(
        self,
        root: Path,
        run_id: str,
        *,
        stats: StatsCollector | None = None,
        crawler: Crawler | None = None,
    ) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.stats = stats
        self.crawler = crawler
        self.writer = JsonlPartitionWriter(self.root, run_id, twin=ParquetTwins(article_schema()))
        self.ledger = RunLedger.for_run(self.root, run_id)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        root = crawler.settings.get("ARCHIVE_ROOT")
        if not root:
            raise NotConfigured("ARCHIVE_ROOT is not set: articles would not be stored")
        run_id = crawler.settings.get("NEWSARCHIVE_RUN_ID")
        if not run_id:
            raise NotConfigured("NEWSARCHIVE_RUN_ID is not set: article files need the run id in their name")
        return cls(Path(root), run_id, stats=crawler.stats, crawler=crawler)

    @property
    def capture(self) -> WarcCaptureMiddleware | None:
        # Looked up when used: component construction order is Scrapy's business, not ours.
        return capture_for(self.crawler) if self.crawler is not None else None

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        row = item.to_json()
        line = encode_line(row)
        capture = self.capture
        if capture is not None:
            # Written first: a row in the JSONL then always has its metadata record in a WARC. The record
            # holds the row's JSON exactly as the line does, without the newline.
            capture.write_article(item, line[:-1])
        self.writer.write(row, line)
        if self.stats is not None:
            self.stats.inc_value("newsarchive/articles/kept")
            self.stats.inc_value(f"newsarchive/articles/kept/{item.outlet}")
        return item

    def close_spider(self) -> None:
        for rel in self.writer.close():
            self.ledger.add_file(rel, "articles")

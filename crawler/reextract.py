"""`newsarchive reextract ROOT`: extraction, topic judgement and story clustering again, from the WARCs alone.

A better page object or a new topic then applies to the whole archive without fetching anything. The
result is a NEW versioned article set (`articles/outlet=*/date=*/<new-run-id>-<outlet>-00000.jsonl.gz`)
with its own run manifest (kind "articles", config {"reextract_of": [run ids]}); no existing file is
modified.

Which records become articles: every `response` record with status 200 whose payload Scrapy would treat
as HTML and whose target URI is an article URL of a known outlet. Under a base-URL override (the
simulator, a mirror) the WARC-Target-URIs name the override origin; the warcinfo record of each file
carries `outlet-base-urls`, which maps them back to the outlet's real URLs, as the crawl did.

Each row is what the crawl would have written for that record, with:
- `warc` = the record's own location (file, gzip member offset and length, id, digest, URI, date);
- `fetched_at` = the record's WARC-Date, written as the crawl writes fetched_at (ISO 8601, +00:00);
- `discovered_via` = what the crawl recorded in the article's WARC metadata record, "" when the crawl
  kept no row for the page (e.g. it was off-topic then and --archive-all keeps it now);
- `story_cluster_id`: the index is first seeded with every article row already in the archive (oldest
  run first), so an unchanged text keeps its archived id and ids stay stable across versions.

Known differences from a crawl: no date window is applied (the crawl's ExtractPipeline drops pages whose
date turns out to be outside --since/--until: such pages are re-extracted here); a `revisit` record
(payload identical to an earlier capture) yields no row of its own.

This module runs the whole and writes the article set and manifest; `crawler/reextract_scan.py` finds
the records in the WARCs and `crawler/reextract_worker.py` does the per-page work in worker processes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.jsonl import JsonlPartitionWriter, iter_row_files
from archive.paths import WARC_DIR
from archive.run import latest_run_id, new_run_id, software_versions, write_manifest
from core.config import ConfigError, TopicConfig
from crawler.reextract_scan import ArchiveScan
from crawler.reextract_worker import PageWorker, init_worker, page_results, seed_story_index
from pipelines.article_extraction import PAGE_ERROR_KEY
from pipelines.dedup import StoryClusterIndex, iter_article_rows

_BATCH = 64  # pages between progress calls

Progress = Callable[[int, int], None]
"""progress(article_pages_done, rows_kept), called after each batch of pages."""


@dataclass
class ReextractReport:
    run_id: str
    reextract_of: list[str]
    warc_files: int = 0
    response_records: int = 0
    article_pages: int = 0
    kept: int = 0
    off_topic: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    manifest: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reextract_of": self.reextract_of,
            "warc_files": self.warc_files,
            "response_records": self.response_records,
            "article_pages": self.article_pages,
            "kept": self.kept,
            "off_topic": self.off_topic,
            "errors": self.errors,
            "files": self.files,
            "manifest": str(self.manifest) if self.manifest else None,
        }

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        lines = [
            f"Reextract run {self.run_id} (from runs: {', '.join(self.reextract_of) or 'none'})",
            f"  WARC files read:      {self.warc_files}",
            f"  response records:     {self.response_records}",
            f"  article pages:        {self.article_pages}",
            f"  rows written:         {self.kept}  ({self.off_topic} off-topic not written)",
            f"  article files:        {len(self.files)}",
        ]
        if self.errors:
            lines.append(
                "  errors:               " + ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items()))
            )
        if self.manifest is not None:
            lines.append(f"  Run manifest:         {self.manifest}")
        return "\n".join(lines)


def reextract(
    root: Path,
    *,
    topics: Sequence[TopicConfig],
    archive_all: bool,
    progress: Progress | None = None,
    workers: int | None = None,
    min_extracted_size: int = 50,
    run_id: str | None = None,
) -> ReextractReport:
    """Re-extract every article page archived under `root` into a new article set; see the module doc."""
    root = Path(root)
    if not (root / WARC_DIR).is_dir():
        raise ConfigError(f"{root}: no {WARC_DIR}/ folder here, so this is not an archive root")
    started_at = datetime.now(UTC).isoformat()
    run_id = run_id or new_run_id()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    scan = ArchiveScan(root)
    report = ReextractReport(run_id=run_id, reextract_of=[], warc_files=len(scan.files))
    errors: Counter[str] = Counter()
    topic_counts: Counter[str] = Counter()
    # Created before the index is seeded, but it lists nothing: its files stay `.open` until closed.
    writer = JsonlPartitionWriter(root, run_id)
    pool: ProcessPoolExecutor | None = None
    local: PageWorker | None = None
    try:
        if workers > 1:
            # Each worker builds its matchers once; jobs carry only a record's location, not its bytes.
            pool = ProcessPoolExecutor(
                max_workers=workers,
                initializer=init_worker,
                initargs=(list(topics), run_id, min_extracted_size),
            )
            scan.read_discovery(pool.map)
        else:
            local = PageWorker(topics, run_id, min_extracted_size)
            scan.read_discovery()
        index = StoryClusterIndex()
        seed_story_index(
            index, iter_article_rows(iter_row_files(root)), pool.map if pool is not None else map
        )
        for result in page_results(scan, pool, workers, local):
            if result.error:
                errors[result.error] += 1
            if not result.counted:
                continue
            report.article_pages += 1
            article = result.article
            if article is None:
                continue
            if PAGE_ERROR_KEY in article.extraction:
                errors["page_object_failed"] += 1
            article.discovered_via = scan.discovered_via.get(
                (article.warc.record_id, article.fetched_url), article.discovered_via
            )
            accepted = [t.name for t in article.topics if t.accepted]
            topic_counts.update(accepted)
            # Clustered whether kept or not: an off-topic copy still links the copies that are kept.
            article.story_cluster_id = index.assign(
                article.text_hash,
                article.text,
                article.url,
                article.published_at,
                signature=result.signature,
            )
            if accepted or archive_all:
                writer.write(article.to_json())
                report.kept += 1
            else:
                report.off_topic += 1
            if progress is not None and report.article_pages % _BATCH == 0:
                progress(report.article_pages, report.kept)
    finally:
        report.files = writer.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if progress is not None:
        progress(report.article_pages, report.kept)
    errors.update(scan.errors)
    report.errors = dict(errors)
    report.response_records = scan.response_records
    report.reextract_of = list(scan.run_ids)
    report.manifest = write_manifest(
        root,
        run_id,
        files=[(rel, "articles") for rel in report.files],
        counts={
            "warc_files": report.warc_files,
            "response_records": report.response_records,
            "article_pages": report.article_pages,
            "kept": report.kept,
            "off_topic": report.off_topic,
            "topics": dict(topic_counts),
        },
        config={
            "reextract_of": report.reextract_of,
            "topics": [{"name": t.name, "source": t.source, "threshold": t.threshold} for t in topics],
            "archive_all": archive_all,
            "workers": workers,
        },
        versions=software_versions(),
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(),
        errors=report.errors,
        previous_run_id=latest_run_id(root),
    )
    return report

"""Story clusters across the crawlers of one run: a wire story carried by two outlets crawled together
gets one cluster id, as the article schema promises ("at one or several outlets")."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from archive.jsonl import iter_row_files, read_rows
from crawler.simulator import Simulator
from pipelines.dedup import StoryClusterIndex, cluster_id_for
from pipelines.story_clusters import StoryClusterPipeline, acquire
from tests.test_dedup import REWRITE, WIRE, _article

LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")


def _pipeline(root: Path, run_id: str) -> StoryClusterPipeline:
    crawler = get_crawler(settings_dict={"ARCHIVE_ROOT": str(root), "NEWSARCHIVE_RUN_ID": run_id})
    crawler.stats.open_spider()
    return StoryClusterPipeline.from_crawler(crawler)


def test_the_crawlers_of_one_run_share_their_clusters(tmp_path: Path) -> None:
    run = "20250320T000000Z-cccccc"
    jiji, asahi = _pipeline(tmp_path, run), _pipeline(tmp_path, run)
    wire = _article("https://www.jiji.com/jc/article?k=1", WIRE, title="t1")
    reprint = _article("https://www.asahi.com/articles/A1.html", REWRITE, title="t2")
    assert jiji.cluster_of(wire) == cluster_id_for(wire.text_hash)
    assert asahi.cluster_of(reprint) == cluster_id_for(wire.text_hash)
    assert asahi.crawler.stats.get_value("newsarchive/story_clusters/copies") == 1
    assert jiji.crawler.stats.get_value("newsarchive/story_clusters/copies") is None

    # Another run (or the same run id under another root) starts from nothing.
    other = _pipeline(tmp_path, "20250321T000000Z-dddddd")
    assert other.cluster_of(reprint) == cluster_id_for(reprint.text_hash)


def test_the_run_index_is_dropped_when_its_last_crawler_closes(tmp_path: Path) -> None:
    run = "20250320T000000Z-eeeeee"
    first, second = _pipeline(tmp_path, run), _pipeline(tmp_path, run)
    first.cluster_of(_article("https://www.jiji.com/jc/article?k=1", WIRE, title="t1"))
    first.close_spider()
    assert acquire(tmp_path, run, first.clusters.seed_days) is second.clusters  # still held by `second`
    second.close_spider()
    second.close_spider()  # the extra holder taken just above
    fresh = _pipeline(tmp_path, run)
    assert fresh.clusters is not first.clusters and len(fresh.index) == 0


def _partition(rows: list[dict[str, Any]], ids: list[str]) -> set[frozenset[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for row, cluster in zip(rows, ids, strict=True):
        members[cluster].add(row["url"])
    return {frozenset(urls) for urls in members.values()}


@pytest.mark.e2e
def test_a_crawl_of_two_outlets_clusters_their_copies_together(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    root = tmp_path / "archive"
    with Simulator() as sim:
        args = [sys.executable, str(LOCAL_CRAWL), "crawl", "jiji", "asahi"]
        for outlet, base in sim.base_urls.items():
            args += ["--base-url", f"{outlet}={base}"]
        args += ["--since", "2025-03-01", "--until", "2025-03-21", "--archive", str(root), "--archive-all"]
        proc = subprocess.run(args, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = sorted(
        (row for path in iter_row_files(root) for row in read_rows(path)), key=lambda r: r["fetched_at"]
    )
    assert {row["outlet"] for row in rows} == {"jiji", "asahi"}
    by_cluster: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_cluster[row["story_cluster_id"]].add(row["outlet"])
    # The simulator's outlets draw sentences from one pool: some of their articles are near copies.
    assert any(outlets == {"jiji", "asahi"} for outlets in by_cluster.values())
    # The crawl's clusters are those of one index over the whole run (as reextract computes them).
    index = StoryClusterIndex()
    recomputed = [index.assign(r["text_hash"], r["text"], r["url"], r["published_at"]) for r in rows]
    assert _partition(rows, [r["story_cluster_id"] for r in rows]) == _partition(rows, recomputed)

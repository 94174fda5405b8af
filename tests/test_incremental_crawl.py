"""A repeat crawl of the same window fetches no article page the archive already holds (real CLI,
simulator, request log), still fetches every discovery page, counts the skips; --refetch turns it off."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.simulator import Simulator
from tests.verify_cli import assert_verifies

pytestmark = pytest.mark.e2e

ARTICLE = re.compile(r"^(/jc/article|/articles/)")
# The CLI at the pace `demo` uses for the simulator: what is tested is which pages are fetched, not the
# politeness delays owed to a real outlet, which made each crawl here wait about 90 s (tests/local_crawl.py).
LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")


def crawl(
    sim: Simulator, root: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    before = len(sim.requests)
    args = ["crawl", "asahi", "--base-url", f"asahi={sim.base_urls['asahi']}"]
    args += ["--since", "2025-03-01", "--until", "2025-03-21", "--archive", str(root), *extra]
    proc = subprocess.run(
        [sys.executable, str(LOCAL_CRAWL), *args], env=env, capture_output=True, text=True, timeout=400
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, [r for r in sim.requests[before:] if r["outlet"] == "asahi"]


def manifest_accounting(root: Path) -> dict:
    """The newest run's URL accounting for asahi."""
    newest = max((root / "runs").iterdir())
    return json.loads((newest / "manifest.json").read_text(encoding="utf-8"))["counts"]["accounting"]["asahi"]


def test_repeat_crawl_skips_archived_articles(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    root = tmp_path / "archive"
    with Simulator() as sim:
        in_window = {a.path for a in sim.articles if a.outlet == "asahi" and a.in_window}
        # Topic-filtered: most articles are judged off-topic and have no row, yet are archived pages.
        _, first = crawl(sim, root, subprocess_env)
        fetched = {r["path"] for r in first if ARTICLE.match(r["path"]) and r["status"] == 200}
        assert fetched == in_window

        proc, second = crawl(sim, root, subprocess_env, "--log-level", "INFO")
        assert [r["path"] for r in second if ARTICLE.match(r["path"])] == []
        # A repeat run asks only feeds and sitemaps, conditionally: both answer 304 (nothing new). The
        # listings and search of the first run are not needed again (archive.run_history).
        again = {r["path"]: r["status"] for r in second if not ARTICLE.match(r["path"])}
        assert again == {"/robots.txt": 200, "/rss/asahi/newsheadlines.rdf": 304, "/sitemap.xml": 304}
        assert "'newsarchive/discovery/backfill_skipped': 1" in proc.stderr
        assert "IgnoreRequest" not in proc.stderr
        # --full-discovery walks listings and search again; what they find is skipped as archived, the
        # stats dump (INFO) shows the skips, and the run's accounting covers every URL.
        proc, full = crawl(sim, root, subprocess_env, "--log-level", "INFO", "--full-discovery")
        assert [r["path"] for r in full if ARTICLE.match(r["path"])] == []
        assert {r["path"] for r in full} <= {r["path"] for r in first}
        assert any(r["path"].startswith("/news/history.html") for r in full)
        accounting = manifest_accounting(root)
        skipped = accounting["excluded"]["already_archived"]
        assert skipped > 0 and accounting["balanced"]
        assert accounting["discovered"] == skipped + accounting["excluded"].get("out_of_window", 0)
        assert f"'newsarchive/pruned/already_archived': {skipped}" in proc.stderr

        # --refetch: archived or not, the newest articles are fetched again.
        _, third = crawl(sim, root, subprocess_env, "--refetch", "--max-articles", "2")
        assert len([r for r in third if ARTICLE.match(r["path"])]) == 2

    assert_verifies(root, subprocess_env)


def test_crawl_through_another_origin_skips_archived_articles(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The same window crawled through two simulators (two ports, as two demo runs): the pages the
    first fetched, off-topic ones included, are known by path and not fetched through the second."""
    root = tmp_path / "archive"
    # Both running at once: two distinct ports.
    with Simulator() as first_sim, Simulator() as second_sim:
        assert second_sim.base_urls["asahi"] != first_sim.base_urls["asahi"]
        _, first = crawl(first_sim, root, subprocess_env)
        fetched = {r["path"] for r in first if ARTICLE.match(r["path"]) and r["status"] == 200}
        assert fetched
        # --full-discovery: listings and search find the articles again, which must be skipped by path.
        proc, second = crawl(second_sim, root, subprocess_env, "--log-level", "INFO", "--full-discovery")
    assert [r["path"] for r in second if ARTICLE.match(r["path"])] == []
    # Every candidate the second crawl found is known by path and skipped (its discovery documents were
    # asked conditionally: how many candidates it found depends on which answered 304).
    accounting = manifest_accounting(root)
    skipped = accounting["excluded"]["already_archived"]
    assert skipped > 0 and accounting["archived"] == 0 and accounting["balanced"]
    assert f"'newsarchive/pruned/already_archived': {skipped}" in proc.stderr

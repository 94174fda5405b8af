"""reextract: the simulator crawled by the real CLI, then re-extracted from its WARCs alone."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from archive.jsonl import iter_row_files, read_rows
from core.config import ConfigError, TermGroup, TopicConfig, builtin_topics
from crawler.reextract import reextract

pytestmark = pytest.mark.e2e

RUSSIA_DPRK = builtin_topics()["russia-dprk"]
# A new topic, broader than the crawl's: any article naming North Korea.
DPRK_ONLY = TopicConfig(
    name="dprk-any",
    description="anything on North Korea",
    groups=(TermGroup("dprk", ("北朝鮮", "平壌")),),
    threshold=1.0,
)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    from tests.conftest import NETGUARD_DIR

    env = dict(os.environ)
    env["PYTHONPATH"] = str(NETGUARD_DIR)
    env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
    root = tmp_path_factory.mktemp("reextract") / "archive"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "demo", "--archive", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def rows_by_run(root: Path) -> dict[str, dict[str, dict]]:
    runs: dict[str, dict[str, dict]] = {}
    for path in iter_row_files(root):
        for row in read_rows(path):
            runs.setdefault(row["run_id"], {})[row["url"]] = row
    return runs


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def without(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


@pytest.fixture(scope="module")
def first_reextract(crawled: Path) -> tuple[dict[str, str], object]:
    before = digests(crawled)
    report = reextract(crawled, topics=[RUSSIA_DPRK], archive_all=False, workers=2)
    return before, report


def test_reextract_reproduces_the_crawl_rows(crawled: Path, first_reextract: tuple) -> None:
    _before, report = first_reextract
    runs = rows_by_run(crawled)
    crawl_run = next(r for r in runs if r != report.run_id)
    crawl, again = runs[crawl_run], runs[report.run_id]
    assert len(crawl) == 32 and set(again) == set(crawl)
    for url, row in crawl.items():
        # Everything a researcher reads is identical; only the run (and the time, see below) differ.
        assert without(again[url], "run_id", "fetched_at") == without(row, "run_id", "fetched_at"), url
        assert again[url]["run_id"] == report.run_id
        # fetched_at is the WARC-Date of the record it points to, as an ISO 8601 UTC timestamp.
        warc_date = datetime.fromisoformat(row["warc"]["date"].replace("Z", "+00:00"))
        assert datetime.fromisoformat(again[url]["fetched_at"]) == warc_date
    assert report.reextract_of == [crawl_run]
    assert report.article_pages == 96 and report.kept == 32 and report.off_topic == 64
    assert report.errors == {}


def test_reextract_fetched_at_equals_the_crawl(crawled: Path, first_reextract: tuple) -> None:
    _before, report = first_reextract
    runs = rows_by_run(crawled)
    crawl = runs[next(r for r in runs if r != report.run_id)]
    again = runs[report.run_id]
    assert {u: r["fetched_at"] for u, r in again.items()} == {u: r["fetched_at"] for u, r in crawl.items()}


def test_reextract_modifies_no_existing_file_and_writes_a_manifest(
    crawled: Path, first_reextract: tuple
) -> None:
    before, report = first_reextract
    after = digests(crawled)
    assert {k: after[k] for k in before} == before
    new = set(after) - set(before)
    manifest_rel = f"runs/{report.run_id}/manifest.json"
    assert manifest_rel in new
    assert all(p.startswith("articles/") and f"/{report.run_id}-" in p for p in new - {manifest_rel})
    manifest = json.loads((crawled / manifest_rel).read_text("utf-8"))
    assert manifest["config"]["reextract_of"] == report.reextract_of
    assert {f["path"] for f in manifest["files"]} == set(report.files) == new - {manifest_rel}
    assert all(f["kind"] == "articles" for f in manifest["files"])


def test_new_topic_and_archive_all_apply_to_the_whole_archive(crawled: Path, first_reextract: tuple) -> None:
    _before, first = first_reextract
    report = reextract(crawled, topics=[RUSSIA_DPRK, DPRK_ONLY], archive_all=True, workers=1)
    rows = rows_by_run(crawled)[report.run_id]
    assert report.kept == len(rows) == 96 and report.off_topic == 0
    on_topic = rows_by_run(crawled)[first.run_id]
    for url, row in rows.items():
        assert [t["name"] for t in row["topics"]] == ["russia-dprk", "dprk-any"]
        accepted = {t["name"]: t["accepted"] for t in row["topics"]}
        assert accepted["russia-dprk"] == (url in on_topic)
        assert accepted["dprk-any"] == (
            "北朝鮮" in row["title"] + row["text"] or "平壌" in row["title"] + row["text"]
        )
        if url in on_topic:  # one worker or two, same rows
            assert without(row, "run_id", "topics") == without(on_topic[url], "run_id", "topics")
    assert sum(1 for r in rows.values() if not any(t["accepted"] for t in r["topics"])) > 0


def test_a_folder_without_warcs_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an archive root"):
        reextract(tmp_path, topics=[RUSSIA_DPRK], archive_all=False)
    assert not any(tmp_path.iterdir())


def test_a_warc_without_its_cdxj_index_is_scanned_instead(
    crawled: Path, first_reextract: tuple, tmp_path: Path
) -> None:
    import shutil

    _before, first = first_reextract
    root = tmp_path / "archive"
    shutil.copytree(crawled, root, ignore=shutil.ignore_patterns("*.cdxj"))
    assert not list(root.rglob("*.cdxj"))
    report = reextract(root, topics=[RUSSIA_DPRK], archive_all=False, workers=2)
    assert (report.article_pages, report.kept, report.errors) == (96, 32, {})
    runs = rows_by_run(root)
    again, indexed = runs[report.run_id], runs[first.run_id]
    # discovered_via comes from the metadata records whichever way they are found
    assert {u: without(r, "run_id") for u, r in again.items()} == {
        u: without(r, "run_id") for u, r in indexed.items()
    }

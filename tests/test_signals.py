"""SIGTERM/SIGINT during a crawl: the first one finishes the pages in flight, closes the files, writes
the manifest (finish_reason "shutdown") and exits 130; a second one stops at once, leaving only `.open`
files that the next run repairs."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.jsonl import iter_row_files, read_rows
from crawler.simulator import Simulator
from tests.verify_cli import verify

pytestmark = pytest.mark.e2e

LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")  # the CLI at the pace `demo` uses
ARTICLE = re.compile(r"^(/jc/article|/articles/)")
# The default site: a signal sent after the first article requests lands while most of the work is
# still to do (each outlet has 48 articles in the window; the test checks the crawl did not get them all).
ARTICLES_PER_OUTLET = 60
EXIT_INTERRUPTED = 130


def crawl_args(sim: Simulator, root: Path) -> list[str]:
    args = [sys.executable, str(LOCAL_CRAWL), "crawl", "jiji", "asahi"]
    for outlet, base in sim.base_urls.items():
        args += ["--base-url", f"{outlet}={base}"]
    return [*args, "--since", "2025-03-01", "--until", "2025-03-21", "--archive", str(root), "--archive-all"]


def start_and_signal(
    sim: Simulator, root: Path, env: dict[str, str], signals: list[signal.Signals]
) -> tuple[subprocess.Popen[str], float]:
    """Start a crawl, send `signals` (0.01 s apart) once it has requested its first articles; return the
    process and the moment the last signal went."""
    proc = subprocess.Popen(
        crawl_args(sim, root), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while sum(1 for r in sim.requests if ARTICLE.match(r["path"])) < 2:
        assert proc.poll() is None, "the crawl ended before it could be signalled"
        assert time.monotonic() < deadline, "the crawl requested no article"
        time.sleep(0.02)
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.01)
    return proc, time.monotonic()


def manifests(root: Path) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((root / "runs").glob("*/manifest.json"))]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_one_signal_closes_the_run_cleanly(
    signum: signal.Signals, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    root = tmp_path / "archive"
    with Simulator(articles_per_outlet=ARTICLES_PER_OUTLET) as sim:
        in_window = {a.url for a in sim.articles if a.in_window}
        proc, signalled = start_and_signal(sim, root, subprocess_env, [signum])
        out, err = proc.communicate(timeout=120)
        took = time.monotonic() - signalled
        article_requests = sum(1 for r in sim.requests if ARTICLE.match(r["path"]))

    assert proc.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert took < 60, f"a graceful stop took {took:.1f} s"
    assert "interrupted" in err and "manifest written" in err
    assert article_requests < len(in_window), "the crawl fetched everything: the signal came too late"
    assert not list(root.rglob("*.open")), [str(p) for p in root.rglob("*.open")]

    [manifest] = manifests(root)
    assert manifest["counts"]["finish_reasons"] == {"jiji": "shutdown", "asahi": "shutdown"}
    assert manifest["run_id"] in out
    listed = {f["path"] for f in manifest["files"]}
    assert any(p.endswith(".warc.gz") for p in listed), "the stopped run listed no closed WARC file"
    # What the run did not get to is pending in its accounting, not lost.
    accounting = manifest["counts"].get("accounting")
    if accounting:  # written by the URL ledger
        assert sum(a["pending"] for a in accounting.values()) > 0
        assert all(a["balanced"] for a in accounting.values()), accounting
    result = verify(root, subprocess_env)
    assert result.returncode == 0, result.stdout[-3000:]
    # `newsarchive status` tells the stopped run apart from a failed one.
    status = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "status", str(root), "--json"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr[-3000:]
    [stopped] = json.loads(status.stdout)["runs"]
    assert (stopped["run_id"], stopped["interrupted"], stopped["ok"]) == (manifest["run_id"], True, False)


def test_second_signal_stops_at_once_and_the_next_run_repairs(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    root = tmp_path / "archive"
    with Simulator(articles_per_outlet=ARTICLES_PER_OUTLET) as sim:
        by_url = {a.url for a in sim.articles if a.in_window}
        proc, signalled = start_and_signal(sim, root, subprocess_env, [signal.SIGTERM, signal.SIGTERM])
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
        assert proc.returncode == EXIT_INTERRUPTED, err[-3000:]
        assert took < 20, f"a forced stop took {took:.1f} s"
        # No manifest: the run's files were never closed, so it must not look finished.
        assert manifests(root) == []
        leftovers = list(root.rglob("*.open"))
        assert all(p.name.endswith((".warc.gz.open", ".jsonl.gz.open", ".parquet.open")) for p in leftovers)

        run2 = subprocess.run(
            crawl_args(sim, root), env=subprocess_env, capture_output=True, text=True, timeout=300
        )
    assert run2.returncode == 0, run2.stderr[-3000:]
    assert not list(root.rglob("*.open")), [str(p) for p in root.rglob("*.open")]
    result = verify(root, subprocess_env)
    assert result.returncode == 0, result.stdout[-3000:]
    # Every in-window article is archived exactly once across the stopped run and the next one.
    counts = Counter(row["url"] for path in iter_row_files(root) for row in read_rows(path))
    assert set(counts) == by_url
    assert all(n == 1 for n in counts.values()), [u for u, n in counts.items() if n > 1]

"""Three worker processes crawl the simulator through one Redis into one s3:// root (moto): every
article archived once, no page requested twice, the per-host rate held across workers together, one
merged manifest; a second job fetches no article again; a worker killed mid-run loses nothing.

The simulator's request log is the judge. robots.txt is the one exception to "requested once": every
worker process reads the rules it obeys itself (scrapy's robots middleware keeps them in memory).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pytest
import redis

from crawler.cli import main
from crawler.simulator import Simulator
from tests.conftest import NETGUARD_DIR
from tests.s3server import S3Env

pytest_plugins = ["tests.s3server", "tests.redis_server"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")
ARTICLE = re.compile(r"^/articles/")
SINCE, UNTIL = "2025-03-15", "2025-03-21"  # a third of the simulator's window: 16 articles
HOST_DELAY = 0.1  # seconds between two requests to the host, across all workers


def env() -> dict[str, str]:
    # os.environ carries the s3 fixture's AWS_* variables (monkeypatched).
    return dict(os.environ, PYTHONPATH=str(NETGUARD_DIR), NEWSARCHIVE_CONTACT="tests@localhost")


def seed(redis_url: str) -> None:
    assert main(["seed", "--redis", redis_url, "asahi", "--since", SINCE, "--until", UNTIL]) == 0


def start_worker(
    sim: Simulator, redis_url: str, archive: str, spool: Path, *extra: str
) -> subprocess.Popen[str]:
    args = ["crawl", "--redis", redis_url, "--worker", "--archive", archive, "--spool", str(spool)]
    args += ["--base-url", f"asahi={sim.base_urls['asahi']}", "--host-delay", str(HOST_DELAY)]
    args += ["--idle-timeout", "1", *extra]
    return subprocess.Popen(
        [sys.executable, str(LOCAL_CRAWL), *args],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    """Wait for a worker; returns its stderr."""
    _out, err = proc.communicate(timeout=120)
    where = err.find("Traceback")
    assert where < 0, err[max(0, where - 500) : where + 4000]
    assert proc.returncode == 0, err[-3000:]
    return err


def in_window_paths(sim: Simulator) -> set[str]:
    low, high = datetime.fromisoformat(SINCE).date(), datetime.fromisoformat(UNTIL).date()
    return {a.path for a in sim.articles if a.outlet == "asahi" and low <= a.published.date() <= high}


def archived_article_captures(s3: S3Env) -> Counter[str]:
    return cdxj_article_captures(body for key, body in s3.keys("archive/").items() if key.endswith(".cdxj"))


def cdxj_article_captures(indexes: Iterable[bytes]) -> Counter[str]:
    """Article paths with a 200 HTML response record in these CDXJ indexes."""
    found: Counter[str] = Counter()
    for body in indexes:
        if body:
            for line in body.decode().splitlines():
                fields = json.loads(line.split(" ", 2)[2])
                path = "/" + fields["url"].split("/", 3)[3]
                if (
                    ARTICLE.match(path)
                    and fields.get("status") == "200"
                    and fields.get("mime") == "text/html"
                ):
                    found[path] += 1
    return found


def host_times(sim: Simulator) -> list[float]:
    return sorted(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in sim.requests)


def test_three_workers_share_one_frontier(s3: S3Env, redis_db: str, tmp_path: Path) -> None:
    archive = s3.url()
    with Simulator() as sim:
        seed(redis_db)
        workers = [start_worker(sim, redis_db, archive, tmp_path / f"spool{i}") for i in range(3)]
        for w in workers:
            finish(w)
        wanted = in_window_paths(sim)
        requested = Counter(r["path"] for r in sim.requests)
        assert {p for p in requested if ARTICLE.match(p)} >= wanted
        assert [p for p, n in requested.items() if n > 1 and p != "/robots.txt"] == []
        assert requested["/robots.txt"] <= 3
        captures = archived_article_captures(s3)
        assert set(captures) >= wanted and max(captures.values()) == 1  # every article archived once

        # One host, three workers: one request per HOST_DELAY at most. The log stamps a request once its
        # page is generated, in a process shared with moto on 2 busy cores: single gaps carry tens of ms of
        # jitter and stalls of a few hundred ms: the rate is judged over every run of 15 gaps, which a
        # stall can shorten by its own length only (without the gate, most gaps are ~0).
        times = host_times(sim)
        assert len(times) > 20
        spans = [b - a for a, b in zip(times, times[15:], strict=False)]
        assert min(spans) >= 15 * HOST_DELAY - 0.4, sorted(spans)[:3]
        assert len(times) - 1 <= (times[-1] - times[0]) / HOST_DELAY + 1

        assert main(["runs", "merge", archive, "--redis", redis_db]) == 0
        manifests = {
            k: json.loads(v) for k, v in s3.keys("archive/runs/").items() if k.endswith("manifest.json")
        }
        job = next(m for m in manifests.values() if m.get("kind") == "distributed")
        assert len(job["parts"]) == 3 and set(job["parts"]) < {m["run_id"] for m in manifests.values()}
        part_files = {
            f["path"] for m in manifests.values() if m.get("kind") != "distributed" for f in m["files"]
        }
        assert {f["path"] for f in job["files"]} == part_files
        assert main(["verify", archive]) == 0  # the merged manifest's files check out too

        # A second job over the unchanged site, by a new worker with an empty spool (another machine):
        # Redis knows what the first job archived, so only discovery pages are fetched.
        before = len(sim.requests)
        seed(redis_db)
        finish(start_worker(sim, redis_db, archive, tmp_path / "again"))
        second = [r["path"] for r in sim.requests[before:]]
        assert second and [p for p in second if ARTICLE.match(p)] == []


def test_killed_worker_loses_nothing(redis_db: str, tmp_path: Path) -> None:
    """Local roots here (one per worker, as on separate machines): what is tested is the frontier."""
    roots = [tmp_path / f"root{i}" for i in range(3)]
    client = redis.Redis.from_url(redis_db)

    def leased() -> int:
        return sum(int(client.zcard(key)) for key in client.keys("*:requests:pending"))

    with Simulator() as sim:
        seed(redis_db)
        lease = ("--lease", "3")
        first = start_worker(sim, redis_db, str(roots[0]), roots[0], *lease)
        deadline = time.monotonic() + 60
        # Freeze the first worker while it holds leases (a frozen process releases nothing), then kill it:
        # the requests it had taken are certainly in flight when it dies.
        while True:
            assert time.monotonic() < deadline, "the first worker never held a lease mid-crawl"
            if sum(1 for r in sim.requests if ARTICLE.match(r["path"])) >= 3 and leased():
                first.send_signal(signal.SIGSTOP)
                if leased():
                    break
                first.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        held = leased()
        first.send_signal(signal.SIGKILL)
        first.wait()
        workers = [start_worker(sim, redis_db, str(root), root, *lease) for root in roots[1:]]
        logs = "".join(finish(w) for w in workers)
        assert held > 0 and "Re-queued" in logs  # the dead worker's leased requests were taken over
        wanted = in_window_paths(sim)
        assert {r["path"] for r in sim.requests if ARTICLE.match(r["path"])} >= wanted

        # The killed worker restarts on its root: its open WARC is repaired and indexed with its rows.
        finish(start_worker(sim, redis_db, str(roots[0]), roots[0], *lease))
    assert not list(roots[0].rglob("*.open"))
    captured: Counter[str] = Counter()
    for root in roots:
        captured += local_article_captures(root)
        assert main(["verify", str(root)]) == 0
    assert set(captured) >= wanted  # nothing lost


def local_article_captures(root: Path) -> Counter[str]:
    return cdxj_article_captures(p.read_bytes() for p in root.rglob("*.cdxj"))

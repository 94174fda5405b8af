"""The catalog follow-ups of a distributed crawl, shared through Redis (issue 12, item 1): two workers
over an archive whose articles are due for a revisit request each due article once (one worker claims
the job's follow-ups, any worker fetches them and judges a new version), and the validators of feeds and
sitemaps live in Redis, so a later job's worker with an empty root still gets its 304s.

The simulator's request log is the judge; the clock is NEWSARCHIVE_NOW, as in tests/test_revisits.py.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from scrapy import Request
from scrapy.http import Response

from core.items import Article, Candidate
from crawler.cli import main
from crawler.simulator import Simulator
from crawler.simulator.changes import edit_article
from pipelines.drops import Unchanged
from pipelines.redis_state import META_PREVIOUS, VALIDATORS_KEY, RedisFollowUps
from pipelines.revisits import Previous

pytest_plugins = ["tests.redis_server"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")
ARTICLE = re.compile(r"^/articles/")
SINCE, UNTIL = "2025-03-15", "2025-03-21"
FIRST_RUN = "2025-03-22T00:00:00+09:00"  # the simulator's own "now"
REVISIT_RUN = "2025-03-28T00:00:00+09:00"  # the +7 d slots of every kept story of the window
FEED, SITEMAP = "/rss/asahi/newsheadlines.rdf", "/sitemap.xml"


def run(env: dict[str, str], now: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LOCAL_CRAWL), *args],
        env={**env, "NEWSARCHIVE_NOW": now},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    _out, err = proc.communicate(timeout=120)
    where = err.find("Traceback")
    assert where < 0, err[max(0, where - 500) : where + 4000]
    assert proc.returncode == 0, err[-3000:]
    return err


def worker(
    sim: Simulator, env: dict[str, str], redis_url: str, root: Path, now: str
) -> subprocess.Popen[str]:
    args = ["crawl", "--redis", redis_url, "--worker", "--archive", str(root)]
    args += ["--base-url", f"asahi={sim.base_urls['asahi']}", "--host-delay", "0.05", "--idle-timeout", "1"]
    return run(env, now, *args)


def seed(redis_url: str) -> None:
    assert main(["seed", "--redis", redis_url, "asahi", "--since", SINCE, "--until", UNTIL]) == 0


def is_due(published_at: str, first_seen: str, now: str) -> bool:
    published, first, moment = (datetime.fromisoformat(t) for t in (published_at, first_seen, now))
    return any(first < published + timedelta(hours=h) <= moment for h in (6, 24, 7 * 24))


def rows(root: Path) -> list[dict]:
    found = []
    for path in sorted((root / "articles").rglob("*.jsonl.gz")):
        found += [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    return found


def test_two_workers_share_revisits_and_validators(
    redis_db: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    import redis

    base = tmp_path / "base"
    with Simulator() as sim:
        # An archive made by an ordinary crawl; each worker gets a copy of it (as every worker of a job
        # reads the same s3:// root): both catalogs name the same due revisits.
        args = ["crawl", "asahi", "--base-url", f"asahi={sim.base_urls['asahi']}", "--archive", str(base)]
        finish(run(subprocess_env, FIRST_RUN, *args, "--since", SINCE, "--until", UNTIL))
        roots = [tmp_path / f"worker{i}" for i in range(2)]
        for root in roots:
            shutil.copytree(base, root)
        low, high = (datetime.fromisoformat(d).date() for d in (SINCE, UNTIL))
        kept = [
            a
            for a in sim.articles
            if a.outlet == "asahi" and a.on_topic and low <= a.published.date() <= high
        ]
        due = {a.path for a in kept if is_due(a.published_at, FIRST_RUN, REVISIT_RUN)}
        assert len(due) == len(kept) >= 2
        # A paywalled page shows its first paragraph only: the correction must be visible to be news.
        edited = edit_article(sim.site, next(a for a in kept if a.path in due and not a.paywalled))

        # Job 1, a day later: one worker claims the follow-ups, each due article is requested once.
        before = len(sim.requests)
        seed(redis_db)
        for w in [worker(sim, subprocess_env, redis_db, r, REVISIT_RUN) for r in roots]:
            finish(w)
        requests = [r for r in sim.requests[before:] if r["outlet"] == "asahi"]
        asked = Counter(r["path"] for r in requests if ARTICLE.match(r["path"]))
        assert set(asked) == due and max(asked.values()) == 1, asked
        server = redis.Redis.from_url(redis_db)
        job = server.get("newsarchive:job:current").decode()
        claimer = server.get(f"newsarchive:job:{job}:asahi:followups").decode()
        assert sum(claimer in {p.name for p in (root / "runs").iterdir()} for root in roots) == 1
        statuses = {r["path"]: r["status"] for r in requests}
        assert statuses[FEED] == statuses[SITEMAP] == 304  # the catalogs' validators, as before
        # The corrected story is version 2 whichever worker fetched it (the version travels in Redis).
        versions = sorted(r["version"] for root in roots for r in rows(root) if r["url"] == edited.url)
        assert versions == [1, 1, 2]

        shared = {k.decode() for k in server.hkeys("newsarchive:validators")}
        assert any(k.endswith(FEED) for k in shared) and any(k.endswith(SITEMAP) for k in shared)

        # Job 2, by a worker with an empty root (another machine): the validators come from Redis.
        before = len(sim.requests)
        seed(redis_db)
        finish(worker(sim, subprocess_env, redis_db, tmp_path / "empty", "2025-03-28T00:05:00+09:00"))
        statuses = {r["path"]: r["status"] for r in sim.requests[before:] if r["outlet"] == "asahi"}
        assert statuses[FEED] == statuses[SITEMAP] == 304


def test_any_worker_judges_a_revisit_and_validators_are_shared(redis_db: str, tmp_path: Path) -> None:
    """The parts the two-worker crawl above leaves to chance (which worker fetches which revisit),
    pinned down on one pipeline that scheduled nothing."""
    import redis

    follow = RedisFollowUps(cast(Any, None), tmp_path, now=datetime.fromisoformat(REVISIT_RUN))
    follow.server = redis.Redis.from_url(redis_db)
    url = "https://www.asahi.com/articles/A.html"
    previous = {"record_id": "<urn:uuid:1>", "digest": "sha1:SAME", "version": 1}
    revisit = Request(url, meta={"candidate": Candidate(url, "asahi", "revisit"), META_PREVIOUS: previous})
    follow.response_received(Response(url, status=200, request=revisit), revisit)
    assert follow.revisits[url] == Previous("<urn:uuid:1>", "sha1:SAME", 1)

    def article(digest: str) -> Article:
        warc = cast(Any, SimpleNamespace(payload_digest=digest))
        return Article(url, url, "asahi", "t", None, "text", [], warc, "run", "2025-03-28T00:00:00+09:00")

    with pytest.raises(Unchanged):
        follow.process_item(article("sha1:SAME"))
    changed = follow.process_item(article("sha1:OTHER"))
    assert (changed.version, changed.previous_version_id) == (2, "<urn:uuid:1>")

    # A 304 confirms the validators sent (here the catalog's): they become the shared ones.
    feed = "https://www.asahi.com/rss/asahi/newsheadlines.rdf"
    sent = {"If-None-Match": '"v1"', "If-Modified-Since": "Sat, 15 Mar 2025 00:00:00 GMT"}
    conditional = Request(feed, headers=sent, meta={"newsarchive_kind": "feed", "newsarchive_url": feed})
    follow.response_received(Response(feed, status=304, request=conditional), conditional)
    assert follow.validators(feed) == ('"v1"', "Sat, 15 Mar 2025 00:00:00 GMT")
    fresh = Request(feed, meta={"newsarchive_kind": "feed", "newsarchive_url": feed})
    follow.response_received(Response(feed, status=200, headers={"ETag": '"v2"'}, request=fresh), fresh)
    assert follow.validators(feed) == ('"v2"', None)
    follow.response_received(Response(feed, status=200, request=fresh), fresh)
    assert follow.server.hget(VALIDATORS_KEY, feed) is None  # a changed document without validators
    follow.spider_closed()

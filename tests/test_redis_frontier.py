"""The Redis pieces one by one against a real redis-server: leased queue, shared per-host delay, seeds
that do not bypass the seen-set, `seed`, `runs merge`; and a crawl without --redis loads none of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from archive.run_merge import merge_manifests
from archive.storage import LocalStore
from crawler.cli import main
from crawler.crawl_delay import CrawlDelay
from crawler.redis_frontier import LeasedQueue, LeasedScheduler
from crawler.redis_keys import CURRENT_JOB, job_key, spider_key
from crawler.redis_politeness import SharedHostDelayMiddleware
from crawler.redis_worker import distributed, seed_message
from crawler.retry_after import RateLimited
from crawler.simulator import Simulator
from spiders.registry import OUTLETS

pytest_plugins = ["tests.redis_server"]

LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")


def make_queue(url: str, lease_ms: int = 60_000) -> LeasedQueue:
    queue = LeasedQueue(redis.Redis.from_url(url), Spider(name="t"), "q:%(spider)s")
    queue.seen_key = "seen:t"
    queue.lease_ms = lease_ms
    return queue


def test_pop_leases_and_release_forgets(redis_db: str) -> None:
    queue = make_queue(redis_db)
    assert queue.push_unseen(Request("http://127.0.0.1/a"), "fp-a")
    assert not queue.push_unseen(Request("http://127.0.0.1/a"), "fp-a")  # seen: dropped
    assert queue.push_unseen(Request("http://127.0.0.1/b", dont_filter=True), "")  # not filtered
    first = queue.pop()
    assert first is not None and first.url == "http://127.0.0.1/a"
    assert queue.pending_count() == 1 and len(queue) == 1
    queue.release([first])
    assert queue.pending_count() == 0 and not queue.leased


def test_expired_lease_goes_back_to_the_queue(redis_db: str) -> None:
    dead = make_queue(redis_db, lease_ms=50)
    dead.push_unseen(Request("http://127.0.0.1/x"), "fp-x")
    assert dead.pop() is not None  # taken by a worker that then dies
    survivor = make_queue(redis_db)
    assert survivor.pop() is None and survivor.requeue_expired() == 0  # lease still running
    time.sleep(0.1)
    assert survivor.requeue_expired() == 1
    again = survivor.pop()
    assert again is not None and again.url == "http://127.0.0.1/x"


def test_shared_host_delay_reserves_successive_slots(redis_db: str) -> None:
    server = redis.Redis.from_url(redis_db)
    workers = [SharedHostDelayMiddleware(server, 0.2) for _ in range(3)]
    waits = [w.reserve(Request("http://h:1/a")) for w in workers]
    # whoever asks, each request gets the next free slot of the host: 0, 200, 400 ms (+ elapsed time)
    assert waits[0] == 0
    assert 180 <= waits[1] <= 200 and 380 <= waits[2] <= 400
    assert workers[0].reserve(Request("http://other:1/a")) == 0  # hosts do not wait for each other


class _CrawlDelays:
    """What the gate asks of crawler.crawl_delay.CrawlDelay: the Crawl-delay of a request's host."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays

    def delay_for(self, request: Request) -> float:
        return self.delays.get(request.url.split("/")[2], 0.0)


def test_a_crawl_delay_longer_than_the_host_delay_spaces_every_worker(redis_db: str) -> None:
    server = redis.Redis.from_url(redis_db)
    delays = _CrawlDelays({"slow:1": 0.5})  # what each worker read in the host's robots.txt
    workers = [SharedHostDelayMiddleware(server, 0.2, crawl_delays=delays) for _ in range(3)]
    waits = [w.reserve(Request("http://slow:1/a")) for w in workers]
    assert waits[0] == 0
    assert 480 <= waits[1] <= 500 and 980 <= waits[2] <= 1000
    # a host without a Crawl-delay keeps the host delay
    assert [w.reserve(Request("http://fast:1/a")) for w in workers[:2]][1] in range(180, 201)


def _answer(url: str, status: int, retry_after: str) -> tuple[Request, Response]:
    request = Request(url)
    return request, Response(url, status=status, headers={"Retry-After": retry_after}, request=request)


def test_a_retry_after_one_worker_receives_pauses_the_host_for_all(redis_db: str) -> None:
    server = redis.Redis.from_url(redis_db)
    told, other = (SharedHostDelayMiddleware(server, 0.1, max_pause_s=5) for _ in range(2))
    assert other.reserve(Request("http://busy:1/a")) == 0
    request, response = _answer("http://busy:1/b", 429, "2")
    assert told.process_response(request, response) is response  # the retry is RetryMiddleware's call
    # the other worker's next slot comes after the pause, not one host delay later
    assert 1900 <= other.reserve(Request("http://busy:1/c")) <= 2000
    assert other.reserve(Request("http://calm:1/a")) == 0  # other hosts are not paused
    # a shorter pause asked later does not shorten it; a 200 with the header pauses nothing
    told.process_response(*_answer("http://busy:1/d", 503, "1"))
    told.process_response(*_answer("http://calm:1/b", 200, "30"))
    assert other.reserve(Request("http://busy:1/e")) >= 1900
    assert other.reserve(Request("http://calm:1/c")) <= 100


def test_a_pause_beyond_retry_after_max_fails_other_workers_requests_at_once(redis_db: str) -> None:
    server = redis.Redis.from_url(redis_db)
    told, other = (SharedHostDelayMiddleware(server, 0.1, max_pause_s=60) for _ in range(2))
    told.process_response(*_answer("http://busy:1/a", 429, "3600"))
    assert other.reserve(Request("http://busy:1/b")) == -1
    pending = other.process_request(Request("http://busy:1/c"))
    with pytest.raises(RateLimited, match="RETRY_AFTER_MAX"):
        pending.send(None)  # raised before any wait: the URL fails as rate_limited, nothing is sent
    assert other.reserve(Request("http://calm:1/a")) == 0


def test_a_renewed_lease_is_not_taken_for_a_dead_worker(redis_db: str) -> None:
    busy = make_queue(redis_db, lease_ms=150)
    busy.push_unseen(Request("http://127.0.0.1/slow"), "fp-slow")
    request = busy.pop()
    assert request is not None
    other = make_queue(redis_db)
    for _ in range(4):  # in flight for 400 ms, more than twice its lease, renewed every 100 ms
        time.sleep(0.1)
        busy.renew([request])
        assert other.requeue_expired() == 0
    time.sleep(0.2)  # the worker stops renewing (it died): the lease runs out
    assert other.requeue_expired() == 1
    busy.renew([request])  # a late renewal does not take the request back from the queue
    assert other.pending_count() == 0 and len(other) == 1


def test_the_scheduler_renews_only_requests_still_in_flight(redis_db: str) -> None:
    queue = make_queue(redis_db, lease_ms=300)
    for path in ("done", "flying"):
        queue.push_unseen(Request(f"http://127.0.0.1/{path}"), f"fp-{path}")
    done, flying = queue.pop(), queue.pop()
    assert done is not None and flying is not None
    engine = SimpleNamespace(_slot=SimpleNamespace(inprogress={flying}))
    crawler = SimpleNamespace(engine=engine, signals=SimpleNamespace(send_catch_log=lambda *a: None))
    scheduler = LeasedScheduler.__new__(LeasedScheduler)  # the scheduler's own method, without Scrapy
    scheduler.queue, scheduler.crawler, scheduler.lease_ms = queue, crawler, 300
    scheduler.release_finished()  # the finished one released, the other renewed
    assert list(queue.leased) == [flying] and queue.pending_count() == 1
    before = queue.server.zscore(queue.pending_key, queue.leased[flying])
    time.sleep(0.15)
    scheduler.release_finished()  # a third of the lease has passed: renewed again
    assert queue.server.zscore(queue.pending_key, queue.leased[flying]) >= before + 140
    scheduler.release_finished()  # not yet due: unchanged
    time.sleep(0.25)
    assert make_queue(redis_db).requeue_expired() == 0  # 400 ms after the pop, still leased


def test_seed_requests_go_through_the_seen_set() -> None:
    worker_cls = distributed(OUTLETS["asahi"])
    spider = worker_cls(since="2025-03-01", until="2025-03-21")
    spider.redis_encoding = "utf-8"
    feed = OUTLETS["asahi"].feeds[0]
    request = spider.make_request_from_data(seed_message(feed, "feed").encode())
    assert isinstance(request, Request)
    assert request.url == feed and not request.dont_filter  # scrapy-redis would set dont_filter=True
    assert request.callback == spider.parse_feed and request.meta["newsarchive_kind"] == "feed"
    assert spider.make_request_from_data(b'{"url": "http://x/", "kind": "nope"}') == []


def test_seed_command_writes_a_job(redis_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--redis", redis_db, "asahi", "--since", "2025-03-01", "--until", "2025-03-21"]) == 0
    server = redis.Redis.from_url(redis_db)
    job = server.get(CURRENT_JOB).decode()
    assert job in capsys.readouterr().out
    fields = {k.decode(): v.decode() for k, v in server.hgetall(job_key(job)).items()}
    assert json.loads(fields["outlets"]) == ["asahi"] and fields["since"].startswith("2025-03-01")
    seeds = [json.loads(m) for m in server.lrange(spider_key(job, "seeds", "asahi"), 0, -1)]
    asahi = OUTLETS["asahi"]
    expected = len(asahi.feeds) + len(asahi.sitemaps) + len(asahi.listings)
    assert len(seeds) >= expected and {s["kind"] for s in seeds} >= {"feed", "sitemap"}
    assert main(["seed", "--redis", redis_db, "nosuchoutlet"]) == 2


def test_runs_merge_writes_one_manifest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for run_id, path in (("r1", "warc/a.warc.gz"), ("r2", "warc/b.warc.gz")):
        manifest = {
            "run_id": run_id,
            "started_at": f"2026-01-01T00:0{run_id[1]}:00+00:00",
            "finished_at": f"2026-01-01T00:1{run_id[1]}:00+00:00",
            "files": [{"path": path, "kind": "warc", "size": 1, "sha256": "x"}],
            "counts": {"asahi": {"articles": 2}},
            "errors": {},
        }
        (tmp_path / "runs" / run_id).mkdir(parents=True)
        (tmp_path / "runs" / run_id / "manifest.json").write_text(json.dumps(manifest))
    where, missing = merge_manifests(store, "job1", ["r1", "r2", "r3"])
    assert missing == ["r3"] and where.endswith("runs/job1/manifest.json")
    merged = json.loads((tmp_path / "runs" / "job1" / "manifest.json").read_text())
    assert merged["kind"] == "distributed" and merged["parts"] == ["r1", "r2"]
    assert [f["path"] for f in merged["files"]] == ["warc/a.warc.gz", "warc/b.warc.gz"]
    assert merged["counts"] == {"asahi": {"articles": 4}}
    assert merged["started_at"].startswith("2026-01-01T00:01") and merged["finished_at"].startswith(
        "2026-01-01T00:12"
    )


@pytest.mark.e2e
def test_crawl_without_redis_imports_no_redis(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    with Simulator() as sim:
        code = (
            "import sys, runpy\n"
            f"sys.argv = [{str(LOCAL_CRAWL)!r}, 'crawl', 'asahi', '--base-url', 'asahi={sim.base_urls['asahi']}',"
            f" '--since', '2025-03-20', '--until', '2025-03-21', '--max-articles', '1', '--archive', {str(tmp_path)!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(LOCAL_CRAWL)!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code in (0, 1), exc.code\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'scrapy_redis'))\n"
            "print('LOADED', loaded)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "LOADED []" in proc.stdout
        assert any(r["path"].startswith("/articles/") for r in sim.requests)  # it did crawl


def test_only_scrapy_redis_deprecations_are_hidden() -> None:
    import warnings

    from scrapy.exceptions import ScrapyDeprecationWarning

    from crawler.redis_mode import quiet_scrapy_redis_deprecations

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_scrapy_redis_deprecations()
        for module in ("scrapy_redis.scheduler", "scrapy_redis", "crawler.redis_frontier", "scrapy_redisish"):
            warnings.warn_explicit("old API", ScrapyDeprecationWarning, "x.py", 1, module=module)
        warnings.warn_explicit("other", DeprecationWarning, "x.py", 1, module="scrapy_redis.queue")
    assert sorted(str(w.message) + " " + str(w.filename) for w in seen) == [
        "old API x.py",
        "old API x.py",
        "other x.py",
    ]


def test_the_gate_reads_crawl_delays_from_the_crawlers_extension(redis_db: str) -> None:
    """Extensions are built before the engine's downloader middlewares, so the gate finds CrawlDelay."""
    settings = {"REDIS_URL": redis_db, "REDIS_HOST_DELAY": 0.5, "ROBOTSTXT_OBEY": True}
    extensions = {"crawler.crawl_delay.CrawlDelay": 120}
    crawler = get_crawler(Spider, {**settings, "EXTENSIONS": extensions})
    gate = SharedHostDelayMiddleware.from_crawler(crawler)
    found = [e for e in crawler.extensions.middlewares if isinstance(e, CrawlDelay)]
    assert len(found) == 1 and gate.crawl_delays is found[0]
    off = get_crawler(Spider, {**settings, "ROBOTSTXT_OBEY": False, "EXTENSIONS": extensions})
    assert SharedHostDelayMiddleware.from_crawler(off).crawl_delays is None  # Crawl-delay not obeyed

"""Cost of WARC capture: the same simulator crawl with the capture middleware on and off (issue 3).

    .venv/bin/python -m bench.capture [--articles 600] [--repeat 3]

The simulator runs in a process of its own (its CPU is not counted) with `--articles` per outlet
(default 600: 960 article pages in the demo window plus discovery pages). Each arm is one crawl of
both outlets in a fresh child process into a fresh archive root, with the CLI's demo settings
(crawler.run.build_settings, local_only) and `--archive-all`, AutoThrottle off (no politeness delay on
127.0.0.1), and item pipelines off in BOTH arms so that the difference is capture alone (extraction
would need a WARC pointer, which the capture-off arm has not). The arms alternate; each round gives a
ratio and the medians of the rounds are reported.

CPU is the child's own process CPU time (user + system, all threads: the CDXJ indexing thread of the
capture arm counts) from just before the reactor starts to just after it stops (imports excluded).

The figures are written into bench/RESULTS.md between `<!-- capture -->` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.report import REPO, machine, write_section

CAPTURE_MW = "pipelines.warc.WarcCaptureMiddleware"


def serve(articles: int) -> None:
    """Child: the simulator with a bigger site, until stdin closes."""
    from crawler.simulator import Simulator

    simulator = Simulator(articles_per_outlet=articles)
    simulator.start()
    print(json.dumps(simulator.base_urls), flush=True)
    sys.stdin.read()
    simulator.stop()


def simulator_crawl_settings(root: Path, base_urls: dict[str, str]) -> tuple[Any, Any]:
    """The plan and the Scrapy settings `crawl` builds for the simulator's demo window, every outlet of
    `base_urls`, --archive-all, at the demo's local pace: what every crawl arm of the benchmarks starts
    from."""
    from crawler.cli import user_agent
    from crawler.run import CrawlPlan, build_settings
    from crawler.simulator import DEMO_SINCE, DEMO_UNTIL

    plan = CrawlPlan(
        root=root,
        outlets=list(base_urls),
        topics=[],
        archive_all=True,
        since=datetime.fromisoformat(DEMO_SINCE),
        until=datetime.fromisoformat(DEMO_UNTIL),
        max_articles=None,
        base_urls=base_urls,
        user_agent=user_agent("bench@localhost"),
        contact="bench@localhost",
        local_only=True,
    )
    settings = build_settings(plan, f"bench-{os.getpid()}")
    return plan, settings


def crawl(root: Path, base_urls: dict[str, str], capture: bool) -> dict[str, Any]:
    """Child: one crawl of both simulated outlets; CPU and wall time of the reactor run only."""
    import resource
    import time

    from scrapy.crawler import CrawlerProcess

    # Imported in both arms before the clock starts: a one-off cost, not a per-page one (~0.2 s).
    import pipelines.warc  # noqa: F401
    from spiders.registry import OUTLETS

    plan, settings = simulator_crawl_settings(root, base_urls)
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"))
    if not capture:
        middlewares[CAPTURE_MW] = None
    settings.setdict(
        {"ITEM_PIPELINES": {}, "AUTOTHROTTLE_ENABLED": False, "DOWNLOADER_MIDDLEWARES": middlewares},
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    crawlers = []
    for outlet in plan.outlets:
        crawler = process.create_crawler(OUTLETS[outlet])
        crawlers.append(crawler)
        process.crawl(crawler, since=plan.since.isoformat(), until=plan.until.isoformat())
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    process.start()
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    stats = [c.stats.get_stats() for c in crawlers]
    return {
        "capture": capture,
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "pages": sum(int(s.get("downloader/response_count", 0)) for s in stats),
        "items": sum(int(s.get("item_scraped_count", 0)) for s in stats),
        "records": sum(int(s.get("newsarchive/warc/records", 0)) for s in stats),
        "warc_bytes": sum(int(s.get("newsarchive/warc/bytes", 0)) for s in stats),
        "finish": sorted({str(s.get("finish_reason")) for s in stats}),
    }


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.capture", *args]


def _run_arm(
    work: Path, name: str, base_urls: dict[str, str], capture: bool, keep: bool = False
) -> dict[str, Any]:
    root = work / name
    root.mkdir()
    out = subprocess.run(
        _child("--child-crawl", str(root), json.dumps(base_urls), "1" if capture else "0"),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    if result["finish"] != ["finished"] or not result["pages"]:
        raise RuntimeError(f"crawl {name} did not finish: {result}")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


@contextlib.contextmanager
def simulator_process(articles: int) -> Iterator[dict[str, str]]:
    """A Simulator in a child process (its CPU is not the crawl's), yielding its base URLs."""
    sim = subprocess.Popen(
        _child("--child-serve", str(articles)),
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        yield json.loads(sim.stdout.readline())
    finally:
        assert sim.stdin is not None
        sim.stdin.close()
        sim.wait(timeout=30)


def measure(articles: int, repeat: int, work: Path) -> dict[str, Any]:
    with simulator_process(articles) as base_urls:
        _run_arm(work, "warmup", base_urls, True)  # the simulator's render cache, the page cache
        rounds = []
        for i in range(repeat):
            order = (True, False) if i % 2 == 0 else (False, True)
            arms = {c: _run_arm(work, f"r{i}-{'on' if c else 'off'}", base_urls, c) for c in order}
            rounds.append((arms[True], arms[False]))
    return summarise(rounds)


def summarise(rounds: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    def per_page_ms(arm: dict[str, Any]) -> float:
        return 1000 * arm["cpu_s"] / arm["pages"]

    def rate(arm: dict[str, Any]) -> float:
        return arm["pages"] / arm["wall_s"]

    on = [r[0] for r in rounds]
    off = [r[1] for r in rounds]
    cpu_ratios = [per_page_ms(a) / per_page_ms(b) for a, b in rounds]
    rate_ratios = [rate(a) / rate(b) for a, b in rounds]
    return {
        "rounds": len(rounds),
        "pages": on[0]["pages"],
        "pages_off": off[0]["pages"],
        "records": on[0]["records"],
        "warc_mib": on[0]["warc_bytes"] / (1 << 20),
        "on_ms": statistics.median(per_page_ms(a) for a in on),
        "off_ms": statistics.median(per_page_ms(a) for a in off),
        "on_rate": statistics.median(rate(a) for a in on),
        "off_rate": statistics.median(rate(a) for a in off),
        "cpu_ratio": statistics.median(cpu_ratios),
        "cpu_ratios": cpu_ratios,
        "rate_ratio": statistics.median(rate_ratios),
        "on_ms_all": [per_page_ms(a) for a in on],
        "off_ms_all": [per_page_ms(a) for a in off],
    }


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def render(r: dict[str, Any], articles: int, notes: str) -> str:
    overhead = 100 * (r["cpu_ratio"] - 1)
    verdict = "met" if overhead <= 15 else "NOT met"
    return (
        textwrap.dedent(
            f"""\
        <!-- capture -->
        ## WARC capture overhead (bench/capture.py)

        {machine("scrapy", "twisted", "warcio", "fastwarc")}.
        Simulator with {articles} articles per outlet in its own process; both outlets, demo window,
        `--archive-all`, no politeness delay, item pipelines off in both arms; {r["rounds"]} rounds, arms
        alternating, each arm a fresh child process and archive root. CPU = the crawl process's user+system
        time (all threads) while the reactor runs.

        | measure | capture off | capture on |
        |---|---|---|
        | pages fetched per crawl | {r["pages_off"]} | {r["pages"]} ({r["records"]} exchanges archived, {r["warc_mib"]:.1f} MiB of WARC) |
        | pages/s (median) | {r["off_rate"]:.1f} | {r["on_rate"]:.1f} |
        | CPU ms per page (median) | {r["off_ms"]:.2f} | {r["on_ms"]:.2f} |
        | CPU ms per page, every round | {_fmt(r["off_ms_all"])} | {_fmt(r["on_ms_all"])} |

        | ratio (median of per-round ratios) | value |
        |---|---|
        | **CPU per page, on / off** (target <= 1.15) | **{r["cpu_ratio"]:.3f}x** (+{overhead:.1f} %, target {verdict}; rounds: {_fmt(r["cpu_ratios"])}) |
        | pages/s, on / off | {r["rate_ratio"]:.3f}x |

        """
        )
        + f"\n{notes}\n<!-- /capture -->\n"
    )


NOTES = """Pages/s barely differs between the arms (the simulator, on the other core, sets the pace), so the
CPU ratio is the figure that answers the target. WARC gzip level 6 (the default, WARC_GZIP_LEVEL),
fsync at close (WARC_FSYNC = "close"); writing the CDXJ index of the closed file (on a worker thread
of the crawl process) is counted. Metadata records for kept articles are not part of this measure
(they come from the item pipelines, off here). The baseline (capture off) moves with the rest of the
crawler: compare the ratio, not the milliseconds, across dates.

History of this measure: 1.26x (one round) while already-compressed payloads were deflated again at
level 6; 1.18x and 1.20x (5 rounds, 2.57-2.65 ms/page off, +0.59-0.67 ms/page on) with warcio building
the records and cdxj-indexer re-reading each closed file. Then (archive/warc_writer.py, archive/cdxj.py)
records serialised directly, byte for byte as warcio wrote them (~0.16 ms/page less); CDXJ lines built
while writing instead of re-reading the file (~0.11 ms/page less; identical to cdxj-indexer's output,
tested); compressed payloads framed as deflate stored blocks by hand instead of a level-0 zlib stream
(~0.08 ms/page less); header deflate window sized to the headers (~0.04 ms/page less). What remains
(~0.3-0.4 ms/page, measured inside the crawl): deflating headers and framing the member ~0.12, SURT
keys for the index (the `surt` package) ~0.05, two SHA-1 digests of the body ~0.03, record building
and the middleware ~0.08."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-serve"]:
        serve(int(argv[1]))
        return 0
    if argv[:1] == ["--child-crawl"]:
        print(json.dumps(crawl(Path(argv[1]), json.loads(argv[2]), argv[3] == "1")))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=600, help="articles per simulated outlet")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        result = measure(args.articles, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = render(result, args.articles, NOTES)
    write_section("capture", section)
    print(section)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Requests of a daily schedule over a simulated month of publishing (issue 10).

    .venv/bin/python -m bench.schedule [--quick]

The simulator publishes PER_DAY new stories per outlet every day; `newsarchive crawl jiji asahi` runs
once a day (at 00:30 JST the next day, `NEWSARCHIVE_NOW`) with a two-day window into one archive, as a
cron job would. The simulator's request log is the judge. Target (issue 10):

    total requests <= 1.05 x (new articles + revisits) + feed/sitemap requests

reported as `requests_per_new_or_revisit` = (total - feed/sitemap requests) / (new + revisits), so the
other discovery requests (robots.txt, listings, site search) count against us. Revisits are the
conditional requests of the revisit schedule (+6 h, +24 h, +7 days after publication), read from each
run's URL ledger. Request counts are deterministic (no timing), so each day runs once.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import machine, write_section
from bench.requests import FEED_SITEMAP, classify

OUTLETS = ("jiji", "asahi")
FIRST_DAY = datetime.fromisoformat("2025-03-22T00:00:00+09:00")
PER_DAY = {"full": 40, "quick": 10}
DAYS = {"full": 30, "quick": 7}
CHILD = "import sys; from bench.requests import child_crawl; sys.exit(child_crawl(sys.argv[1:], True))"


def _ledger_counts(root: Path, run_dir: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in run_dir.glob("urls-*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines():
            row = json.loads(line)
            if row.get("kind") == "discovery":
                continue
            counts[f"state:{row['state']}"] += 1
            if "revisit" in row.get("sources", []):
                counts["revisits"] += 1
    return counts


def run(quick: bool) -> dict[str, Any]:
    from crawler.simulator import Simulator
    from crawler.simulator.changes import add_articles

    mode = "quick" if quick else "full"
    days, per_day = DAYS[mode], PER_DAY[mode]
    per_run: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp, Simulator() as sim:
        root = Path(tmp) / "archive"
        for day in range(days + 1):
            moment = FIRST_DAY + timedelta(days=day)
            if day:  # day 0 archives the simulator's own site: the state the schedule starts from
                for outlet in OUTLETS:
                    add_articles(
                        sim.site,
                        outlet,
                        per_day,
                        seed=day,
                        start=moment - timedelta(hours=18),
                        every=timedelta(minutes=15),
                    )
            before = len(sim.requests)
            since = (moment - timedelta(days=2)).date().isoformat()
            until = moment.date().isoformat()
            argv = [*OUTLETS, "--archive", str(root), "--since", since, "--until", until]
            for outlet, base in sim.base_urls.items():
                argv += ["--base-url", f"{outlet}={base}"]
            now = (moment + timedelta(minutes=30)).isoformat()
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, *argv],
                env={**_env(), "NEWSARCHIVE_NOW": now},
                capture_output=True,
                text=True,
                timeout=900,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"day {day}: crawl exited {proc.returncode}: {proc.stderr[-2000:]}")
            kinds = Counter(classify(r["path"], r["status"]) for r in sim.requests[before:])
            statuses = Counter(r["status"] for r in sim.requests[before:])
            run_dir = max((root / "runs").iterdir())
            ledger = _ledger_counts(root, run_dir)
            per_run.append(
                {
                    "day": day,
                    "total": sum(kinds.values()),
                    "feed_sitemap": sum(kinds[k] for k in FEED_SITEMAP),
                    "not_modified": statuses[304],
                    "new": ledger["state:archived"],
                    "revisits": ledger["revisits"],
                    "kinds": dict(kinds),
                }
            )
    month = per_run[1:]  # the schedule proper; day 0 is the initial backfill
    total = sum(r["total"] for r in month)
    feed_sitemap = sum(r["feed_sitemap"] for r in month)
    new = sum(r["new"] for r in month)
    revisits = sum(r["revisits"] for r in month)
    figures = {
        "days": days,
        "new_per_day_per_outlet": per_day,
        "requests_total": total,
        "feed_sitemap_requests": feed_sitemap,
        "other_discovery_requests": sum(
            r["kinds"].get(k, 0) for r in month for k in ("robots", "listing", "search")
        ),
        "new_articles": new,
        "revisits": revisits,
        "not_modified_answers": sum(r["not_modified"] for r in month),
        "requests_per_new_or_revisit": round((total - feed_sitemap) / max(1, new + revisits), 4),
    }
    _write(figures, per_run)
    return figures


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.setdefault("NEWSARCHIVE_CONTACT", "bench@localhost")
    return env


def _write(figures: dict[str, Any], per_run: list[dict[str, Any]]) -> None:
    lines = [
        "<!-- schedule -->",
        "## Daily schedule over a simulated month (issue 10)",
        "",
        f"{machine()}. `python -m bench.schedule`: {figures['days']} daily runs of `crawl jiji asahi`, "
        f"{figures['new_per_day_per_outlet']} new stories per outlet per day, two-day window, revisits at "
        "+6 h / +24 h / +7 d. Counts from the simulator's request log (deterministic, one run each).",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in figures.items()),
        "",
        "Target: (requests - feed/sitemap requests) / (new articles + revisits) <= 1.05 "
        f"(**{'met' if figures['requests_per_new_or_revisit'] <= 1.05 else 'not met'}**: "
        f"{figures['requests_per_new_or_revisit']}).",
        "",
        "| day | requests | feed/sitemap | 304s | new | revisits |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['day']} | {r['total']} | {r['feed_sitemap']} | {r['not_modified']} | {r['new']} | {r['revisits']} |"
            for r in per_run
        ),
        "<!-- /schedule -->",
        "",
    ]
    write_section("schedule", "\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="7 days, 10 stories a day")
    print(json.dumps(run(parser.parse_args().quick), indent=2))

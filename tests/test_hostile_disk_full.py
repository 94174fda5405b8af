"""Disk full while writing a WARC: the crawl stops at once, says so in one line, exits with code 5 and
leaves its open WARC file repairable; once space is freed the next run repairs it and `verify` passes.

The archive root is a real 3 MiB tmpfs (the test runs as root, as CI does), so every writer meets the
real ENOSPC where it would meet it in production: the WARC capture first (the pages are incompressible
and 400 kB each), then whatever closes afterwards (article files, URL ledger, manifest). "Freeing space"
is a remount of the same tmpfs with more room.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from archive.verify import verify_archive
from crawler.cli import main
from crawler.cli_parser import EXIT_DISK_FULL
from tests.hostile_crawl import CrawlRun, run_crawl
from tests.hostile_site import ORIGIN, HostileSite, article_html, static, urlset, write_outlet_file

pytestmark = pytest.mark.e2e

ARTICLES = [f"/a/big-{n}" for n in range(30)]  # 30 x ~300 kB compressed: ten times the room there is


def big_article(n: int, rnd: random.Random) -> bytes:
    filler = base64.b64encode(rnd.randbytes(300_000)).decode()  # gzip leaves base64 of noise at ~75 %
    page = article_html(f"大きな記事{n}").decode()
    return page.replace("</body>", f"<div>{filler}</div></body>").encode()


@dataclass
class Outcome:
    full: CrawlRun
    after: CrawlRun
    left_open: list[str]
    requested_while_full: int
    root: Path


def _mount(folder: Path, size: str, *, remount: bool = False) -> None:
    if remount:
        command = ["mount", "-o", f"remount,size={size}", str(folder)]
    else:
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        # Not root, or a container without CAP_SYS_ADMIN: there is no real small filesystem to fill. CI runs
        # as root on a machine where mount works, so there this test runs; a skip says exactly why.
        pytest.skip(f"{' '.join(command)}: {done.stderr.strip()} (the disk-full test needs to mount a tmpfs)")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    import os

    tmp = tmp_path_factory.mktemp("diskfull")
    root = tmp / "archive"
    root.mkdir()
    rnd = random.Random(13)
    routes = {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]),
        "/sitemap.xml": static(urlset(ARTICLES), headers=[("Content-Type", "application/xml")]),
        **{path: static(big_article(n, rnd)) for n, path in enumerate(ARTICLES)},
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent / "netguard"), env.get("PYTHONPATH", "")])
    env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
    _mount(root, "3m")
    try:
        with HostileSite(routes) as site:
            args = ["crawl", "hostile", "--outlet-file", str(write_outlet_file(tmp))]
            args += ["--base-url", f"hostile={site.origin}", "--archive", str(root), "--archive-all"]
            full = run_crawl(args, env, tmp, settings={}, timeout=90)
            left_open = sorted(str(p.relative_to(root)) for p in root.rglob("*.open"))
            requested = len([p for p in site.paths() if p.startswith("/a/")])
            _mount(root, "64m", remount=True)  # space freed
            after = run_crawl(args, env, tmp, settings={}, timeout=90)
        yield Outcome(full, after, left_open, requested, root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False, capture_output=True)


def test_a_full_disk_stops_the_crawl_with_one_message_and_exit_code_5(outcome: Outcome) -> None:
    run = outcome.full
    assert run.code == EXIT_DISK_FULL, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    # One line for the user (the last), and the log line of the moment it happened; nothing else repeats it.
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith(f"newsarchive: disk full: {outcome.root}: No space left on device")
    assert "the next run repairs them" in lines[-1]
    assert len([line for line in lines if "No space left" in line]) == 2
    assert run.peak_rss_mb < 400 and run.seconds < 60
    # Stopped at the first failed write, not after trying every page.
    assert outcome.requested_while_full < len(ARTICLES)


def test_the_open_warc_file_is_left_for_repair_and_nothing_else_is_half_written(outcome: Outcome) -> None:
    warcs = [name for name in outcome.left_open if name.endswith(".warc.gz.open")]
    assert len(warcs) == 1, outcome.left_open
    # The article files of the stopped run stay `.open` too (never under their final name).
    assert all(name.startswith(("warc/", "articles/")) for name in outcome.left_open)
    assert not list(outcome.root.rglob("*.part"))


def test_the_next_run_repairs_and_the_archive_verifies(outcome: Outcome) -> None:
    run = outcome.after
    assert run.code == 0, run.stderr[-3000:]
    assert "Recovered WARC file left open by a crash" in run.stderr
    assert not list(outcome.root.rglob("*.open"))
    report = verify_archive(outcome.root)
    assert report.ok, report.problems
    assert main(["verify", str(outcome.root)]) == 0  # the command a scheduler would run
    # Between the two runs every article is archived once: the stopped run's from its repaired WARC.
    urls = []
    for path in outcome.root.rglob("articles/**/*.jsonl.gz"):
        urls += [json.loads(line)["url"] for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert sorted(urls) == sorted(f"{ORIGIN}{p}" for p in ARTICLES)

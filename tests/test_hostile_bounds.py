"""Bounded resources against a hostile site: decompression bombs, endless and dripping bodies, lying
Content-Length, truncated gzip, XML bombs and external entities, sitemap loops and a 50,000-URL sitemap.

One real `newsarchive crawl` (a subprocess, tests/hostile_crawl.py) of the site in tests/hostile_site.py;
the test then checks the crawl's peak memory and duration, what the site had to send, what was archived,
that no canary was touched, and that `verify` passes. The limits are the production settings scaled down
(4 MiB instead of 32 MiB, a 2 s download timeout instead of 30 s) so the test stays fast: the code paths
are the same.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

import crawler.settings as project_settings
from archive.verify import verify_archive
from tests.hostile_crawl import CrawlRun, run_crawl
from tests.hostile_site import (
    ORIGIN,
    HostileSite,
    Streams,
    article_html,
    brotli_bomb,
    endless,
    gzip_bomb,
    gzip_xml_bomb,
    now_jst,
    short_body,
    sitemap_index,
    static,
    urlset,
    write_outlet_file,
)
from tests.output_text import files_containing

pytestmark = pytest.mark.e2e

LIMIT = 8 * 1024 * 1024
TIMEOUT = 2
SETTINGS: dict[str, Any] = {
    "DOWNLOAD_MAXSIZE": LIMIT,
    "DOWNLOAD_WARNSIZE": LIMIT // 2,
    "WARC_MAX_BODY": LIMIT,
}
SETTINGS |= {"DOWNLOAD_TIMEOUT": TIMEOUT, "RETRY_TIMES": 1, "EXTRACT_MAX_BYTES": 1024 * 1024}
SETTINGS |= {"CRAWL_PATH_CAPS": {"^/a/cal/": 5}}
TWO_GB = 2 * 1024**3
CANARY_TEXT = "CANARY-XXE-SECRET-7f3a"
XML = [("Content-Type", "application/xml")]
ARTICLES = [
    "/a/ok",
    "/a/gzip-bomb",
    "/a/gzip-bomb-twice",
    "/a/brotli-bomb",
    "/a/big-declared",
    "/a/big-streamed",
    "/a/slow-drip",
    "/a/short-body",
    "/a/truncated-gzip",
    "/a/redirect-loop",
    "/a/chain/0",
    "/a/short-chain/0",
]


def laughs(root: str, inner: str) -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">' for n in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{entities}]>{inner}'.encode()


def external(root: str, canary_file: Path, canary_url: str, inner: str) -> bytes:
    dtd = (
        f'<!ENTITY xfile SYSTEM "{canary_file.as_uri()}"><!ENTITY xhttp SYSTEM "{canary_url}/entity">'
        f'<!ENTITY % remote SYSTEM "{canary_url}/dtd"> %remote;'
    )
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{dtd}]>{inner}'.encode()


CHILD_SITEMAPS = ("/sm-main.xml", "/sm-loop.xml", "/sitemap.xml", "/sm-bomb.xml.gz", "/sm-laughs.xml")
CHILD_SITEMAPS += ("/sm-xxe.xml", "/sm-50k.xml", "/sm-cal.xml")
SM_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def old_urlset(count: int) -> bytes:
    """`count` article URLs of last year (lastmod only, about 85 bytes each): all outside the window."""
    day = (now_jst() - timedelta(days=400)).date().isoformat()
    entries = "".join(
        f"<url><loc>{ORIGIN_A}old/{n}</loc><lastmod>{day}</lastmod></url>" for n in range(count)
    )
    return f'<?xml version="1.0"?><urlset {SM_NS}>{entries}</urlset>'.encode()


def hostile_routes(streams: Streams, canary_file: Path, canary_url: str) -> dict[str, Any]:
    page = article_html("無事な記事")
    gz = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")]
    rss_item = "<item><title>{t}</title><link>https://www.hostile-news.jp/a/{p}</link></item>"
    return {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]),
        "/sitemap.xml": static(
            sitemap_index(CHILD_SITEMAPS),
            headers=XML,
        ),
        "/sm-loop.xml": static(sitemap_index(["/sitemap.xml", "/sm-loop.xml"]), headers=XML),
        "/sm-main.xml": static(urlset(ARTICLES), headers=XML),
        "/sm-bomb.xml.gz": static(gzip_xml_bomb(), headers=[("Content-Type", "application/x-gzip")]),
        "/sm-laughs.xml": static(
            laughs("urlset", f"<urlset {SM_NS}><url><loc>{ORIGIN_A}laughs-&lol9;</loc></url></urlset>"),
            headers=XML,
        ),
        "/sm-xxe.xml": static(
            external(
                "urlset",
                canary_file,
                canary_url,
                f"<urlset {SM_NS}><url><loc>{ORIGIN_A}xxe-&xfile;&xhttp;</loc></url></urlset>",
            ),
            headers=XML,
        ),
        "/sm-50k.xml": static(old_urlset(50_000), headers=XML),
        "/sm-cal.xml": static(urlset(f"/a/cal/{n}" for n in range(300)), headers=XML),
        "/feed-laughs.xml": static(
            laughs(
                "rss",
                f'<rss version="2.0"><channel>{rss_item.format(t="&lol9;", p="feed-laughs")}</channel></rss>',
            ),
            headers=XML,
        ),
        "/feed-xxe.xml": static(
            external(
                "rss",
                canary_file,
                canary_url,
                f'<rss version="2.0"><channel>{rss_item.format(t="&xfile;&xhttp;", p="feed-xxe")}'
                "</channel></rss>",
            ),
            headers=XML,
        ),
        "/a/ok": static(page),
        **{f"/a/cal/{n}": static(article_html(f"暦{n}")) for n in range(300)},
        "/a/feed-laughs": static(article_html("笑い")),
        "/a/feed-xxe": static(article_html("外部")),
        "/a/gzip-bomb": static(gzip_bomb(), headers=gz),
        "/a/gzip-bomb-twice": static(
            gzip_bomb(2), headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip, gzip")]
        ),
        "/a/brotli-bomb": static(
            brotli_bomb(), headers=[("Content-Type", "text/html"), ("Content-Encoding", "br")]
        ),
        "/a/big-declared": endless(streams, "/a/big-declared", TWO_GB),
        "/a/big-streamed": endless(streams, "/a/big-streamed", None),
        "/a/slow-drip": endless(streams, "/a/slow-drip", 100_000, delay=0.25, chunk=16),
        "/a/short-body": short_body(len(page) + 5000, page),
        "/a/truncated-gzip": static(gzip.compress(page * 20)[:-200], headers=gz),
        # A redirect loop, a chain longer than REDIRECT_MAX_TIMES, and a short chain that ends in a page.
        "/a/redirect-loop": static(b"", 302, [("Location", "/a/redirect-loop-2")]),
        "/a/redirect-loop-2": static(b"", 302, [("Location", "/a/redirect-loop")]),
        **{f"/a/chain/{n}": static(b"", 301, [("Location", f"/a/chain/{n + 1}")]) for n in range(60)},
        **{
            f"/a/short-chain/{n}": static(b"", 301, [("Location", f"/a/short-chain/{n + 1}")])
            for n in range(3)
        },
        "/a/short-chain/3": static(article_html("転送の先")),
    }


ORIGIN_A = "https://www.hostile-news.jp/a/"


@dataclass
class Outcome:
    run: CrawlRun
    root: Path
    site: HostileSite
    canary: HostileSite
    streams: Streams
    canary_file: Path


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("hostile")
    canary_file = tmp / "canary.txt"
    canary_file.write_text(CANARY_TEXT, "utf-8")
    streams = Streams()
    with HostileSite({}) as canary, HostileSite({}) as site:
        site.routes.update(hostile_routes(streams, canary_file, canary.origin))
        outlet = write_outlet_file(tmp, feeds=["/feed-laughs.xml", "/feed-xxe.xml"])
        root = tmp / "archive"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).parent / "netguard"), env.get("PYTHONPATH", "")]
        )
        env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
        args = ["crawl", "hostile", "--outlet-file", str(outlet), "--base-url", f"hostile={site.origin}"]
        args += ["--archive", str(root), "--archive-all", "--log-level", "INFO"]
        run = run_crawl(args, env, tmp, settings=SETTINGS, timeout=120)
        yield Outcome(run, root, site, canary, streams, canary_file)


def ledger(root: Path) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for path in root.glob("runs/*/urls-hostile.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            rows[row["url"].removeprefix(ORIGIN_A[:-3])] = (row["state"], row["reason"])
    return rows


def accounting(root: Path) -> dict[str, Any]:
    (manifest,) = root.glob("runs/*/manifest.json")
    return dict(json.loads(manifest.read_text("utf-8"))["counts"]["accounting"]["hostile"])


def warc_truncations(root: Path) -> dict[str, str]:
    found = {}
    for path in root.rglob("*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    uri = record.rec_headers.get_header("WARC-Target-URI")
                    found[urlsplit(uri).path] = record.rec_headers.get_header("WARC-Truncated") or ""
    return found


def test_production_limits_are_set() -> None:
    assert 0 < project_settings.DOWNLOAD_WARNSIZE < project_settings.DOWNLOAD_MAXSIZE <= 64 * 1024 * 1024
    assert 0 < project_settings.WARC_MAX_BODY <= project_settings.DOWNLOAD_MAXSIZE
    assert 0 < project_settings.EXTRACT_MAX_BYTES <= project_settings.WARC_MAX_BODY
    assert 0 < project_settings.DOWNLOAD_TIMEOUT <= 60
    assert project_settings.CRAWL_MAX_REQUESTS_PER_HOST > 0


def test_hostile_crawl_finishes_in_bounded_memory_and_time_and_verifies(outcome: Outcome) -> None:
    run = outcome.run
    assert run.code == 0, run.stderr[-3000:]
    assert run.peak_rss_mb < 400, run.peak_rss_mb
    assert run.seconds < 60
    assert "Traceback" not in run.stderr
    report = verify_archive(outcome.root)
    assert report.ok, report.problems
    counts = accounting(outcome.root)
    assert counts["balanced"] and counts["pending"] == 0, counts


def test_bodies_are_cut_at_the_limits(outcome: Outcome) -> None:
    rows, sent = ledger(outcome.root), outcome.streams.sent
    # Decompression bombs, also two gzip layers deep: refused at DOWNLOAD_MAXSIZE of decompressed bytes.
    for path in ("/a/gzip-bomb", "/a/gzip-bomb-twice", "/a/brotli-bomb"):
        assert rows[path] == ("failed", "IgnoreRequest"), path
        assert f"{path}> because its body" in outcome.run.stderr
    assert outcome.run.stderr.count("exceeded DOWNLOAD_MAXSIZE") == 3
    # A 2 GB body, announced or not, is read up to WARC_MAX_BODY, archived as truncated, not extracted.
    truncations = warc_truncations(outcome.root)
    for path in ("/a/big-declared", "/a/big-streamed"):
        assert sent[path] < 4 * LIMIT, sent
        assert truncations[path] == "length"
        assert rows[path] == ("failed", "too_large")
    # A slow drip ends at DOWNLOAD_TIMEOUT (two attempts), after a few hundred bytes.
    assert rows["/a/slow-drip"] == ("failed", "DownloadTimeoutError")
    assert sent["/a/slow-drip"] < 2 * (TIMEOUT + 1) * 4 * 16
    # Fewer bytes than Content-Length: kept, marked as cut by the disconnect; a truncated gzip body too.
    assert truncations["/a/short-body"] == "disconnect"
    assert rows["/a/short-body"] == ("archived", "")
    assert rows["/a/truncated-gzip"] == ("archived", "")
    assert rows["/a/ok"] == ("archived", "")


def test_redirect_loops_and_long_chains_end_and_are_counted(outcome: Outcome) -> None:
    paths, rows = outcome.site.paths(), ledger(outcome.root)
    limit = project_settings.REDIRECT_MAX_TIMES
    # A loop ends when it comes back to a URL already requested (the duplicate filter); an endless chain
    # after REDIRECT_MAX_TIMES hops. Either way its URL has an outcome, nothing hangs.
    assert len([p for p in paths if p.startswith("/a/redirect-loop")]) == 2, paths
    assert len([p for p in paths if p.startswith("/a/chain/")]) == limit + 1
    assert rows["/a/redirect-loop"] == ("failed", "redirect_loop")
    assert rows["/a/chain/0"] == ("failed", "too_many_redirects")
    # A short chain is followed to its page, archived under the URL discovery found.
    assert rows["/a/short-chain/0"] == ("archived", "")


def test_xml_bombs_and_external_entities_are_not_expanded(outcome: Outcome) -> None:
    err = outcome.run.stderr
    assert outcome.canary.requests == []
    assert files_containing(outcome.root, CANARY_TEXT, outcome.run.stdout, err) == []
    for name in ("sm-laughs.xml", "feed-laughs.xml"):
        assert f"cannot parse {ORIGIN}/{name}: not well-formed XML" in err
    assert f"cannot parse {ORIGIN}/sm-bomb.xml.gz: document larger than" in err
    assert "/a/feed-laughs" not in outcome.site.paths()
    assert not [u for u in ledger(outcome.root) if "lol" in u]
    # The feed with external entities is read, its entities left out.
    assert ledger(outcome.root)["/a/feed-xxe"] == ("archived", "")


def test_sitemap_loops_big_sitemaps_and_traps_terminate(outcome: Outcome) -> None:
    paths = outcome.site.paths()
    assert paths.count("/sitemap.xml") == 1 and paths.count("/sm-loop.xml") == 1
    counts = accounting(outcome.root)
    assert counts["excluded"]["out_of_window"] == 50_000  # the 50,000-URL sitemap: nothing fetched
    assert not [p for p in paths if p.startswith("/a/old/")]
    # The calendar trap: 5 of its 300 URLs fetched (CRAWL_PATH_CAPS), every other one counted.
    assert len([p for p in paths if p.startswith("/a/cal/")]) == 5
    assert counts["excluded"]["path_cap"] == 295 and "UrlCapExceeded" not in counts["failed"]
    assert outcome.run.stderr.count("path_cap reached") == 1

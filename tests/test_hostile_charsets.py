"""Charset lies and odd URLs from a hostile site: the article text is the page's text, never U+FFFD where
the bytes decode; 10 kB URLs and Unicode paths in a sitemap crash nothing and are accounted for.

One real `newsarchive crawl` of the hostile site (tests/hostile_crawl.py). The pages say the same Japanese
sentence in different byte forms: Shift_JIS labelled UTF-8 (header and meta), EUC-JP with no label at
all, a UTF-8 BOM under a Shift_JIS label; one page is honest Shift_JIS for comparison.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from archive.verify import verify_archive
from tests.hostile_crawl import CrawlRun, run_crawl
from tests.hostile_site import ORIGIN, HostileSite, article_html, now_jst, static, write_outlet_file

pytestmark = pytest.mark.e2e

SENTENCE = "ロシアと北朝鮮の軍事協力について、政府は声明を出した。"
LONG_PATH = "/a/long-" + "x" * 10_000
UNICODE_PATHS = ["/a/ニュース/記事-1", "/a/%E8%A8%98%E4%BA%8B-2"]  # an IRI, and one already percent-encoded


def page(title: str, meta: str | None) -> str:
    meta_tag = f'<meta charset="{meta}">' if meta else ""
    body = "".join(f"<p>{SENTENCE}第{n}段落。</p>" for n in range(3))
    return (
        f"<!DOCTYPE html><html><head>{meta_tag}<title>{title}</title>"
        f'<meta property="article:published_time" content="{now_jst().isoformat()}"></head>'
        f'<body><h1>{title}</h1><div class="story">{body}</div></body></html>'
    )


def html(content_type: str) -> list[tuple[str, str]]:
    return [("Content-Type", content_type)]


LIARS: dict[str, tuple[bytes, list[tuple[str, str]]]] = {
    "/a/sjis-honest": (
        page("正直なシフトJIS", "Shift_JIS").encode("cp932"),
        html("text/html; charset=Shift_JIS"),
    ),
    "/a/sjis-labelled-utf8": (
        page("嘘のラベル", "utf-8").encode("cp932"),
        html("text/html; charset=utf-8"),
    ),
    "/a/euc-jp-unlabelled": (page("ラベルなしEUC", None).encode("euc_jp"), html("text/html")),
    "/a/bom-vs-sjis-label": (
        b"\xef\xbb\xbf" + page("BOMとラベル", "Shift_JIS").encode("utf-8"),
        html("text/html; charset=Shift_JIS"),
    ),
}


def sitemap(paths: list[str]) -> bytes:
    when = now_jst().isoformat()
    entries = "".join(
        f"<url><loc>{ORIGIN}{p}</loc><news:news><news:publication_date>{when}</news:publication_date>"
        "</news:news></url>"
        for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{entries}</urlset>'
    ).encode()


@dataclass
class Outcome:
    run: CrawlRun
    root: Path
    site: HostileSite


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    tmp = tmp_path_factory.mktemp("charsets")
    routes: dict[str, Any] = {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]),
        "/sitemap.xml": static(
            sitemap([*LIARS, LONG_PATH, *UNICODE_PATHS]), headers=[("Content-Type", "application/xml")]
        ),
        **{path: static(body, headers=headers) for path, (body, headers) in LIARS.items()},
        LONG_PATH: static(article_html("長いURL")),
        # The server sees percent-encoded UTF-8 paths, whichever form the sitemap used.
        **{quote(p, safe="/%"): static(article_html(f"ユニコード{n}")) for n, p in enumerate(UNICODE_PATHS)},
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent / "netguard"), env.get("PYTHONPATH", "")])
    env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
    root = tmp / "archive"
    with HostileSite(routes) as site:
        args = ["crawl", "hostile", "--outlet-file", str(write_outlet_file(tmp))]
        args += ["--base-url", f"hostile={site.origin}", "--archive", str(root), "--archive-all"]
        run = run_crawl(args, env, tmp, settings={}, timeout=90)
        yield Outcome(run, root, site)


def rows(root: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in root.rglob("articles/**/*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            found[row["url"].removeprefix(ORIGIN)] = row
    return found


def accounting(root: Path) -> dict[str, Any]:
    (manifest,) = root.glob("runs/*/manifest.json")
    return dict(json.loads(manifest.read_text("utf-8"))["counts"]["accounting"]["hostile"])


def test_the_crawl_survives_and_accounts_for_every_url(outcome: Outcome) -> None:
    run = outcome.run
    assert run.code == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert run.peak_rss_mb < 400 and run.seconds < 60
    assert verify_archive(outcome.root).ok
    counts = accounting(outcome.root)
    assert counts["balanced"] and counts["pending"] == 0, counts
    assert counts["discovered"] == len(LIARS) + 1 + len(UNICODE_PATHS), counts


@pytest.mark.parametrize("path", list(LIARS))
def test_charset_lies_still_give_the_page_text(outcome: Outcome, path: str) -> None:
    row = rows(outcome.root)[path]
    assert "\ufffd" not in row["title"] + row["text"], row["charset"]
    assert SENTENCE in row["text"], row["text"][:200]
    assert row["charset"]["replacement_chars"] == 0


def test_long_and_unicode_urls_are_fetched_and_counted(outcome: Outcome) -> None:
    found = rows(outcome.root)
    # A 10 kB URL is fetched and archived under its whole URL (no key is derived from it).
    assert found[LONG_PATH]["title"] == "長いURL"
    # An IRI and a percent-encoded path: each one article, under its percent-encoded URL.
    assert found[quote(UNICODE_PATHS[0])]["title"] == "ユニコード0"
    assert found[UNICODE_PATHS[1]]["title"] == "ユニコード1"
    assert accounting(outcome.root)["archived"] == len(LIARS) + 1 + len(UNICODE_PATHS)

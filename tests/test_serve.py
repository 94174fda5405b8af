"""`newsarchive serve` over HTTP: the browse server on 127.0.0.1 over the session's demo archive, checked
against the archive library's own answers (archive.selection), plus the CLI process end to end."""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import pytest

from archive.root_access import open_root
from archive.selection import Selection, count_articles, select_articles
from crawler.browse_server import BrowseServer
from tests.browse_client import article_links, count_shown, fetch, serve_command

pytestmark = pytest.mark.e2e

DemoArchive = tuple[Path, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def root(demo_archive: DemoArchive) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[str]:
    with BrowseServer(open_root(root)) as running:
        yield running.url


def test_start_page_lists_the_whole_archive(server: str, root: Path) -> None:
    page = fetch(server, "/")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert '<html lang="ja">' in page.text
    total = count_articles(root, Selection())
    assert total > 0 and count_shown(page) == total
    newest = [row["url"] for row in select_articles(root, Selection())][: min(total, 50)]
    assert [link.split("url=", 1)[1] for link in article_links(page)] == [quote(u, safe="") for u in newest]
    # The chart's bars add up to the articles with a known published day.
    bars = [int(n) for n in re.findall(r'data-count="(\d+)"', page.text)]
    known = sum(1 for row in select_articles(root, Selection()) if row.get("published_at"))
    assert sum(bars) == known
    assert "russia-dprk" in page.text and 'value="jiji"' in page.text and 'value="asahi"' in page.text


@pytest.mark.parametrize(
    "params",
    [
        {"q": "軍事協力"},
        {"q": "事協"},  # shorter than a trigram, inside a word
        {"outlet": "jiji", "since": "2025-03-05", "until": "2025-03-15"},
        {"topic": "russia-dprk", "outlet": "asahi", "q": "北朝鮮"},
    ],
)
def test_filters_select_what_the_library_selects(server: str, root: Path, params: dict[str, str]) -> None:
    page = fetch(server, "/?" + urlencode(params))
    assert page.status == 200
    selection = Selection(
        topics=tuple(filter(None, [params.get("topic")])),
        outlets=tuple(filter(None, [params.get("outlet")])),
        since=date.fromisoformat(params["since"]) if "since" in params else None,
        until=date.fromisoformat(params["until"]) if "until" in params else None,
        query=params.get("q"),
    )
    expected = [row["url"] for row in select_articles(root, selection)]
    assert expected, params
    assert count_shown(page) == len(expected)
    assert [link.split("url=", 1)[1] for link in article_links(page)] == [
        quote(u, safe="") for u in expected[:50]
    ]
    if "q" in params:
        marks = re.findall(r"<mark>(.*?)</mark>", page.text)
        assert marks and all(m == params["q"] for m in marks)
    # The form shows the filters back, and the download links carry them.
    for key, value in params.items():
        assert f"{key}={quote(value)}" in page.text.replace("&amp;", "&")


def test_article_page_shows_text_topics_metadata_and_versions(server: str, root: Path) -> None:
    link = article_links(fetch(server, "/?" + urlencode({"q": "軍事協力"})))[0]
    page = fetch(server, link)
    assert page.status == 200
    url = unquote(link.split("url=", 1)[1])
    row = next(r for r in select_articles(root, Selection()) if r["url"] == url)
    assert f'<h2 id="title">{html.escape(row["title"])}</h2>' in page.text
    first_paragraph = row["text"].split("\n\n")[0]
    assert f"<p>{html.escape(first_paragraph)}</p>" in page.text
    assert html.escape(row["warc"]["record_id"]) in page.text and row["run_id"] in page.text
    for topic in row["topics"]:
        for term, n in topic["matched"].items():
            assert f"{html.escape(term)} ×{n}" in page.text
    assert len(re.findall(r'<tr class="version">', page.text)) >= 1


def test_article_found_by_its_fetched_url(server: str, root: Path) -> None:
    row = next(iter(select_articles(root, Selection())))
    page = fetch(server, "/article?" + urlencode({"url": row["fetched_url"]}))
    assert page.status == 200 and html.escape(row["title"]) in page.text


def test_jsonl_download_holds_the_selected_rows(server: str, root: Path) -> None:
    params = {"outlet": "jiji", "q": "北朝鮮"}
    page = fetch(server, "/download?" + urlencode({**params, "format": "jsonl"}))
    assert page.status == 200, page.text[:500]
    assert page.headers["content-disposition"] == "attachment; filename*=UTF-8''newsarchive-selection.jsonl"
    rows = [json.loads(line) for line in page.text.splitlines()]
    expected = list(select_articles(root, Selection(outlets=("jiji",), query="北朝鮮")))
    assert rows == expected and rows


def test_parquet_and_wacz_downloads_hold_the_selection(server: str, root: Path) -> None:
    from archive.parquet_out import read_parquet_table

    params = {"outlet": "asahi", "since": "2025-03-10"}
    expected = [
        row["url"] for row in select_articles(root, Selection(outlets=("asahi",), since=date(2025, 3, 10)))
    ]
    assert expected
    parquet = fetch(server, "/download?" + urlencode({**params, "format": "parquet"}))
    assert parquet.status == 200 and parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert read_parquet_table(io.BytesIO(parquet.body)).column("url").to_pylist() == expected
    wacz = fetch(server, "/download?" + urlencode({**params, "format": "wacz"}))
    assert wacz.status == 200 and wacz.headers["content-type"] == "application/wacz", wacz.text[-500:]
    with zipfile.ZipFile(io.BytesIO(wacz.body)) as zf:
        assert "datapackage.json" in zf.namelist()
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").decode("utf-8").splitlines()[1:]]
    assert len(pages) == len(expected)


def test_bundle_download_is_a_zip_with_manifest_and_readme(server: str) -> None:
    page = fetch(server, "/download?" + urlencode({"outlet": "asahi", "format": "csv", "bundle": "1"}))
    assert page.status == 200 and page.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(page.body)) as zf:
        names = zf.namelist()
        prefix = "newsarchive-selection-csv/"
        assert {prefix + "articles.csv", prefix + "manifest.json", prefix + "README.md"} <= set(names)
        manifest = json.loads(zf.read(prefix + "manifest.json"))
    assert manifest["selection"]["outlets"] == ["asahi"] and manifest["format"] == "csv"


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/?since=2025-02-30", 400, "published from: &#x27;2025-02-30&#x27; is not a date"),
        ("/?since=2025-03-10&until=2025-03-01", 400, "published from 2025-03-10 is after 2025-03-01"),
        ("/download?format=zip", 400, "format: &#x27;zip&#x27; is not one of jsonl, parquet, csv, wacz"),
        (
            "/article?url=https%3A%2F%2Fexample.org%2Fnone",
            404,
            "no archived article https://example.org/none",
        ),
        ("/article", 400, "no url given"),
        ("/etc/passwd", 404, "no page /etc/passwd"),
    ],
)
def test_mistakes_get_a_page_that_says_what_is_wrong(
    server: str, path: str, status: int, message: str
) -> None:
    page = fetch(server, path)
    assert page.status == status and message in page.text, page.text[-800:]


def test_requests_for_another_host_are_refused(server: str) -> None:
    # A page elsewhere that rebinds its name to 127.0.0.1 still sends its own name as Host.
    assert fetch(server, "/", host="attacker.example").status == 421
    assert fetch(server, "/", host="localhost:1234").status == 200


@pytest.mark.slow
def test_serve_command_prints_its_url_and_serves(root: Path, subprocess_env: dict[str, str]) -> None:
    with serve_command(str(root), subprocess_env) as (_, url):
        page = fetch(url, "/?q=" + quote("軍事協力"))
        assert page.status == 200 and "<mark>軍事協力</mark>" in page.text


def test_selection_stats_agree_with_the_selection_and_reuse_facets(root: Path) -> None:
    from archive.selection_stats import Facets, selection_stats

    selection = Selection(outlets=("jiji",), query="北朝鮮")
    stats = selection_stats(root, selection)
    rows = list(select_articles(root, selection))
    assert stats.total == len(rows) == sum(stats.per_day.values()) + stats.unknown_day
    assert stats.facets.outlets == ("asahi", "jiji") and "russia-dprk" in stats.facets.topics
    # Facets are recomputed only when the index took in new article files.
    stale = Facets(outlets=("cached",), topics=())
    assert selection_stats(root, selection, known=(stats.generation, stale)).facets == stale
    assert selection_stats(root, selection, known=(stats.generation - 1, stale)).facets == stats.facets

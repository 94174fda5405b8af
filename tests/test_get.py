"""`newsarchive get` (archive.lookup): an article by its canonical, mobile or fetched URL, as text, JSON,
original HTML or WARC records; exit 1 with one line when the archive does not hold it."""

from __future__ import annotations

import json
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.selection import Selection, select_articles
from crawler.cli import main


@pytest.fixture(scope="module")
def root(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


def first(root: Path, outlet: str) -> dict:
    return next(select_articles(root, Selection(outlets=(outlet,))))


def test_get_finds_an_article_by_its_mobile_url(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jiji = first(root, "jiji")
    mobile = jiji["url"].replace("/jc/article", "/sp/article") + "&m=rss"
    assert main(["get", str(root), mobile, "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [v["url"] for v in versions] == [jiji["url"]]
    asahi = first(root, "asahi")
    mobile = asahi["url"].replace("/articles/", "/sp/articles/") + "?iref=pc_top"
    assert main(["get", str(root), mobile]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== version 1/1") and asahi["title"] in out and asahi["text"][:20] in out


def test_get_finds_an_article_by_the_url_fetched(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = first(root, "asahi")
    assert main(["get", str(root), row["fetched_url"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["url"] == row["url"]


def test_get_html_is_the_original_page_decoded(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = first(root, "jiji")
    out = tmp_path / "page.html"
    assert main(["get", str(root), row["url"], "--html", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<html" in html.lower() and row["title"][:8] in html
    assert "\ufffd" not in html


def test_get_warc_writes_request_response_and_metadata(root: Path, tmp_path: Path) -> None:
    row = first(root, "asahi")
    out = tmp_path / "a.warc.gz"
    assert main(["get", str(root), row["url"], "--warc", "--out", str(out)]) == 0
    records = [
        (r.rec_type, r.rec_headers.get_header("WARC-Record-ID"))
        for r in ArchiveIterator(BytesIO(out.read_bytes()))
    ]
    assert [kind for kind, _ in records] == ["request", "response", "metadata"]
    assert records[1][1] == row["warc"]["record_id"]


def test_get_unknown_url_is_one_line_exit_1(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", str(root), "https://www.jiji.com/jc/article?k=0000000000000&g=pol"]) == 1
    err = capsys.readouterr().err
    assert "no archived version" in err and len(err.strip().splitlines()) == 1

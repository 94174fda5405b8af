"""`newsarchive serve s3://bucket/prefix`: the browse server over an archive in a moto bucket (read through
an empty spool) answers the start page, a Japanese search, an article page and a JSONL download on
127.0.0.1 with what the same archive gives locally; the CLI process serves it too."""

from __future__ import annotations

import html
import json
import os
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import pytest

from archive.export import export_selection
from archive.parquet_out import read_parquet_rows
from archive.root_access import open_root
from archive.selection import Selection, count_articles, select_articles
from crawler.browse_server import BrowseServer
from crawler.cli import main
from tests.browse_client import article_links, count_shown, fetch, serve_command
from tests.columnar_spy import columnar_taken
from tests.s3_demo import publish_demo
from tests.s3server import S3Env, aws_environment

pytest_plugins = ["tests.s3server"]
pytestmark = pytest.mark.e2e

Demo = tuple[Path, subprocess.CompletedProcess[str]]


@pytest.fixture
def published(s3: S3Env, demo_archive: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return publish_demo(demo_archive, s3, tmp_path, monkeypatch)


@pytest.fixture
def server(published: str) -> Iterator[str]:
    with BrowseServer(open_root(published)) as running:
        assert running.url.startswith("http://127.0.0.1:")
        yield running.url


def test_serve_on_s3_answers_search_article_and_download(
    server: str, published: str, demo_archive: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = demo_archive[0]
    start = fetch(server, "/")
    assert start.status == 200 and start.headers["content-type"] == "text/html; charset=utf-8"
    total = count_articles(local, Selection())
    assert total > 0 and count_shown(start) == total
    assert count_articles(published, Selection()) == total

    page = fetch(server, "/?" + urlencode({"q": "軍事協力"}))
    assert page.status == 200
    expected = [row["url"] for row in select_articles(local, Selection(query="軍事協力"))]
    assert expected and count_shown(page) == len(expected)
    links = article_links(page)
    assert [link.split("url=", 1)[1] for link in links] == [quote(u, safe="") for u in expected[:50]]
    assert "<mark>軍事協力</mark>" in page.text

    article = fetch(server, links[0])
    assert article.status == 200
    url = unquote(links[0].split("url=", 1)[1])
    row = next(r for r in select_articles(local, Selection()) if r["url"] == url)
    assert f'<h2 id="title">{html.escape(row["title"])}</h2>' in article.text
    first_paragraph = row["text"].split("\n\n")[0]
    assert f"<p>{html.escape(first_paragraph)}</p>" in article.text
    assert html.escape(row["warc"]["record_id"]) in article.text and row["run_id"] in article.text

    download = fetch(server, "/download?" + urlencode({"outlet": "asahi", "format": "jsonl"}))
    assert download.status == 200
    rows = [json.loads(line) for line in download.text.splitlines()]
    asahi = list(select_articles(local, Selection(outlets=("asahi",))))
    assert rows == asahi

    # Parquet from the twins in the bucket (the columnar path, several twins read at once).
    taken = columnar_taken(monkeypatch)
    download = fetch(server, "/download?" + urlencode({"outlet": "asahi", "format": "parquet"}))
    assert download.status == 200 and taken == [True]
    exported = export_selection(local, Selection(outlets=("asahi",)), "parquet", tmp_path / "local-parquet")
    assert read_parquet_rows(BytesIO(download.body)) == read_parquet_rows(exported.out / "articles.parquet")


@pytest.mark.slow
def test_serve_command_on_s3_prints_its_url_and_serves(
    published: str, s3: S3Env, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**subprocess_env, **aws_environment(s3.endpoint, s3.secret)}
    env["NEWSARCHIVE_SPOOL"] = os.environ["NEWSARCHIVE_SPOOL"]
    env["XDG_CACHE_HOME"] = str(tmp_path / "cli-cache")
    with serve_command(published, env) as (served, url):
        assert served == published
        page = fetch(url, "/?q=" + quote("軍事協力"))
        assert page.status == 200 and "<mark>軍事協力</mark>" in page.text
        article = fetch(url, article_links(page)[0])
        assert article.status == 200 and '<h2 id="title">' in article.text


def test_serve_on_a_missing_bucket_is_one_line_exit_4(
    s3: S3Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSARCHIVE_SPOOL", str(tmp_path / "spool"))
    # Were the server started (it used to start, and answer every page with an error), it would return
    # at once instead of serving until Ctrl-C.
    monkeypatch.setattr(BrowseServer, "serve_forever", lambda self: None)
    assert main(["serve", "s3://no-such-bucket/archive"]) == 4
    out, err = capsys.readouterr()
    assert "Serving" not in out
    assert err.count("\n") == 1 and "NoSuchBucket" in err and "Traceback" not in err

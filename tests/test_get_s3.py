"""`newsarchive get s3://bucket/prefix URL` (archive.lookup over an s3:// root): the article found by its
canonical URL or a variant of it, with the rows the local archive gives, and its WARC records read with
ranged GETs (a proxy in front of moto logs every request: no whole WARC file is downloaded)."""

from __future__ import annotations

import json
import re
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.selection import Selection, select_articles
from crawler.cli import main
from tests.s3_demo import PREFIX, publish_demo
from tests.s3server import FaultProxy, S3Env, object_key, op_name

pytest_plugins = ["tests.s3server"]

Demo = tuple[Path, subprocess.CompletedProcess[str]]


@pytest.fixture
def published(s3: S3Env, demo_archive: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return publish_demo(demo_archive, s3, tmp_path, monkeypatch)


def first(root: Path, outlet: str) -> dict[str, Any]:
    return next(select_articles(root, Selection(outlets=(outlet,))))


def get_json(root: str, url: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["get", root, url, "--json"]) == 0
    versions: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return versions


def test_get_on_s3_finds_an_article_by_its_url_and_its_variants(
    published: str, demo_archive: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    local = demo_archive[0]
    jiji, asahi = first(local, "jiji"), first(local, "asahi")
    expected = get_json(str(local), jiji["url"], capsys)
    assert [v["url"] for v in expected] == [jiji["url"]]
    assert get_json(published, jiji["url"], capsys) == expected
    mobile = jiji["url"].replace("/jc/article", "/sp/article") + "&m=rss"
    assert get_json(published, mobile, capsys) == expected
    assert get_json(published, asahi["fetched_url"], capsys) == get_json(str(local), asahi["url"], capsys)
    mobile = asahi["url"].replace("/articles/", "/sp/articles/") + "?iref=pc_top"
    assert main(["get", published, mobile]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== version 1/1") and asahi["title"] in out and asahi["text"][:20] in out
    # an article the bucket does not hold: one line, exit 1
    assert main(["get", published, "https://www.jiji.com/jc/article?k=0000000000000&g=pol"]) == 1
    err = capsys.readouterr().err
    assert "no archived version" in err and len(err.strip().splitlines()) == 1


def _ranges(headers: dict[str, str]) -> list[tuple[int, int]]:
    value = next((v for k, v in headers.items() if k.lower() == "range"), "")
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)-(\d+)", value)]


def test_get_warc_on_s3_reads_the_records_with_ranged_gets(
    published: str,
    demo_archive: Demo,
    s3: S3Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local = demo_archive[0]
    row = first(local, "asahi")
    from_local = tmp_path / "local.warc.gz"
    assert main(["get", str(local), row["url"], "--warc", "--out", str(from_local)]) == 0

    out = tmp_path / "s3.warc.gz"
    with FaultProxy(s3.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint)
        assert main(["get", published, row["url"], "--warc", "--out", str(out)]) == 0
    assert "Wrote 1 version(s)" in capsys.readouterr().out
    assert out.read_bytes() == from_local.read_bytes()
    records = [
        (r.rec_type, r.rec_headers.get_header("WARC-Record-ID"))
        for r in ArchiveIterator(BytesIO(out.read_bytes()))
    ]
    assert [kind for kind, _ in records] == ["request", "response", "metadata"]
    assert records[1][1] == row["warc"]["record_id"]

    # Every read of a WARC file was a ranged GET, and together they read a small part of it.
    warc_reads: dict[str, list[tuple[int, int]]] = {}
    for seen in proxy.requests():
        key = object_key(seen, s3.bucket)
        if key.endswith(".warc.gz") and seen.method in ("GET", "HEAD"):
            assert op_name(seen) == "GetObject", f"{seen.method} {key}"
            ranges = _ranges(seen.headers)
            assert ranges, f"GET {key} without a Range header: the whole WARC file was downloaded"
            warc_reads.setdefault(key, []).extend(ranges)
    assert f"{PREFIX}/{row['warc']['path']}" in warc_reads
    for key, ranges in warc_reads.items():
        size = s3.client.head_object(Bucket=s3.bucket, Key=key)["ContentLength"]
        read = sum(b - a + 1 for a, b in ranges)
        assert read < size // 4, f"{key}: {read} of {size} bytes read"
    assert any(a <= row["warc"]["offset"] <= b for a, b in warc_reads[f"{PREFIX}/{row['warc']['path']}"])


def test_get_html_on_s3_is_the_original_page_decoded(
    published: str, demo_archive: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = demo_archive[0]
    row = first(local, "jiji")
    from_s3, from_local = tmp_path / "s3.html", tmp_path / "local.html"
    assert main(["get", published, row["url"], "--html", "--out", str(from_s3)]) == 0
    assert main(["get", str(local), row["url"], "--html", "--out", str(from_local)]) == 0
    html = from_s3.read_text(encoding="utf-8")
    assert html == from_local.read_text(encoding="utf-8")
    assert "<html" in html.lower() and row["title"][:8] in html and "\ufffd" not in html

"""`newsarchive parse` logic on real saved pages: outlet by URL, decoding as Scrapy does, topics, no WARC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import ConfigError, TermGroup, TopicConfig, builtin_topics
from crawler.parse_page import outlet_for_url, parse_headers, parse_page, read_headers_file
from pipelines.dedup import cluster_id_for
from pipelines.textnorm import join_paragraphs

PAGES = Path(__file__).parent / "fixtures" / "outlets"
JIJI = PAGES / "jiji" / "jiji_article_2022101700794_pol"
ASAHI = PAGES / "asahi" / "AsahiShimbun_2025_01_13"
JIJI_URL = "https://www.jiji.com/jc/article?k=2022101700794&g=pol"
ASAHI_URL = "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html"
UTF8 = {"Content-Type": "text/html; charset=utf-8"}
TOPICS = [builtin_topics()["russia-dprk"]]
JAPAN_AUSTRALIA = TopicConfig(
    name="japan-australia",
    description="security cooperation with Australia",
    groups=(TermGroup("australia", ("豪州", "オーストラリア")), TermGroup("security", ("安全保障", "安保"))),
    required=("australia", "security"),
    threshold=3.0,
)


def golden(stem: Path) -> dict:
    return json.loads(stem.with_suffix(".golden.json").read_text("utf-8"))["fields"]


def test_jiji_page_gives_the_page_object_fields_and_no_capture_fields() -> None:
    row = parse_page(
        JIJI_URL, JIJI.with_suffix(".html").read_bytes(), UTF8, topics=[*TOPICS, JAPAN_AUSTRALIA]
    )
    fields = golden(JIJI)
    assert row["outlet"] == "jiji" and row["url"] == JIJI_URL
    assert row["title"] == fields["title"] and row["published_at"] == fields["published_at"]
    assert row["text"] == join_paragraphs(fields["body_paragraphs"])
    assert row["extraction"]["text"] == fields["parser"] == "page:jiji@2022"
    assert row["warc"] is None and row["run_id"] is None and row["fetched_at"] is None
    judged = {t["name"]: t for t in row["topics"]}
    assert set(judged) == {"russia-dprk", "japan-australia"}
    assert judged["japan-australia"]["accepted"] and not judged["russia-dprk"]["accepted"]
    assert judged["japan-australia"]["matched"]["豪州"] >= 1
    assert row["story_cluster_id"] == cluster_id_for(row["text_hash"])
    assert row["charset"]["used"] == "utf-8" and row["charset"]["declared_http"] == "utf-8"


def test_outlet_url_is_canonicalised_and_fetched_url_kept() -> None:
    url = ASAHI_URL.replace("https://www.", "https://") + "?iref=pc_ss_date_article#comment"
    row = parse_page(url, ASAHI.with_suffix(".html").read_bytes(), None, topics=TOPICS)
    fields = golden(ASAHI)
    assert row["outlet"] == "asahi" and row["url"] == ASAHI_URL
    assert row["fetched_url"] == url.split("#")[0]
    assert row["title"] == fields["title"] and row["authors"] == fields["authors"]
    assert row["extraction"]["title"].startswith("page:asahi@")


def test_unknown_host_uses_generic_extraction() -> None:
    row = parse_page(
        "https://news.example.org/a/1", ASAHI.with_suffix(".html").read_bytes(), UTF8, topics=TOPICS
    )
    assert row["outlet"] == "news.example.org"
    assert not any(m.startswith("page:") for m in row["extraction"].values())
    assert "日向灘" in row["text"] and "震度5弱" in row["title"]
    assert outlet_for_url("https://news.example.org/a/1").spider is None


def test_shift_jis_header_decodes_as_scrapy_does_without_mojibake() -> None:
    html = (
        "<html><head><title>①㈱～テスト記事</title></head><body><article><h1>①㈱～テスト記事</h1>"
        + "<p>北朝鮮とロシアの軍事協力について、政府は懸念を表明した。～以下略～</p>" * 5
        + "</article></body></html>"
    ).encode("cp932")
    row = parse_page(
        "https://news.example.org/sjis", html, {"Content-Type": "text/html; charset=Shift_JIS"}, topics=TOPICS
    )
    assert row["title"] == "①㈱～テスト記事"  # ～ stays U+FF5E
    assert row["charset"]["used"] == "cp932" and row["charset"]["replacement_chars"] == 0


def test_headers_file_format(tmp_path: Path) -> None:
    text = (
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/html;\r\n"
        "\tcharset=euc-jp\r\n"
        "Set-Cookie: a=1\r\n"
        "Set-Cookie: b=2\r\n"
        "\r\n"
    )
    path = tmp_path / "headers.txt"
    path.write_bytes(text.encode("latin-1"))
    assert read_headers_file(path) == [
        ("Content-Type", "text/html; charset=euc-jp"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    with pytest.raises(ConfigError, match="line 2"):
        parse_headers("Content-Type: text/html\nnot a header line\n", "h.txt")
    with pytest.raises(ConfigError, match="file not found"):
        read_headers_file(tmp_path / "missing.txt")


def test_euc_jp_from_headers_file_decodes(tmp_path: Path) -> None:
    body = "<html><head><title>露朝の軍事協力</title></head><body><p>本文</p></body></html>".encode("euc-jp")
    headers = parse_headers("Content-Type: text/html; charset=EUC-JP\nContent-Encoding: gzip\n")
    # Content-Encoding is ignored: the file given is the decoded body.
    row = parse_page("https://news.example.org/euc", body, headers, topics=TOPICS)
    assert row["title"] == "露朝の軍事協力" and row["charset"]["declared_http"] == "euc_jp"


def test_relative_url_is_a_user_error() -> None:
    with pytest.raises(ConfigError, match="absolute"):
        parse_page("/jc/article?k=1", b"<html></html>", None, topics=TOPICS)

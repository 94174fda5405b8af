"""Every registered outlet's page object on its recorded pages: golden output, required fields, real
samples checked against fundus's expected output, and the fixture tooling itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spiders import fixtures
from spiders.fixtures import FetchResult, Fixture, read_fixture, record_fixture, regenerate_goldens
from spiders.registry import load_outlets

FOLDER = Path(__file__).parent / "fixtures" / "outlets"
FUNDUS = Path(__file__).parent / "fixtures" / "fundus_expected"
# Outlets whose fixture is a real capture; the others are synthetic until someone records one.
REAL = {"jiji", "asahi", "mainichi", "yomiuri", "japannews", "nikkei"}


@pytest.fixture(scope="module")
def outlets():
    return load_outlets()


@pytest.fixture(scope="module")
def all_fixtures() -> list[Fixture]:
    return [read_fixture(p) for p in fixtures.fixture_paths(FOLDER)]


def test_every_registered_outlet_has_a_fixture(outlets, all_fixtures):
    covered = {f.outlet for f in all_fixtures}
    assert set(outlets) - covered == set(), "outlets without a recorded page"
    assert covered - set(outlets) == set(), "fixture folders naming no outlet"


def test_synthetic_flags(all_fixtures):
    for fixture in all_fixtures:
        assert fixture.synthetic == (fixture.outlet not in REAL), fixture.path
        assert fixture.headers["content-type"][0].startswith("text/html")
        assert fixture.source


def test_goldens_equal_a_fresh_regeneration(outlets):
    # Also fails when a required field (title, published_at, body) is empty on any fixture.
    assert fixtures.check_goldens(FOLDER, outlets) == []


@pytest.mark.parametrize(
    "meta_path", fixtures.fixture_paths(FOLDER), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_fixture_required_fields_and_url(outlets, meta_path):
    fixture = read_fixture(meta_path)
    cls = outlets[fixture.outlet]
    spider = cls()
    assert spider.is_article(fixture.url) and spider.canonicalize(fixture.url) == fixture.url
    fields = cls.page_parser(fixture.text(), fixture.url)
    assert fixtures.missing_required(fields) == []
    assert fields.published_at and fields.published_at.endswith("+09:00")
    assert fields.parser.startswith(f"page:{fixture.outlet}@")
    assert fields.access in ("free", "paywalled", "registration")
    assert fields.canonical_url in ("", fixture.url)


def _fundus(name: str) -> dict:
    return json.loads((FUNDUS / f"{name}.json").read_text("utf-8"))["V1"]


def _golden(outlet: str) -> dict:
    (path,) = (FOLDER / outlet).glob("*.golden.json")
    return json.loads(path.read_text("utf-8"))["fields"]


def test_mainichi_matches_fundus():
    expected, fields = _fundus("MainichiShimbun"), _golden("mainichi")
    assert fields["title"] == expected["title"].replace(" ", "\u3000")  # fundus normalises the U+3000
    assert fields["body_paragraphs"] == expected["body"]["sections"][0]["paragraphs"]
    assert fields["authors"] == expected["authors"] == ["松岡大地"]
    assert fields["published_at"] == "2025-01-14T21:17:27+09:00"
    assert fields["access"] == "free"


def test_japannews_matches_fundus():
    expected, fields = _fundus("TheJapanNews"), _golden("japannews")
    assert fields["title"] == expected["title"]
    # fundus splits the body at the <h2> subhead; here the subhead is a line of the body.
    sections = expected["body"]["sections"]
    flat = [line for s in sections for line in (*s["headline"], *s["paragraphs"])]
    assert [s["headline"] for s in sections] == [[], ["Nuclear umbrella"]]
    assert fields["body_paragraphs"] == flat
    # fundus reads a meta tag ("新間"); the visible byline names the reporters.
    assert fields["authors"] == ["Takeo Maeda", "Tatsuya Tanoue"]
    assert fields["section"] == "Politics & Government"  # entity unescaped
    assert not fields["lead"].startswith("<")


def test_yomiuri_and_nikkei_real_pages():
    yomiuri = _golden("yomiuri")
    assert yomiuri["title"] == "阪神新監督に藤川氏"
    assert yomiuri["published_at"] == "2024-10-13T22:43:00+09:00"
    assert len(yomiuri["body_paragraphs"]) == 3 and yomiuri["body_paragraphs"][0].startswith("プロ野球・阪神")
    nikkei = _golden("nikkei")
    assert nikkei["title"] == "イオン銀行社長解任、金融庁処分で\u3000持ち株社長も引責"
    assert (nikkei["access"], nikkei["body_complete"]) == ("paywalled", False)
    assert len(nikkei["body_paragraphs"]) == 6


def test_synthetic_paywall_and_byline_rules():
    tokyo = _golden("tokyo")
    assert tokyo["access"] == "paywalled"
    assert "この記事は会員限定です。" not in tokyo["body_paragraphs"]
    assert _golden("asahi-ajw")["authors"] == ["TARO YAMADA"]
    assert (
        _golden("asahi-ajw")["published_at"] == "2022-10-22T17:30:00+09:00"
    )  # "October 22, 2022 at 17:30 JST"


def test_regenerate_rewrites_a_tampered_golden(tmp_path, outlets):
    copy = tmp_path / "outlets"
    shutil.copytree(FOLDER / "sankei", copy / "sankei")
    (golden,) = (copy / "sankei").glob("*.golden.json")
    original = golden.read_text("utf-8")
    golden.write_text(original.replace("北朝鮮", "南朝鮮"), "utf-8")
    assert len(fixtures.check_goldens(copy, outlets)) == 1
    assert regenerate_goldens(copy, outlets) == [golden]
    assert golden.read_text("utf-8") == original
    assert fixtures.check_goldens(copy, outlets) == []


def test_regenerate_cli(tmp_path, capsys):
    copy = tmp_path / "outlets"
    shutil.copytree(FOLDER / "kyodo", copy / "kyodo")
    (golden,) = (copy / "kyodo").glob("*.golden.json")
    golden.unlink()
    assert fixtures.main(["check", str(copy)]) == 1
    assert "missing" in capsys.readouterr().err
    assert fixtures.main(["regenerate", str(copy)]) == 0
    assert golden.exists() and fixtures.main(["check", str(copy)]) == 0


def test_record_fixture_with_injected_fetcher(tmp_path, outlets):
    source = read_fixture(next((FOLDER / "yomiuri").glob("*.fixture.json")))
    asked: list[str] = []

    def fetch(url: str) -> FetchResult:
        asked.append(url)
        return FetchResult(
            url=url,
            status=200,
            headers={"Content-Type": ["text/html; charset=UTF-8"], "Set-Cookie": ["a=1"], "Date": ["x"]},
            body=source.body,
        )

    url = source.url + "?utm_source=twitter"
    meta_path = record_fixture(url, fetch, tmp_path, outlets)
    assert asked == [url]
    recorded = read_fixture(meta_path)
    assert (recorded.outlet, recorded.url, recorded.synthetic) == ("yomiuri", source.url, False)
    assert recorded.body == source.body
    assert recorded.headers == {"content-type": ["text/html; charset=UTF-8"]}  # per-visit headers dropped
    assert recorded.recorded_at.endswith("+00:00")
    assert fixtures.check_goldens(tmp_path, outlets) == []
    assert (
        json.loads(fixtures.golden_path(recorded).read_text("utf-8"))["fields"]["title"]
        == "阪神新監督に藤川氏"
    )


def test_record_fixture_refuses_unknown_urls_and_errors(tmp_path, outlets):
    def fetch(url: str) -> FetchResult:
        return FetchResult(url, 404, {}, b"")

    with pytest.raises(ValueError, match="no registered outlet"):
        record_fixture("https://example.org/a/1", fetch, tmp_path, outlets)
    with pytest.raises(ValueError, match="HTTP 404"):
        record_fixture("https://www.tokyo-np.co.jp/article/1", fetch, tmp_path, outlets)
    assert list(tmp_path.iterdir()) == []


def test_body_is_decoded_like_scrapy():
    body = "<html><head><title>x</title></head><body><p>日本語</p></body></html>".encode("cp932")
    fixture = Fixture("x", "https://x", body, {"content-type": ["text/html; charset=Shift_JIS"]})
    assert "日本語" in fixture.text()

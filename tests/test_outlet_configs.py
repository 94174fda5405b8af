"""Outlet TOML files: the builtin ones load and behave as OUTLETS.md documents; bad files are refused
with the file and the field named; the registry merges hand-written, builtin and user outlets."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.config import ConfigError
from spiders.generic import GenericSpider
from spiders.outlet_config import builtin_outlet_configs, load_outlet_file
from spiders.registry import (
    OUTLETS,
    default_outlets,
    enabled_by_default,
    exclusion_reason,
    load_outlets,
    outlet_summary,
)

EXPECTED_TOML = {
    "mainichi",
    "yomiuri",
    "japannews",
    "sankei",
    "nikkei",
    "nhk",
    "kyodo",
    "tokyo",
    "japantimes",
    "yonhap",
    "asahi-ajw",
}

# Article URLs quoted in OUTLETS.md, with the day written in them (None: the URL carries no date).
ARTICLE_EXAMPLES = [
    ("mainichi", "https://mainichi.jp/articles/20250114/k00/00m/030/335000c", date(2025, 1, 14)),
    ("yomiuri", "https://www.yomiuri.co.jp/world/20241203-OYT1T50218/", date(2024, 12, 3)),
    ("yomiuri", "https://www.yomiuri.co.jp/local/kansai/news/20241013-OYO1T50044/", date(2024, 10, 13)),
    (
        "japannews",
        "https://japannews.yomiuri.co.jp/politics/politics-government/20241013-216478/",
        date(2024, 10, 13),
    ),
    ("sankei", "https://www.sankei.com/article/20250121-QBJP5I25BBIG5IZ76XZNDHDB5Q/", date(2025, 1, 21)),
    ("nikkei", "https://www.nikkei.com/article/DGXZQOUB148MY0U5A110C2000000/", None),
    ("nhk", "https://www3.nhk.or.jp/news/html/20240101/k10014943071000.html", date(2024, 1, 1)),
    ("tokyo", "https://www.tokyo-np.co.jp/article/379018", None),
    (
        "japantimes",
        "https://www.japantimes.co.jp/news/2025/06/24/japan/japan-rice-price-falls-below-4000/",
        date(2025, 6, 24),
    ),
    ("yonhap", "https://jp.yna.co.kr/view/AJP20200223000700882", date(2020, 2, 23)),
    ("asahi-ajw", "https://www.asahi.com/ajw/articles/16494080", None),
    ("asahi-ajw", "https://www.asahi.com/ajw/articles/AJ201808190038.html", date(2018, 8, 19)),
    ("kyodo", "https://www.kyodo.co.jp/life/2025-11-04_3972207/", date(2025, 11, 4)),
]


@pytest.fixture(scope="module")
def outlets():
    return load_outlets()


def test_builtin_files_load_and_register(outlets):
    names = {c.name for c in builtin_outlet_configs()}
    assert names == EXPECTED_TOML
    assert set(outlets) == EXPECTED_TOML | set(OUTLETS)
    for name in EXPECTED_TOML:
        assert issubclass(outlets[name], GenericSpider)
        assert outlets[name].page_parser is not None
        assert outlets[name].feeds or outlets[name].sitemaps or outlets[name].listings, name


@pytest.mark.parametrize(("outlet", "url", "day"), ARTICLE_EXAMPLES)
def test_documented_article_urls_are_recognised(outlets, outlet, url, day):
    spider = outlets[outlet]()
    assert spider.is_article(url)
    assert spider.canonicalize(url) == url
    assert spider.url_date(url) == day
    # No other outlet claims the URL (asahi and asahi-ajw share a host).
    others = [n for n, cls in outlets.items() if n != outlet and cls().is_article(url)]
    assert others == []


def test_canonicalisation_and_exclusions(outlets):
    mainichi = outlets["mainichi"]()
    url = "https://mainichi.jp/articles/20250114/k00/00m/030/335000c"
    assert mainichi.canonicalize(url + "?cx_testId=3&cx_artPos=1#cxrecs_s") == url
    assert mainichi.canonicalize(url + "?utm_source=x&other=1") == url  # drop_query
    yomiuri = outlets["yomiuri"]()
    assert yomiuri.canonicalize("http://yomiuri.co.jp/world/20241203-OYT1T50218/") == (
        "https://www.yomiuri.co.jp/world/20241203-OYT1T50218/"
    )
    assert not yomiuri.is_article("https://www.yomiuri.co.jp/photo/20241203-OYT1T50218/")
    assert not outlets["asahi"]().is_article("https://www.asahi.com/ajw/articles/16494080")


def test_disabled_outlets_have_reasons_and_are_left_out(outlets):
    disabled = {n for n in outlets if not enabled_by_default(n, outlets)}
    assert disabled == {"nikkei", "nhk", "japannews"}
    assert "TLS" in exclusion_reason("nikkei", outlets)
    assert "JavaScript" in exclusion_reason("nhk", outlets)
    assert exclusion_reason("mainichi", outlets) == ""
    assert set(default_outlets(outlets)) == set(outlets) - disabled
    row = outlet_summary("nikkei", outlets)
    assert row["status"] == "disabled" and row["reason"] == exclusion_reason("nikkei", outlets)
    assert row["sitemaps"] == ["https://www.nikkei.com/sitemap.xml"]
    assert outlet_summary("jiji", outlets)["kind"] == "hand-written"


def test_hand_written_registry_unchanged():
    # The demo and its simulator cover only these two; TOML outlets come through load_outlets().
    assert set(OUTLETS) == {"jiji", "asahi"}


MINIMAL = """
name = "mine"
origin = "https://news.example.jp"
[urls]
article = ['^https://news\\.example\\.jp/a/\\d+$']
"""


def write(tmp_path: Path, text: str, name: str = "outlet.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "field", "why"),
    [
        ("colour = 'red'", "colour", "unknown key"),
        ("enabled = 'no'", "enabled", "must be true or false"),
        ("enabled = false", "disabled_reason", "required when enabled = false"),
        ("language = 'fr'", "language", "must be one of"),
        ("[discovery]\nfeeds = ['ftp://news.example.jp/rss']", "discovery.feeds[0]", "not an http(s) URL"),
        (
            "[discovery]\nfeeds = ['https://other.example/rss']",
            "discovery.feeds[0]",
            "not on the outlet's hosts",
        ),
        ("[discovery]\nlistings = ['https://news.example.jp/list']", "discovery.listing", "required"),
        ("[discovery]\nfeed = []", "discovery.feed", "unknown key"),
        ("[discovery.listing]\nitem = 'li[['", "discovery.listing.item", "invalid CSS selector"),
        ("[page]\ntitle = ['header:h1']", "page.title[0]", "must start with one of"),
        ("[page]\nbody = ['div..x']", "page.body[0]", "invalid CSS selector"),
        ("[page]\ntitle_strip = ['(']", "page.title_strip[0]", "invalid regular expression"),
        ("[page]\nvalid_from = '2020'", "page.valid_from", "must be a date"),
        ("[page]\nbodies = []", "page.bodies", "unknown key"),
        ("[[page]]\nvalid_from = 2020-01-01\n[[page]]\nvalid_from = 2020-01-01", "page", "share the same"),
    ],
)
def test_bad_files_name_file_and_field(tmp_path, extra, field, why):
    # Top-level keys must precede the [urls] table; tables go after it.
    text = extra + "\n" + MINIMAL if not extra.startswith("[") else MINIMAL + extra + "\n"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_outlet_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}: field '{field}'")
    assert why in message


def test_bad_regex_in_urls(tmp_path):
    path = write(tmp_path, MINIMAL.replace("\\d+$", "(\\d+"))
    with pytest.raises(ConfigError, match=r"field 'urls.article\[0\]': invalid regular expression"):
        load_outlet_file(path)


def test_missing_required_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"field 'urls\.article': list at least one"):
        load_outlet_file(write(tmp_path, 'name = "x"\norigin = "https://x.example"\n'))
    with pytest.raises(ConfigError, match="field 'origin': missing"):
        load_outlet_file(write(tmp_path, 'name = "x"\n'))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_outlet_file(write(tmp_path, "name = \n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_outlet_file(tmp_path / "nope.toml")


def test_user_files_override_and_extend(tmp_path):
    override = write(tmp_path, MINIMAL.replace('"mine"', '"mainichi"'), "mainichi.toml")
    folder = tmp_path / "outlets"
    folder.mkdir()
    write(folder, MINIMAL, "mine.toml")
    write(folder, "not an outlet", "readme.txt")
    outlets = load_outlets(extra_files=[override], folder=folder)
    assert outlets["mainichi"].origin == "https://news.example.jp"  # the user's file won
    assert outlets["mine"].outlet_config.source == str(folder / "mine.toml")
    assert outlets["jiji"] is OUTLETS["jiji"]
    twin = write(tmp_path, MINIMAL, "twin.toml")
    with pytest.raises(ConfigError, match="outlet 'mine' is also defined in"):
        load_outlets(extra_files=[folder / "mine.toml", twin])
    with pytest.raises(ConfigError, match="outlets folder not found"):
        load_outlets(folder=tmp_path / "missing")


def test_layout_versions_pick_by_date(tmp_path):
    text = (
        MINIMAL
        + """
[[page]]
valid_from = 2018-01-01
version = "old"
body = ["div.old p"]
[[page]]
valid_from = 2023-04-01
version = "new"
body = ["div.new p"]
"""
    )
    cls = load_outlets(extra_files=[write(tmp_path, text)])["mine"]
    page = """<html><head><meta property="article:published_time" content="{d}T10:00:00+09:00"></head>
    <body><h1>見出し</h1><div class="old"><p>旧</p></div><div class="new"><p>新</p></div></body></html>"""
    old = cls.page_parser(page.format(d="2020-05-01"), "https://news.example.jp/a/1")
    new = cls.page_parser(page.format(d="2024-05-01"), "https://news.example.jp/a/2")
    assert (old.parser, old.body_paragraphs) == ("page:mine@old", ["旧"])
    assert (new.parser, new.body_paragraphs) == ("page:mine@new", ["新"])


def test_documented_example_is_valid(tmp_path):
    docs = (Path(__file__).parents[1] / "docs" / "outlets.md").read_text("utf-8")
    example = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    config = load_outlet_file(write(tmp_path, example))
    assert config.name == "example" and config.listing is not None
    assert config.url_day("https://www.example.jp/articles/20250301/abc") == date(2025, 3, 1)
    # Every key the loader accepts appears in the documentation.
    for key in ("path_rewrites", "drop_query", "authors_split", "tags_ignore", "registration", "valid_from"):
        assert key in example

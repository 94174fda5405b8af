"""Full-text search (archive.search_index, `newsarchive search`) over the session demo archive: Japanese
terms found mid-word with correct highlighting, short terms, filters, incremental refresh and versions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from archive.jsonl import encode_rows
from archive.search_index import make_snippet, search
from archive.selection import Selection, select_articles
from crawler.cli import main


@pytest.fixture(scope="module")
def root(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


def containing(root: Path, term: str, outlets: tuple[str, ...] = ()) -> set[str]:
    return {
        r["url"]
        for r in select_articles(root, Selection(outlets=outlets))
        if term in r["text"] or term in r["title"]
    }


@pytest.mark.parametrize("term", ["ートナーシ", "事協", "朝鮮"])
def test_a_term_found_mid_word_is_highlighted(root: Path, term: str) -> None:
    # ートナーシ sits inside パートナーシップ, 事協 inside 軍事協力, 朝鮮 inside 北朝鮮: no word boundary anywhere
    expected = containing(root, term)
    assert expected
    hits = search(root, term, limit=1000)
    assert {h.url for h in hits} == expected
    for hit in hits:
        assert hit.highlights or hit.title_highlights
        for start, end in hit.highlights:
            assert hit.snippet_text[start:end] == term
        if hit.highlights:
            assert f"[{term}]" in hit.snippet
            assert f"<mark>{term}</mark>" in hit.snippet_html()
    published = [h.published_at or "" for h in hits]
    assert published == sorted(published, reverse=True)


def test_all_words_must_match_and_filters_apply(root: Path) -> None:
    both = containing(root, "ロシア") & containing(root, "兵")
    assert {h.url for h in search(root, "ロシア　兵", limit=1000)} == both  # ideographic space too
    jiji = containing(root, "ロシア", ("jiji",))
    assert {h.url for h in search(root, "ロシア", Selection(outlets=("jiji",)), limit=1000)} == jiji
    assert search(root, "ロシア", Selection(topics=("no-such-topic",))) == []
    assert len(search(root, "ロシア", limit=2)) == 2
    assert search(root, "存在しない語句") == []


def test_snippet_offsets_and_html_escaping() -> None:
    text, spans = make_snippet("<b>前置き</b>" + "あ" * 50 + "軍事協力の一環" + "い" * 200, ["軍事協力"])
    assert text.startswith("…") and text.endswith("…")
    assert [text[s:e] for s, e in spans] == ["軍事協力"]
    from archive.search_index import mark_html

    assert mark_html("<a>軍事", [(3, 5)]) == "&lt;a&gt;<mark>軍事</mark>"


def test_index_refreshes_incrementally_and_keeps_the_latest_version(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(root, copy)
    assert search(copy, "ペンギン観測") == []
    row = next(select_articles(copy, Selection(outlets=("jiji",))))
    newer = dict(row, text=row["text"] + "ペンギン観測の記事。", run_id="29990101T000000Z-000001")
    newer["fetched_at"] = "2999-01-01T00:00:00+00:00"
    folder = copy / "articles" / "outlet=jiji" / "date=2025-03-20"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "29990101T000000Z-000001-jiji-00000.jsonl.gz").write_bytes(encode_rows([newer]))
    hits = search(copy, "ペンギン観測")
    assert [h.url for h in hits] == [row["url"]]
    selected = [r for r in select_articles(copy, Selection()) if r["url"] == row["url"]]
    assert selected == [newer]  # one row per article: the latest version


def test_cli_search_prints_outlet_date_title_and_snippet(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", str(root), "軍事協力", "--outlet", "asahi", "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("asahi ") and lines[0][9:19].count("-") == 2
    assert lines[1].strip().startswith("https://www.asahi.com/articles/")
    assert "[軍事協力]" in lines[2]
    assert lines[-1].startswith("1 article(s)")
    assert main(["search", str(root), "軍事協力", "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hits and all("<mark>軍事協力</mark>" in h["snippet_html"] for h in hits)


def test_cli_search_mistakes(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", str(root), "  "]) == 2
    assert main(["search", str(tmp_path / "nowhere"), "軍事"]) == 2
    assert main(["search", str(root), "軍事", "--until", "March"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3

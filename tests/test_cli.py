"""The CLI's contract with users: one-line errors with exit code 2, help that teaches, listings."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler import __version__
from crawler.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"newsarchive {__version__}"


@pytest.mark.parametrize("command", ["crawl", "demo", "verify", "simulator"])
def test_help_teaches(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: newsarchive" in out
    assert len(out.splitlines()) > 8


def test_top_level_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("crawl", "demo", "verify", "outlets", "topics", "simulator", "exit codes"):
        assert word in out


def test_wrong_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crawl", "--no-such-flag"]) == 2
    assert "--no-such-flag" in _one_line_error(capsys)


def test_unknown_outlet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["crawl", "nosuchpaper", "--archive", str(tmp_path)]) == 2
    assert "unknown outlet 'nosuchpaper'" in _one_line_error(capsys)


def test_unknown_topic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["crawl", "jiji", "--topic", "nosuchtopic", "--archive", str(tmp_path)]) == 2
    assert "unknown topic 'nosuchtopic'" in _one_line_error(capsys)


def test_unreadable_topic_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\ngroups = [1, 2", "utf-8")
    assert main(["crawl", "jiji", "--topic", str(bad), "--archive", str(tmp_path)]) == 2
    line = _one_line_error(capsys)
    assert str(bad) in line and "invalid TOML" in line


def test_topic_file_with_wrong_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text('name = "t"\nthreshold = "high"\n[groups]\na = ["x"]\n', "utf-8")
    assert main(["crawl", "jiji", "--topic", str(bad), "--archive", str(tmp_path)]) == 2
    line = _one_line_error(capsys)
    assert str(bad) in line and "'threshold'" in line


def test_missing_topic_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["crawl", "jiji", "--topic", str(tmp_path / "none.toml"), "--archive", str(tmp_path)]) == 2
    assert "file not found" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not an ISO 8601 date"),
        (["--since", "2025-03-10", "--until", "2025-03-01"], "is after --until"),
        (["--base-url", "jiji"], "expected OUTLET=URL"),
        (["--base-url", "jiji=ftp://x"], "http(s)"),
        (["--base-url", "nosuch=http://127.0.0.1:1"], "unknown outlet 'nosuch'"),
        (["--max-articles", "0"], "must be at least 1"),
    ],
)
def test_bad_values(
    flags: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["crawl", "jiji", "--archive", str(tmp_path), *flags]) == 2
    assert needle in _one_line_error(capsys)


def test_archive_not_writable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["crawl", "jiji", "--archive", str(blocker / "sub")]) == 2
    assert "not writable" in _one_line_error(capsys)


def test_verify_missing_root(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["verify", str(tmp_path / "nothing")]) == 2
    assert "not an archive folder" in _one_line_error(capsys)


def test_outlets_lists_discovery_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outlets"]) == 0
    out = capsys.readouterr().out
    assert "jiji" in out and "asahi" in out
    assert "https://www.jiji.com/sitemap.xml" in out
    assert "https://www.asahi.com/rss/asahi/newsheadlines.rdf" in out


def test_topics_lists_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics"]) == 0
    out = capsys.readouterr().out
    assert "russia-dprk" in out and "北朝鮮" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: newsarchive" in capsys.readouterr().out


def test_bad_outlet_file_names_file_and_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "paper.toml"
    bad.write_text('name = "paper"\norigin = "ftp://example.org"\n', "utf-8")
    assert main(["crawl", "--outlet-file", str(bad), "--archive", str(tmp_path / "a")]) == 2
    line = _one_line_error(capsys)
    assert str(bad) in line and "field" in line


def test_disabled_outlet_needs_explicit_consent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["crawl", "nikkei", "--archive", str(tmp_path)]) == 2
    line = _one_line_error(capsys)
    assert "outlet 'nikkei' is disabled" in line and "--include-disabled" in line


def test_outlets_shows_disabled_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outlets"]) == 0
    out = capsys.readouterr().out
    nikkei = next(line for line in out.splitlines() if line.startswith("nikkei "))
    assert "DISABLED:" in nikkei
    mainichi = next(line for line in out.splitlines() if line.startswith("mainichi "))
    assert "DISABLED" not in mainichi


def test_parse_prints_article_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    html = Path(__file__).parent / "fixtures" / "outlets" / "jiji" / "jiji_article_2022101700794_pol.html"
    assert main(["parse", "https://www.jiji.com/sp/article?k=2022101700794&g=pol", "--html", str(html)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["url"] == "https://www.jiji.com/jc/article?k=2022101700794&g=pol"
    assert row["outlet"] == "jiji" and row["published_at"] == "2022-10-17T19:09:00+09:00"
    assert row["topics"][0]["name"] == "russia-dprk" and row["topics"][0]["accepted"] is False
    assert row["warc"] is None


def test_parse_unreadable_html(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["parse", "https://www.jiji.com/jc/article?k=1", "--html", str(tmp_path / "none.html")]) == 2
    assert "--html" in _one_line_error(capsys)


def test_fixture_check_passes_on_the_committed_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(__file__).parent / "fixtures" / "outlets"
    assert main(["fixture", "check", "--dir", str(folder)]) == 0
    assert "OK" in capsys.readouterr().out


def test_fixture_record_needs_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fixture", "record"]) == 2
    assert "give the URL" in _one_line_error(capsys)


def test_reextract_missing_root(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["reextract", str(tmp_path / "none")]) == 2
    assert "not an archive folder" in _one_line_error(capsys)

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
        (["--since", "yesterday"], "--since 'yesterday'"),
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

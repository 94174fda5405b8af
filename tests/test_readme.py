"""The README's examples stay true: its topic TOML parses, the commands it names exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from core.config import parse_topic
from crawler.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")


def test_topic_example_is_a_valid_topic() -> None:
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block, "the README lost its topic example"
    text = "\n".join(line[2:] if line.startswith("  ") else line for line in block.group(1).splitlines())
    topic = parse_topic(tomllib.loads(text), "README.md")
    assert topic.required == ("russia", "dprk", "military")
    assert topic.search_queries == ("ロシア 北朝鮮 軍事協力",)


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`newsarchive ([a-z][a-z-]*)", README))))
def test_every_command_the_readme_names_exists(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert f"usage: newsarchive {command}" in capsys.readouterr().out


def test_make_targets_the_readme_names_exist() -> None:
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text("utf-8")
    for target in re.findall(r"^make (\w+)", README, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), target

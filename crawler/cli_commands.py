"""Commands that live in modules of their own (export, search, status, ...).

Each module listed in COMMAND_MODULES exposes `COMMANDS: dict[str, Callable[[Namespace], int]]` (the
sub-command names it handles) and `add_parsers(sub)`, which adds their argparse sub-parsers. The main
parser and dispatcher (cli_parser.build_parser, cli.main) walk this list, so adding a command touches its
own module and one line here, not the shared parser file.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterator
from types import ModuleType

# Import names, not modules: the commands' dependencies (pyarrow, sqlite FTS, ...) load only when the
# CLI is built, never when another part of `crawler` is imported.
COMMAND_MODULES: tuple[str, ...] = (
    "crawler.cli_serve",
    "crawler.cli_status",
    "crawler.cli_export",
    "crawler.cli_search",
    "crawler.cli_get",
    "crawler.cli_workers",
)

Command = Callable[[argparse.Namespace], int]


def _modules() -> Iterator[ModuleType]:
    for name in COMMAND_MODULES:
        yield importlib.import_module(name)


def add_command_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for module in _modules():
        module.add_parsers(sub)


def find_command(name: str) -> Command | None:
    for module in _modules():
        command: Command | None = module.COMMANDS.get(name)
        if command is not None:
            return command
    return None

"""Command-line options shared by the commands that select articles (export, search): topics, outlets,
a published-date range, and the archive root, turned into an archive.selection.Selection."""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING

from crawler.cli_parser import UsageError

if TYPE_CHECKING:
    from archive.root_access import ArchiveRoot
    from archive.selection import Selection


def day(text: str) -> date:
    """An argparse type: a calendar day YYYY-MM-DD (JST)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date such as 2025-03-01") from None


def add_root_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "root",
        metavar="ROOT",
        help="archive root: a folder or s3://bucket/prefix (configured by the standard AWS environment)",
    )


def add_selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--topic",
        dest="topics",
        action="append",
        default=[],
        metavar="NAME",
        help="only articles kept for this topic; repeatable (any listed topic matches)",
    )
    p.add_argument(
        "--outlet",
        dest="outlets",
        action="append",
        default=[],
        metavar="NAME",
        help="only articles of this outlet (e.g. jiji, asahi); repeatable",
    )
    p.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="published on or after this day (JST)")
    p.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="published on or before this day (JST)")


def selection_from(args: argparse.Namespace, query: str | None = None) -> Selection:
    from archive.selection import Selection

    if args.since and args.until and args.since > args.until:
        raise UsageError(f"--since {args.since} is after --until {args.until}")
    return Selection(
        topics=tuple(dict.fromkeys(args.topics)),
        outlets=tuple(dict.fromkeys(args.outlets)),
        since=args.since,
        until=args.until,
        query=query or None,
    )


def open_archive_root(text: str) -> ArchiveRoot:
    """The archive root to read; a missing or unreadable local root is a usage mistake (exit 2)."""
    from archive.root_access import RootError, open_root

    try:
        return open_root(text)
    except RootError as exc:
        raise UsageError(str(exc)) from None

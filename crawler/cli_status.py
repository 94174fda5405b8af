"""`newsarchive status ROOT`: the last runs, pending work, failures by reason and per-outlet freshness of
an archive root (archive.status), as a one-screen text report or one JSON object."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from archive.paths import ARTICLES_DIR, RUNS_DIR, WARC_DIR
from archive.root_access import ArchiveRoot
from crawler.cli_parser import EXIT_OK, UsageError

DEFAULT_RUNS = 5


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "status",
        help="show an archive's last runs, pending work, failures and per-outlet freshness",
        description=(
            "Read an archive root (its run manifests, upload queue, open files and catalog) and print:\n"
            "the last runs (start, duration, result, per-outlet kept/errors, published or queued), the work\n"
            "left pending (runs not yet uploaded, `.open` files a crash left, URLs the last run did not get\n"
            "to), the last run's failures by reason, and per outlet the time since its newest archived\n"
            "article and since its last successful crawl. Changes nothing but the catalog (refreshed first)."
        ),
        epilog=(
            "examples:\n"
            "  newsarchive status ./archive\n"
            "  newsarchive status s3://bucket/archive --runs 10 --json"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("root", metavar="ROOT", help="archive root folder or s3://bucket/prefix")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    p.add_argument(
        "--runs",
        type=_runs_count,
        default=DEFAULT_RUNS,
        metavar="N",
        help=f"how many recent runs to list (default: {DEFAULT_RUNS})",
    )
    p.add_argument(
        "--spool",
        metavar="DIR",
        default=os.environ.get("NEWSARCHIVE_SPOOL"),
        help="with an s3:// root: the crawl's local spool, where queued runs and open files are "
        "(env NEWSARCHIVE_SPOOL; default: the folder a crawl of the same URL uses)",
    )


def _runs_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def cmd_status(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from archive.root_access import RootError, open_root
    from archive.status import archive_status
    from archive.storage import StoreError, StoreUnavailableError

    try:
        root = open_root(args.root)
    except RootError as exc:
        raise UsageError(str(exc)) from None
    except StoreUnavailableError:
        raise  # exit code 4 (crawler.cli)
    except (StoreError, ValueError) as exc:
        raise UsageError(f"{args.root}: {exc}") from None
    if root.store is not None:
        if args.spool:
            root = replace(root, local=Path(args.spool))
        _require_archive_in_store(root)
    report = archive_status(root, runs=args.runs)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        from crawler.status_text import render_status

        print(render_status(report))
    return EXIT_OK


def _require_archive_in_store(root: ArchiveRoot) -> None:
    """An s3:// prefix with no archive in it (a typo in the prefix) is a usage mistake, not an empty report."""
    assert root.store is not None
    for folder in (RUNS_DIR, WARC_DIR, ARTICLES_DIR):
        if next(iter(root.store.list_objects(f"{folder}/")), None) is not None:
            return
        if (root.local / folder).is_dir():
            return
    raise UsageError(
        f"{root.url}: not an archive root (no {RUNS_DIR}/, {WARC_DIR}/ or {ARTICLES_DIR}/ there)"
    )


COMMANDS = {"status": cmd_status}

"""`newsarchive export`: a selection of articles as a bundle (JSON lines, CSV, Parquet or WACZ) with a
manifest and a README (archive.export; the bundle is documented in docs/export.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crawler.cli_parser import EXIT_OK, EXIT_PROBLEMS, UsageError
from crawler.cli_selection import add_root_argument, add_selection_options, open_archive_root, selection_from

FORMATS = ("jsonl", "parquet", "csv", "wacz")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export",
        help="export a selection of articles (topic, outlet, dates, text) as JSONL, Parquet, CSV or WACZ",
        description=(
            "Write the latest version of every selected article to a new bundle folder OUT: the data file\n"
            "(articles.jsonl|csv|parquet|wacz), the article JSON Schema, a README on the fields and on citing,\n"
            "and manifest.json (filters, counts, sha256 of each file, source runs). Built under a hidden\n"
            "name and renamed when complete. Progress goes to stderr, a summary line to stdout."
        ),
        epilog=(
            "examples:\n"
            "  newsarchive export ./archive --topic russia-dprk --outlet jiji --outlet asahi \\\n"
            "      --since 2024-01-01 --until 2024-12-31 --format parquet --out rdprk-2024\n"
            '  newsarchive export s3://bucket/news --query "軍事協力" --format csv --out kyoryoku'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_root_argument(p)
    add_selection_options(p)
    p.add_argument(
        "--query", metavar="TEXT", help="only articles whose title or text contains TEXT (all words)"
    )
    p.add_argument("--format", required=True, metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    p.add_argument(
        "--out", required=True, type=Path, metavar="PATH", help="the bundle folder to create (must not exist)"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from archive.export import ExportError, ExportSourceError, export_selection

    if args.format not in FORMATS:
        raise UsageError(f"--format {args.format}: unknown format (choose from {', '.join(FORMATS)})")
    if args.out.exists():
        raise UsageError(f"--out {args.out}: already exists; an export never overwrites (choose a new name)")
    selection = selection_from(args, args.query)
    root = open_archive_root(args.root)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 1.0:
            last[0] = now
            print(f"exported {done}/{total} articles", file=sys.stderr, flush=True)

    try:
        result = export_selection(root, selection, args.format, args.out, progress=progress)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    except ExportSourceError as exc:
        print(f"newsarchive: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    size = sum(size for _, _, size in result.files)
    print(
        f"Exported {result.count} article(s) as {result.format} to {result.out}/ ({size} bytes; see manifest.json)"
    )
    return EXIT_OK


COMMANDS = {"export": cmd_export}

"""Commands that read an archive or a saved page: verify, get-record, reindex, parse, reextract."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import resolve_topic
from crawler.cli_parser import EXIT_OK, EXIT_PROBLEMS, UsageError


def cmd_verify(args: argparse.Namespace) -> int:
    from archive.verify import verify_archive

    target: str | Path = args.root
    if not str(args.root).startswith("s3://"):
        target = Path(args.root)
        if not target.is_dir():
            raise UsageError(f"{target}: not an archive folder")

    def progress(msg: str) -> None:
        if args.log_format == "json":
            print(
                json.dumps({"event": "progress", "message": msg}, ensure_ascii=False),
                file=sys.stderr,
                flush=True,
            )
        else:
            print(msg, file=sys.stderr, flush=True)

    from core.items import SCHEMA_VERSION
    from core.schema import article_schema

    # Rows are checked against the schema file in the root; an old root without one gets ours.
    report = verify_archive(target, progress=progress, schemas={SCHEMA_VERSION: article_schema()})
    if args.log_format == "json":
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "counts": report.counts,
                    "problems": report.problems,
                    "warnings": report.warnings,
                },
                ensure_ascii=False,
            )
        )
    else:
        for problem in report.problems:
            print(f"PROBLEM {problem}")
        for warning in report.warnings:
            print(f"WARNING {warning}")
        counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
        print(f"{'OK' if report.ok else 'FAILED'}: {counts}; {len(report.problems)} problem(s)")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_get_record(args: argparse.Namespace) -> int:
    from io import BytesIO

    from archive.readback import format_record, read_record, read_record_from

    if args.offset < 0:
        raise UsageError(f"--offset {args.offset}: must be 0 or more")
    try:
        if str(args.root).startswith("s3://"):
            from archive.storage import StoreError
            from archive.stores import open_store

            if args.length is None:
                raise UsageError("--length is required for an s3:// archive (the pointer's length)")
            try:
                data = open_store(args.root).read_range(args.file, args.offset, args.length)
            except (StoreError, ValueError) as exc:
                raise UsageError(f"{args.root} {args.file}: {exc}") from None
            record = read_record_from(BytesIO(data))
        else:
            record = read_record(_warc_file(Path(args.root), args.file), args.offset, args.length)
    except (ValueError, OSError, EOFError) as exc:
        raise UsageError(
            f"--file {args.file} --offset {args.offset}: no readable record there ({exc})"
        ) from None
    if args.payload:
        sys.stdout.buffer.write(record.raw_payload)
        sys.stdout.flush()
    else:
        sys.stdout.write(format_record(record))
    return EXIT_OK


def _warc_file(root: Path, name: str) -> Path:
    from archive.paths import WARC_DIR, resolve_inside

    if not root.is_dir():
        raise UsageError(f"{root}: not an archive folder")
    try:
        path = resolve_inside(root, name)
    except ValueError as exc:
        raise UsageError(f"--file {name}: {exc}") from None
    if path.is_file():
        return path
    if "/" not in name:
        found = sorted((root / WARC_DIR).rglob(name))
        if found:
            return found[0]
    raise UsageError(f"--file {name}: no such WARC file in {root}")


def cmd_reindex(args: argparse.Namespace) -> int:
    from archive.catalog import CATALOG_NAME, Catalog

    store = None
    if str(args.root).startswith("s3://"):
        from archive.root_access import default_spool
        from archive.stores import open_store

        # The catalog of an s3:// archive lives in its local spool; it indexes the store's objects.
        store = open_store(args.root)
        root = Path(args.spool) if args.spool else default_spool(args.root)
    else:
        root = Path(args.root)
        if not root.is_dir():
            raise UsageError(f"{root}: not an archive folder")
    with Catalog.open(root, store) as catalog:
        files = catalog.rebuild()
        counts = catalog.counts()
    print(
        f"Rebuilt {root / CATALOG_NAME} from {files} file(s): {counts['warc_files']} WARC files, "
        f"{counts['captures']} records, {counts['articles']} article rows, "
        f"{counts['url_events']} URL ledger lines"
    )
    return EXIT_OK


def cmd_parse(args: argparse.Namespace) -> int:
    from crawler.parse_page import parse_page, read_headers_file

    topics = [resolve_topic(t) for t in (args.topics or ["russia-dprk"])]
    try:
        html = args.html.read_bytes()
    except OSError as exc:
        raise UsageError(f"--html {args.html}: cannot read ({exc.strerror})") from None
    headers = read_headers_file(args.headers) if args.headers else None
    row = parse_page(args.url, html, headers, topics=topics)
    print(json.dumps(row, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_reextract(args: argparse.Namespace) -> int:
    from crawler.reextract import reextract

    topics = [resolve_topic(t) for t in (args.topics or ["russia-dprk"])]
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"{root}: not an archive folder")

    def progress(pages: int, kept: int) -> None:
        if args.log_format == "json":
            line = json.dumps({"event": "progress", "pages": pages, "kept": kept})
        else:
            line = f"{pages} article pages re-extracted, {kept} kept"
        print(line, file=sys.stderr, flush=True)

    report = reextract(
        root, topics=topics, archive_all=args.archive_all, progress=progress, workers=args.workers
    )
    if args.log_format == "json":
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        print(report.summary())
    return EXIT_OK if report.ok else EXIT_PROBLEMS

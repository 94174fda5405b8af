"""The `newsarchive` command: dispatch, logging, and the small commands (outlets, topics, fixture, simulator).

The parser lives in cli_parser.py, crawl/demo in cli_crawl.py, the archive readers in cli_archive.py.

`main(argv=None)` returns an exit code (documented in docs/cli.md and `newsarchive --help`):
0 success, 1 the work ran but found or hit problems, 2 a usage or configuration mistake, 3 the archive
root is locked by another run, 4 the S3 store cannot be used, 5 the disk is full, 130 interrupted.
A user mistake is reported as one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from archive.disk_full import DiskFullError
from archive.runlock import RunLockedError
from archive.storage import StoreUnavailableError
from core.config import ConfigError, builtin_topics
from crawler.cli_archive import cmd_get_record, cmd_parse, cmd_reextract, cmd_reindex, cmd_verify
from crawler.cli_commands import find_command
from crawler.cli_crawl import cmd_crawl, load_outlets_from_args, user_agent
from crawler.cli_parser import (
    EXIT_DISK_FULL,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_STORAGE,
    EXIT_USAGE,
    UsageError,
    build_parser,
)

__all__ = ["main"]


def _setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    # The level sits on our handler: Scrapy resets the root logger's level when a crawler starts.
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Python warnings (deprecations from libraries) become log records, so --log-format json stays JSON.
    logging.captureWarnings(True)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "event": "log",
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            },
            ensure_ascii=False,
        )


def cmd_outlets(args: argparse.Namespace) -> int:
    from spiders.registry import outlet_summary

    outlets = load_outlets_from_args(args)
    for name in outlets:
        row = outlet_summary(name, outlets)
        status = "" if row["status"] == "enabled" else f"  DISABLED: {row['reason']}"
        print(f"{name}  {row['display_name']}  {row['origin']}  [{row['kind']}, {row['language']}]{status}")
        for kind in ("feeds", "sitemaps", "listings", "search"):
            for url in row[kind]:  # type: ignore[attr-defined]
                print(f"  {kind:<9} {url}")
    return EXIT_OK


def cmd_fixture(args: argparse.Namespace) -> int:
    from spiders.fixtures import check_goldens, record_fixture, regenerate_goldens

    outlets = load_outlets_from_args(args)
    if args.action == "record":
        if not args.url:
            raise UsageError("fixture record: give the URL of an article page")
        from crawler.fetch import fetch_once

        try:
            path = record_fixture(
                args.url, lambda url: fetch_once(url, user_agent(args.contact)), args.dir, outlets
            )
        except ValueError as exc:
            raise UsageError(f"fixture record {args.url}: {exc}") from None
        except OSError as exc:
            print(f"newsarchive: fixture record {args.url}: fetch failed ({exc})", file=sys.stderr)
            return EXIT_PROBLEMS
        print(f"Recorded {path}")
        return EXIT_OK
    if not args.dir.is_dir():
        raise UsageError(f"--dir {args.dir}: not a folder")
    if args.action == "regenerate":
        written = regenerate_goldens(args.dir, outlets)
        print(f"Regenerated {len(written)} golden file(s) in {args.dir}")
        return EXIT_OK
    problems = check_goldens(args.dir, outlets)
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("OK: every golden matches its fixture" if not problems else f"FAILED: {len(problems)} problem(s)")
    return EXIT_PROBLEMS if problems else EXIT_OK


def cmd_topics() -> int:
    for topic in builtin_topics().values():
        print(f"{topic.name}  {topic.description}")
        print(
            f"  threshold {topic.threshold:g}, title weight {topic.title_weight:g}, required: {', '.join(topic.required)}"
        )
        for group in topic.groups:
            print(f"  {group.name:<9} {' / '.join(group.terms)}")
    return EXIT_OK


def cmd_simulator(args: argparse.Namespace) -> int:
    from crawler.simulator import serve

    if not 0 <= args.port <= 65534:
        raise UsageError(f"--port {args.port}: must be between 0 and 65534")
    try:
        sim = serve(args.port, args.log, args.seed)
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen ({exc.strerror})") from None
    flags = " ".join(f"--base-url {k}={v}" for k, v in sim.base_urls.items())
    print(f"Simulator serving {', '.join(f'{k} on {v}' for k, v in sim.base_urls.items())}")
    print(f"Crawl it with: newsarchive crawl {flags} --since 2025-03-01 --until 2025-03-21")
    if args.log:
        print(f"Request log: {args.log}")
    print("Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command in ("crawl", "demo"):
            _setup_logging(args.log_level, args.log_format)
            return cmd_crawl(args, demo=args.command == "demo")
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "get-record":
            return cmd_get_record(args)
        if args.command == "reindex":
            return cmd_reindex(args)
        if args.command == "parse":
            return cmd_parse(args)
        if args.command == "reextract":
            return cmd_reextract(args)
        if args.command == "outlets":
            return cmd_outlets(args)
        if args.command == "fixture":
            return cmd_fixture(args)
        if args.command == "topics":
            return cmd_topics()
        if args.command == "simulator":
            return cmd_simulator(args)
        command = find_command(args.command)
        if command is not None:
            return command(args)
    except (UsageError, ConfigError) as exc:
        print(f"newsarchive: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunLockedError as exc:
        print(f"newsarchive: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except StoreUnavailableError as exc:
        print(f"newsarchive: storage error: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except DiskFullError as exc:
        print(f"newsarchive: {exc}", file=sys.stderr)
        return EXIT_DISK_FULL
    except KeyboardInterrupt:
        print("newsarchive: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `newsarchive outlets | head`: the reader left; that is not an error. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())

"""The `newsarchive` command: crawl, demo, verify, outlets, topics, simulator.

`main(argv=None)` returns an exit code (documented in docs/cli.md and `newsarchive --help`):
0 success, 1 the work ran but found or hit problems, 2 a usage or configuration mistake, 130 interrupted.
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
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import NoReturn

from crawler import __version__
from crawler.config import ConfigError, builtin_topics, parse_base_url, resolve_topic

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

JST = timezone(timedelta(hours=9))

EPILOG = """\
exit codes:
  0    success
  1    the command ran but found or hit problems (verify found damage, a crawl failed)
  2    usage or configuration mistake (wrong flag, unknown outlet or topic, unreadable file)
  130  interrupted (Ctrl-C)

examples:
  newsarchive demo                              crawl the bundled simulator into ./archive
  newsarchive crawl --since 2025-03-01 --contact you@example.org
  newsarchive crawl jiji --topic russia-dprk --since 2025-03-01 --until 2025-03-21
  newsarchive verify ./archive
"""


class UsageError(Exception):
    """A mistake by the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage block before the error; one line naming the mistake reads better
    # in cron mail and CI logs, and --help is one flag away.
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _add_crawl_options(p: argparse.ArgumentParser, *, demo: bool) -> None:
    p.add_argument(
        "--archive",
        metavar="ROOT",
        default="archive",
        help="archive root: a folder (created if missing; default ./archive) or s3://bucket/prefix "
        "(configured by the standard AWS environment: AWS_ENDPOINT_URL_S3, AWS_PROFILE, ...)",
    )
    p.add_argument(
        "--topic",
        dest="topics",
        action="append",
        metavar="NAME|FILE.toml",
        help="topic to judge relevance with; repeatable; a builtin name or a TOML file (default: russia-dprk)",
    )
    p.add_argument(
        "--archive-all",
        action="store_true",
        help="keep every article, on-topic or not (topics are still judged and recorded)",
    )
    p.add_argument(
        "--spool",
        metavar="DIR",
        default=os.environ.get("NEWSARCHIVE_SPOOL"),
        help="local folder a run is written to before it is published to an s3:// archive "
        "(env NEWSARCHIVE_SPOOL; default: a folder under ~/.cache/newsarchive/spool)",
    )
    p.add_argument(
        "--delete-local",
        action="store_true",
        help="with an s3:// archive: delete the spooled copy of a run once its upload is verified",
    )
    p.add_argument(
        "--max-articles",
        type=_positive_int,
        metavar="N",
        help="fetch at most the N newest articles per outlet",
    )
    p.add_argument(
        "--refetch",
        action="store_true",
        help="fetch article pages again even if the archive already holds them "
        "(default: skip them; feeds, sitemaps and listings are always fetched)",
    )
    p.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="progress and log format on stderr"
    )
    p.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="WARNING",
        help="level of Scrapy's own log lines on stderr (default: WARNING)",
    )
    if not demo:
        p.add_argument(
            "outlets",
            nargs="*",
            metavar="OUTLET",
            help="outlets to crawl (default: all enabled outlets; see 'newsarchive outlets')",
        )
        p.add_argument(
            "--since",
            metavar="DATE",
            help="oldest publication date/time to keep, ISO 8601, JST when no offset (default: 2 days ago)",
        )
        p.add_argument("--until", metavar="DATE", help="newest publication date/time to keep (default: now)")
        p.add_argument(
            "--base-url",
            action="append",
            default=[],
            metavar="OUTLET=URL",
            help="fetch OUTLET from another origin (a mirror, a staging copy, the simulator); repeatable",
        )
        p.add_argument(
            "--outlet-file",
            action="append",
            default=[],
            metavar="FILE.toml",
            help="add or override an outlet described in TOML (see docs/outlets.md); repeatable",
        )
        p.add_argument(
            "--outlets-dir",
            metavar="DIR",
            default=os.environ.get("NEWSARCHIVE_OUTLETS_DIR"),
            help="a folder of outlet TOML files to add (env NEWSARCHIVE_OUTLETS_DIR)",
        )
        p.add_argument(
            "--include-disabled",
            action="store_true",
            help="crawl outlets named on the command line even if they are disabled (see 'newsarchive outlets')",
        )
        p.add_argument(
            "--contact",
            metavar="EMAIL|URL",
            default=os.environ.get("NEWSARCHIVE_CONTACT", ""),
            help="operator contact put in the User-Agent and the WARC warcinfo (env NEWSARCHIVE_CONTACT)",
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="newsarchive",
        description=(
            "Crawl Japanese news outlets for articles on research topics and keep them as a trustworthy archive:\n"
            "WARC records of every exchange plus JSON lines per kept article that point into them."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsarchive {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    crawl = sub.add_parser(
        "crawl",
        help="crawl outlets for a date window into an archive",
        description=(
            "Discover articles through feeds, sitemaps and listings, fetch those inside the date window,\n"
            "archive every exchange as WARC and keep the on-topic articles as JSON lines.\n"
            "Progress goes to stderr; a summary of what was archived goes to stdout at the end."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_crawl_options(crawl, demo=False)

    demo = sub.add_parser(
        "demo",
        help="crawl the bundled outlet simulator (no internet needed)",
        description=(
            "Start the local outlet simulator (recorded copies of www.jiji.com and www.asahi.com on 127.0.0.1),\n"
            "crawl both outlets with the default topic for the simulator's date window, verify the archive\n"
            "and print where everything is."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_crawl_options(demo, demo=True)

    verify = sub.add_parser(
        "verify",
        help="check an archive: WARC digests, article pointers, manifests",
        description=(
            "Read every WARC record and check its digests, check that every article row's WARC pointer reads\n"
            "back its response record, and that every file listed in a run manifest has its size and sha256.\n"
            "Exit 0 when everything holds, 1 when anything does not (each problem printed on one line)."
        ),
    )
    verify.add_argument("root", metavar="ROOT", help="archive root folder")
    verify.add_argument("--log-format", choices=["text", "json"], default="text")

    get_record = sub.add_parser(
        "get-record",
        help="read one WARC record back by its offset (as an article's warc pointer gives it)",
        description=(
            "Read the record whose gzip member starts at OFFSET in a WARC file of the archive, without any\n"
            "index, and print its WARC and HTTP headers; with --payload write its payload to stdout instead.\n"
            "An article row's `warc` object gives path, offset and length."
        ),
        epilog=(
            "examples:\n"
            "  newsarchive get-record ./archive --file warc/2026/11/28/X.warc.gz --offset 714525 --length 14512\n"
            "  newsarchive get-record ./archive --file X.warc.gz --offset 714525 --payload > page.html.gz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get_record.add_argument("root", metavar="ROOT", help="archive root folder or s3://bucket/prefix")
    get_record.add_argument(
        "--file",
        required=True,
        metavar="WARC",
        help="the WARC file: its path inside the root (the pointer's `path`) or, locally, its file name",
    )
    get_record.add_argument(
        "--offset", required=True, type=int, metavar="N", help="byte offset of the record"
    )
    get_record.add_argument(
        "--length", type=_positive_int, metavar="L", help="byte length of the record (required for s3://)"
    )
    get_record.add_argument(
        "--payload",
        action="store_true",
        help="write the payload to stdout exactly as stored (still gzip/br when Content-Encoding says so)",
    )

    reindex = sub.add_parser(
        "reindex",
        help="rebuild the catalog of what an archive holds (used to skip pages already archived)",
        description=(
            "Rebuild ROOT/.catalog.sqlite from the archive's CDXJ indexes, article files and run manifests.\n"
            "The catalog is only an index (crawls refresh it themselves): rebuild it after copying, pruning\n"
            "or restoring archive files by hand."
        ),
    )
    reindex.add_argument("root", metavar="ROOT", help="archive root folder")

    parse = sub.add_parser(
        "parse",
        help="print the article JSON a crawl would archive for one saved page",
        description=(
            "Run the outlet's page object (chosen by the URL's host; generic extraction when no outlet\n"
            "matches), trafilatura and the topic judgements on a saved page, and print the article JSON a\n"
            "crawl would archive (without the WARC pointer: nothing is archived). For maintainers debugging\n"
            "an outlet and for users checking a page."
        ),
        epilog=(
            "headers file: raw HTTP header lines 'Name: value', as `curl -D FILE` writes them; a status line\n"
            "and blank lines are ignored. Its Content-Type charset decides the decoding, as in a crawl.\n\n"
            "example:\n  curl -s -D h.txt -o page.html URL && newsarchive parse URL --html page.html --headers h.txt"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("url", metavar="URL", help="the page's URL (decides the outlet and the canonical URL)")
    parse.add_argument(
        "--html", required=True, metavar="FILE", type=Path, help="the page's bytes as received"
    )
    parse.add_argument("--headers", metavar="FILE", type=Path, help="the response headers (see below)")
    parse.add_argument(
        "--topic",
        dest="topics",
        action="append",
        metavar="NAME|FILE.toml",
        help="topic(s) to judge (default: russia-dprk)",
    )

    reextract = sub.add_parser(
        "reextract",
        help="re-run extraction and topics over an archive's WARCs, writing a new article set",
        description=(
            "Read every archived article response from the WARC files alone (no network), run today's\n"
            "extraction, topic judgement and wire-copy clustering, and write a NEW versioned article set with\n"
            "its own run id and manifest. Existing files are never modified. Use it after a parser fix or to\n"
            "apply a new topic to the whole archive."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    reextract.add_argument("root", metavar="ROOT", help="archive root folder")
    reextract.add_argument(
        "--topic",
        dest="topics",
        action="append",
        metavar="NAME|FILE.toml",
        help="topic(s) to judge (default: russia-dprk)",
    )
    reextract.add_argument("--archive-all", action="store_true", help="keep every article, on-topic or not")
    reextract.add_argument(
        "--workers", type=_positive_int, metavar="N", help="extraction processes (default: CPU count)"
    )
    reextract.add_argument("--log-format", choices=["text", "json"], default="text")

    outlets_cmd = sub.add_parser(
        "outlets",
        help="list registered outlets, their discovery sources and why any are disabled",
        description="List every outlet (hand-written and TOML), its status and where it is discovered.",
    )
    outlets_cmd.add_argument("--outlet-file", action="append", default=[], metavar="FILE.toml")
    outlets_cmd.add_argument(
        "--outlets-dir", metavar="DIR", default=os.environ.get("NEWSARCHIVE_OUTLETS_DIR")
    )

    fixture = sub.add_parser(
        "fixture",
        help="record and check page-object fixtures (for maintainers)",
        description=(
            "record URL: fetch a real article page (needs internet) and store it as a fixture of its outlet\n"
            "  (bytes + headers + URL) with a golden JSON generated by the outlet's page object.\n"
            "regenerate: rewrite every golden JSON from its fixture (goldens are never edited by hand).\n"
            "check: exit 1 when a golden differs from what the page object now produces."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fixture.add_argument("action", choices=["record", "regenerate", "check"])
    fixture.add_argument("url", nargs="?", metavar="URL", help="the page to record (record only)")
    fixture.add_argument(
        "--dir",
        type=Path,
        default=Path("tests/fixtures/outlets"),
        help="fixture folder (default: tests/fixtures/outlets)",
    )
    fixture.add_argument("--contact", default=os.environ.get("NEWSARCHIVE_CONTACT", ""), metavar="EMAIL|URL")
    sub.add_parser("topics", help="list the builtin topics and their terms")

    sim = sub.add_parser(
        "simulator",
        help="run the local outlet simulator standalone",
        description=(
            "Serve recorded copies of www.jiji.com (on PORT) and www.asahi.com (on PORT+1) on 127.0.0.1 until\n"
            "Ctrl-C, printing the --base-url flags to crawl them. With --log, every request served is appended\n"
            "to FILE as one JSON line (time, outlet, method, host, path with query, status)."
        ),
    )
    sim.add_argument(
        "--port", type=int, default=0, help="port of the first outlet (default: random free ports)"
    )
    sim.add_argument("--log", metavar="FILE", type=Path, help="append one JSON line per request served")
    sim.add_argument(
        "--seed", type=int, default=20250321, help="seed of the generated site (default: 20250321)"
    )
    return parser


# --- helpers ------------------------------------------------------------------------------------------------


def parse_when(text: str, *, field: str, end_of_day: bool) -> datetime:
    """ISO 8601 date or date-time; JST when no offset. A bare date means the start (or end) of that day."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=JST)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{field} '{text}': not an ISO 8601 date such as 2025-03-01 or 2025-03-01T09:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=JST)


def default_spool(url: str) -> Path:
    """Where runs for an s3:// archive are written before upload; persistent, so a failed upload is
    retried by the next run."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in url.removeprefix("s3://").strip("/"))
    return cache / "newsarchive" / "spool" / name


def user_agent(contact: str) -> str:
    base = f"newsarchive/{__version__} (research news archiver; respects robots.txt"
    return f"{base}; contact: {contact})" if contact else f"{base})"


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


# --- commands -------------------------------------------------------------------------------------------------


def _load_outlets(args: argparse.Namespace) -> dict[str, type]:
    from spiders.registry import load_outlets

    folder = Path(args.outlets_dir) if getattr(args, "outlets_dir", None) else None
    return load_outlets(extra_files=[Path(f) for f in getattr(args, "outlet_file", [])], folder=folder)


def cmd_outlets(args: argparse.Namespace) -> int:
    from spiders.registry import outlet_summary

    outlets = _load_outlets(args)
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

    outlets = _load_outlets(args)
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

    from crawler.items import SCHEMA_VERSION
    from crawler.schema import article_schema

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
            from archive.storage import StoreError, open_store

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

    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"{root}: not an archive folder")
    with Catalog.open(root) as catalog:
        files = catalog.rebuild()
        counts = catalog.counts()
    print(
        f"Rebuilt {root / CATALOG_NAME} from {files} file(s): {counts['warc_files']} WARC files, "
        f"{counts['captures']} records, {counts['articles']} article rows"
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


def cmd_crawl(args: argparse.Namespace, *, demo: bool) -> int:
    from crawler.run import CrawlPlan, run_crawl

    topics = [resolve_topic(t) for t in (args.topics or ["russia-dprk"])]
    store = None
    if str(args.archive).startswith("s3://"):
        from archive.storage import StoreError, open_store

        try:
            store = open_store(args.archive)
        except (StoreError, ValueError) as exc:
            raise UsageError(f"--archive {args.archive}: {exc}") from None
        root = Path(args.spool) if args.spool else default_spool(args.archive)
    else:
        root = Path(args.archive)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        flag = "--spool" if store is not None else "--archive"
        raise UsageError(f"{flag} {root}: not writable ({exc.strerror})") from None

    registry = _load_outlets(args)
    if demo:
        from crawler.simulator import DEMO_SINCE, DEMO_UNTIL, Simulator

        simulator = Simulator()
        simulator.start()
        base_urls = dict(simulator.base_urls)
        outlets = list(simulator.base_urls)
        since = datetime.fromisoformat(DEMO_SINCE)
        until = datetime.fromisoformat(DEMO_UNTIL)
        contact = "demo@localhost"
        print(f"Simulator running: {', '.join(f'{k} at {v}' for k, v in base_urls.items())}", file=sys.stderr)
    else:
        from spiders.registry import default_outlets, exclusion_reason

        simulator = None
        unknown = [o for o in args.outlets if o not in registry]
        if unknown:
            raise UsageError(f"unknown outlet '{unknown[0]}' (known: {', '.join(registry)})")
        for name in args.outlets:
            reason = exclusion_reason(name, registry)
            if reason and not args.include_disabled:
                raise UsageError(
                    f"outlet '{name}' is disabled: {reason} (add --include-disabled to crawl it anyway)"
                )
        outlets = list(args.outlets) or default_outlets(registry)
        base_urls = {}
        for spec in args.base_url:
            name, origin = parse_base_url(spec)
            if name not in registry:
                raise UsageError(
                    f"--base-url '{spec}': unknown outlet '{name}' (known: {', '.join(registry)})"
                )
            base_urls[name] = origin
        now = datetime.now(JST)
        since = (
            parse_when(args.since, field="--since", end_of_day=False)
            if args.since
            else now - timedelta(days=2)
        )
        until = parse_when(args.until, field="--until", end_of_day=True) if args.until else now
        if since > until:
            raise UsageError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
        contact = args.contact

    plan = CrawlPlan(
        root=root.resolve(),
        outlets=outlets,
        topics=topics,
        archive_all=args.archive_all,
        since=since,
        until=until,
        max_articles=args.max_articles,
        base_urls=base_urls,
        user_agent=user_agent(contact),
        contact=contact,
        log_format=args.log_format,
        log_level=args.log_level,
        local_only=demo,
        spiders={name: registry[name] for name in outlets},
        store=store,
        delete_local=args.delete_local,
        refetch=args.refetch,
    )
    try:
        result = run_crawl(plan)
    finally:
        if simulator is not None:
            simulator.stop()

    if args.log_format == "json":
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print(result.summary)
    if demo and result.ok:
        from archive.verify import verify_archive

        report = verify_archive(root)
        if args.log_format == "text":
            status = "OK" if report.ok else "FAILED"
            print(f"\nVerify: {status} ({', '.join(f'{v} {k}' for k, v in report.counts.items())})")
            for problem in report.problems:
                print(f"PROBLEM {problem}")
            print(f"Check it yourself: newsarchive verify {args.archive}")
        if not report.ok:
            return EXIT_PROBLEMS
    return EXIT_OK if result.ok else EXIT_PROBLEMS


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
    except (UsageError, ConfigError) as exc:
        print(f"newsarchive: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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

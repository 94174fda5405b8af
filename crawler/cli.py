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
        help="archive root folder; created if missing (default: ./archive)",
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
        "--max-articles",
        type=_positive_int,
        metavar="N",
        help="fetch at most the N newest articles per outlet",
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

    sub.add_parser("outlets", help="list registered outlets and where they are discovered")
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


def cmd_outlets() -> int:
    from spiders.registry import OUTLETS, outlet_sources

    for name, spider_cls in OUTLETS.items():
        print(f"{name}  {spider_cls.origin}")
        for kind, urls in outlet_sources(name).items():
            for url in urls:
                print(f"  {kind:<9} {url}")
    return EXIT_OK


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

    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"{root}: not an archive folder")

    def progress(msg: str) -> None:
        if args.log_format == "json":
            print(
                json.dumps({"event": "progress", "message": msg}, ensure_ascii=False),
                file=sys.stderr,
                flush=True,
            )
        else:
            print(msg, file=sys.stderr, flush=True)

    report = verify_archive(root, progress=progress)
    if args.log_format == "json":
        print(
            json.dumps(
                {"ok": report.ok, "counts": report.counts, "problems": report.problems}, ensure_ascii=False
            )
        )
    else:
        for problem in report.problems:
            print(f"PROBLEM {problem}")
        counts = ", ".join(f"{v} {k}" for k, v in report.counts.items())
        print(f"{'OK' if report.ok else 'FAILED'}: {counts}; {len(report.problems)} problem(s)")
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
    root = Path(args.archive)
    if str(args.archive).startswith("s3://"):
        raise UsageError(
            f"--archive {args.archive}: S3 archive roots are not supported yet; give a local folder"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--archive {root}: not writable ({exc.strerror})") from None

    from spiders.registry import OUTLETS

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
        simulator = None
        unknown = [o for o in args.outlets if o not in OUTLETS]
        if unknown:
            raise UsageError(f"unknown outlet '{unknown[0]}' (known: {', '.join(OUTLETS)})")
        outlets = list(args.outlets) or list(OUTLETS)
        base_urls = {}
        for spec in args.base_url:
            name, origin = parse_base_url(spec)
            if name not in OUTLETS:
                raise UsageError(
                    f"--base-url '{spec}': unknown outlet '{name}' (known: {', '.join(OUTLETS)})"
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
        if args.command == "outlets":
            return cmd_outlets()
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
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())

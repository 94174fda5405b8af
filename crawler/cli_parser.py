"""The `newsarchive` command line: every subcommand, flag and help text, and the exit codes.

Kept apart from the commands so `--help` is one file to read and review.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta, timezone
from pathlib import Path
from typing import NoReturn

from crawler import __version__
from crawler.cli_commands import add_command_parsers
from crawler.redis_options import add_redis_options

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_STORAGE = 4
EXIT_DISK_FULL = 5
EXIT_INTERRUPTED = 130

JST = timezone(timedelta(hours=9))

EPILOG = """\
exit codes:
  0    success
  1    the command ran but found or hit problems (verify found damage, a crawl failed)
  2    usage or configuration mistake (wrong flag, unknown outlet or topic, unreadable file)
  3    another crawl is running on the same archive root (crawl and demo; nothing was done)
  4    the s3:// store cannot be used (missing bucket, refused credentials, unreachable endpoint)
  5    the disk under the archive root is full (crawl and demo stop; the next run repairs)
  130  interrupted (Ctrl-C or SIGTERM; a crawl stops gracefully, a second signal stops it at once)

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
        "(default: skip them; feeds and sitemaps are always asked, conditionally)",
    )
    p.add_argument(
        "--full-discovery",
        action="store_true",
        help="walk listings and site search even when an earlier run covered this window's start "
        "(default: a repeat run asks only feeds and sitemaps)",
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
            help="fetch OUTLET from another origin (a mirror, a staging copy, the simulator); repeatable. "
            "The origin's host and port are allow-listed for the SSRF guard (see --allow-host)",
        )
        p.add_argument(
            "--allow-host",
            action="append",
            default=[],
            metavar="HOST[:PORT]",
            help="let the crawl reach HOST (on PORT only, when given) although it is, or resolves to, a "
            "loopback, private, link-local, multicast or reserved address, which are otherwise refused "
            "(requests and every redirect hop); IPv6 with a port as [ADDR]:PORT; repeatable "
            "(setting SSRF_ALLOW_HOSTS)",
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
        add_redis_options(p)


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
    reindex.add_argument("root", metavar="ROOT", help="archive root folder, or s3://bucket/prefix")
    reindex.add_argument(
        "--spool",
        metavar="DIR",
        help="for an s3:// root: the local folder its catalog lives in (default: the crawl's spool)",
    )

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
    add_command_parsers(sub)
    return parser

"""`newsarchive get`: every archived version of one article, by its canonical URL or any variant of it
(mobile, AMP, tracking parameters: canonicalised by the outlet's spider; the URL actually fetched),
printed as text or JSON, its original HTML, or its WARC records (archive.lookup)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crawler.cli_parser import EXIT_OK, EXIT_PROBLEMS, _positive_int
from crawler.cli_selection import open_archive_root


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "get",
        help="every archived version of one article, by URL (any variant: mobile, AMP, fetched URL)",
        description=(
            "Look an article up by URL and print its archived versions (oldest first): --text (default)\n"
            "title, dates and clean text of each; --json the article rows; --html the page as fetched,\n"
            "decoded with the charset the crawl used (one version: the latest unless --version N);\n"
            "--warc the request, response and metadata records of every version as a .warc.gz.\n"
            "Exit 1 when the archive holds no version of the article. (get-record reads by offset.)"
        ),
        epilog=(
            "examples:\n"
            '  newsarchive get ./archive "https://www.jiji.com/sp/article?k=2025032001398&g=int"\n'
            "  newsarchive get ./archive https://www.asahi.com/articles/AST3F0BTAT3FFNGC79IE.html --html --out page.html\n"
            "  newsarchive get ./archive URL --warc --out article.warc.gz"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("root", metavar="ROOT", help="archive root: a folder or s3://bucket/prefix")
    p.add_argument("url", metavar="URL", help="the article's URL, canonical or any variant")
    what = p.add_mutually_exclusive_group()
    for flag, text in (
        ("--text", "title, dates and clean text of each version (default)"),
        ("--json", "the article rows as a JSON array"),
        ("--html", "the original page, decoded with the right charset"),
        ("--warc", "the WARC records of every version (gzip members, a valid .warc.gz)"),
    ):
        what.add_argument(flag, dest="mode", action="store_const", const=flag[2:], help=text)
    p.add_argument("--version", type=_positive_int, metavar="N", help="--html: the N-th version, 1 = oldest")
    p.add_argument("--out", type=Path, metavar="PATH", help="write to this file instead of stdout")


def canonicalizer() -> Callable[[str], str]:
    """The outlets' own canonicalisation (mobile and AMP paths, tracking parameters), by host."""
    from urllib.parse import urlsplit

    from spiders.registry import load_outlets

    outlets = load_outlets()

    def canonicalize(url: str) -> str:
        host = (urlsplit(url).hostname or "").lower()
        for cls in outlets.values():
            if host in cls.hosts:
                return str(cls().canonicalize(url))
        return url

    return canonicalize


def _text(versions: list[dict[str, Any]]) -> str:
    out = []
    for n, row in enumerate(versions, start=1):
        pointer = row.get("warc") or {}
        out += [
            f"== version {n}/{len(versions)}: run {row.get('run_id')}, fetched {row.get('fetched_at')}",
            f"url:          {row.get('url')}",
            f"outlet:       {row.get('outlet')}",
            f"title:        {row.get('title')}",
            f"published_at: {row.get('published_at')}",
            f"warc:         {pointer.get('path')} @ {pointer.get('offset')} ({pointer.get('record_id')})",
            "",
            str(row.get("text") or ""),
            "",
        ]
    return "\n".join(out)


def cmd_get(args: argparse.Namespace) -> int:
    from archive.lookup import article_versions, original_html, version_records

    root = open_archive_root(args.root)
    versions = article_versions(root, args.url, canonicalize=canonicalizer())
    if not versions:
        print(f"newsarchive: {args.url}: no archived version of this article in {args.root}", file=sys.stderr)
        return EXIT_PROBLEMS
    mode = args.mode or "text"
    if mode == "warc":
        data = b"".join(r.data for row in versions for r in version_records(root, row))
    elif mode == "html":
        index = (args.version or len(versions)) - 1
        if index >= len(versions):
            print(f"newsarchive: --version {args.version}: the article has {len(versions)}", file=sys.stderr)
            return EXIT_PROBLEMS
        data = original_html(root, versions[index])[0].encode("utf-8")
    elif mode == "json":
        data = (json.dumps(versions, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        data = _text(versions).encode("utf-8")
    if args.out is not None:
        args.out.write_bytes(data)
        print(f"Wrote {len(versions)} version(s) of {versions[-1].get('url')} to {args.out} ({mode})")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


COMMANDS = {"get": cmd_get}

"""`newsarchive search`: full-text search over an archive's articles (archive.search_index), printed
as outlet, date, title and a snippet with the matches between [ and ], or as JSON."""

from __future__ import annotations

import argparse
import json

from crawler.cli_parser import EXIT_OK, UsageError, _positive_int
from crawler.cli_selection import add_root_argument, add_selection_options, open_archive_root, selection_from


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "search",
        help="full-text search (Japanese included) over an archive's articles",
        description=(
            "Find the articles (latest versions) whose title or text contains every word of QUERY, anywhere,\n"
            "mid-word included (words are separated by spaces; Japanese needs none inside a word). Prints\n"
            "outlet, published day, title, URL and a snippet with the matches between [ and ], newest first.\n"
            "The index (ROOT/.search.sqlite) is built on first use and refreshed incrementally."
        ),
        epilog=(
            "examples:\n"
            '  newsarchive search ./archive "軍事協力"\n'
            '  newsarchive search ./archive "北朝鮮 兵" --outlet jiji --since 2025-03-01 --limit 10 --json'
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_root_argument(p)
    p.add_argument("query", metavar="QUERY", help="the words to find (all must occur)")
    add_selection_options(p)
    p.add_argument(
        "--limit", type=_positive_int, default=50, metavar="N", help="at most N hits (default: 50)"
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object per hit (snippet offsets and HTML included)"
    )


def cmd_search(args: argparse.Namespace) -> int:
    from archive.search_index import search

    if not args.query.replace("\u3000", " ").strip():
        raise UsageError("QUERY: give at least one word to search for")
    selection = selection_from(args)
    root = open_archive_root(args.root)
    hits = search(root, args.query, selection, limit=args.limit)
    for hit in hits:
        if args.json:
            print(json.dumps(hit.as_json(), ensure_ascii=False))
            continue
        day = (hit.published_at or "????-??-??")[:10]
        print(f"{hit.outlet:<8} {day}  {hit.title}")
        print(f"         {hit.url}")
        print(f"         {hit.snippet}")
    if not args.json:
        more = " (limit reached: --limit N shows more)" if len(hits) == args.limit else ""
        print(f"{len(hits)} article(s){more}")
    return EXIT_OK


COMMANDS = {"search": cmd_search}

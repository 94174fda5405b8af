"""`newsarchive serve ROOT`: a local web page to browse, search and download an archive.

Loopback only unless `--public` is given: the server has no authentication, and anyone who can reach
it can read (and download) the whole archive.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from crawler.cli_parser import EXIT_OK, UsageError

DESCRIPTION = """\
Serve a small web page on this machine to browse and search an archive: filters for topic, outlet,
published dates and a full-text query (Japanese works mid-word), a per-day count chart of the selection,
each article's clean text, metadata, topic matches and versions, and links to download the selection as
JSONL, Parquet, CSV or WACZ. Works offline (no script, fonts or styles from anywhere else).
The page is at the URL printed on stdout; Ctrl-C stops the server."""

EPILOG = """\
examples:
  newsarchive serve ./archive                    http://127.0.0.1:<random port>/
  newsarchive serve ./archive --port 8080
  newsarchive serve s3://bucket/news --port 8080
  newsarchive serve ./archive --host 0.0.0.0 --port 8080 --public   (reachable from other machines)"""


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve",
        help="browse, search and download an archive in a local web page",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("root", metavar="ROOT", help="archive root folder or s3://bucket/prefix")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, a free port)")
    p.add_argument(
        "--public",
        action="store_true",
        help="allow a --host that is not loopback: anyone who reaches it can read the whole archive",
    )


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) only ever means this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def cmd_serve(args: argparse.Namespace) -> int:
    from archive.root_access import RootError, open_root
    from crawler.browse_server import BrowseServer

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: must be between 0 and 65535")
    host = str(args.host).strip("[]")
    if not is_loopback(host):
        if not args.public:
            raise UsageError(
                f"--host {args.host}: not a loopback address; add --public to serve the archive to "
                "every machine that can reach it (no authentication)"
            )
        print(
            f"newsarchive serve: warning: listening on {args.host}, reachable beyond this machine, "
            "without authentication",
            file=sys.stderr,
        )
    try:
        root = open_root(args.root)
    except RootError as exc:
        raise UsageError(str(exc)) from None
    if root.store is not None:
        from archive.article_index import open_index

        # A bucket that cannot be read (missing, refused credentials, endpoint down) is one line and exit
        # 4 here, not a server whose every page is an error; and the first page finds the index ready.
        open_index(root).close()
    try:
        server = BrowseServer(root, host, args.port, public=args.public)
    except OSError as exc:
        raise UsageError(f"--host {args.host} --port {args.port}: cannot listen ({exc.strerror})") from None
    print(f"Serving {root.url} at {server.url}", flush=True)
    print("Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return EXIT_OK


COMMANDS = {"serve": cmd_serve}

"""The catalog: what an archive root already holds, so a repeat crawl fetches only what is new.

An index, never the truth: built from the root's CDXJ indexes (one per closed or repaired WARC file),
its closed JSONL article files and its run manifests, and rebuilt from them at will (`newsarchive
reindex`). SQLite (stdlib, one file, transactional: a crash mid-refresh rolls back) at
`<root>/.catalog.sqlite`, a dot-name that verify, manifests and publishing ignore. Each source file is
immutable once it has its final name, so a refresh reads only the files it has not ingested yet.

For an s3:// archive the root is the local spool, which may have shed published runs
(`--delete-local`): pass the store too, and its `.cdxj`, `.jsonl.gz` (or older `.jsonl`) and manifest objects are ingested
as well (same keys as locally; whichever is seen first is read).

A URL counts as archived (`archived()`) when
- an article row in a closed JSONL file names it (canonical `url` or `fetched_url`) and points into an
  indexed WARC file; or
- a metadata record (the article's JSON, written before its row) exists for it; or
- a complete response (status 200, or a revisit of one) for it sits in a WARC file that a finished run
  listed in its manifest as its own: such a run processed every page it fetched, so a page without a
  row was judged (off-topic) rather than lost.
A response that survived a crashed run without its metadata record does not count: the page may have
been lost between capture and extraction, so it is fetched again (and written as a revisit record).

Pages fetched through a base-URL override (the simulator, a mirror: OUTLET_BASE_URLS) are known under
the override origin, which may differ from one crawl to the next (the demo picks random ports). The
override maps origins only, so each such capture is also recorded under an origin-independent key,
(outlet, path?query), read from its WARC file's warcinfo `outlet-base-urls`; `archived_path()` asks
the same question as `archived()` by that key (captures only: a kept article's row is found by its
canonical URL already). An origin shared by several outlets names no outlet, so gets no key.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from archive.cdxj import CDXJ_SUFFIX, CdxjLine
from archive.jsonl import read_rows
from archive.paths import ARTICLES_DIR, MANIFEST_NAME, RUNS_DIR, WARC_DIR, is_row_file
from archive.storage import Store
from archive.warc_writer import METADATA_URI_PREFIX, warc_target_uri

CATALOG_NAME = ".catalog.sqlite"
SCHEMA_VERSION = 2  # 2: captures.outlet / captures.path_qs
_TABLES = ("ingested", "warc_files", "finished_warcs", "captures", "articles")
# A warcinfo record is about 1 KiB compressed; read no more than this to find it.
_WARCINFO_MAX = 1 << 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingested (key TEXT PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS warc_files (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS finished_warcs (path TEXT PRIMARY KEY, run_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS captures (
    uri TEXT NOT NULL,          -- WARC-Target-URI (metadata records: urn:newsarchive:article:<fetched>)
    kind TEXT NOT NULL,         -- response | revisit | metadata | other
    status INTEGER,
    warc_path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    record_id TEXT,
    digest TEXT,
    date TEXT,
    outlet TEXT,                -- set only for a capture fetched through an outlet's override origin
    path_qs TEXT                -- then its path?query: the same page whatever the origin
);
CREATE INDEX IF NOT EXISTS captures_uri ON captures (uri);
CREATE INDEX IF NOT EXISTS captures_page ON captures (path_qs, outlet);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT NOT NULL,          -- canonical URL on the outlet's real origin
    fetched_url TEXT,
    outlet TEXT,
    published_at TEXT,
    run_id TEXT,
    jsonl TEXT NOT NULL,
    warc_path TEXT,
    offset INTEGER,
    length INTEGER,
    record_id TEXT,
    digest TEXT,
    date TEXT
);
CREATE INDEX IF NOT EXISTS articles_url ON articles (url);
CREATE INDEX IF NOT EXISTS articles_fetched ON articles (fetched_url);
"""


class Catalog:
    def __init__(self, conn: sqlite3.Connection, root: Path, store: Store | None = None) -> None:
        self.conn = conn
        self.root = Path(root)
        self.store = store

    @classmethod
    def open(cls, root: Path, store: Store | None = None) -> Catalog:
        """Open (creating if needed) the catalog of a local root; it is not refreshed here."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(root / CATALOG_NAME, timeout=30)
        stored = _stored_version(conn)
        if stored is not None and stored != str(SCHEMA_VERSION):
            # Tables of another version may lack columns the schema's indexes need: drop them, keep
            # `meta` (its old version makes the branch below rebuild).
            drops = "".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES)
            conn.executescript(f"BEGIN IMMEDIATE;{drops}COMMIT;")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        catalog = cls(conn, root, store)
        if row is None:
            with conn:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif row[0] != str(SCHEMA_VERSION):
            catalog.rebuild()  # an index from another version of this software: rebuild, never migrate
        return catalog

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building ---------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Ingest every index, article file and manifest not ingested yet; return how many files."""
        done = {key for (key,) in self.conn.execute("SELECT key FROM ingested")}
        count = 0
        for key, kind in self._sources():
            if key in done:
                continue
            data = self._read(key)
            if data is None:
                continue
            # One transaction per file: a crash leaves each file either wholly ingested or not at all.
            # Claiming the key first takes SQLite's write lock, so another process refreshing the same
            # catalog (two crawls of one root) waits, then sees the key taken and skips the file.
            with self.conn:
                claimed = self.conn.execute("INSERT OR IGNORE INTO ingested VALUES (?, ?)", (key, kind))
                if claimed.rowcount:
                    getattr(self, f"_ingest_{kind}")(key, data)
                    count += 1
            done.add(key)
        return count

    def rebuild(self) -> int:
        """Forget everything and ingest the whole root again; return how many files were read."""
        with self.conn:
            for table in _TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        return self.refresh()

    def _sources(self) -> list[tuple[str, str]]:
        keys: set[str] = set()
        for folder in (WARC_DIR, ARTICLES_DIR, RUNS_DIR):
            base = self.root / folder
            if base.is_dir():
                keys.update(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        if self.store is not None:
            for folder in (WARC_DIR, ARTICLES_DIR, RUNS_DIR):
                keys.update(info.key for info in self.store.list_objects(f"{folder}/"))
        sources = [(key, kind) for key in keys if (kind := _kind(key))]
        # Manifests before WARC indexes before rows: order does not change the result, only reads well.
        order = {"manifest": 0, "cdxj": 1, "jsonl": 2}
        return sorted(sources, key=lambda item: (order[item[1]], item[0]))

    def _read(self, key: str) -> bytes | None:
        local = self.root / key
        if local.is_file():
            return local.read_bytes()
        if self.store is not None:
            return self.store.read_bytes(key)
        return None

    def _ingest_manifest(self, key: str, data: bytes) -> None:
        manifest = json.loads(data.decode("utf-8"))
        run_id = str(manifest.get("run_id") or PurePosixPath(key).parent.name)
        for entry in manifest.get("files", []):
            if isinstance(entry, dict) and entry.get("kind") == "warc" and entry.get("path"):
                self.conn.execute(
                    "INSERT OR IGNORE INTO finished_warcs VALUES (?, ?)", (entry["path"], run_id)
                )

    def _ingest_cdxj(self, key: str, data: bytes) -> None:
        folder = PurePosixPath(key).parent.as_posix()
        warc_paths: set[str] = set()
        rows = []
        lines = list(_cdxj_lines(data))
        outlets = self._override_origins(folder, lines)
        for line in lines:
            fields = line.fields
            warc_path = f"{folder}/{fields['filename']}"
            warc_paths.add(warc_path)
            uri = str(fields.get("url", ""))
            status = int(fields["status"]) if str(fields.get("status", "")).isdigit() else None
            if uri.startswith(METADATA_URI_PREFIX):
                kind = "metadata"
            elif fields.get("mime") == "warc/revisit":
                kind = "revisit"
            elif status is not None and not fields.get("warc-truncated"):
                kind = "response"
            else:
                kind = "other"  # truncated, or a record type this catalog has no use for
            outlet, path_qs = None, None
            page = uri.removeprefix(METADATA_URI_PREFIX)
            if (origin_outlet := outlets.get(warc_path, {}).get(_origin(page))) is not None:
                outlet, path_qs = origin_outlet, path_query(page)
            rows.append(
                (
                    uri,
                    kind,
                    status,
                    warc_path,
                    int(fields["offset"]),
                    int(fields["length"]),
                    fields.get("warc-record-id"),
                    fields.get("digest"),
                    fields.get("warc-date"),
                    outlet,
                    path_qs,
                )
            )
        if not warc_paths:
            warc_paths.add(f"{folder}/{PurePosixPath(key).name.removesuffix(CDXJ_SUFFIX)}.warc.gz")
        self.conn.executemany("INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.executemany("INSERT OR IGNORE INTO warc_files VALUES (?)", [(p,) for p in warc_paths])

    def _override_origins(self, folder: str, lines: list[CdxjLine]) -> dict[str, dict[str, str]]:
        """{warc path: {override origin: outlet}} from each WARC file's warcinfo, for these index lines."""
        first: dict[str, int] = {}  # the first record after the warcinfo: where the warcinfo ends
        for line in lines:
            path = f"{folder}/{line.fields['filename']}"
            first[path] = min(first.get(path, _WARCINFO_MAX), int(line.fields["offset"]) or _WARCINFO_MAX)
        result = {}
        for path, end in first.items():
            raw = _warcinfo_fields(self._read_head(path, end)).get("outlet-base-urls")
            if raw:
                result[path] = _origins_to_outlet(raw)
        return result

    def _read_head(self, key: str, length: int) -> bytes:
        """The first bytes of a WARC file, local or in the store; b"" when it is in neither."""
        try:
            local = self.root / key
            if local.is_file():
                with local.open("rb") as fh:
                    return fh.read(length)
            if self.store is not None:
                return self.store.read_range(key, 0, length)
        except Exception:  # any store error: a missing or unreadable file only costs the path keys
            return b""
        return b""

    def _ingest_jsonl(self, key: str, data: bytes) -> None:
        rows = []
        for row in read_rows(data):
            pointer = row.get("warc") or {}
            rows.append(
                (
                    row.get("url"),
                    row.get("fetched_url"),
                    row.get("outlet"),
                    row.get("published_at"),
                    row.get("run_id"),
                    key,
                    pointer.get("path"),
                    pointer.get("offset"),
                    pointer.get("length"),
                    pointer.get("record_id"),
                    pointer.get("payload_digest"),
                    pointer.get("date"),
                )
            )
        self.conn.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # -- questions ----------------------------------------------------------------------------------------

    def archived(self, url: str) -> bool:
        """Whether the archive already holds this page (see the module docstring for the rule)."""
        uris = sorted({url, warc_target_uri(url)})
        marks = ",".join("?" * len(uris))
        queries = [
            (
                f"SELECT 1 FROM articles a JOIN warc_files w ON w.path = a.warc_path "
                f"WHERE a.url IN ({marks}) OR a.fetched_url IN ({marks}) LIMIT 1",
                uris + uris,
            ),
            (
                f"SELECT 1 FROM captures WHERE kind = 'metadata' AND uri IN ({marks}) LIMIT 1",
                [METADATA_URI_PREFIX + u for u in uris],
            ),
            (
                f"SELECT 1 FROM captures c JOIN finished_warcs f ON f.path = c.warc_path "
                f"WHERE c.uri IN ({marks}) AND c.status = 200 AND c.kind IN ('response', 'revisit') LIMIT 1",
                uris,
            ),
        ]
        return any(self.conn.execute(sql, params).fetchone() for sql, params in queries)

    def archived_path(self, outlet: str, path_qs: str) -> bool:
        """Whether a page of `outlet` with this path?query (see `path_query`) was archived through an
        override origin, whichever: the `archived()` rule for captures (metadata record, or a complete
        response of a finished run)."""
        sql = (
            "SELECT 1 FROM captures c LEFT JOIN finished_warcs f ON f.path = c.warc_path "
            "WHERE c.path_qs = ? AND c.outlet = ? AND (c.kind = 'metadata' OR "
            "(f.path IS NOT NULL AND c.status = 200 AND c.kind IN ('response', 'revisit'))) LIMIT 1"
        )
        return self.conn.execute(sql, (path_qs, outlet)).fetchone() is not None

    def counts(self) -> dict[str, int]:
        tables = ("ingested", "warc_files", "captures", "articles", "finished_warcs")
        return {t: int(self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}

    def captures_of(self, url: str) -> list[dict[str, Any]]:
        """Every record the catalog knows for a URL (as WARC-Target-URI), oldest first."""
        uris = sorted({url, warc_target_uri(url)})
        cursor = self.conn.execute(
            f"SELECT uri, kind, status, warc_path, offset, length, record_id, digest, date FROM captures "
            f"WHERE uri IN ({','.join('?' * len(uris))}) ORDER BY date",
            uris,
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


def path_query(url: str) -> str:
    """The origin-independent key of a page: its path?query as in a WARC-Target-URI (fragment dropped)."""
    parts = urlsplit(warc_target_uri(url))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _origins_to_outlet(raw: str) -> dict[str, str]:
    """warcinfo `outlet-base-urls` ({outlet: origin}, JSON) inverted; an origin of several outlets dropped."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    if not isinstance(value, dict):
        return {}
    result: dict[str, str] = {}
    shared: set[str] = set()
    for outlet, base in value.items():
        origin = _origin(str(base))
        if origin in result:
            shared.add(origin)
        result[origin] = str(outlet)
    return {origin: outlet for origin, outlet in result.items() if origin not in shared}


def _warcinfo_fields(head: bytes) -> dict[str, str]:
    """The fields of the warcinfo record a WARC file starts with (its first gzip member), from its first
    bytes; {} when it does not start with one. As archive.recovery.warcinfo_fields, from bytes."""
    try:
        out = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(head)
    except zlib.error:
        return {}
    header, _, block = out.partition(b"\r\n\r\n")
    if b"WARC-Type: warcinfo" not in header:
        return {}
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            fields.setdefault(name.strip(), value.strip())
    return fields


def _stored_version(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return None  # no meta table: a new (or empty) file
    return None if row is None else str(row[0])


def _kind(key: str) -> str | None:
    if any(part.startswith(".") for part in key.split("/")):
        return None  # temporary files of an atomic write, upload queues: not archive content
    if key.startswith(f"{WARC_DIR}/") and key.endswith(CDXJ_SUFFIX):
        return "cdxj"
    if is_row_file(key):
        return "jsonl"  # `.jsonl.gz.open` files are still being written (or lost): never ingested
    parts = key.split("/")
    if len(parts) == 3 and parts[0] == RUNS_DIR and parts[2] == MANIFEST_NAME:
        return "manifest"
    return None


def _cdxj_lines(data: bytes) -> Iterator[CdxjLine]:
    for line in data.decode("utf-8").splitlines():
        if not line.strip() or line.startswith("!"):
            continue
        urlkey, timestamp, fields = line.split(" ", 2)
        yield CdxjLine(urlkey, timestamp, json.loads(fields))

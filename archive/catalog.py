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

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path, PurePosixPath
from typing import Any

from archive import catalog_schema
from archive.catalog_sources import (
    article_rows,
    capture_rows,
    cdxj_lines,
    finished_warcs,
    list_sources,
    origins_to_outlet,
    read_head,
    read_source,
    warcinfo_ends,
    warcinfo_fields,
)
from archive.catalog_urls import EVENT_INSERT, EVENT_SELECT, UrlState, event_rows, fold
from archive.cdxj import CdxjLine
from archive.jsonl import read_rows
from archive.storage import Store
from archive.warc_records import METADATA_URI_PREFIX, warc_target_uri

CATALOG_NAME = ".catalog.sqlite"


class Catalog:
    """The catalog of one archive root (tables: archive.catalog_schema; sources: archive.catalog_sources)."""

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
        catalog = cls(conn, root, store)
        if catalog_schema.create_schema(conn):
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
        for key, kind in list_sources(self.root, self.store):
            if key in done:
                continue
            data = read_source(self.root, self.store, key)
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
        catalog_schema.clear(self.conn)
        return self.refresh()

    def _ingest_manifest(self, key: str, data: bytes) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO finished_warcs VALUES (?, ?)", finished_warcs(key, data))

    def _ingest_cdxj(self, key: str, data: bytes) -> None:
        lines = list(cdxj_lines(data))
        outlets = self._override_origins(PurePosixPath(key).parent.as_posix(), lines)
        rows, warc_paths = capture_rows(key, lines, outlets)
        self.conn.executemany("INSERT INTO captures VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.executemany("INSERT OR IGNORE INTO warc_files VALUES (?)", [(p,) for p in warc_paths])

    def _override_origins(self, folder: str, lines: list[CdxjLine]) -> dict[str, dict[str, str]]:
        """{warc path: {override origin: outlet}} from each WARC file's warcinfo, for these index lines."""
        result = {}
        for path, end in warcinfo_ends(folder, lines).items():
            raw = warcinfo_fields(read_head(self.root, self.store, path, end)).get("outlet-base-urls")
            if raw:
                result[path] = origins_to_outlet(raw)
        return result

    def _ingest_urls(self, key: str, data: bytes) -> None:
        events, validators = event_rows(data)
        self.conn.executemany(EVENT_INSERT, events)
        # The newest validators win: a ledger ingested late (an S3 run published after a later one)
        # never replaces a newer ETag with an older one.
        self.conn.executemany(
            "INSERT INTO validators VALUES (?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "time = excluded.time, etag = excluded.etag, last_modified = excluded.last_modified "
            "WHERE excluded.time >= validators.time",
            validators,
        )

    def _ingest_jsonl(self, key: str, data: bytes) -> None:
        rows = article_rows(key, data)
        self.conn.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # -- questions ----------------------------------------------------------------------------------------

    def archived(self, url: str) -> bool:
        """Whether the archive already holds this page (see the module docstring for the rule)."""
        return self.archived_any([url])

    def archived_any(self, urls: Iterable[str]) -> bool:
        """Whether the archive holds the page under any of `urls` (one set of queries for them all)."""
        uris = sorted({u for url in urls for u in (url, warc_target_uri(url))})
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
        """Whether a page of `outlet` with this path?query (see catalog_sources.path_query) was archived
        through an override origin, whichever: the `archived()` rule for captures (metadata record, or a
        complete response of a finished run)."""
        sql = (
            "SELECT 1 FROM captures c LEFT JOIN finished_warcs f ON f.path = c.warc_path "
            "WHERE c.path_qs = ? AND c.outlet = ? AND (c.kind = 'metadata' OR "
            "(f.path IS NOT NULL AND c.status = 200 AND c.kind IN ('response', 'revisit'))) LIMIT 1"
        )
        return self.conn.execute(sql, (path_qs, outlet)).fetchone() is not None

    def url_state(self, url: str) -> UrlState | None:
        """What the archive knows of one URL across runs (archive.catalog_urls)."""
        cursor = self.conn.execute(f"{EVENT_SELECT} WHERE url = ? ORDER BY time, rowid", (url,))
        names = [d[0] for d in cursor.description]
        return fold(dict(zip(names, row, strict=True)) for row in cursor)

    def url_states(self, outlet: str | None = None) -> Iterator[UrlState]:
        """Every URL's state (of one outlet), one URL at a time."""
        where, params = ("WHERE outlet = ?", (outlet,)) if outlet else ("", ())
        cursor = self.conn.execute(f"{EVENT_SELECT} {where} ORDER BY url, time, rowid", params)
        names = [d[0] for d in cursor.description]
        rows = (dict(zip(names, row, strict=True)) for row in cursor)
        for _, events in groupby(rows, key=lambda r: r["url"]):
            state = fold(events)
            if state is not None:
                yield state

    def article_row(self, url: str, record_id: str | None = None) -> dict[str, Any] | None:
        """The archived JSON row of an article (the version extracted from the response `record_id`,
        else the newest), read from its article file."""
        sql = "SELECT jsonl, record_id FROM articles WHERE url = ? ORDER BY date DESC"
        for key, rid in self.conn.execute(sql, (url,)).fetchall():
            if record_id is not None and rid != record_id:
                continue
            data = read_source(self.root, self.store, key)
            for row in read_rows(data) if data is not None else ():
                if row.get("url") == url and (record_id is None or row["warc"]["record_id"] == record_id):
                    return row
        return None

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) of the newest capture of a discovery document."""
        row = self.conn.execute("SELECT etag, last_modified FROM validators WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def counts(self) -> dict[str, int]:
        tables = ("ingested", "warc_files", "captures", "articles", "finished_warcs", "url_events")
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

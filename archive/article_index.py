"""The article index of an archive root: every article row, filterable and full-text searchable, in SQLite.

An index, never the truth (like archive.catalog, beside which it lives): `<root>/.search.sqlite` holds one
row per article version read from the closed JSONL article files (local, and in the store of an s3://
archive), with the fields selections filter on, the accepted topics, the row itself (zlib-compressed
JSON, so a selection streams rows without re-reading gzip partitions) and, for the latest version of
each article only, its title and text in an FTS5 table with the trigram tokenizer: Japanese has no
spaces between words, and trigrams find any substring of three characters or more. Article files are
immutable once closed, so a refresh reads only the files it has not ingested yet, one transaction per
file. A file written by another version of this module is dropped and rebuilt, never migrated.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from archive.article_stamp import STAMP_KEY as _STAMP_KEY
from archive.article_stamp import folder_stamp
from archive.catalog_sources import list_sources, path_query
from archive.jsonl import read_rows
from archive.paths import ARTICLES_DIR, JST, jst_date
from archive.root_access import ArchiveRoot, open_root
from archive.storage import Store

INDEX_NAME = ".search.sqlite"
INDEX_VERSION = "3"  # 2: docs_url on (url, latest); 3: outlet/day indexes
MIN_TRIGRAM = 3  # FTS5 trigram: shorter terms cannot use the index (substring search instead)
_BATCH = 500
_NARROW_DAYS = 92  # a day range up to this long is read through the day indexes (see ArticleIndex.where)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingested (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,          -- canonical URL: what versions of one article share
    fetched_url TEXT,
    target_uri TEXT,            -- the WARC-Target-URI of its response record
    path_qs TEXT,               -- path?query of the canonical URL (origin-independent lookups)
    outlet TEXT,
    title TEXT,
    published_at TEXT,
    published_key TEXT NOT NULL, -- published_at in UTC, sortable; '' when unknown
    day TEXT NOT NULL,          -- JST calendar day of published_at, or 'unknown'
    fetched_at TEXT,
    run_id TEXT,
    jsonl TEXT NOT NULL,        -- the article file (archive key) and line the row was read from
    line INTEGER NOT NULL,
    latest INTEGER NOT NULL,    -- 1 for the latest version of its url
    row BLOB NOT NULL           -- zlib(JSON of the row)
);
-- (url, latest): finding a URL's current version is one index probe, not a scan of every latest row.
CREATE INDEX IF NOT EXISTS docs_url ON docs (url, latest);
CREATE INDEX IF NOT EXISTS docs_fetched ON docs (fetched_url);
CREATE INDEX IF NOT EXISTS docs_target ON docs (target_uri);
CREATE INDEX IF NOT EXISTS docs_path ON docs (path_qs);
CREATE INDEX IF NOT EXISTS docs_latest ON docs (latest, published_key);
-- A selection by outlet and days reads only those days' rows, not every latest row in date order.
CREATE INDEX IF NOT EXISTS docs_outlet_day ON docs (outlet, day, latest);
CREATE INDEX IF NOT EXISTS docs_day ON docs (day, latest);
CREATE TABLE IF NOT EXISTS doc_topics (doc_id INTEGER NOT NULL, topic TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS doc_topics_topic ON doc_topics (topic, doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, text, tokenize='trigram');
"""
_TABLES = ("ingested", "docs", "doc_topics", "fts")


class Filters(Protocol):
    """What the index filters on: archive.selection.Selection (which imports this module, not the reverse)."""

    @property
    def topics(self) -> tuple[str, ...]: ...
    @property
    def outlets(self) -> tuple[str, ...]: ...
    @property
    def since(self) -> date | None: ...
    @property
    def until(self) -> date | None: ...
    @property
    def query(self) -> str | None: ...


def published_key(published_at: str | None) -> str:
    """A sortable UTC form of published_at ('' when unknown); a value without offset is JST."""
    if not published_at:
        return ""
    try:
        parsed = datetime.fromisoformat(published_at.strip())
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=JST)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def accepted_topics(row: dict[str, Any]) -> list[str]:
    return sorted(
        {str(t.get("name")) for t in row.get("topics") or [] if isinstance(t, dict) and t.get("accepted")}
    )


def encode_row(row: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(row, ensure_ascii=False).encode("utf-8"), 6)


def decode_row(blob: bytes) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return row


def query_terms(query: str | None) -> list[str]:
    """The terms of a full-text query: separated by (ASCII or ideographic) spaces, all required."""
    return [t for t in (query or "").replace("\u3000", " ").split(" ") if t]


class ArticleIndex:
    def __init__(self, conn: sqlite3.Connection, root: ArchiveRoot) -> None:
        self.conn = conn
        self.root = root

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ArticleIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- building ---------------------------------------------------------------------------------------

    def refresh(self) -> int:
        """Ingest every closed article file not ingested yet; return how many."""
        # A local root whose article folders are as they were at the last complete refresh has nothing new:
        # a file is added by a rename into its date folder, which changes that folder's mtime. Stamped
        # before the walk, so what arrives during it is seen by the next refresh.
        stamp = folder_stamp(self.root.local / ARTICLES_DIR) if self.root.store is None else None
        if stamp is not None and stamp == self._meta(_STAMP_KEY):
            return 0
        done = {key for (key,) in self.conn.execute("SELECT key FROM ingested")}
        count = 0
        for key, kind in list_sources(self.root.local, self.root.store, (ARTICLES_DIR,)):
            if kind != "jsonl" or key in done:
                continue
            data = self.root.read_bytes(key)
            # One transaction per file; claiming the key first serialises two processes refreshing the
            # same index (the second waits, then finds the key taken).
            with self.conn:
                if self.conn.execute("INSERT OR IGNORE INTO ingested VALUES (?)", (key,)).rowcount:
                    self._ingest(key, read_rows(data))
                    count += 1
        if stamp is not None:
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_STAMP_KEY, stamp))
        elif self._meta(_STAMP_KEY) is not None:
            with self.conn:  # a stamp that cannot be trusted now is no reference for the next refresh
                self.conn.execute("DELETE FROM meta WHERE name = ?", (_STAMP_KEY,))
        return count

    def _meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _ingest(self, key: str, rows: Iterable[dict[str, Any]]) -> None:
        for line, row in enumerate(rows, start=1):
            url = str(row.get("url") or "")
            if not url:
                continue
            order = (str(row.get("fetched_at") or ""), str(row.get("run_id") or ""), key, line)
            current = self.conn.execute(
                "SELECT id, fetched_at, run_id, jsonl, line FROM docs WHERE url = ? AND latest = 1", (url,)
            ).fetchone()
            latest = current is None or order > (current[1] or "", current[2] or "", current[3], current[4])
            if latest and current is not None:
                self.conn.execute("UPDATE docs SET latest = 0 WHERE id = ?", (current[0],))
                self.conn.execute("DELETE FROM fts WHERE rowid = ?", (current[0],))
            pointer = row.get("warc") or {}
            cursor = self.conn.execute(
                "INSERT INTO docs (url, fetched_url, target_uri, path_qs, outlet, title, published_at, "
                "published_key, day, fetched_at, run_id, jsonl, line, latest, row) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    url,
                    row.get("fetched_url"),
                    pointer.get("target_uri") if isinstance(pointer, dict) else None,
                    path_query(url),
                    row.get("outlet"),
                    row.get("title"),
                    row.get("published_at"),
                    published_key(row.get("published_at")),
                    jst_date(row.get("published_at")),
                    row.get("fetched_at"),
                    row.get("run_id"),
                    key,
                    line,
                    int(latest),
                    encode_row(row),
                ),
            )
            doc_id = cursor.lastrowid
            self.conn.executemany(
                "INSERT INTO doc_topics VALUES (?, ?)", [(doc_id, t) for t in accepted_topics(row)]
            )
            if latest:
                self.conn.execute(
                    "INSERT INTO fts (rowid, title, text) VALUES (?, ?, ?)",
                    (doc_id, str(row.get("title") or ""), str(row.get("text") or "")),
                )

    # -- questions ----------------------------------------------------------------------------------------

    def where(self, selection: Filters) -> tuple[str, list[Any]]:
        """The WHERE clause (over `docs d`) of a selection, latest versions only, and its parameters."""
        # A few weeks or months: read those days' rows (docs_day, docs_outlet_day) and sort them. Left to
        # itself SQLite walks every latest row newest first (docs_latest, no sort) to stop at the LIMIT,
        # which tests the whole newer part of the archive first (issue 11: 2-character terms under a
        # one-month filter). The unary + keeps docs_latest out of the plan.
        narrow = (
            selection.since and selection.until and (selection.until - selection.since).days <= _NARROW_DAYS
        )
        clauses, params = ["+d.latest = 1" if narrow else "d.latest = 1"], []
        if selection.outlets:
            clauses.append(f"d.outlet IN ({','.join('?' * len(selection.outlets))})")
            params += list(selection.outlets)
        if selection.since or selection.until:
            clauses.append("d.day != 'unknown'")
        if selection.since:
            clauses.append("d.day >= ?")
            params.append(selection.since.isoformat())
        if selection.until:
            clauses.append("d.day <= ?")
            params.append(selection.until.isoformat())
        if selection.topics:
            marks = ",".join("?" * len(selection.topics))
            clauses.append(
                f"EXISTS (SELECT 1 FROM doc_topics t WHERE t.doc_id = d.id AND t.topic IN ({marks}))"
            )
            params += list(selection.topics)
        terms = query_terms(selection.query)
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM]
        if long_terms:
            match = " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms)
            clauses.append("d.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)")
            params.append(match)
        for term in terms:
            if len(term) < MIN_TRIGRAM:
                # Too short for trigrams: a substring test on the rows the other filters leave.
                # instr(), not LIKE: an exact substring test with no pattern to parse, about twice as fast.
                clauses.append(
                    "EXISTS (SELECT 1 FROM fts f WHERE f.rowid = d.id "
                    "AND (instr(f.title, ?) > 0 OR instr(f.text, ?) > 0))"
                )
                params += [term, term]
        return " AND ".join(clauses), params

    def select_ids(self, selection: Filters, limit: int | None = None) -> list[int]:
        """Ids of the selected docs, newest published first (unknown dates last, then by URL)."""
        return [doc_id for (doc_id,) in self.select_columns(selection, "d.id", limit)]

    def select_columns(self, selection: Filters, columns: str, limit: int | None = None) -> Iterator[Any]:
        """`columns` of the `docs d` table for the selected docs, in select_ids' order."""
        where, params = self.where(selection)
        sql = f"SELECT {columns} FROM docs d WHERE {where} ORDER BY d.published_key DESC, d.url"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        yield from self.conn.execute(sql, params)

    def rows(self, ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The rows of these docs, in the order given, read in small batches."""
        batch: list[int] = []
        for doc_id in ids:
            batch.append(doc_id)
            if len(batch) >= _BATCH:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, ids: list[int]) -> Iterator[dict[str, Any]]:
        found = dict(
            self.conn.execute(f"SELECT id, row FROM docs WHERE id IN ({','.join('?' * len(ids))})", ids)
        )
        for doc_id in ids:
            yield decode_row(found[doc_id])

    def docs(self, ids: list[int]) -> list[dict[str, Any]]:
        """The indexed columns (not the rows) of these docs, in the order given."""
        if not ids:
            return []
        cursor = self.conn.execute(
            f"SELECT d.*, f.text AS fts_text FROM docs d LEFT JOIN fts f ON f.rowid = d.id "
            f"WHERE d.id IN ({','.join('?' * len(ids))})",
            ids,
        )
        names = [c[0] for c in cursor.description]
        found = {row[0]: dict(zip(names, row, strict=True)) for row in cursor}
        return [found[i] for i in ids]

    def topics_of(self, ids: list[int]) -> dict[int, list[str]]:
        """{doc id: the topics it was accepted for, sorted} for these docs."""
        result: dict[int, list[str]] = {}
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            sql = (
                f"SELECT doc_id, topic FROM doc_topics WHERE doc_id IN ({','.join('?' * len(chunk))}) "
                f"ORDER BY doc_id, topic"
            )
            for doc_id, topic in self.conn.execute(sql, chunk):
                result.setdefault(doc_id, []).append(topic)
        return result

    def versions_of(self, urls: Iterable[str]) -> list[dict[str, Any]]:
        """Every version of the articles whose canonical URL, fetched URL or WARC target URI is one of
        `urls`, oldest first; by path?query (any origin) when nothing matches exactly."""
        wanted = sorted(set(urls))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        sql = (
            f"SELECT DISTINCT url FROM docs WHERE url IN ({marks}) OR fetched_url IN ({marks}) "
            f"OR target_uri IN ({marks})"
        )
        found = [u for (u,) in self.conn.execute(sql, wanted * 3)]
        if not found:
            paths = sorted({path_query(u) for u in wanted})
            found = [
                u
                for (u,) in self.conn.execute(
                    f"SELECT DISTINCT url FROM docs WHERE path_qs IN ({','.join('?' * len(paths))})", paths
                )
            ]
        if not found:
            return []
        cursor = self.conn.execute(
            f"SELECT row FROM docs WHERE url IN ({','.join('?' * len(found))}) "
            f"ORDER BY url, fetched_at, run_id, jsonl, line",
            found,
        )
        return [decode_row(blob) for (blob,) in cursor]

    def run_ids(self, ids: Iterable[int]) -> list[str]:
        """The distinct run ids of these docs, sorted."""
        runs: set[str] = set()
        batch = list(ids)
        for start in range(0, len(batch), _BATCH):
            chunk = batch[start : start + _BATCH]
            sql = f"SELECT DISTINCT run_id FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            runs.update(r for (r,) in self.conn.execute(sql, chunk) if r)
        return sorted(runs)


def _create(conn: sqlite3.Connection) -> None:
    row = None
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()
    except sqlite3.OperationalError:
        pass  # a new file
    if row is not None and row[0] == INDEX_VERSION:
        return  # the usual case: nothing to write, so a search costs no commit (and no fsync)
    if row is not None:
        conn.executescript("".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES))
        with conn:  # the rebuilt tables are empty: the next refresh must walk
            conn.execute("DELETE FROM meta WHERE name = ?", (_STAMP_KEY,))
    conn.executescript(_SCHEMA)
    with conn:
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (INDEX_VERSION,))


def open_index(
    root: str | Path | ArchiveRoot, *, store: Store | None = None, refresh: bool = True
) -> ArticleIndex:
    """Open (creating if needed) and, unless told not to, refresh the article index of an archive root."""
    archive_root = open_root(root, store)
    folder = archive_root.index_dir
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(folder / INDEX_NAME, timeout=60)
    try:
        _create(conn)
        index = ArticleIndex(conn, archive_root)
        if refresh:
            index.refresh()
    except BaseException:
        conn.close()
        raise
    return index

"""The catalog's SQLite tables (archive.catalog), and what happens to a file written by another version
of this software: its tables are dropped and rebuilt from the archive, never migrated."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4  # 2: captures.outlet / captures.path_qs; 3: captures_digest (archive.catalog_payloads)
# 4: url_events / validators (archive.catalog_urls)
TABLES = ("ingested", "warc_files", "finished_warcs", "captures", "articles", "url_events", "validators")

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
CREATE INDEX IF NOT EXISTS captures_digest ON captures (digest);
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
-- What became of each URL in each run (runs/<run>/urls-<outlet>.jsonl.gz, pipelines.url_ledger); a
-- URL's state is the fold of its events in time order (archive.catalog_urls).
CREATE TABLE IF NOT EXISTS url_events (
    url TEXT NOT NULL,
    outlet TEXT,
    run_id TEXT NOT NULL,
    time TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    sources TEXT,
    published_at TEXT,
    status INTEGER,
    etag TEXT,
    last_modified TEXT,
    digest TEXT,
    record_id TEXT,
    version INTEGER,
    revisit INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS url_events_url ON url_events (url, time);
CREATE INDEX IF NOT EXISTS url_events_outlet ON url_events (outlet, state);
-- The newest validators of discovery documents (feeds, sitemaps, listings), for conditional requests.
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT
);
CREATE INDEX IF NOT EXISTS articles_fetched ON articles (fetched_url);
"""


def create_schema(conn: sqlite3.Connection) -> bool:
    """Create the tables that are missing; return True when the file held another version's index,
    which the caller must rebuild (its tables are then empty, its version still the old one)."""
    stored = _stored_version(conn)
    if stored is not None and stored != str(SCHEMA_VERSION):
        # Tables of another version may lack columns the schema's indexes need: drop them, keep
        # `meta` (its old version makes the caller rebuild).
        drops = "".join(f"DROP TABLE IF EXISTS {t};" for t in TABLES)
        conn.executescript(f"BEGIN IMMEDIATE;{drops}COMMIT;")
    conn.executescript(_SCHEMA)
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if row is None:
        with conn:
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return False
    return bool(row[0] != str(SCHEMA_VERSION))


def clear(conn: sqlite3.Connection) -> None:
    """Empty every table, in one transaction, and mark the file as this version's."""
    with conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def _stored_version(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return None  # no meta table: a new (or empty) file
    return None if row is None else str(row[0])

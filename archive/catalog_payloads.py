"""The payloads and URLs earlier runs archived, looked up on disk in the root's catalog (archive.catalog)
for the PayloadIndex (archive.dedup): which record first archived a payload, which one last archived a URL.

Opening refreshes the catalog, which reads only the index, article and manifest files it has not
ingested yet: once the catalog is built, a run starts in time and memory that do not grow with the
number of records the archive holds (only with the number of files, which the refresh lists). Each
question is one query on an index of the `captures` table (`captures_digest`, `captures_uri`).

An origin follows the rule PayloadIndex.load_cdxj applies to CDXJ lines: a response record with an
HTTP status that is not truncated (the catalog's kind 'response'; revisits and metadata records never
are), carrying the record id, date and digest a revisit record must name. The first capture (by
WARC-Date, then by ingestion order) is the origin, so every revisit of a payload points at one record.

For an s3:// archive the root is the local spool and the store is passed too: the catalog then also
ingests the indexes of published runs the spool has shed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path, PurePosixPath

from archive.catalog import CATALOG_NAME, Catalog
from archive.exchange import RecordLocation
from archive.storage import Store

_COLUMNS = "uri, warc_path, offset, length, record_id, digest, date"
_COMPLETE = "kind = 'response' AND record_id IS NOT NULL AND date IS NOT NULL AND digest IS NOT NULL"
_ORIGIN_SQL = f"SELECT {_COLUMNS} FROM captures WHERE digest = ? AND {_COMPLETE} ORDER BY date, rowid LIMIT 1"
_LAST_SQL = (
    f"SELECT {_COLUMNS} FROM captures WHERE uri = ? AND {_COMPLETE} ORDER BY date DESC, rowid DESC LIMIT 1"
)


class CatalogPayloads:
    """Read-only questions to one catalog file. The connection may be used from any thread, one call at
    a time: the caller (PayloadIndex) serialises calls under its lock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def open(
        cls, root: Path, store: Store | None = None, *, refresh: bool = True
    ) -> tuple[CatalogPayloads, int]:
        """Refresh the catalog of `root` (and `store`) and open it for lookups; also return how many
        files the refresh ingested (all of them the first time, or after a schema change). `refresh`
        False: the caller has just refreshed it (a crawl shares one refresh, pipelines.crawl_catalog)."""
        root = Path(root)
        ingested = 0
        if refresh:
            with Catalog.open(root, store) as catalog:
                ingested = catalog.refresh()
        # Its own connection: Catalog's is bound to the thread that opened it, and the WARC writer
        # may ask from another one.
        conn = sqlite3.connect(root / CATALOG_NAME, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        return cls(conn), ingested

    def close(self) -> None:
        self.conn.close()

    def original_for(self, digest: str) -> RecordLocation | None:
        """The first complete response archived with this payload digest."""
        return self._one(_ORIGIN_SQL, digest)

    def last_capture_of(self, target_uri: str) -> RecordLocation | None:
        """The latest complete response archived for this WARC-Target-URI."""
        return self._one(_LAST_SQL, target_uri)

    def _one(self, sql: str, value: str) -> RecordLocation | None:
        # fetchall, not fetchone: a statement left open would hold a read lock and stall a refresh
        # (another process's, or IncrementalSkip's connection) until it is garbage collected.
        rows = self.conn.execute(sql, (value,)).fetchall()
        if not rows:
            return None
        uri, warc_path, offset, length, record_id, digest, date = rows[0]
        return RecordLocation(
            filename=PurePosixPath(warc_path).name,
            path=warc_path,
            offset=int(offset),
            length=int(length),
            record_id=record_id,
            payload_digest=digest,
            target_uri=uri,
            date=date,
        )

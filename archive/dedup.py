"""Which payloads are already archived, so that a repeat is written as a revisit record.

Two sources: the responses this process writes, kept in memory (under a kilobyte each, so bounded by
the run's size), and the earlier runs under the same archive root, asked on disk from the root's
catalog (archive.catalog_payloads, attached by `use_catalog`): a run over a large archive neither
reads its indexes nor holds them in memory. Only complete responses are origins: a truncated
payload's digest says nothing about the full resource.

`load_cdxj` still reads every CDXJ index of a root into memory, for a small root or a tool without a
catalog; crawls use the catalog.
"""

from __future__ import annotations

import threading
from pathlib import Path

from archive.catalog_payloads import CatalogPayloads
from archive.cdxj import iter_indexes, read_cdxj
from archive.exchange import RecordLocation
from archive.paths import relpath
from archive.storage import Store

DEFAULT_MIN_SIZE = 128


class PayloadIndex:
    def __init__(self, min_size: int = DEFAULT_MIN_SIZE) -> None:
        # Below this many payload bytes a revisit record saves nothing (its headers are as large) and
        # the repeats are legitimate (robots.txt, short error pages): they are written in full.
        self.min_size = min_size
        self._by_digest: dict[str, RecordLocation] = {}
        self._by_uri: dict[str, RecordLocation] = {}
        self._earlier: CatalogPayloads | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many payloads are known in memory (the catalog's are not counted: that would scan it)."""
        return len(self._by_digest)

    def use_catalog(self, root: Path, store: Store | None = None, *, refresh: bool = True) -> int:
        """Answer for earlier runs from the catalog of `root` (and `store`, for an s3:// root whose
        spool is `root`), refreshed now unless `refresh` is False (the caller just did); return how many
        files the refresh ingested."""
        earlier, ingested = CatalogPayloads.open(root, store, refresh=refresh)
        with self._lock:
            if self._earlier is not None:
                self._earlier.close()
            self._earlier = earlier
        return ingested

    def close(self) -> None:
        """Close the catalog connection, if any; what this process wrote stays known."""
        with self._lock:
            if self._earlier is not None:
                self._earlier.close()
                self._earlier = None

    def eligible(self, payload_size: int) -> bool:
        return payload_size >= self.min_size

    def original_for(self, digest: str) -> RecordLocation | None:
        with self._lock:
            # In memory first: this process remembers a payload as an origin only after the catalog
            # knew none, so the catalog cannot hold an earlier one (and the dict is cheaper).
            found = self._by_digest.get(digest)
            if found is None and self._earlier is not None:
                found = self._earlier.original_for(digest)
            return found

    def last_capture_of(self, target_uri: str) -> RecordLocation | None:
        with self._lock:
            # This process's captures are later than any earlier run's.
            found = self._by_uri.get(target_uri)
            if found is None and self._earlier is not None:
                found = self._earlier.last_capture_of(target_uri)
            return found

    def remember(self, location: RecordLocation) -> None:
        with self._lock:
            # The first capture stays the origin: every revisit then points at one record.
            self._by_digest.setdefault(location.payload_digest, location)
            self._by_uri[location.target_uri] = location

    def remember_uri(self, target_uri: str, location: RecordLocation) -> None:
        """Note that `target_uri` was captured again and its payload lives at `location`."""
        with self._lock:
            self._by_uri[target_uri] = location

    def load_cdxj(self, root: Path) -> int:
        """Remember the complete responses listed in the CDXJ indexes under the root; return how many."""
        root = Path(root)
        count = 0
        for index in iter_indexes(root):
            warc_rel = relpath(root, index.parent)
            for line in read_cdxj(index):
                fields = line.fields
                # Revisits stand for another record; metadata/resource lines have no HTTP status.
                if fields.get("mime") == "warc/revisit" or "status" not in fields:
                    continue
                record_id, date = fields.get("warc-record-id"), fields.get("warc-date")
                digest, filename = fields.get("digest"), fields.get("filename")
                if not (record_id and date and digest and filename):
                    continue  # an index from another tool: not enough to point at the record
                if fields.get("warc-truncated"):
                    continue
                self.remember(
                    RecordLocation(
                        filename=filename,
                        path=f"{warc_rel}/{filename}",
                        offset=int(fields["offset"]),
                        length=int(fields["length"]),
                        record_id=record_id,
                        payload_digest=digest,
                        target_uri=fields["url"],
                        date=date,
                    )
                )
                count += 1
        return count

"""Write HTTP exchanges as WARC/1.1 request + response (or revisit) records, one gzip member per record.

Files are written under a `.open` name and renamed when closed, so anything under its final name is
complete; a CDXJ index is written beside each closed file. Each file starts with a warcinfo record
that states how faithful the capture is. A payload already archived (per the PayloadIndex) becomes a
revisit record; a kept article's JSON goes in as a metadata record that refers to its response.

This module owns the files (naming, opening, rotation, atomic close, the index); the records come from
archive.warc_records, their gzip members from archive.warc_gzip, and crash repair of `.open` files from
archive.warc_repair.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar

from warcio.timeutils import datetime_to_iso_date

from archive import warc_repair
from archive.cdxj import cdxj_line, http_header_as_read, write_cdxj_lines
from archive.dedup import PayloadIndex
from archive.exchange import HttpExchange, RecordLocation, WriteResult
from archive.paths import OPEN_SUFFIX, hostname, relpath, rename_no_replace, warc_relpath
from archive.run import package_version
from archive.warc_gzip import write_record, write_warcinfo
from archive.warc_records import (
    PROFILE_IDENTICAL,
    PROFILE_NOT_MODIFIED,
    WarcRecord,
    metadata_record,
    metadata_target_uri,
    request_record,
    response_record,
    revisit_record,
    warc_target_uri,
)

FIDELITY_NOTE = (
    "Captured from Scrapy/Twisted after reception. Status lines carry the standard reason phrase "
    "(Scrapy does not expose the received one). Header names are as Scrapy normalises them "
    "(case and order as far as Scrapy keeps them; repeated headers kept). Chunked framing and the "
    "Transfer-Encoding header were removed by Twisted; Content-Encoding and the encoded body are kept "
    "as received. HTTP/2 exchanges are written in HTTP/1.1 message form. Request headers are those Scrapy sent; Host (and Content-Length for a request body) "
    "were added when absent because Twisted adds them on the wire."
)

# One counter per process: two writers opened in the same millisecond still get different names.
_serial = itertools.count()
_serial_lock = threading.Lock()


def _next_serial() -> int:
    with _serial_lock:
        return next(_serial)


class WarcWriter:
    # Field names as Heritrix writes them (software, hostname, operator, robots, format, conformsTo).
    WARCINFO_BASE: ClassVar[dict[str, str]] = {
        "robots": "obey",
        "format": "WARC File Format 1.1",
        "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
    }

    def __init__(
        self,
        root: Path,
        *,
        prefix: str = "newsarchive",
        max_size: int = 1_000_000_000,
        max_age_s: float = 86400,
        gzip_level: int = 6,
        fsync: str = "close",
        warcinfo: Mapping[str, str] | None = None,
        on_close: Callable[[Path], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        dedup: PayloadIndex | None = None,
        cdxj: bool = True,
        on_index: Callable[[Path, list[str]], None] | None = None,
    ) -> None:
        """`dedup`: write repeats of payloads it knows as revisit records (None: never, except 304s).
        `cdxj`: index each file as it is closed, from the CDXJ lines built while writing it. A caller
        that indexes elsewhere (off the thread that writes) passes False and an `on_index` that gets
        the closed file and its unsorted lines (for archive.cdxj.write_cdxj_lines)."""
        if fsync not in ("close", "record"):
            raise ValueError(f"fsync must be 'close' or 'record', not {fsync!r}")
        if not 0 <= gzip_level <= 9:
            raise ValueError(f"gzip_level must be 0..9, not {gzip_level}")
        self.root = Path(root)
        self.prefix = prefix
        self.max_size = max_size
        self.max_age_s = max_age_s
        self.gzip_level = gzip_level
        self.fsync = fsync
        self.extra_warcinfo = dict(warcinfo or {})
        self.on_close = on_close
        self.dedup = dedup
        self.cdxj = cdxj
        self.on_index = on_index
        self.closed_files: list[Path] = []
        self.bytes_written = 0  # compressed bytes appended by this writer, warcinfo records included
        self._clock = clock
        self._host = hostname()
        self._lock = threading.RLock()
        self._fh: IO[bytes] | None = None
        self._position = 0  # where the next record of the open file starts
        self._index: list[str] = []  # CDXJ lines of the records in the current file
        self._open_path: Path | None = None
        self._final_path: Path | None = None
        self._final_rel = ""
        self._opened_at = 0.0
        self._exchanges_in_file = 0

    # -- public API ---------------------------------------------------------------------------------

    @property
    def current_path(self) -> Path | None:
        """The `.open` file being written, if any."""
        return self._open_path

    def warcinfo_fields(self) -> dict[str, str]:
        fields = {
            "software": f"newsarchive/{package_version('newsarchive')}",
            # Request/response/revisit/metadata records are serialised here, byte for byte in warcio's
            # layout (see WarcRecord); warcinfo records by warcio itself. Say both, so nobody is misled.
            "warc-writer": f"newsarchive/{package_version('newsarchive')} (warcio {package_version('warcio')} layout)",
            "hostname": self._host,
            **self.WARCINFO_BASE,
            "fidelity": FIDELITY_NOTE,
        }
        fields.update(self.extra_warcinfo)
        # warc-fields values are single lines: a stray newline in a passed value would corrupt the record.
        return {k: " ".join(str(v).split()) for k, v in fields.items() if v}

    def write_exchange(self, ex: HttpExchange) -> RecordLocation:
        """Append request + response (or revisit) records; return where the response/revisit is."""
        return self.capture(ex).record

    def capture(self, ex: HttpExchange) -> WriteResult:
        """Append request + response records, or request + revisit when the payload is already
        archived or the server answered 304; say which, and where a readable payload is."""
        uri = warc_target_uri(ex.url)
        fetched_at = ex.fetched_at if ex.fetched_at.tzinfo else ex.fetched_at.replace(tzinfo=UTC)
        warc_date = datetime_to_iso_date(fetched_at.astimezone(UTC).replace(tzinfo=None), use_micros=True)
        with self._lock:
            self._ensure_open()
            # Building the response record computes its payload digest, which decides about a revisit.
            main = response_record(ex, uri, warc_date)
            original: RecordLocation | None = None
            revisit = self._revisit_instead(ex, uri, warc_date, main)
            if revisit is not None:
                main, original = revisit
            request = request_record(ex, uri, warc_date, main)
            _, (offset, length) = self._append([request, main])
            location = self._located(main, offset, length)
            if self.dedup is not None:
                if main.rec_type == "response" and not ex.truncated:
                    self.dedup.remember(location)
                elif original is not None:
                    self.dedup.remember_uri(uri, original)
            return WriteResult(record=location, rec_type=main.rec_type, original=original)

    def write_metadata(
        self,
        url: str,
        payload: bytes,
        *,
        refers_to: str,
        concurrent_to: str | None = None,
        date: str | None = None,
        content_type: str = "application/json",
    ) -> RecordLocation:
        """Append a metadata record about the capture of `url` (e.g. the article JSON extracted from
        it). `refers_to` is the record its content derives from; `date` defaults to now. The target
        URI is metadata_target_uri(url)."""
        uri = metadata_target_uri(url)
        if date is None:
            date = datetime_to_iso_date(datetime.now(UTC).replace(tzinfo=None), use_micros=True)
        record = metadata_record(
            uri, payload, date, refers_to=refers_to, concurrent_to=concurrent_to, content_type=content_type
        )
        with self._lock:
            self._ensure_open()
            ((offset, length),) = self._append([record])
            return self._located(record, offset, length)

    def close(self) -> Path | None:
        """Flush, fsync and rename the current file to its final name, index it; return that name."""
        with self._lock:
            if self._fh is None:
                return None
            assert self._open_path is not None and self._final_path is not None
            fh, open_path, final_path = self._fh, self._open_path, self._final_path
            self._fh = self._open_path = self._final_path = None
            index, self._index = self._index, []
            warc_repair.done_writing(open_path)
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            rename_no_replace(open_path, final_path)
            self.closed_files.append(final_path)
        if self.cdxj:
            write_cdxj_lines(final_path, index)
        elif self.on_index is not None:
            self.on_index(final_path, index)
        if self.on_close is not None:
            self.on_close(final_path)
        return final_path

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def recover_open_files(root: Path) -> list[Path]:
        """Repair `*.warc.gz.open` files left by a crash; return the final paths of the repaired files
        (archive.warc_repair.recover_open_files says which files and how)."""
        return warc_repair.recover_open_files(root)

    # -- internals ----------------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        self._rotate_if_due()
        if self._fh is None:
            self._open()

    def _append(self, records: list[WarcRecord]) -> list[tuple[int, int]]:
        """Write records as consecutive gzip members, all or none; return (offset, length) of each."""
        assert self._fh is not None and self._final_path is not None
        fh = self._fh
        start = position = self._position
        spans = []
        try:
            for record in records:
                length = write_record(fh, self.gzip_level, record)
                spans.append((position, length))
                position += length
            # Handed to the OS once per call (request + response together): a crash can only lose
            # what was never reported as archived, and a request left alone is dropped by recovery.
            fh.flush()
            if self.fsync == "record":
                os.fsync(fh.fileno())
        except BaseException:
            # Never leave half a record behind: the next exchange would follow garbage.
            fh.seek(start)
            fh.truncate()
            raise
        self._exchanges_in_file += 1
        self._position = position
        self.bytes_written += position - start
        filename = self._final_path.name
        for record, (offset, length) in zip(records, spans, strict=True):
            line = cdxj_line(
                rec_type=record.rec_type,
                uri=record.uri,
                warc_date=record.date,
                offset=offset,
                length=length,
                filename=filename,
                record_id=record.record_id,
                payload_digest=record.payload_digest,
                status=record.status,
                http_content_type=http_header_as_read(record.http_headers, "Content-Type"),
                warc_content_type=record.content_type,
                truncated=record.header("WARC-Truncated") or "",
            )
            if line is not None:
                self._index.append(line)
        return spans

    def _located(self, record: WarcRecord, offset: int, length: int) -> RecordLocation:
        assert self._final_path is not None
        return RecordLocation(
            filename=self._final_path.name,
            path=self._final_rel,
            offset=offset,
            length=length,
            record_id=record.record_id,
            payload_digest=record.payload_digest or "",
            target_uri=record.uri,
            date=record.date,
        )

    def _rotate_if_due(self) -> None:
        if self._fh is None or self._exchanges_in_file == 0:
            return
        too_big = self._position >= self.max_size
        too_old = self._clock() - self._opened_at >= self.max_age_s
        if too_big or too_old:
            self.close()

    def _open(self) -> None:
        final_path = self.root / warc_relpath(
            self.prefix, datetime.now(UTC), _next_serial(), self._host, os.getpid()
        )
        final_path.parent.mkdir(parents=True, exist_ok=True)
        open_path = final_path.with_name(final_path.name + OPEN_SUFFIX)
        fh = open_path.open("xb")  # exclusive: never append to someone else's file
        warc_repair.writing(open_path)
        write_warcinfo(fh, self.gzip_level, final_path.name, self.warcinfo_fields())
        fh.flush()
        self._fh = fh
        self._open_path, self._final_path = open_path, final_path
        self._final_rel = relpath(self.root, final_path)  # once per file, not per record
        self._opened_at = self._clock()
        self._exchanges_in_file = 0
        self._index = []
        self._position = fh.tell()  # once per file; then _append adds the length of what it writes
        self.bytes_written += self._position

    def _revisit_instead(
        self, ex: HttpExchange, uri: str, warc_date: str, response: WarcRecord
    ) -> tuple[WarcRecord, RecordLocation | None] | None:
        """The revisit record to write instead of `response`, and the record it stands for; or None."""
        if ex.status == 304:
            # Nothing was transferred: the earlier capture of this URL (if we know it) holds the payload.
            previous = self.dedup.last_capture_of(uri) if self.dedup is not None else None
            return revisit_record(ex, uri, warc_date, PROFILE_NOT_MODIFIED, previous, None), previous
        if self.dedup is None or ex.truncated or not self.dedup.eligible(len(ex.body)):
            return None
        digest = response.payload_digest
        original = self.dedup.original_for(digest) if digest else None
        if original is None:
            return None
        return revisit_record(ex, uri, warc_date, PROFILE_IDENTICAL, original, digest), original

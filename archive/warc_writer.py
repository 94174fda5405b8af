"""Write HTTP exchanges as WARC/1.1 request + response (or revisit) records, one gzip member per record.

Files are written under a `.open` name and renamed when closed, so anything under its final name is
complete; a CDXJ index is written beside each closed file. Each file starts with a warcinfo record
that states how faithful the capture is. A payload already archived (per the PayloadIndex) becomes a
revisit record; a kept article's JSON goes in as a metadata record that refers to its response.
"""

from __future__ import annotations

import base64
import hashlib
import http
import itertools
import os
import re
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from archive.cdxj import cdxj_line, http_header_as_read, write_cdxj_lines
from archive.dedup import PayloadIndex
from archive.exchange import HttpExchange, RecordLocation, WriteResult
from archive.paths import OPEN_SUFFIX, WARC_DIR, fsync_dir, hostname, relpath, rename_no_replace, warc_relpath
from archive.run import package_version

FIDELITY_NOTE = (
    "Captured from Scrapy/Twisted after reception. Status lines carry the standard reason phrase "
    "(Scrapy does not expose the received one). Header names are as Scrapy normalises them "
    "(case and order as far as Scrapy keeps them; repeated headers kept). Chunked framing and the "
    "Transfer-Encoding header were removed by Twisted; Content-Encoding and the encoded body are kept "
    "as received. HTTP/2 exchanges are written in HTTP/1.1 message form. Request headers are those Scrapy sent; Host (and Content-Length for a request body) "
    "were added when absent because Twisted adds them on the wire."
)

PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

# RFC 3986 reserved characters plus '%', so existing escapes and URL structure survive quoting.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%"

# One counter per process: two writers opened in the same millisecond still get different names.
_serial = itertools.count()
_serial_lock = threading.Lock()
# `.open` files some writer of this process is writing: recovery must leave them alone.
_live_paths: set[Path] = set()

_OPEN_NAME = re.compile(r"^.+-\d{17}-\d{5,}-(?P<host>.+)-(?P<pid>\d+)\.warc\.gz\.open$")


def _next_serial() -> int:
    with _serial_lock:
        return next(_serial)


def warc_target_uri(url: str) -> str:
    """The URL with non-ASCII percent-encoded (UTF-8) and an IDNA host, as WARC-Target-URI wants."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        host = parts.hostname.encode("idna").decode("ascii")
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = (f"{quote(userinfo, safe=_URI_SAFE)}@" if userinfo else "") + host
        if parts.port is not None:
            netloc += f":{parts.port}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_URI_SAFE),
            quote(parts.query, safe=_URI_SAFE),
            quote(parts.fragment, safe=_URI_SAFE),
        )
    )


METADATA_URI_PREFIX = "urn:newsarchive:article:"


def metadata_target_uri(url: str) -> str:
    """`urn:newsarchive:article:<fetched URL>` for the metadata record about a capture of `url`.

    Not the URL itself, nor pywb's `metadata://host/path`: replay tools index metadata records by the
    SURT of their target URI, and with either of those the record shares the page's index key and
    timestamp, so that pywb 2.10 served the article JSON instead of the page (seen in a test here).
    A URN keeps its own key, as Browsertrix's `urn:pageinfo:<url>` records do.
    """
    return METADATA_URI_PREFIX + warc_target_uri(url)


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _request_target(uri: str) -> str:
    parts = urlsplit(uri)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _host_header(uri: str) -> str:
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default_port:
        host += f":{parts.port}"
    return host


def http_version(protocol: str | None) -> str:
    """The version for the status and request lines. Replay tools parse only HTTP/1.x message syntax,
    so an HTTP/2 exchange (Scrapy says "h2") is written in HTTP/1.1 form, as other crawlers do."""
    if protocol and re.fullmatch(r"HTTP/1\.[01]", protocol):
        return protocol
    return "HTTP/1.1"


def _has_header(headers: list[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name.lower() for key, _ in headers)


def _warc_headers(rec_type: str, uri: str, warc_date: str, ip_address: str | None) -> list[tuple[str, str]]:
    # In the conventional order (type, id, date, URI first); digests, type and length are appended.
    headers = [
        ("WARC-Type", rec_type),
        ("WARC-Record-ID", f"<urn:uuid:{uuid.uuid4()}>"),
        ("WARC-Date", warc_date),
        ("WARC-Target-URI", uri),
    ]
    if ip_address:
        headers.append(("WARC-IP-Address", ip_address))
    return headers


def _sha1(*parts: bytes) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


_EMPTY_SHA1 = _sha1(b"")  # the payload digest of every GET request


def _http_block(first_line: str, headers: list[tuple[str, str]]) -> tuple[bytes, list[tuple[str, str]]]:
    """The HTTP header block as warcio writes it, and the headers as written: ASCII as they come
    (latin-1 strings of the bytes received), else RFC 8187 percent-encoded by warcio itself."""
    text = first_line + "\r\n" + "".join([f"{k}: {v}\r\n" for k, v in headers]) + "\r\n"
    try:
        return text.encode("ascii"), headers
    except UnicodeEncodeError:
        block = StatusAndHeaders(first_line, list(headers))
        return block.to_ascii_bytes(), block.headers


@dataclass(slots=True)
class _Record:
    """One WARC record, serialised by hand (see _Record.head).

    Built directly rather than through warcio's StatusAndHeaders/ArcWarcRecord/WARCWriter: that
    machinery (header lists searched and replaced per field, digests through stream readers, one
    object per header block) cost ~0.16 ms of CPU per exchange, a quarter of capture's whole overhead
    on a 2.6 ms page (bench/capture.py). The bytes are those warcio wrote for the same record (same
    field order, digests, Content-Length, header encoding); tests read them back with warcio and
    FastWARC and run `warcio check`. warcio still writes the warcinfo record (once per file).
    """

    rec_type: str
    warc_headers: list[tuple[str, str]]  # without digests, Content-Type and Content-Length
    content_type: str
    http_block: bytes  # b"" when the record has no HTTP message
    payload: bytes  # after the HTTP block; not written for a revisit
    payload_digest: str | None
    http_headers: list[tuple[str, str]]  # as written in http_block (for the index)
    status: int | None = None

    @property
    def record_id(self) -> str:
        return self.warc_headers[1][1]

    @property
    def uri(self) -> str:
        return self.warc_headers[3][1]

    @property
    def date(self) -> str:
        return self.warc_headers[2][1]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.warc_headers if k == name), None)

    def head(self) -> bytes:
        """The WARC header block followed by the HTTP header block."""
        block = self.http_block
        written = b"" if self.rec_type == "revisit" else self.payload
        fields = self.warc_headers
        if self.rec_type != "revisit":  # warcio leaves a revisit's payload digest to its caller
            fields = [*fields, ("WARC-Payload-Digest", self.payload_digest or _sha1(self.payload))]
        text = (
            "WARC/1.1\r\n"
            + "".join([f"{k}: {v}\r\n" for k, v in fields])
            + f"WARC-Block-Digest: {_sha1(block, written)}\r\n"
            f"Content-Type: {self.content_type}\r\n"
            f"Content-Length: {len(block) + len(written)}\r\n\r\n"
        )
        return text.encode("utf-8") + block


# A gzip member header as zlib writes it (no name, mtime 0, OS unix); written by hand because a member
# here may continue its deflate stream with stored blocks (see _GzipMember).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
# Content-Encodings whose bytes deflate cannot shrink: compressing them again only costs CPU.
_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"})
# Deflate stored blocks (RFC 1951 section 3.2.4): at most 65535 bytes each; an empty final one ends
# the stream (BFINAL=1, BTYPE=00, padding, LEN=0, NLEN=0xFFFF).
_STORED_MAX = 0xFFFF
_FINAL_EMPTY_STORED = b"\x01\x00\x00\xff\xff"


class _GzipMember:
    """One gzip member per record at a chosen level (warcio's own wrapper is fixed at level 9).

    With `store_after` set, the first `store_after` writes (the header blocks) are deflated at `level`
    and what follows (an already-compressed payload) goes into stored blocks: a Z_SYNC_FLUSH ends the
    deflate stream's blocks on a byte boundary without a final block, so stored blocks simply continue
    it (one valid member, as pigz builds them). The file is no bigger, and the CPU cost of deflating
    gzip/br bodies again disappears. The stored blocks are framed here rather than by a second zlib
    compressor at level 0, which cost ~80 us per 16 kB page against ~7 us (measured for
    bench/capture.py): zlib's level 0 still runs the body through its window.
    """

    def __init__(
        self, out: IO[bytes], level: int, store_after: int | None = None, deflated_size: int | None = None
    ) -> None:
        # A deflate window no larger than what it will compress (`deflated_size`, when known): the
        # data that fits compresses just as well, and setting up zlib's 32 kB window costs ~45 us per
        # member at level 6, about the whole cost of deflating a record's ~1 kB of headers (measured).
        wbits = (
            zlib.MAX_WBITS
            if deflated_size is None
            else max(9, min(zlib.MAX_WBITS, deflated_size.bit_length()))
        )
        self._compressor: zlib._Compress | None = zlib.compressobj(level, zlib.DEFLATED, -wbits)
        self._out = out
        self._crc = 0
        self._size = 0
        self._writes = 0
        self._store_after = store_after
        out.write(_GZIP_HEADER)

    def write(self, data: bytes) -> None:
        if self._writes == self._store_after and self._compressor is not None:
            self._out.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))
            self._compressor = None
        self._writes += 1
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        if self._compressor is not None:
            self._out.write(self._compressor.compress(data))
            return
        view = memoryview(data)
        for start in range(0, len(view), _STORED_MAX):
            chunk = view[start : start + _STORED_MAX]
            self._out.write(struct.pack("<BHH", 0, len(chunk), len(chunk) ^ 0xFFFF))
            self._out.write(chunk)

    def flush(self) -> None:
        if self._compressor is not None:
            self._out.write(self._compressor.flush())
        else:
            self._out.write(_FINAL_EMPTY_STORED)
        self._out.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))


def _first_header(headers: list[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers if k.lower() == wanted), None)


def _encoded_payload(record: _Record) -> bool:
    if record.rec_type != "response":
        return False
    encoding = (_first_header(record.http_headers, "Content-Encoding") or "").strip().lower()
    return encoding in _COMPRESSED_ENCODINGS


def _write_record(out: IO[bytes], level: int, record: _Record) -> None:
    head = record.head()
    tail = (b"" if record.rec_type == "revisit" else record.payload) + b"\r\n\r\n"
    if _encoded_payload(record):
        # Header blocks deflated at `level`, the already-compressed payload stored.
        member = _GzipMember(out, level, store_after=1, deflated_size=len(head))
    else:
        member = _GzipMember(out, level, deflated_size=len(head) + len(tail))
    member.write(head)
    member.write(tail)
    member.flush()


def _write_warcinfo(out: IO[bytes], level: int, filename: str, fields: dict[str, str]) -> None:
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    # warcio writes the record's parts into the member, then flushes it (which ends the member).
    writer._write_warc_record(_GzipMember(out, level), writer.create_warcinfo_record(filename, fields))


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
            # layout (see _Record); warcinfo records by warcio itself. Say both, so nobody is misled.
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
            main = self._response_record(ex, uri, warc_date)
            original: RecordLocation | None = None
            revisit = self._revisit_instead(ex, uri, warc_date, main)
            if revisit is not None:
                main, original = revisit
            request = self._request_record(ex, uri, warc_date, main)
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
        warc_headers = _warc_headers("metadata", uri, date, None)
        warc_headers.append(("WARC-Refers-To", refers_to))
        if concurrent_to:
            warc_headers.append(("WARC-Concurrent-To", concurrent_to))
        record = _Record(
            rec_type="metadata",
            warc_headers=warc_headers,
            content_type=content_type or "application/warc-fields",  # warcio's default for metadata
            http_block=b"",
            payload=payload,
            payload_digest=_sha1(payload),
            http_headers=[],
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
            with _serial_lock:
                _live_paths.discard(open_path.resolve())
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
        """Repair `*.warc.gz.open` files left by a crash; return the final paths of the repaired files.

        Keeps the complete gzip members (each is one whole record), drops a trailing partial or corrupt
        one, and drops a trailing request record whose response never made it. A file with no
        complete record left is removed. Files that may still be in use are left alone: those a writer
        of this process has open, those of a live process on this host, and those written on another
        host (which recovers its own). Indexing the repaired files is the caller's (archive.cdxj).
        """
        repaired = []
        for open_path in sorted((Path(root) / WARC_DIR).rglob(f"*.warc.gz{OPEN_SUFFIX}")):
            if not _owner_is_gone(open_path):
                continue
            keep = _complete_length(open_path)
            final_path = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
            if keep == 0:
                open_path.unlink()
                fsync_dir(open_path.parent)
                continue
            with open_path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
            rename_no_replace(open_path, final_path)
            repaired.append(final_path)
        return repaired

    # -- internals ----------------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        self._rotate_if_due()
        if self._fh is None:
            self._open()

    def _append(self, records: list[_Record]) -> list[tuple[int, int]]:
        """Write records as consecutive gzip members, all or none; return (offset, length) of each."""
        assert self._fh is not None and self._final_path is not None
        fh = self._fh
        start = fh.tell()
        spans = []
        try:
            for record in records:
                begin = fh.tell()
                _write_record(fh, self.gzip_level, record)
                spans.append((begin, fh.tell() - begin))
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
        self.bytes_written += fh.tell() - start
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

    def _located(self, record: _Record, offset: int, length: int) -> RecordLocation:
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
        too_big = self._fh.tell() >= self.max_size
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
        with _serial_lock:
            _live_paths.add(open_path.resolve())
        _write_warcinfo(fh, self.gzip_level, final_path.name, self.warcinfo_fields())
        fh.flush()
        self._fh = fh
        self._open_path, self._final_path = open_path, final_path
        self._final_rel = relpath(self.root, final_path)  # once per file, not per record
        self._opened_at = self._clock()
        self._exchanges_in_file = 0
        self._index = []
        self.bytes_written += fh.tell()

    def _http_response(self, ex: HttpExchange) -> tuple[bytes, list[tuple[str, str]]]:
        status_line = f"{http_version(ex.protocol)} {ex.status} {reason_phrase(ex.status)}"
        return _http_block(status_line, ex.response_headers)

    def _response_record(self, ex: HttpExchange, uri: str, warc_date: str) -> _Record:
        warc_headers = _warc_headers("response", uri, warc_date, ex.ip_address)
        if ex.truncated:
            warc_headers.append(("WARC-Truncated", ex.truncated))
        block, headers = self._http_response(ex)
        return _Record(
            rec_type="response",
            warc_headers=warc_headers,
            content_type="application/http; msgtype=response",
            http_block=block,
            payload=ex.body,
            payload_digest=_sha1(ex.body),
            http_headers=headers,
            status=ex.status,
        )

    def _revisit_instead(
        self, ex: HttpExchange, uri: str, warc_date: str, response: _Record
    ) -> tuple[_Record, RecordLocation | None] | None:
        """The revisit record to write instead of `response`, and the record it stands for; or None."""
        if ex.status == 304:
            # Nothing was transferred: the earlier capture of this URL (if we know it) holds the payload.
            previous = self.dedup.last_capture_of(uri) if self.dedup is not None else None
            return self._revisit_record(ex, uri, warc_date, PROFILE_NOT_MODIFIED, previous, None), previous
        if self.dedup is None or ex.truncated or not self.dedup.eligible(len(ex.body)):
            return None
        digest = response.payload_digest
        original = self.dedup.original_for(digest) if digest else None
        if original is None:
            return None
        return self._revisit_record(ex, uri, warc_date, PROFILE_IDENTICAL, original, digest), original

    def _revisit_record(
        self,
        ex: HttpExchange,
        uri: str,
        warc_date: str,
        profile: str,
        original: RecordLocation | None,
        digest: str | None,
    ) -> _Record:
        warc_headers = _warc_headers("revisit", uri, warc_date, ex.ip_address)
        warc_headers.append(("WARC-Profile", profile))
        if original is not None:
            warc_headers.append(("WARC-Refers-To", original.record_id))
            warc_headers.append(("WARC-Refers-To-Target-URI", original.target_uri))
            warc_headers.append(("WARC-Refers-To-Date", original.date))
        if digest:
            warc_headers.append(("WARC-Payload-Digest", digest))
        block, headers = self._http_response(ex)
        # No payload: a revisit's block is the HTTP header block alone.
        return _Record(
            rec_type="revisit",
            warc_headers=warc_headers,
            content_type="application/http; msgtype=response",
            http_block=block,
            payload=b"",
            payload_digest=digest,
            http_headers=headers,
            status=ex.status,
        )

    def _request_record(self, ex: HttpExchange, uri: str, warc_date: str, response: _Record) -> _Record:
        headers = ex.request_headers
        if not _has_header(headers, "Host"):
            headers = [("Host", _host_header(uri)), *headers]
        if ex.request_body and not _has_header(headers, "Content-Length"):
            headers = [*headers, ("Content-Length", str(len(ex.request_body)))]
        block, written = _http_block(
            f"{ex.method.upper()} {_request_target(uri)} {http_version(ex.protocol)}", headers
        )
        warc_headers = _warc_headers("request", uri, warc_date, ex.ip_address)
        warc_headers.append(("WARC-Concurrent-To", response.record_id))
        return _Record(
            rec_type="request",
            warc_headers=warc_headers,
            content_type="application/http; msgtype=request",
            http_block=block,
            payload=ex.request_body,
            payload_digest=_sha1(ex.request_body) if ex.request_body else _EMPTY_SHA1,
            http_headers=written,
        )


def iter_gzip_members(fh: IO[bytes], chunk_size: int = 1 << 20) -> Any:
    """Yield (offset, length, head) for each complete gzip member; stop at the first partial/corrupt one.

    `head` is the first bytes of the member's decompressed content (enough to read the WARC-Type).
    zlib checks each member's CRC32 and length, so a complete member is also an intact one. Written by
    hand because neither gzip nor warcio reports where a member ends or tolerates a truncated tail.
    """
    start = 0
    fed = 0
    head = b""
    decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
    pending = b""
    while True:
        if not pending:
            pending = fh.read(chunk_size)
            if not pending:
                return
        try:
            out = decomp.decompress(pending)
        except zlib.error:
            return
        fed += len(pending)
        if len(head) < 512:
            head += out[: 512 - len(head)]
        if decomp.eof:
            length = fed - len(decomp.unused_data)
            yield start, length, head
            start += length
            pending = decomp.unused_data
            decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
            fed = 0
            head = b""
        else:
            pending = b""


def _owner_is_gone(open_path: Path) -> bool:
    with _serial_lock:
        if open_path.resolve() in _live_paths:
            return False
    match = _OPEN_NAME.match(open_path.name)
    if match is None:
        return True  # not a name this writer makes: nobody we know is writing it
    if match["host"] != hostname():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return True  # ours, yet no writer holds it: left behind by a writer that was never closed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


def _warc_type(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"warc-type:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""


def _complete_length(path: Path) -> int:
    with path.open("rb") as fh:
        members = list(iter_gzip_members(fh))
    # A request is written just before its response: alone at the end, it is half an exchange.
    while members and _warc_type(members[-1][2]) == "request":
        members.pop()
    if not members:
        return 0
    offset, length, _ = members[-1]
    return offset + length

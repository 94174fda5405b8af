"""Read one record back by its offset, as an article's WARC pointer allows (locally or via a ranged GET)."""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders


@dataclass
class ReadRecord:
    rec_type: str
    record_id: str
    target_uri: str
    payload_digest: str
    date: str
    http_status: int | None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    warc_headers: list[tuple[str, str]] = field(default_factory=list)
    http_status_line: str = ""  # "HTTP/1.1 200 OK" / "GET /path HTTP/1.1"; "" without HTTP headers
    raw_payload: bytes = b""  # as stored: still gzip/br when the response said Content-Encoding
    payload: bytes = b""  # Content-Encoding (and chunking, if a foreign WARC kept it) undone


def decode_payload(raw: bytes, http_headers: StatusAndHeaders | None) -> bytes:
    """Undo Content-Encoding the way warcio's content_stream() does, from bytes already read."""
    if http_headers is None:
        return raw
    encoding = (http_headers.get_header("content-encoding") or "").lower() or None
    if encoding == "br":
        # warcio's br reader needs brotlipy's Decompressor.unused_data; Google's brotli (the one Scrapy
        # decodes with) has no such attribute, so warcio fails on every br body. Decode it here.
        import brotli  # type: ignore[import-untyped,unused-ignore]

        if (http_headers.get_header("transfer-encoding") or "").lower() == "chunked":
            raw = bytes(ChunkedDataReader(BytesIO(raw), decomp_type=None).read())
        return bytes(brotli.decompress(raw))
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    if (http_headers.get_header("transfer-encoding") or "").lower() == "chunked":
        return bytes(ChunkedDataReader(BytesIO(raw), decomp_type=encoding).read())
    if encoding:
        return bytes(BufferedReader(BytesIO(raw), decomp_type=encoding).read())
    return raw


def read_record_from(stream: IO[bytes]) -> ReadRecord:
    """Parse the first record of a stream that starts at a record boundary (ValueError otherwise)."""
    # warcio is lenient: from a position inside a record it may skip ahead and return the NEXT record,
    # which would make a wrong offset look right. A record boundary starts a gzip member or "WARC/".
    if not stream.seekable():
        stream = BytesIO(stream.read())
    head = stream.read(5)
    stream.seek(-len(head), 1)
    if not (head.startswith(b"\x1f\x8b") or head == b"WARC/"):
        raise ValueError("not the start of a WARC record")
    try:
        return _first_record(stream)
    except ArchiveLoadFailed:
        # warcio's message quotes the undecodable bytes it found: useless in a one-line error.
        raise ValueError("not the start of a WARC record") from None


def _first_record(stream: IO[bytes]) -> ReadRecord:
    start = stream.tell()  # warcio counts offsets from the stream's position when it starts
    records = ArchiveIterator(stream)
    for record in records:
        rec = record.rec_headers
        http = record.http_headers
        status: int | None = None
        if http is not None and record.rec_type in ("response", "revisit"):
            code = http.get_statuscode()
            status = int(code) if code and code.isdigit() else None
        raw = record.raw_stream.read()
        # asked only after the payload is read: warcio finishes the record to answer
        if records.get_record_offset() != start:
            raise ValueError("not the start of a WARC record")
        return ReadRecord(
            rec_type=record.rec_type,
            record_id=rec.get_header("WARC-Record-ID") or "",
            target_uri=rec.get_header("WARC-Target-URI") or "",
            payload_digest=rec.get_header("WARC-Payload-Digest") or "",
            date=rec.get_header("WARC-Date") or "",
            http_status=status,
            http_headers=list(http.headers) if http is not None else [],
            warc_headers=list(rec.headers),
            http_status_line=_status_line(http),
            raw_payload=raw,
            payload=decode_payload(raw, http),
        )
    raise ValueError("no WARC record at this position")


def _status_line(http: StatusAndHeaders | None) -> str:
    if http is None:
        return ""
    if http.protocol and not http.statusline.startswith(http.protocol):
        # A response's protocol is kept apart from "200 OK"; a request's line already holds it.
        return f"{http.protocol} {http.statusline}"
    return str(http.statusline)


def format_record(record: ReadRecord) -> str:
    """The record's WARC headers, then its HTTP status line and headers when it has them, as text."""
    lines = ["WARC/1.1", *(f"{name}: {value}" for name, value in record.warc_headers), ""]
    if record.http_status_line:
        lines += [record.http_status_line, *(f"{name}: {value}" for name, value in record.http_headers), ""]
    lines.append(f"({len(record.raw_payload)} payload bytes as stored, {len(record.payload)} decoded)")
    return "\n".join(lines) + "\n"


def read_record(path: Path, offset: int, length: int | None = None) -> ReadRecord:
    """Read the record whose gzip member starts at `offset`. With `length`, read exactly those bytes,
    which is what a ranged GET on an object store returns."""
    with Path(path).open("rb") as fh:
        fh.seek(offset)
        if length is None:
            return read_record_from(fh)
        data = fh.read(length)
    if len(data) != length:
        raise ValueError(f"{path}: only {len(data)} of {length} bytes at offset {offset}")
    return read_record_from(BytesIO(data))

"""Write WARC records to a file as gzip members, one member per record, at a chosen compression level.

An already-compressed payload (Content-Encoding gzip, br, ...) goes into deflate stored blocks after
its deflated header blocks, so capture does not pay to compress it a second time.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import IO

from warcio.warcwriter import WARCWriter

from archive.warc_records import WarcRecord

# A gzip member header as zlib writes it (no name, mtime 0, OS unix); written by hand because a member
# here may continue its deflate stream with stored blocks (see GzipMember).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
# Content-Encodings whose bytes deflate cannot shrink: compressing them again only costs CPU.
_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"})
# Deflate stored blocks (RFC 1951 section 3.2.4): at most 65535 bytes each; an empty final one ends
# the stream (BFINAL=1, BTYPE=00, padding, LEN=0, NLEN=0xFFFF).
_STORED_MAX = 0xFFFF
_FINAL_EMPTY_STORED = b"\x01\x00\x00\xff\xff"


class GzipMember:
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


def _encoded_payload(record: WarcRecord) -> bool:
    if record.rec_type != "response":
        return False
    encoding = (_first_header(record.http_headers, "Content-Encoding") or "").strip().lower()
    return encoding in _COMPRESSED_ENCODINGS


def write_record(out: IO[bytes], level: int, record: WarcRecord) -> int:
    """Write the record as one gzip member; return its length in bytes.

    The member is built in memory and written with one call: the writer learns each record's offset by
    adding lengths instead of asking the file (a tell() on a buffered file is an lseek, ~10 us here, and
    was asked seven times per exchange), and the file sees one write instead of one per deflate block."""
    member = encode_record(level, record)
    out.write(member)
    return len(member)


def encode_record(level: int, record: WarcRecord) -> bytes:
    out = io.BytesIO()
    head = record.head()
    tail = (b"" if record.rec_type == "revisit" else record.payload) + b"\r\n\r\n"
    if _encoded_payload(record):
        # Header blocks deflated at `level`, the already-compressed payload stored.
        member = GzipMember(out, level, store_after=1, deflated_size=len(head))
    else:
        member = GzipMember(out, level, deflated_size=len(head) + len(tail))
    member.write(head)
    member.write(tail)
    member.flush()
    return out.getvalue()


def write_warcinfo(out: IO[bytes], level: int, filename: str, fields: dict[str, str]) -> None:
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    # warcio writes the record's parts into the member, then flushes it (which ends the member).
    writer._write_warc_record(GzipMember(out, level), writer.create_warcinfo_record(filename, fields))

"""The plain data that crosses from the crawler into the WARC writer, and what the writer hands back.

Kept free of Scrapy so the archive library can be used (and tested) on its own; the Scrapy adapter in
pipelines/warc.py fills an HttpExchange and turns a RecordLocation into core.items.WarcPointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# WARC-Truncated reasons (WARC 1.1 section 5.13) this crawler can produce.
TRUNCATED_LENGTH = "length"  # stopped on purpose at the body size limit
TRUNCATED_DISCONNECT = "disconnect"  # the connection broke before the announced body was complete


@dataclass
class HttpExchange:
    url: str  # as fetched; non-ASCII is percent-encoded (RFC 3986) when written as WARC-Target-URI
    method: str
    request_headers: list[tuple[str, str]]  # as sent, repeated names kept
    request_body: bytes
    protocol: str  # "HTTP/1.1"
    status: int
    response_headers: list[tuple[str, str]]  # as received: repeated Set-Cookie and Content-Encoding kept
    body: bytes  # exactly as received (still gzip-compressed under Content-Encoding: gzip)
    ip_address: str | None
    fetched_at: datetime  # UTC
    truncated: str = ""  # "" = complete, else TRUNCATED_LENGTH or TRUNCATED_DISCONNECT


@dataclass
class RecordLocation:
    """Where a response record lives. Same fields, same meaning as core.items.WarcPointer."""

    filename: str  # WARC file basename
    path: str  # relative to the archive root, forward slashes
    offset: int  # of the record's gzip member
    length: int  # compressed length of that member
    record_id: str  # <urn:uuid:...>
    payload_digest: str  # sha1:BASE32
    target_uri: str
    date: str  # WARC-Date


@dataclass
class WriteResult:
    """What write_exchange wrote: the record of this capture and, for a revisit, the record it refers to.

    `payload_source` is the record whose payload can actually be read back (the original response for a
    revisit, the record itself otherwise): article pointers must use it.
    """

    record: RecordLocation
    rec_type: str  # "response" or "revisit"
    original: RecordLocation | None = None  # the earlier response a revisit stands for, when known

    @property
    def payload_source(self) -> RecordLocation:
        return self.original if self.original is not None else self.record

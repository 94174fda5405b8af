"""Find the WARC records that document one article and copy them, byte for byte, out of an archive store.

An article row points at the response its text was extracted from. Its evidence is that response and
the request record written with it, the crawl's metadata record about the capture (the article JSON,
`WARC-Refers-To` the response) and, when the page was fetched again with a payload already archived,
the revisit record of that fetch (the metadata record's `WARC-Concurrent-To`). Records are found by
their links, never by guessing from dates, and read with ranged reads (`Store.read_range`), so an
`s3://` archive is never downloaded whole. Each record is one gzip member and is copied unchanged:
digests and record ids stay valid in the bundle.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from archive.storage import Store
from archive.warc_records import METADATA_URI_PREFIX, warc_target_uri

COPY_CHUNK = 1 << 20  # bytes per ranged read when copying a record
# Compressed bytes read first to parse a record's headers (doubled as needed). Most article responses
# and metadata records are smaller: they are then read whole, once, and copied from memory.
_HEAD_READ = 1 << 16
_HEAD_MAX = 1 << 22  # header blocks larger than this are not a record this project can have written
# The request record sits right before its response (this project's writer, wget) or right after it
# (Heritrix). Requests are headers only, a few hundred bytes: these windows are searched in turn.
_REQUEST_WINDOWS = (1 << 14, 1 << 18, 1 << 22)
_GZIP_MAGIC = b"\x1f\x8b\x08"


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class WaczSourceError(Exception):
    """An article's WARC pointer does not lead to a readable record (one line, naming file and offset)."""


@dataclass(frozen=True)
class RecordHead:
    """What the bundle needs to know about a record: its WARC headers and HTTP status line/headers."""

    warc_headers: dict[str, str]
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    status: int | None = None

    def get(self, name: str) -> str:
        return self.warc_headers.get(name.lower(), "")

    @property
    def rec_type(self) -> str:
        return self.get("WARC-Type")

    @property
    def record_id(self) -> str:
        return self.get("WARC-Record-ID")


@dataclass(frozen=True)
class Span:
    """One record in the archive: the gzip member at [offset, offset+length) of WARC file `key`."""

    key: str
    offset: int
    length: int
    head: RecordHead
    data: bytes | None = None  # the whole record, when reading its headers already read all of it


def _header_lines(block: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in block.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name, value.strip()))
    return pairs


def _blocks_ended(data: bytes) -> int | None:
    """Where the header blocks end in inflated record bytes (WARC headers, then the HTTP headers of an
    HTTP record), or None when `data` does not hold them all yet."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    if b"application/http" not in data[:end].lower():
        return end
    http_end = data.find(b"\r\n\r\n", end + 4)
    return http_end if http_end >= 0 else None


def parse_head(member: bytes) -> RecordHead | None:
    """The headers of the record whose gzip member starts `member` (which may be cut short), or None
    when they are not all in it."""
    inflater = zlib.decompressobj(wbits=31)
    data, rest = b"", member
    try:
        # Inflate only as far as the header blocks go, not a whole payload.
        while rest and len(data) < _HEAD_MAX and _blocks_ended(data) is None:
            data += inflater.decompress(rest, _HEAD_READ)
            rest = inflater.unconsumed_tail
    except zlib.error:
        return None
    end = data.find(b"\r\n\r\n")
    if not data.startswith(b"WARC/") or end < 0:
        return None
    warc = {name.lower(): value for name, value in _header_lines(data[:end])}
    if not warc.get("content-type", "").startswith("application/http"):
        return RecordHead(warc)
    block_start = end + 4
    http_end = data.find(b"\r\n\r\n", block_start)
    if http_end < 0:
        return None
    first, _, rest = data[block_start:http_end].partition(b"\r\n")
    status = None
    if warc.get("warc-type") in ("response", "revisit"):
        code = first.split(b" ")[1:2]
        status = int(code[0]) if code and code[0].isdigit() else None
    return RecordHead(warc, _header_lines(rest), status)


def read_span(store: Store, key: str, offset: int, length: int) -> Span:
    """The record at this pointer, with its headers; WaczSourceError when no record starts there."""
    size = min(length, _HEAD_READ)
    while True:
        data = store.read_range(key, offset, size)
        head = parse_head(data)
        if head is not None or size >= length or size >= _HEAD_MAX:
            break
        size = min(length, size * 2)
    if head is None:
        raise WaczSourceError(f"{key}: no WARC record at offset {offset} (length {length})")
    return Span(key, offset, length, head, data if len(data) == length else None)


def _member_length(data: bytes) -> int | None:
    """How many bytes the gzip member that starts `data` takes, or None when it is not complete in it."""
    inflater = zlib.decompressobj(wbits=31)
    rest = data
    try:
        while rest and not inflater.eof:
            inflater.decompress(rest, COPY_CHUNK)
            rest = inflater.unconsumed_tail
    except zlib.error:
        return None
    return len(data) - len(inflater.unused_data) if inflater.eof else None


def find_request(store: Store, response: Span, file_size: Callable[[], int]) -> Span | None:
    """The request record written with `response` (its `WARC-Concurrent-To`), or None.

    Searched backwards from the response for the gzip member that ends exactly where the response
    starts, then right after it; a candidate counts only when it is one whole member holding a
    request record that names the response, so bytes that merely look like a gzip header inside
    compressed data are never taken for a record.
    """
    wanted = response.head.record_id
    for window in _REQUEST_WINDOWS:
        start = max(0, response.offset - window)
        data = store.read_range(response.key, start, response.offset - start)
        pos = data.rfind(_GZIP_MAGIC)
        while pos >= 0:
            member = data[pos:]
            head = parse_head(member)
            if head is not None and _is_request_of(head, wanted) and _member_length(member) == len(member):
                return Span(response.key, start + pos, len(member), head, member)
            pos = data.rfind(_GZIP_MAGIC, 0, pos)
        if start == 0:
            break
    after = response.offset + response.length
    remaining = file_size() - after
    for window in _REQUEST_WINDOWS:
        size = min(window, remaining)
        if size <= 0:
            return None
        data = store.read_range(response.key, after, size)
        head = parse_head(data)
        if head is not None and not _is_request_of(head, wanted):
            return None
        length = _member_length(data) if head is not None else None
        if length is not None and head is not None:
            return Span(response.key, after, length, head, data[:length])
        if size >= remaining:
            return None
    return None


def _is_request_of(head: RecordHead, record_id: str) -> bool:
    return head.rec_type == "request" and head.get("WARC-Concurrent-To") == record_id


def copy_span(store: Store, span: Span, out: Sink) -> None:
    """Write the record's bytes to `out`, a chunk at a time (a large payload is never held whole)."""
    if span.data is not None:
        out.write(span.data)
        return
    done = 0
    while done < span.length:
        size = min(COPY_CHUNK, span.length - done)
        chunk = store.read_range(span.key, span.offset + done, size)
        if len(chunk) != size:
            raise WaczSourceError(
                f"{span.key}: only {done + len(chunk)} of {span.length} bytes at offset {span.offset}"
            )
        out.write(chunk)
        done += size


CapturesOf = Callable[[str], list[dict[str, Any]]]
"""archive.catalog.Catalog.captures_of: every indexed record of a WARC-Target-URI, oldest first."""


@dataclass
class ArticleRecords:
    """The records one article row brings into the bundle, in the order they are written."""

    spans: list[Span]
    page_uri: str  # the URI to replay the article at: the fetched URL when a record of it is bundled
    page_date: str  # WARC-Date of that record
    warnings: list[str]


def article_records(row: dict[str, Any], store: Store, captures_of: CapturesOf) -> ArticleRecords:
    pointer = row.get("warc") or {}
    try:
        key, offset, length = str(pointer["path"]), int(pointer["offset"]), int(pointer["length"])
    except (KeyError, TypeError, ValueError):
        raise WaczSourceError(f"{row.get('url')}: the article row has no usable `warc` pointer") from None
    sizes: dict[str, int] = {}

    def size_of(k: str) -> Callable[[], int]:
        def size() -> int:
            if k not in sizes:
                info = store.head(k)
                sizes[k] = info.size if info is not None else 0
            return sizes[k]

        return size

    warnings: list[str] = []
    spans: list[Span] = []

    def add_exchange(main: Span) -> None:
        request = find_request(store, main, size_of(main.key))
        if request is None:
            warnings.append(f"{main.key}: no request record found for {main.head.record_id}")
        else:
            spans.append(request)
        spans.append(main)

    main = read_span(store, key, offset, length)
    if main.head.rec_type not in ("response", "revisit"):
        raise WaczSourceError(f"{key}: offset {offset} holds a {main.head.rec_type or 'non-WARC'} record")
    if main.head.rec_type == "revisit":
        original = _original_of(main, store, captures_of)
        if original is None:
            warnings.append(f"{key}: the original of revisit {main.head.record_id} is not in the archive")
        else:
            add_exchange(original)
    add_exchange(main)
    source_id = main.head.record_id
    fetched = warc_target_uri(str(row.get("fetched_url") or main.head.get("WARC-Target-URI")))
    page_uri, page_date = main.head.get("WARC-Target-URI"), main.head.get("WARC-Date")
    found_metadata = False
    for meta in _spans_of(captures_of(METADATA_URI_PREFIX + fetched), store, kinds=("metadata",)):
        if meta.head.get("WARC-Refers-To") != source_id:
            continue  # another capture of the same URL, with another payload
        found_metadata = True
        fetch_id = meta.head.get("WARC-Concurrent-To")
        if fetch_id and fetch_id != source_id:
            # A later fetch whose payload was already archived: its revisit record is what replays the
            # fetched URL when the original was captured under another one.
            revisit = next(
                (
                    s
                    for s in _spans_of(captures_of(fetched), store, ("revisit",))
                    if s.head.record_id == fetch_id
                ),
                None,
            )
            if revisit is not None:
                add_exchange(revisit)
                page_uri, page_date = revisit.head.get("WARC-Target-URI"), revisit.head.get("WARC-Date")
        spans.append(meta)
    if not found_metadata:
        warnings.append(f"{key}: no metadata record refers to {source_id} ({fetched})")
    return ArticleRecords(spans, page_uri, page_date, warnings)


def _spans_of(captures: list[dict[str, Any]], store: Store, kinds: tuple[str, ...]) -> Iterator[Span]:
    for cap in captures:
        if cap.get("kind") in kinds:
            key, offset, length = str(cap["warc_path"]), int(cap["offset"]), int(cap["length"])
            yield read_span(store, key, offset, length)


def _original_of(revisit: Span, store: Store, captures_of: CapturesOf) -> Span | None:
    wanted = revisit.head.get("WARC-Refers-To")
    uri = revisit.head.get("WARC-Refers-To-Target-URI") or revisit.head.get("WARC-Target-URI")
    if not wanted:
        return None
    for cap in captures_of(uri):
        if cap.get("record_id") == wanted and cap.get("kind") == "response":
            key, offset, length = str(cap["warc_path"]), int(cap["offset"]), int(cap["length"])
            return read_span(store, key, offset, length)
    return None

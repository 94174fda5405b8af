"""Build the WARC records of an HTTP exchange: target URIs, WARC and HTTP header blocks, record ids and
digests, as request, response, revisit and metadata records ready to be written (archive.warc_gzip).

Nothing here touches a file: archive.warc_writer decides which records to write and where.
"""

from __future__ import annotations

import base64
import hashlib
import http
import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from warcio.statusandheaders import StatusAndHeaders

from archive.exchange import HttpExchange, RecordLocation

PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"

# RFC 3986 reserved characters plus '%', so existing escapes and URL structure survive quoting.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%"


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
class WarcRecord:
    """One WARC record, serialised by hand (see WarcRecord.head).

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


def _http_response(ex: HttpExchange) -> tuple[bytes, list[tuple[str, str]]]:
    status_line = f"{http_version(ex.protocol)} {ex.status} {reason_phrase(ex.status)}"
    return _http_block(status_line, ex.response_headers)


def response_record(ex: HttpExchange, uri: str, warc_date: str) -> WarcRecord:
    warc_headers = _warc_headers("response", uri, warc_date, ex.ip_address)
    if ex.truncated:
        warc_headers.append(("WARC-Truncated", ex.truncated))
    block, headers = _http_response(ex)
    return WarcRecord(
        rec_type="response",
        warc_headers=warc_headers,
        content_type="application/http; msgtype=response",
        http_block=block,
        payload=ex.body,
        payload_digest=_sha1(ex.body),
        http_headers=headers,
        status=ex.status,
    )


def revisit_record(
    ex: HttpExchange,
    uri: str,
    warc_date: str,
    profile: str,
    original: RecordLocation | None,
    digest: str | None,
) -> WarcRecord:
    warc_headers = _warc_headers("revisit", uri, warc_date, ex.ip_address)
    warc_headers.append(("WARC-Profile", profile))
    if original is not None:
        warc_headers.append(("WARC-Refers-To", original.record_id))
        warc_headers.append(("WARC-Refers-To-Target-URI", original.target_uri))
        warc_headers.append(("WARC-Refers-To-Date", original.date))
    if digest:
        warc_headers.append(("WARC-Payload-Digest", digest))
    block, headers = _http_response(ex)
    # No payload: a revisit's block is the HTTP header block alone.
    return WarcRecord(
        rec_type="revisit",
        warc_headers=warc_headers,
        content_type="application/http; msgtype=response",
        http_block=block,
        payload=b"",
        payload_digest=digest,
        http_headers=headers,
        status=ex.status,
    )


def request_record(ex: HttpExchange, uri: str, warc_date: str, response: WarcRecord) -> WarcRecord:
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
    return WarcRecord(
        rec_type="request",
        warc_headers=warc_headers,
        content_type="application/http; msgtype=request",
        http_block=block,
        payload=ex.request_body,
        payload_digest=_sha1(ex.request_body) if ex.request_body else _EMPTY_SHA1,
        http_headers=written,
    )


def metadata_record(
    uri: str, payload: bytes, date: str, *, refers_to: str, concurrent_to: str | None, content_type: str
) -> WarcRecord:
    """A metadata record with `uri` as its target (see metadata_target_uri)."""
    warc_headers = _warc_headers("metadata", uri, date, None)
    warc_headers.append(("WARC-Refers-To", refers_to))
    if concurrent_to:
        warc_headers.append(("WARC-Concurrent-To", concurrent_to))
    return WarcRecord(
        rec_type="metadata",
        warc_headers=warc_headers,
        content_type=content_type or "application/warc-fields",  # warcio's default for metadata
        http_block=b"",
        payload=payload,
        payload_digest=_sha1(payload),
        http_headers=[],
    )

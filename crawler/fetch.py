"""One polite HTTP GET outside Scrapy, for maintainers' commands (`newsarchive fixture record`).

Crawls never use this: they go through Scrapy with robots.txt, throttling and WARC capture. A fixture is
one page fetched once by a maintainer, so the standard library is enough; we still send our honest
User-Agent and accept only what we can decode.
"""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
import zlib

import brotli

from spiders.fixtures import FetchResult

MAX_BYTES = 32 * 1024 * 1024


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        return bytes(brotli.decompress(body))
    raise OSError(f"unsupported Content-Encoding {encoding!r}")


def fetch_once(url: str, user_agent: str, *, timeout: float = 30.0) -> FetchResult:
    request = urllib.request.Request(
        url, headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br", "Accept": "text/html"}
    )
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:  # a 4xx/5xx is still an answer worth reporting
        response = exc
    with response:
        raw = response.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise OSError(f"{url}: body larger than {MAX_BYTES} bytes")
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        body = _decode(raw, response.headers.get("Content-Encoding", ""))
        headers.pop("content-encoding", None)  # the stored body is decoded
        return FetchResult(url=response.geturl(), status=response.status, headers=headers, body=body)

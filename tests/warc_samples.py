"""Sample exchanges and WARC read-back checks shared by the WarcWriter tests (tests/test_warc_writer*.py)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.exchange import HttpExchange

BIN = Path(sys.executable).parent
HTML_JA = "<html><head><title>露朝の軍事協力</title></head><body>ロシアと北朝鮮～</body></html>"


def exchange(url: str, body: bytes = b"<html>ok</html>", **kw: object) -> HttpExchange:
    fields: dict = {
        "url": url,
        "method": "GET",
        "request_headers": [("User-Agent", "newsarchive-test"), ("Accept-Encoding", "gzip, deflate")],
        "request_body": b"",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_headers": [("Content-Type", "text/html; charset=utf-8")],
        "body": body,
        "ip_address": "127.0.0.1",
        "fetched_at": datetime(2026, 11, 28, 5, 15, 0, 123456, tzinfo=UTC),
    }
    fields.update(kw)
    return HttpExchange(**fields)


def sample_exchanges() -> list[HttpExchange]:
    return [
        exchange(
            "http://127.0.0.1:8080/gz",
            body=gzip.compress(HTML_JA.encode("utf-8")),
            response_headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Set-Cookie", "session=abc; Path=/"),
                ("Set-Cookie", "region=tokyo; Path=/"),
            ],
        ),
        exchange("http://127.0.0.1:8080/search?q=north+korea&page=2"),
        exchange("http://127.0.0.1:8080/記事/ロシア?q=北朝鮮"),
        exchange(
            "http://127.0.0.1:8080/sjis",
            body=HTML_JA.encode("cp932"),
            response_headers=[("Content-Type", "text/html; charset=Shift_JIS")],
        ),
        exchange(
            "http://127.0.0.1:8080/missing", status=404, body=b"not found", ip_address=None, protocol="h2"
        ),
    ]


def warcio_check(path: Path) -> str:
    result = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def records(path: Path) -> list[tuple[str, object]]:
    """(type, record) with digests checked while the content is read."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            rec.content_stream().read()
            out.append((rec.rec_type, rec))
    return out


def read_index(path: Path) -> list[tuple[str, str, dict]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, ts, data = line.split(" ", 2)
        out.append((key, ts, json.loads(data)))
    return out

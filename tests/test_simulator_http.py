"""The outlet simulator over real sockets on 127.0.0.1: HTTP behaviour and the transport test cases."""

from __future__ import annotations

import gzip
import http.client
import json
from urllib.parse import urlsplit

import pytest

from crawler.simulator import Simulator
from tests.simulator_helpers import (
    all_paths,
    dechunk,
    fetch,
    header_lines,
    outlet_articles,
    raw_exchange,
    raw_request,
)

# ---------------------------------------------------------------------------- HTTP behaviour


def test_redirects_404_and_405(sim: Simulator) -> None:
    jiji = outlet_articles(sim, "jiji")[5]
    response, _ = fetch(sim, "jiji", jiji.path.replace("/jc/", "/sp/"))
    assert response.status == 301 and response.getheader("Location") == jiji.url
    asahi = outlet_articles(sim, "asahi")[5]
    response, _ = fetch(sim, "asahi", "/sp" + asahi.path)
    assert response.status == 301 and response.getheader("Location") == asahi.url
    response, body = fetch(sim, "asahi", "/no/such/page.html")
    assert response.status == 404 and b"404" in body
    assert response.getheader("Content-Type") == "text/html; charset=UTF-8"
    response, _ = fetch(sim, "jiji", "/robots.txt", method="POST")
    assert response.status == 405 and response.getheader("Allow") == "GET, HEAD"


def test_gzip_only_when_accepted(sim: Simulator) -> None:
    article = next(a for a in outlet_articles(sim, "asahi") if not a.chunked)
    plain_response, plain = fetch(sim, "asahi", article.path)
    assert plain_response.getheader("Content-Encoding") is None
    assert int(plain_response.getheader("Content-Length", "0")) == len(plain)
    response, body = fetch(sim, "asahi", article.path, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Vary") == "Accept-Encoding"
    assert gzip.decompress(body) == plain
    response, _ = fetch(sim, "asahi", article.path, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert response.getheader("Content-Encoding") is None


def test_chunked_framing_is_real(sim: Simulator) -> None:
    response, body = fetch(sim, "jiji", "/jc/list?g=flash")
    assert response.chunked and response.getheader("Content-Length") is None
    assert body == sim.served_bytes("jiji", "/jc/list?g=flash", "identity")[2]
    article = next(a for a in outlet_articles(sim, "jiji") if a.chunked)
    raw = raw_exchange(sim, "jiji", article.path)
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head and b"Content-Length" not in head
    payload, chunks = dechunk(rest)
    assert chunks >= 2
    assert gzip.decompress(payload) == sim.served_bytes("jiji", article.path, "identity")[2]
    plain = next(a for a in outlet_articles(sim, "jiji") if not a.chunked)
    assert not fetch(sim, "jiji", plain.path)[0].chunked


def test_shift_jis_page(sim: Simulator) -> None:
    article = next(a for a in outlet_articles(sim, "jiji") if a.charset == "shift_jis")
    response, body = fetch(sim, "jiji", article.path)
    assert response.getheader("Content-Type") == "text/html; charset=Shift_JIS"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("cp932")
    assert '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS" />' in text
    assert all(ch in text for ch in ("①", "㈱", "\uff5e"))


def test_article_cookies_validators_head_and_keep_alive(sim: Simulator) -> None:
    article = outlet_articles(sim, "asahi")[3]
    base = urlsplit(sim.base_urls["asahi"])
    conn = http.client.HTTPConnection(base.hostname or "", base.port, timeout=10)
    try:
        conn.request("GET", article.path)
        first = conn.getresponse()
        body = first.read()
        sock = conn.sock
        assert len(first.msg.get_all("Set-Cookie") or []) == 2
        assert first.getheader("Server") == "newsarchive-simulator" and first.getheader("Date")
        etag, last_modified = first.getheader("ETag"), first.getheader("Last-Modified")
        assert etag and last_modified
        conn.request("HEAD", article.path)
        head = conn.getresponse()
        assert head.read() == b"" and head.getheader("ETag") == etag
        conn.request("GET", article.path, headers={"If-None-Match": etag})
        cached = conn.getresponse()
        assert cached.status == 304 and cached.read() == b""
        assert conn.sock is sock  # one connection served all three requests
    finally:
        conn.close()
    assert len(body) > 10_000


def test_request_log(sim: Simulator) -> None:
    before = len(sim.requests)
    fetch(sim, "jiji", "/jc/list?g=flash&p=2", headers={"Host": "www.jiji.com"})
    assert sim.log_path is not None
    lines = [json.loads(line) for line in sim.log_path.read_text(encoding="utf-8").splitlines()]
    assert lines == sim.requests and len(lines) > before
    last = lines[-1]
    assert {k: last[k] for k in ("outlet", "method", "host", "path", "status")} == {
        "outlet": "jiji",
        "method": "GET",
        "host": "www.jiji.com",
        "path": "/jc/list?g=flash&p=2",
        "status": 200,
    }
    assert last["time"].endswith("Z")


def test_served_bytes_equals_the_wire(sim: Simulator) -> None:
    for outlet, path in [("jiji", "/sitemap.xml"), ("asahi", "/news/history.html?page=2")] + [
        (a.outlet, a.path) for a in sim.articles[:6]
    ]:
        raw = raw_exchange(sim, outlet, path)
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = [tuple(line.split(": ", 1)) for line in header_lines]
        assert headers[-1] == ("Connection", "close")  # added only because this request asked to close
        status, expected_headers, expected_body = sim.served_bytes(outlet, path)
        assert status_line.startswith(f"HTTP/1.1 {status} ")
        assert headers[:-1] == expected_headers
        body = dechunk(rest)[0] if ("Transfer-Encoding", "chunked") in expected_headers else rest
        assert body == expected_body


# ---------------------------------------------------------------------------- transport test cases


def test_brotli_case_negotiates_br(sim: Simulator) -> None:
    import brotli

    head, body, closed = raw_request(sim, "jiji", "/sim/brotli.html", "Accept-Encoding: gzip, br\r\n")
    headers = dict(header_lines(head))
    assert head.startswith(b"HTTP/1.1 200 ") and not closed
    assert headers["Content-Encoding"] == "br" and headers["Vary"] == "Accept-Encoding"
    assert int(headers["Content-Length"]) == len(body)
    plain_response, plain = fetch(sim, "jiji", "/sim/brotli.html")  # identity
    assert plain_response.getheader("Content-Encoding") is None
    assert brotli.decompress(body) == plain and plain.startswith(b"<!DOCTYPE html>")
    assert body != plain and body[:2] != b"\x1f\x8b"
    gz_response, gz = fetch(sim, "jiji", "/sim/brotli.html", headers={"Accept-Encoding": "gzip, br;q=0"})
    assert gz_response.getheader("Content-Encoding") == "gzip" and gzip.decompress(gz) == plain
    assert sim.served_bytes("jiji", "/sim/brotli.html", "br")[2] == body


def test_oversize_case_has_the_requested_size(sim: Simulator) -> None:
    response, body = fetch(
        sim, "jiji", "/sim/oversize.html?bytes=300000", headers={"Accept-Encoding": "gzip"}
    )
    assert response.status == 200 and len(body) == 300_000
    assert int(response.getheader("Content-Length", "0")) == 300_000
    assert response.getheader("Content-Encoding") is None  # never compressed: the size is the point
    assert body.startswith(b"<!DOCTYPE html>") and body.endswith(b"</html>\n")
    assert len(set(body[100:200])) > 10  # not one repeated byte
    assert len(fetch(sim, "jiji", "/sim/oversize.html")[1]) == 300_000  # the default
    assert len(fetch(sim, "jiji", "/sim/oversize.html?bytes=70000")[1]) == 70_000
    for bad in ("abc", "10", str(10**9)):
        assert fetch(sim, "jiji", f"/sim/oversize.html?bytes={bad}")[0].status == 400


def test_dropped_case_closes_mid_body(sim: Simulator) -> None:
    head, body, closed = raw_request(sim, "jiji", "/sim/dropped.html")
    headers = dict(header_lines(head))
    assert headers["Content-Length"] == "10000" and "Connection" not in headers
    assert closed and len(body) == 5_000  # half of what was announced, then the server hung up
    status, served_headers, served = sim.served_bytes("jiji", "/sim/dropped.html")
    assert status == 200 and served == body and ("Content-Length", "10000") in served_headers
    head, body, closed = raw_request(sim, "jiji", "/sim/dropped.html?bytes=4000&sent=1000")
    assert closed and len(body) == 1000 and head.endswith(b"\r\nContent-Length: 4000")
    base = urlsplit(sim.base_urls["jiji"])
    conn = http.client.HTTPConnection(base.hostname or "", base.port, timeout=10)
    try:
        conn.request("GET", "/sim/dropped.html")
        with pytest.raises(http.client.IncompleteRead):
            conn.getresponse().read()
    finally:
        conn.close()
    assert fetch(sim, "jiji", "/sim/dropped.html?bytes=100&sent=100")[0].status == 400


def test_transport_cases_are_linked_from_nowhere_and_only_on_jiji(sim: Simulator) -> None:
    for outlet, path in all_paths(sim):
        _, _, body = sim.served_bytes(outlet, path, "identity")
        assert b"/sim/" not in body, path
    assert fetch(sim, "asahi", "/sim/brotli.html")[0].status == 404

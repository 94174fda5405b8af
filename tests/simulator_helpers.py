"""Shared by the simulator tests: raw HTTP on sockets, XML parsing, the site's topic words."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

import lxml.etree

from crawler.simulator import OUTLETS, SimArticle, Simulator

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SM84 = "{http://www.google.com/schemas/sitemap/0.84}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
RSS = "{http://purl.org/rss/1.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RUSSIA = ("ロシア", "露")
DPRK = ("北朝鮮", "金正恩", "平壌")
MILITARY = ("軍事協力", "弾薬", "ミサイル", "派兵", "軍事演習", "砲弾", "軍事")


def fetch(
    sim: Simulator, outlet: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    base = urlsplit(sim.base_urls[outlet])
    conn = http.client.HTTPConnection(base.hostname or "", base.port, timeout=10)
    try:
        conn.request(method, path, headers={"Accept-Encoding": "identity", **(headers or {})})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def xml(body: bytes) -> lxml.etree._Element:
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True)
    return lxml.etree.fromstring(body, parser)


def outlet_articles(sim: Simulator, outlet: str) -> list[SimArticle]:
    return [a for a in sim.articles if a.outlet == outlet]


def raw_exchange(sim: Simulator, outlet: str, path: str, accept_encoding: str = "gzip") -> bytes:
    """Everything the server sends for one request, read from a plain socket until it closes."""
    base = urlsplit(sim.base_urls[outlet])
    with socket.create_connection((base.hostname or "", base.port or 0), timeout=10) as sock:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {base.netloc}\r\nAccept-Encoding: {accept_encoding}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def dechunk(data: bytes) -> tuple[bytes, int]:
    body, count = b"", 0
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert data == b"\r\n"
            return body, count
        body, data = body + data[:size], data[size:]
        assert data[:2] == b"\r\n"
        data = data[2:]
        count += 1


def raw_request(sim: Simulator, outlet: str, path: str, headers: str = "") -> tuple[bytes, bytes, bool]:
    """One keep-alive request on a plain socket: (head, body bytes received, did the server close?)."""
    base = urlsplit(sim.base_urls[outlet])
    with socket.create_connection((base.hostname or "", base.port or 0), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {base.netloc}\r\n{headers}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(v for k, v in header_lines(head) if k.lower() == "content-length"))
        closed = False
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            body += chunk
    return head, body, closed


def header_lines(head: bytes) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (line.partition(": ") for line in head.decode("latin-1").split("\r\n")[1:])]


def all_paths(sim: Simulator) -> list[tuple[str, str]]:
    paths = [(a.outlet, a.path) for a in sim.articles]
    for outlet in OUTLETS:
        paths += [(outlet, p) for p in ("/robots.txt", "/sitemap.xml")]
    paths += [("jiji", "/rss/ranking.rdf"), ("asahi", "/rss/asahi/newsheadlines.rdf")]
    paths += [("jiji", f"/jc/list?g=flash&p={n}") for n in (1, 2, 3)]
    paths += [("asahi", f"/news/history.html?page={n}") for n in (1, 2, 3)]
    paths += [("jiji", "/sitemap/news/2025-03-01.xml"), ("asahi", "/sitemap/sitemap-2025-02.xml")]
    return paths

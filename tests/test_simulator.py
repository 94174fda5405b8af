"""The outlet simulator: site content, HTTP behaviour and determinism, over real sockets on 127.0.0.1."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import lxml.etree
import lxml.html
import pytest

from crawler.simulator import DEMO_SINCE, DEMO_UNTIL, OUTLETS, SimArticle, Simulator, serve

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SM84 = "{http://www.google.com/schemas/sitemap/0.84}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
RSS = "{http://purl.org/rss/1.0/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RUSSIA = ("ロシア", "露")
DPRK = ("北朝鮮", "金正恩", "平壌")
MILITARY = ("軍事協力", "弾薬", "ミサイル", "派兵", "軍事演習", "砲弾", "軍事")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with Simulator(log_path=log) as simulator:
        yield simulator


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


# ---------------------------------------------------------------------------- ground truth


def test_article_set_matches_the_spec(sim: Simulator) -> None:
    for outlet in OUTLETS:
        articles = outlet_articles(sim, outlet)
        assert sum(a.in_window for a in articles) == 48
        older = [a for a in articles if not a.in_window]
        assert len(older) == 12
        assert all("2025-02-01" <= a.published_at[:10] <= "2025-02-27" for a in older)
        assert all(DEMO_SINCE <= a.published_at <= DEMO_UNTIL for a in articles if a.in_window)
        assert len({a.url for a in articles}) == 60
        assert abs(sum(a.on_topic for a in articles) / len(articles) - 1 / 3) < 0.05
    jiji = outlet_articles(sim, "jiji")
    assert all(a.url == "https://www.jiji.com" + a.path for a in jiji)
    assert [a.charset for a in jiji[::8]] == ["shift_jis"] * 8
    assert sum(a.charset == "shift_jis" for a in jiji) == 8
    flashes = [a for a in jiji if len(a.paragraphs) == 1]
    assert len(flashes) == 1 and flashes[0].in_window and 60 <= len(flashes[0].paragraphs[0]) <= 100
    asahi = outlet_articles(sim, "asahi")
    assert 0.2 <= sum(a.paywalled for a in asahi) / 60 <= 0.3
    assert all(a.authors for a in asahi) and not any(a.authors for a in jiji)


def test_topic_words_only_in_on_topic_articles(sim: Simulator) -> None:
    for a in sim.articles:
        text = a.title + "".join(a.paragraphs)
        if a.on_topic:
            for group in (RUSSIA, DPRK, MILITARY):
                assert any(w in a.title for w in group), a.title
                assert any(w in "".join(a.paragraphs) for w in group), a.title
        else:
            assert not any(w in text for w in RUSSIA + DPRK), a.title
        if len(a.paragraphs) > 1:
            assert 4 <= len(a.paragraphs) <= 8
            assert 300 <= sum(len(p) for p in a.paragraphs) <= 1000


def test_off_topic_pages_carry_no_topic_words_in_boilerplate(sim: Simulator) -> None:
    for a in sim.articles:
        if a.on_topic:
            continue
        body = sim.served_bytes(a.outlet, a.path, accept_encoding="identity")[2]
        text = body.decode("cp932" if a.charset == "shift_jis" else "utf-8")
        assert not any(w in text for w in ("北朝鮮", "平壌", "金正恩", "ロシア")), a.path


# ---------------------------------------------------------------------------- discovery documents


def test_robots(sim: Simulator) -> None:
    response, body = fetch(sim, "jiji", "/robots.txt")
    assert response.status == 200 and response.getheader("Content-Type") == "text/plain; charset=UTF-8"
    lines = body.decode().splitlines()
    assert {"User-agent: *", "Disallow: /jc/search", "Disallow: /private/"} <= set(lines)
    assert "Sitemap: https://www.jiji.com/sitemap.xml" in lines
    response, body = fetch(sim, "asahi", "/robots.txt")
    text = body.decode()
    assert "User-agent: GPTBot\nDisallow: /" in text and text.endswith(
        "sitemap: https://www.asahi.com/sitemap.xml"
    )


def test_feeds(sim: Simulator) -> None:
    response, body = fetch(sim, "jiji", "/rss/ranking.rdf")
    assert response.getheader("Content-Type", "").startswith("application/rdf+xml")
    root = xml(body)
    items = root.findall(f"{RSS}item")
    newest = sorted(outlet_articles(sim, "jiji"), key=lambda a: a.published_at, reverse=True)
    assert root.findtext(f"{RSS}channel/{RSS}title") == "時事ドットコムアクセスランキング"
    assert [i.findtext(f"{RSS}link") for i in items] == [a.url + "&m=rss" for a in newest[:10]]
    assert all(i.find(f"{DC}date") is None for i in items)

    _, body = fetch(sim, "asahi", "/rss/asahi/newsheadlines.rdf")
    items = xml(body).findall(f"{RSS}item")
    newest = sorted(outlet_articles(sim, "asahi"), key=lambda a: a.published_at, reverse=True)
    assert [(i.findtext(f"{RSS}link"), i.findtext(f"{DC}date")) for i in items] == [
        (a.url, a.published_at) for a in newest[:20]
    ]


@pytest.mark.parametrize(("outlet", "ns"), [("jiji", SM), ("asahi", SM84)])
def test_sitemaps_list_every_article_with_news_fields(sim: Simulator, outlet: str, ns: str) -> None:
    response, body = fetch(sim, outlet, "/sitemap.xml")
    assert response.getheader("Content-Type") == "application/xml; charset=UTF-8"
    index = xml(body)
    assert index.tag == f"{SM}sitemapindex"
    found: dict[str, tuple[str | None, str | None, str | None]] = {}
    for child in index.findall(f"{SM}sitemap"):
        loc = child.findtext(f"{SM}loc") or ""
        assert child.findtext(f"{SM}lastmod", "").endswith("+09:00")
        assert loc.startswith(f"https://www.{outlet}.com/sitemap/")
        response, body = fetch(sim, outlet, urlsplit(loc).path)
        assert response.status == 200
        urlset = xml(body)
        assert urlset.tag == f"{ns}urlset"
        for url in urlset.findall(f"{ns}url"):
            news = url.find(f"{NEWS}news")
            assert news is not None
            assert news.findtext(f"{NEWS}publication/{NEWS}language") == "ja"
            found[url.findtext(f"{ns}loc") or ""] = (
                news.findtext(f"{NEWS}publication_date"),
                news.findtext(f"{NEWS}title"),
                news.findtext(f"{NEWS}keywords"),
            )
    expected = {a.url: (a.published_at, a.title, ",".join(a.keywords)) for a in outlet_articles(sim, outlet)}
    assert found == expected


@pytest.mark.parametrize(
    ("outlet", "first", "selector"),
    [
        (
            "jiji",
            "/jc/list?g=flash",
            "div#Main > div.MainInner.mb30 > div.ArticleListMain > ul.LinkList > li > a",
        ),
        ("asahi", "/news/history.html", "#MainInner .Section ul.List > li > a"),
    ],
)
def test_listing_pagination_covers_every_article_once(
    sim: Simulator, outlet: str, first: str, selector: str
) -> None:
    seen: list[str] = []
    next_path: str | None = first
    pages = 0
    while next_path:
        response, body = fetch(sim, outlet, next_path)
        assert response.status == 200
        doc = lxml.html.fromstring(body.decode())
        hrefs = [a.get("href") or "" for a in doc.cssselect(selector)]
        if pages == 0:
            mobile = [h for h in hrefs if h.startswith("/sp/")]
            assert len(mobile) == (2 if outlet == "jiji" else 1)
            for href in mobile:
                redirect, _ = fetch(sim, outlet, href)
                assert redirect.status == 301
        seen += hrefs
        nxt = doc.cssselect('a[rel="next"]')
        next_path = nxt[0].get("href") if nxt else None
        pages += 1
    assert pages == 3
    canonical = [h.split("?iref=")[0].replace("/sp/", "/jc/" if outlet == "jiji" else "/", 1) for h in seen]
    broken = [h for h in canonical if "k=2025031099999" in h]
    assert len(broken) == (1 if outlet == "jiji" else 0)
    if broken:
        assert fetch(sim, outlet, broken[0])[0].status == 404
    real = [h for h in canonical if h not in broken]
    newest = sorted(outlet_articles(sim, outlet), key=lambda a: a.published_at, reverse=True)
    assert real == [a.path for a in newest]


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


# ---------------------------------------------------------------------------- page fidelity


def test_jiji_article_page_keeps_the_real_structure(sim: Simulator) -> None:
    article = next(a for a in outlet_articles(sim, "jiji") if a.charset == "utf-8" and len(a.paragraphs) > 2)
    _, body = fetch(sim, "jiji", article.path)
    doc = lxml.html.fromstring(body.decode())
    assert doc.cssselect("div.ArticleTitle > h1")[0].text_content() == article.title
    assert doc.cssselect('meta[name="pubdate"]')[0].get("content") == article.published_at
    t = article.published
    assert doc.cssselect("div.ArticleData > p.ArticleTitleData")[0].text == f"{t:%Y年%m月%d日%H時%M分}"
    assert doc.cssselect('link[rel="canonical"]')[0].get("href") == article.url
    blocks = [json.loads(s.text) for s in doc.cssselect('script[type="application/ld+json"]')]
    news = next(b for b in blocks if b["@type"] == "NewsArticle")
    assert news["datePublished"] == article.published_at and news["headline"] == article.title
    assert news["articleSection"] == article.section
    assert any(b["@type"] == "BreadcrumbList" for b in blocks)
    container = doc.cssselect("div.ArticleText.clearfix")[0]
    assert container.cssselect("aside.ArticleInnerAD") and container.cssselect("p.ArticleTextTab a")
    text = "".join(p.text_content() for p in container.cssselect("p:not(.ArticleTextTab)"))
    assert all(p in text for p in article.paragraphs)
    assert (
        len(doc.cssselect("li.ThumbList > a")) >= 5
        and doc.cssselect("footer")
        and doc.cssselect("#PageHeader")
    )


def test_asahi_article_page_keeps_the_real_structure(sim: Simulator) -> None:
    free = next(a for a in outlet_articles(sim, "asahi") if not a.paywalled)
    _, body = fetch(sim, "asahi", free.path)
    text = body.decode()
    start, end = text.index("<!-- cxenseparse_start -->"), text.index("<!-- cxenseparse_end -->")
    assert start < text.index('class="nfyQp"') < end < text.index("有料会員になると会員限定の")
    doc = lxml.html.fromstring(text)
    assert doc.cssselect("main#main h1")[0].text == free.title
    assert [s.text for s in doc.cssselect("span.H8KYB")] == list(free.authors)
    assert doc.cssselect('meta[name="pubdate"]')[0].get("content") == free.published_at
    assert doc.cssselect("main#main time")[0].get("datetime", "").endswith(".000Z")
    paragraphs = [
        p.text_content().strip("　") for p in doc.cssselect("div.nfyQp > p") if p.get("id") != "_gtm_LastLine"
    ]
    assert paragraphs == list(free.paragraphs)
    assert doc.cssselect("p#_gtm_LastLine")
    news = json.loads(doc.cssselect('script[type="application/ld+json"]')[0].text)
    assert news["@type"] == "NewsArticle" and news["creator"] == list(free.authors)
    assert news["datePublished"] == free.published_at and news["dateModified"] == free.modified_at
    assert news["author"]["@type"] == "Organization"

    paid = next(a for a in outlet_articles(sim, "asahi") if a.paywalled)
    doc = lxml.html.fromstring(fetch(sim, "asahi", paid.path)[1].decode())
    shown = [p.text_content() for p in doc.cssselect("div.nfyQp > p") if p.get("id") != "_gtm_LastLine"]
    assert shown == ["　" + paid.paragraphs[0]]
    rest = sum(len(p) for p in paid.paragraphs[1:])
    notes = [d.text_content() for d in doc.cssselect("div.nfyQp > div") if "有料記事です" in d.text_content()]
    assert notes == [f"この記事は有料記事です。残り{rest}文字有料会員になると続きをお読みいただけます。"]


# ---------------------------------------------------------------------------- determinism and lifecycle


def all_paths(sim: Simulator) -> list[tuple[str, str]]:
    paths = [(a.outlet, a.path) for a in sim.articles]
    for outlet in OUTLETS:
        paths += [(outlet, p) for p in ("/robots.txt", "/sitemap.xml")]
    paths += [("jiji", "/rss/ranking.rdf"), ("asahi", "/rss/asahi/newsheadlines.rdf")]
    paths += [("jiji", f"/jc/list?g=flash&p={n}") for n in (1, 2, 3)]
    paths += [("asahi", f"/news/history.html?page={n}") for n in (1, 2, 3)]
    paths += [("jiji", "/sitemap/news/2025-03-01.xml"), ("asahi", "/sitemap/sitemap-2025-02.xml")]
    return paths


def test_same_seed_same_bytes_other_seed_other_site() -> None:
    one, two, other = Simulator(), Simulator(), Simulator(seed=7)
    for outlet, path in all_paths(one):
        assert one.served_bytes(outlet, path) == two.served_bytes(outlet, path), path
    assert one.articles == two.articles
    assert [a.url for a in one.articles] != [a.url for a in other.articles]


def test_serve_starts_and_stop_is_idempotent(tmp_path: Path) -> None:
    simulator = serve(0, tmp_path / "log.jsonl", 20250321)
    try:
        ports = {urlsplit(url).port for url in simulator.base_urls.values()}
        assert len(ports) == 2 and all(
            url.startswith("http://127.0.0.1:") for url in simulator.base_urls.values()
        )
        assert fetch(simulator, "asahi", "/robots.txt")[0].status == 200
    finally:
        simulator.stop()
        simulator.stop()
    with pytest.raises(RuntimeError):
        _ = simulator.base_urls


# ---------------------------------------------------------------------------- transport test cases


def raw_request(sim: Simulator, outlet: str, path: str, headers: str = "") -> tuple[bytes, bytes, bool]:
    """One keep-alive request on a plain socket: (head, body bytes received, did the server close?)."""
    base = urlsplit(sim.base_urls[outlet])
    with socket.create_connection((base.hostname or "", base.port or 0), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {base.netloc}\r\n{headers}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(v for k, v in _header_lines(head) if k.lower() == "content-length"))
        closed = False
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            body += chunk
    return head, body, closed


def _header_lines(head: bytes) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (line.partition(": ") for line in head.decode("latin-1").split("\r\n")[1:])]


def test_brotli_case_negotiates_br(sim: Simulator) -> None:
    import brotli

    head, body, closed = raw_request(sim, "jiji", "/sim/brotli.html", "Accept-Encoding: gzip, br\r\n")
    headers = dict(_header_lines(head))
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
    headers = dict(_header_lines(head))
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


# ---------------------------------------------------------------------------- asahi site search

SEARCH = "/.cgi/sitesearch/sitesearch.pl"


def expected_hits(sim: Simulator, query: str) -> list[SimArticle]:
    words = query.split()
    hits = [
        a for a in outlet_articles(sim, "asahi") if all(w in a.title + "".join(a.paragraphs) for w in words)
    ]
    return sorted(hits, key=lambda a: a.published, reverse=True)


def search_pages(sim: Simulator, query: str) -> list[lxml.html.HtmlElement]:
    pages = []
    next_path: str | None = f"{SEARCH}?Keywords={quote_plus(query)}"
    while next_path:
        response, body = fetch(sim, "asahi", next_path, headers={"Host": "sitesearch.asahi.com"})
        assert response.status == 200 and response.getheader("Content-Type") == "text/html; charset=UTF-8"
        doc = lxml.html.fromstring(body.decode("utf-8"))
        pages.append(doc)
        nxt = doc.cssselect('ul.Pager a[rel="next"]')
        next_path = nxt[0].get("href") if nxt else None
        assert len(pages) < 10
    return pages


@pytest.mark.parametrize("query", ["ロシア 北朝鮮 軍事協力", "北朝鮮", "ロシア　北朝鮮"])
def test_asahi_search_finds_matching_stories_newest_first(sim: Simulator, query: str) -> None:
    expected = expected_hits(sim, query)
    assert expected and all(a.on_topic for a in expected)
    pages = search_pages(sim, query)
    assert len(pages) == -(-len(expected) // 10)
    found = []
    for doc in pages:
        for li in doc.cssselect("ul.SearchResult > li"):
            href = li.cssselect("a")[0].get("href")
            found.append((href, li.cssselect("a")[0].text, li.cssselect("span.Date")[0].text))
    assert found == [
        (a.url + "?iref=sitesearch", a.title, a.published.strftime("%Y/%m/%d %H:%M")) for a in expected
    ]
    assert any(not a.in_window for a in expected)  # older matches come last, on the last page


def test_asahi_search_off_topic_and_empty(sim: Simulator) -> None:
    off = next(a for a in outlet_articles(sim, "asahi") if not a.on_topic)
    word = off.title[:4]
    hits = expected_hits(sim, word)
    assert off in hits
    links = [li.get("href") for doc in search_pages(sim, word) for li in doc.cssselect("ul.SearchResult a")]
    assert links == [a.url + "?iref=sitesearch" for a in hits]
    for query in ("存在しない語句ＸＹＺ", ""):
        (doc,) = search_pages(sim, query)
        assert not doc.cssselect("ul.SearchResult > li")
        assert "見つかりませんでした" in doc.cssselect("p.ResultCount")[0].text
    assert fetch(sim, "jiji", f"{SEARCH}?Keywords=x")[0].status == 404


def test_robots_override_changes_only_robots() -> None:
    rules = "User-agent: *\nDisallow: /.cgi/\n"
    custom, default = Simulator(robots_override={"asahi": rules}), Simulator()
    assert custom.served_bytes("asahi", "/robots.txt", "identity")[2] == rules.encode()
    assert custom.served_bytes("jiji", "/robots.txt") == default.served_bytes("jiji", "/robots.txt")
    for outlet, path in all_paths(default):
        if path != "/robots.txt":
            assert custom.served_bytes(outlet, path) == default.served_bytes(outlet, path), path

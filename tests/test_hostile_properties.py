"""Property-based tests (hypothesis) of URL canonicalisation and storage key sanitising, and fuzzing of the
parsers that read what hostile sites send: feeds, sitemaps and the page objects, on random bytes and on
mutated real pages. A parser may refuse its input only with its documented error (DiscoveryError, which
the spider counts as `discovery/invalid`); a page object always answers."""

from __future__ import annotations

import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.keys import check_key, key_for_url, sanitize_component
from archive.paths import resolve_inside, safe_component
from pipelines.article_extraction import PAGE_ERROR_KEY, extract_article
from spiders.asahi import AsahiSpider
from spiders.discovery import DiscoveryError, parse_feed, parse_sitemap
from spiders.jiji import JijiSpider
from spiders.pages import asahi as asahi_page
from spiders.pages import jiji as jiji_page
from spiders.urls import strip_query_params
from tests.extraction_helpers import make_page

FIXTURES = Path(__file__).parent / "fixtures" / "outlets"
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_segment = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%!$'()*+,;=:@日本語", max_size=12)
_pair = st.tuples(st.text(string.ascii_lowercase + "_", min_size=1, max_size=8), _segment)
_paths = st.lists(_segment, max_size=5).map(lambda parts: "/" + "/".join(parts))
_queries = st.lists(_pair, max_size=5).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@st.composite
def urls(draw: st.DrawFn, hosts: tuple[str, ...]) -> str:
    host = draw(st.sampled_from(hosts))
    scheme = draw(st.sampled_from(["http", "https"]))
    query, fragment = draw(_queries), draw(_segment)
    return (
        f"{scheme}://{host}{draw(_paths)}"
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    )


@QUICK
@given(urls(("www.example.jp",)), st.sets(st.sampled_from(["utm_source", "ref", "a", "b"])))
def test_strip_query_params_is_idempotent_and_keeps_order(url: str, names: set[str]) -> None:
    once = strip_query_params(url, names)
    assert strip_query_params(once, names) == once
    assert "#" not in once
    kept = [p for p in url.partition("#")[0].partition("?")[2].split("&") if p]
    expected = [p for p in kept if p.partition("=")[0] not in names]
    assert once.partition("?")[2].split("&") == (expected or [""])


@QUICK
@given(urls(("www.jiji.com", "jiji.com", "www.asahi.com", "digital.asahi.com", "other.example")))
def test_outlet_canonicalisation_is_idempotent_without_fragments(url: str) -> None:
    for spider in (JijiSpider(), AsahiSpider()):
        canonical = spider.canonicalize(url)
        assert spider.canonicalize(canonical) == canonical
        assert "#" not in canonical
        assert not {"utm_source", "utm_medium"} & {
            p.partition("=")[0] for p in canonical.partition("?")[2].split("&")
        }


@QUICK
@given(st.text(max_size=400))
def test_sanitized_components_are_safe_keys(text: str) -> None:
    component = sanitize_component(text)
    check_key(component)  # raises UnsafeKeyError if not a tame key
    assert "/" not in component and ".." not in component
    assert len(component.encode("utf-8")) <= 200
    assert sanitize_component(text) == component


@QUICK
@given(st.text(max_size=60), st.text(max_size=60))
def test_distinct_texts_get_distinct_components(a: str, b: str) -> None:
    import unicodedata

    if unicodedata.normalize("NFC", a) != unicodedata.normalize("NFC", b):
        assert sanitize_component(a) != sanitize_component(b)


@QUICK
@given(urls(("www.example.jp", "EXAMPLE.jp", "xn--wgv71a.jp")))
def test_keys_for_urls_are_safe(url: str) -> None:
    check_key(key_for_url(url))


@QUICK
@given(st.text(max_size=40))
def test_accepted_components_and_relative_paths_stay_inside_the_root(text: str) -> None:
    try:
        safe_component(text, "outlet")
    except ValueError:
        pass
    else:
        assert "/" not in text and "\\" not in text and ".." not in text
    root = Path("/archive-root")
    try:
        inside = resolve_inside(root, text)
    except ValueError:
        return
    assert ".." not in inside.parts and str(inside).startswith("/archive-root/")


# ----------------------------------------------------------------------------------------------- fuzzing

SITEMAP = (
    b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://www.jiji.com/a?k=1</loc>'
    b"<news:news><news:publication_date>2025-03-01T10:00:00+09:00</news:publication_date>"
    b"<news:title>t</news:title></news:news></url></urlset>"
)
FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>t</title><link>/a</link></item></channel></rss>'


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from([b"<", b"&", b"]]>", b"\x00", b"<!ENTITY x 'y'>", b"\xef\xbb\xbf"])
            )
        else:
            del data[at:]
    return bytes(data)


@QUICK
@given(st.one_of(st.binary(max_size=2000), mutated(SITEMAP), mutated(FEED)))
def test_feed_and_sitemap_parsers_raise_only_their_own_error(data: bytes) -> None:
    for parse in (parse_sitemap, parse_feed):
        try:
            parse(data, "https://www.jiji.com/")
        except DiscoveryError:
            pass  # counted by the spider as discovery/invalid


def _real_page(outlet: str) -> bytes:
    return next((FIXTURES / outlet).glob("*.html")).read_bytes()


JIJI_PAGE, ASAHI_PAGE = _real_page("jiji"), _real_page("asahi")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=3000), mutated(JIJI_PAGE), mutated(ASAHI_PAGE)))
def test_no_exception_escapes_extraction_and_page_object_failures_are_recorded(data: bytes) -> None:
    # A page object may fail on garbage (lxml refuses a document that parses to nothing, e.g. b"<!");
    # extraction must then fall back to generic extraction and record the failure, never raise.
    for parser, url in (
        (jiji_page.parse, "https://www.jiji.com/jc/article?k=2025030100001&g=pol"),
        (asahi_page.parse, "https://www.asahi.com/articles/ASV31ABC.html"),
    ):
        page = make_page(data, url, parser=parser)
        try:
            parser(page.text, url)
        except Exception as exc:
            article = extract_article(page, run_id="run-1")
            assert article.extraction.get(PAGE_ERROR_KEY), exc
        else:
            extract_article(page, run_id="run-1")

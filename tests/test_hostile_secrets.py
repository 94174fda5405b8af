"""No secret leaks: credentials planted in the environment and sent as Cookie/Authorization headers never
reach logs, stats, the run summary, the WARC request records, article JSON, Parquet, the catalog or the
manifest; Authorization is not carried across a redirect to another host."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from archive.redaction import REDACTED
from archive.verify import verify_archive
from pipelines.warc import exchange_from
from tests.hostile_crawl import run_crawl
from tests.hostile_site import HostileSite, article_html, static, urlset, write_outlet_file
from tests.output_text import archive_text, files_containing

COOKIE_SECRET = "COOKIE-SECRET-5b1e"
ENV_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEY00042",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-planted-9c8d7e6f",
    "AWS_SESSION_TOKEN": "aws-session-planted-1a2b",
    "NEWSARCHIVE_S3_SECRET": "newsarchive-secret-planted-77",
}


def test_credentials_in_request_headers_are_redacted_in_the_exchange() -> None:
    request = Request(
        "https://www.example.jp/a",
        headers={"Authorization": "Bearer tok-123", "Cookie": "sid=abc", "Proxy-Authorization": "Basic x"},
    )
    response = Response("https://www.example.jp/a", status=200, body=b"ok", request=request)
    headers = dict(exchange_from(request, response, datetime.now(UTC)).request_headers)
    assert headers["Authorization"] == headers["Cookie"] == headers["Proxy-Authorization"] == REDACTED
    assert "tok-123" not in str(headers) and "sid=abc" not in str(headers)


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("https://www.example.jp/elsewhere", True),  # same host and scheme: the credential may follow
        ("https://cdn.other-host.jp/x", False),  # another host
        ("http://www.example.jp/x", False),  # a downgrade to plain HTTP
    ],
)
def test_authorization_is_dropped_on_cross_host_redirects(target: str, kept: bool) -> None:
    # Scrapy's RedirectMiddleware does this (no code of ours): the test pins the behaviour we rely on.
    middleware = RedirectMiddleware.from_crawler(get_crawler())
    request = Request("https://www.example.jp/a", headers={"Authorization": "Bearer tok-123"})
    response = Response(request.url, status=302, headers={"Location": target}, request=request)
    follow = middleware.process_response(request, response)
    assert isinstance(follow, Request) and follow.url == target
    assert (b"Authorization" in follow.headers) is kept


@pytest.mark.e2e
def test_planted_secrets_appear_in_no_output(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    cookie = [("Content-Type", "text/html; charset=utf-8"), ("Set-Cookie", f"sid={COOKIE_SECRET}; Path=/")]
    routes = {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]),
        # Set on the sitemap, sent back with every article request that follows it.
        "/sitemap.xml": static(
            urlset([f"/a/{n}" for n in range(3)]),
            headers=[("Content-Type", "application/xml"), ("Set-Cookie", f"sid={COOKIE_SECRET}; Path=/")],
        ),
        **{f"/a/{n}": static(article_html(f"秘密{n}"), headers=cookie) for n in range(3)},
    }
    env = dict(subprocess_env, **ENV_SECRETS)
    root = tmp_path / "archive"
    with HostileSite(routes) as site:
        args = ["crawl", "hostile", "--outlet-file", str(write_outlet_file(tmp_path))]
        args += ["--base-url", f"hostile={site.origin}", "--archive", str(root), "--archive-all"]
        args += ["--log-level", "DEBUG"]
        run = run_crawl(args, env, tmp_path, settings={}, timeout=90)
    assert run.code == 0, run.stderr[-3000:]
    assert run.peak_rss_mb < 400 and run.seconds < 60
    assert verify_archive(root).ok
    # The crawler did send the cookie back (so there was something to leak)...
    assert [h for p, h in site.requests if COOKIE_SECRET in h.get("Cookie", "")]
    # ...but no request record holds it: the header is there, redacted.
    request_cookies = []
    for path in root.rglob("*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "request":
                    request_cookies += [v for k, v in record.http_headers.headers if k.lower() == "cookie"]
                    assert COOKIE_SECRET not in record.http_headers.to_str()
    assert request_cookies and set(request_cookies) == {REDACTED}
    # The only place the cookie value remains is the site's own Set-Cookie in the WARC response records.
    assert [
        n for n in files_containing(root, COOKIE_SECRET, run.stdout, run.stderr) if not n.endswith(".warc.gz")
    ] == []
    # The environment's secrets are nowhere at all (archive files, catalog, manifest, logs at DEBUG).
    texts = archive_text(root)
    assert len(texts) >= 5
    for name, secret in ENV_SECRETS.items():
        assert files_containing(root, secret, run.stdout, run.stderr) == [], name
    assert os.environ.get("AWS_SECRET_ACCESS_KEY") != ENV_SECRETS["AWS_SECRET_ACCESS_KEY"]

"""A plain HTTP client for the browse server in tests (tests/test_serve.py, tests/test_serve_s3.py): fetch
a page as status, headers and body, and read the result count and article links off a result page."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


class Page:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(base: str, path: str, *, host: str | None = None) -> Page:
    request = urllib.request.Request(base.rstrip("/") + path, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return Page(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Page(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def count_shown(page: Page) -> int:
    found = re.search(r'<p id="count"><strong>(\d+)</strong>', page.text)
    assert found, page.text[:2000]
    return int(found.group(1))


def article_links(page: Page) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<a class="title" href="(/article\?url=[^"]+)"', page.text)]


@contextmanager
def serve_command(root: str, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """`newsarchive serve ROOT` in a child process: (the root its banner names, its URL), stopped after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", root],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"^Serving (\S+) at (http://127\.0\.0\.1:\d+/)$", line.strip())
        assert found, line + (proc.stderr.read() if proc.stderr else "")
        yield found.group(1), found.group(2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

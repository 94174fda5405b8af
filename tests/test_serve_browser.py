"""`newsarchive serve` in a real browser: Debian's chromium, headless, driven by Playwright.

Load the start page, search a Japanese term, open an article, download the JSONL selection and check its
rows against the archive library. Playwright drives the system's chromium (`executable_path`); no browser
is ever downloaded (`playwright install` is never run). Skipped only where chromium is absent; CI
installs it (.ci/run).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.root_access import open_root
from archive.selection import Selection, count_articles, select_articles
from crawler.browse_server import BrowseServer

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and nothing that would phone home: no QUIC, no background or component-update traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TERM = "軍事協力"


@pytest.fixture(scope="module")
def server(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Iterator[tuple[str, Path]]:
    root, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    with BrowseServer(open_root(root)) as running:
        yield running.url, root


def _in_own_thread(fn: Callable[[], None]) -> None:
    """Run `fn` on a thread of its own and re-raise what it raised: the test session runs an asyncio
    loop (pytest-twisted's reactor) on this thread, where Playwright's sync API refuses to start."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="playwright")
    thread.start()
    thread.join(timeout=240)
    assert not thread.is_alive(), "the browser session did not finish in 240 s"
    if failure:
        raise failure[0]


def test_search_open_and_download_in_chromium(server: tuple[str, Path], tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium is not installed ({CHROMIUM}): apt-get install chromium (CI installs it)")
    url, root = server
    expected = list(select_articles(root, Selection(query=TERM)))
    assert expected
    everything = count_articles(root, Selection())
    _in_own_thread(lambda: _browse(url, expected, everything, tmp_path))


def _browse(url: str, expected: list[dict[str, Any]], everything: int, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(accept_downloads=True, locale="ja-JP")
            page = context.new_page()
            page.set_default_timeout(30_000)

            page.goto(url)
            assert page.evaluate("document.characterSet") == "UTF-8"
            assert page.evaluate("document.documentElement.lang") == "ja"
            assert page.locator("#count strong").inner_text() == str(everything)
            assert page.locator("svg.chart rect.bar").count() > 0

            page.fill("#q", TERM)
            with page.expect_navigation():
                page.click("form.filters button[type=submit]")
            assert page.locator("#count strong").inner_text() == str(len(expected))
            titles = page.locator("ol.results a.title").all_inner_texts()
            assert titles == [row["title"] for row in expected[:50]]
            assert set(page.locator("ol.results mark").all_inner_texts()) == {TERM}

            first = expected[0]
            with page.expect_navigation():
                page.locator("ol.results a.title").first.click()
            assert page.locator("#title").inner_text() == first["title"]
            assert TERM in page.locator("section.text").inner_text()
            terms = " ".join(page.locator("table.topics td.terms").all_inner_texts())
            assert all(term in terms for topic in first["topics"] for term in topic["matched"])
            page.go_back()

            with page.expect_download() as download_info:
                page.click("a.download[data-format=jsonl]")
            download = download_info.value
            assert download.suggested_filename == "newsarchive-selection.jsonl"
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            rows = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
            assert rows == expected
        finally:
            browser.close()

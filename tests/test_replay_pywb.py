"""Replay proven in pywb: crawl simulator pages into WARCs, stop the simulator, and get the original
article bytes back from a pywb `wayback` process through `id_` replay.

pywb lives in its own venv (.venv-pywb, made by `make pywb-venv` / .ci/run; see STACK-NOTES for why it
cannot share ours) and runs only as a subprocess bound to 127.0.0.1.
"""

from __future__ import annotations

import gzip
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_twisted
import scrapy
from scrapy.crawler import CrawlerRunner

from archive.cdxj import cdxj_path_for
from crawler.simulator import Simulator

REPO = Path(__file__).resolve().parent.parent
PYWB_BIN = REPO / ".venv-pywb" / "bin"

pytestmark = pytest.mark.skipif(
    not (PYWB_BIN / "wayback").exists(),
    reason=f"pywb is not installed in {PYWB_BIN.parent} (run `make pywb-venv`; CI installs it)",
)


class ReplaySpider(scrapy.Spider):
    name = "replay"
    urls: ClassVar[list[str]] = []
    pointers: ClassVar[dict[str, Any]] = {}

    async def start(self) -> Any:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: scrapy.http.Response) -> None:
        self.pointers[response.url] = response.meta["newsarchive_warc"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.fixture
def wayback_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "pywb"
    folder.mkdir()
    yield folder


def run_pywb(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest_twisted.inlineCallbacks
def test_pywb_replays_the_original_articles(tmp_path: Path, wayback_dir: Path) -> Iterator[Any]:
    root = tmp_path / "archive"
    sim = Simulator()
    sim.start()
    try:
        bases = sim.base_urls
        jiji = [a for a in sim.articles if a.outlet == "jiji"]
        picks = {
            "shift_jis": next(a for a in jiji if a.charset == "shift_jis"),
            "gzip": next(a for a in jiji if a.charset == "utf-8" and not a.chunked),
            "chunked": next(a for a in sim.articles if a.outlet == "asahi" and a.chunked),
        }
        expected = {}
        for label, article in picks.items():
            status, sent_headers, sent = sim.served_bytes(article.outlet, article.path)
            assert status == 200 and ("Content-Encoding", "gzip") in sent_headers  # what the crawler gets
            expected[label] = (bases[article.outlet] + article.path, gzip.decompress(sent), sent_headers)
        ReplaySpider.urls = [url for url, _, _ in expected.values()]
        ReplaySpider.pointers = {}
        runner = CrawlerRunner(
            {
                "ARCHIVE_ROOT": str(root),
                "DOWNLOADER_MIDDLEWARES": {"pipelines.warc.WarcCaptureMiddleware": 950},
                "ROBOTSTXT_OBEY": False,
                "COOKIES_ENABLED": False,
                "TELNETCONSOLE_ENABLED": False,
                "REMOTE_CONTROL_ENABLED": False,
                "LOG_LEVEL": "ERROR",
            }
        )
        yield runner.crawl(ReplaySpider)
    finally:
        sim.stop()  # from here on only the archive can answer

    warcs = sorted((root / "warc").rglob("*.warc.gz"))
    assert warcs and all(cdxj_path_for(p).is_file() for p in warcs)
    wb_manager = str(PYWB_BIN / "wb-manager")
    # "coll": indexed by pywb itself; "ours": served from the CDXJ files our writer produced.
    run_pywb([wb_manager, "init", "coll"], wayback_dir)
    run_pywb([wb_manager, "add", "coll", *map(str, warcs)], wayback_dir)
    run_pywb([wb_manager, "init", "ours"], wayback_dir)
    for warc in warcs:
        shutil.copy(warc, wayback_dir / "collections" / "ours" / "archive" / warc.name)
        shutil.copy(
            cdxj_path_for(warc), wayback_dir / "collections" / "ours" / "indexes" / cdxj_path_for(warc).name
        )

    port = free_port()
    log = (wayback_dir / "wayback.log").open("wb")
    proc = subprocess.Popen(
        [str(PYWB_BIN / "wayback"), "-b", "127.0.0.1", "-p", str(port)],
        cwd=wayback_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (wayback_dir / "wayback.log").read_text(errors="replace")
                assert time.monotonic() < deadline, "wayback did not start listening within 60 s"
                time.sleep(0.2)

        for coll in ("coll", "ours"):
            for label, (url, original, sent_headers) in expected.items():
                pointer = ReplaySpider.pointers[url]
                ts = "".join(ch for ch in pointer.date if ch.isdigit())[:14]
                status, headers, body = fetch(f"http://127.0.0.1:{port}/{coll}/{ts}id_/{pointer.target_uri}")
                assert status == 200, (coll, label, status, body[:300])
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                assert body == original, (coll, label)  # byte for byte, in the page's own charset
                sent_type = dict(sent_headers)["Content-Type"]
                assert headers["content-type"] == sent_type, (coll, label)
        shift_jis_type = dict(expected["shift_jis"][2])["Content-Type"]
        assert "shift_jis" in shift_jis_type.lower()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()

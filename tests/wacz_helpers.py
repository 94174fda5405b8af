"""Helpers for the WACZ tests (tests/test_wacz.py): the two outside tools run as subprocesses from venvs of
their own (`wacz validate` from .venv-wacz, pywb from .venv-pywb: `make wacz-venv pywb-venv`), and small
synthetic archives written through the real WarcWriter."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.dedup import PayloadIndex
from archive.warc_writer import WarcWriter
from tests.warc_samples import exchange

REPO = Path(__file__).resolve().parent.parent
WACZ_BIN = REPO / ".venv-wacz" / "bin"
PYWB_BIN = REPO / ".venv-pywb" / "bin"


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WACZ_BIN / "wacz"), "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


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


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@contextmanager
def pywb_serving(bundles: dict[str, Path], folder: Path) -> Iterator[str]:
    """One pywb collection per bundle (`wb-manager add --unpack-wacz`), served by `wayback` on
    127.0.0.1; yields the base URL and stops the server on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    for coll, bundle in bundles.items():
        _run([str(PYWB_BIN / "wb-manager"), "init", coll], folder)
        _run([str(PYWB_BIN / "wb-manager"), "add", "--unpack-wacz", coll, str(bundle)], folder)
    port = free_port()
    log_path = folder / "wayback.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(PYWB_BIN / "wayback"), "-b", "127.0.0.1", "-p", str(port)],
            cwd=folder,
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
                    assert proc.poll() is None, log_path.read_text(errors="replace")
                    assert time.monotonic() < deadline, "wayback did not start listening within 60 s"
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def synthetic_archive(
    root: Path, bodies: list[bytes], *, repeat_first_as: str | None = None
) -> list[dict[str, Any]]:
    """An archive with one article per body (request + response + metadata records, as the crawl writes
    them), and its rows. With `repeat_first_as`, the first body is fetched again under that URL and
    written as a revisit, whose row points at the first response (as the crawl's rows do)."""
    rows = []
    start = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
    with WarcWriter(root, gzip_level=1, dedup=PayloadIndex()) as writer:
        fetches = [(f"http://127.0.0.1:9/articles/{i}.html", body) for i, body in enumerate(bodies)]
        if repeat_first_as is not None:
            fetches.append((repeat_first_as, bodies[0]))
        for i, (url, body) in enumerate(fetches):
            result = writer.capture(exchange(url, body=body, fetched_at=start + timedelta(minutes=i)))
            source = result.payload_source
            row = {
                "url": url.replace("http://127.0.0.1:9", "https://www.example.jp"),
                "fetched_url": url,
                "outlet": "example",
                "title": f"記事 {i}：露朝の軍事協力",
                "published_at": "2025-03-15T08:05:00+09:00",
                "text": f"本文 {i}　ロシアと北朝鮮～",
                "warc": asdict(source),
                "fetched_at": datetime.fromisoformat(source.date.replace("Z", "+00:00")).isoformat(),
            }
            writer.write_metadata(
                url,
                json.dumps(row, ensure_ascii=False).encode("utf-8"),
                refers_to=source.record_id,
                concurrent_to=result.record.record_id,
                date=result.record.date,
            )
            rows.append(row)
    return rows

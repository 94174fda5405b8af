"""`newsarchive simulator` runs standalone and logs every request it serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import NETGUARD_DIR


def _free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        try:
            with socket.socket() as b, socket.socket() as c:
                b.bind(("127.0.0.1", port))
                c.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def test_simulator_command_serves_and_logs(tmp_path: Path) -> None:
    port = _free_port_pair()
    log = tmp_path / "requests.jsonl"
    env = dict(os.environ, PYTHONPATH=str(NETGUARD_DIR))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "simulator", "--port", str(port), "--log", str(log)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test run started in the background by a shell inherits SIGINT ignored, and Python then keeps
        # it ignored: Ctrl-C must mean Ctrl-C in the child, as it does in a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        banner = proc.stdout.readline() if proc.stdout else ""
        assert f"127.0.0.1:{port}" in banner and f"127.0.0.1:{port + 1}" in banner
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/rss/ranking.rdf?x=1", timeout=5
                ) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port + 1}/robots.txt", timeout=5) as resp:
            assert b"sitemap: https://www.asahi.com/sitemap.xml" in resp.read()
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert [(r["outlet"], r["method"], r["path"], r["status"]) for r in lines] == [
        ("jiji", "GET", "/rss/ranking.rdf?x=1", 200),
        ("asahi", "GET", "/robots.txt", 200),
    ]
    assert all(r["host"].startswith("127.0.0.1:") and r["time"] for r in lines)


def test_simulator_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(NETGUARD_DIR))
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "simulator", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 2
    assert "cannot listen" in proc.stderr and "Traceback" not in proc.stderr

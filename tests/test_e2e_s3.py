"""The whole product against a real S3 endpoint: `demo` into s3://, `verify s3://`, nothing secret leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NETGUARD_DIR
from tests.s3server import S3Env

pytest_plugins = ["tests.s3server"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(NETGUARD_DIR))  # carries the fixture's AWS_* variables
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_into_s3_then_verify_there(s3: S3Env, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    url = s3.url("research/archive")
    demo = cli(["demo", "--archive", url, "--spool", str(spool), "--delete-local"])
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert f"published to {url}" in demo.stdout
    assert "Verify: OK" in demo.stdout

    stored = s3.keys("research/archive/")
    keys = [k.removeprefix("research/archive/") for k in stored]
    manifests = [k for k in keys if k.startswith("runs/") and k.endswith("/manifest.json")]
    assert len(manifests) == 1
    manifest = json.loads(stored[f"research/archive/{manifests[0]}"])
    listed = {f["path"] for f in manifest["files"]}
    assert listed | {manifests[0]} == set(keys)  # every object is listed; nothing extra, nothing missing
    kinds = {f["kind"] for f in manifest["files"]}
    assert {"warc", "cdxj", "articles", "parquet", "schema"} <= kinds
    assert manifest["config"]["archive"] == url
    # the verified upload let --delete-local empty the spool of the run's data
    assert not list(spool.rglob("*.warc.gz")) and not list(spool.rglob("*.jsonl.gz"))
    queue = spool / ".upload-queue"
    assert not (queue.exists() and any(queue.glob("*.json")))

    ok = cli(["verify", url])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for text in (demo.stdout, demo.stderr, ok.stdout, ok.stderr):
        assert s3.secret not in text
    for body in stored.values():
        assert s3.secret.encode() not in body

    # a flipped byte in one stored WARC is caught through S3
    warc_key = next(k for k in stored if k.endswith(".warc.gz"))
    data = bytearray(stored[warc_key])
    data[len(data) // 2] ^= 0x01
    s3.client.put_object(Bucket=s3.bucket, Key=warc_key, Body=bytes(data))
    bad = cli(["verify", url])
    assert bad.returncode == 1
    assert warc_key.rsplit("/", 1)[1] in bad.stdout


def test_unreachable_spool_is_a_usage_error(s3: S3Env, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = cli(["demo", "--archive", s3.url(), "--spool", str(blocker / "spool")])
    assert proc.returncode == 2
    assert "--spool" in proc.stderr and "Traceback" not in proc.stderr

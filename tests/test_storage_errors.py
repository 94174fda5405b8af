"""An unusable S3 store (missing bucket, refused credentials) is one line on stderr and exit code 4, before
any page is fetched; never a botocore traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.cli import main
from tests.s3server import S3Env, aws_environment

pytest_plugins = ["tests.s3server"]


def _one_line_exit_4(code: int, err: str, *expected: str) -> None:
    assert code == 4, err
    assert err.count("\n") == 1 and err.startswith("newsarchive: storage error: "), err
    assert "Traceback" not in err
    for text in expected:
        assert text in err


def test_missing_bucket_is_exit_4_for_verify_and_crawl(
    s3: S3Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "s3://no-such-bucket/archive"
    _one_line_exit_4(main(["verify", url]), capsys.readouterr().err, url, "NoSuchBucket")
    code = main(
        [
            "crawl",
            "jiji",
            "--archive",
            url,
            "--spool",
            str(tmp_path / "spool"),
            "--base-url",
            "jiji=http://127.0.0.1:9",
        ]
    )
    _one_line_exit_4(code, capsys.readouterr().err, url, "does not exist")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_credentials_are_exit_4(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    # A moto server of its own that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0): our key is unknown.
    port = _free_port()
    env = dict(subprocess_env, INITIAL_NO_AUTH_ACTION_COUNT="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto server did not start"
                time.sleep(0.2)
        cli_env = dict(subprocess_env, **aws_environment(f"http://127.0.0.1:{port}", "wrong-secret"))
        cli_env.pop("AWS_PROFILE", None)
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli", "verify", "s3://some-bucket/archive"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        _one_line_exit_4(proc.returncode, proc.stderr, "s3://some-bucket/archive", "InvalidAccessKeyId")
        assert "wrong-secret" not in proc.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)

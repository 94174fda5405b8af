"""The run lock: a second run on the same root stops at once naming the holder; a killed holder frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from archive.runlock import LOCK_NAME, RunLock, RunLockedError

HOLD = """
import sys, time
from pathlib import Path
from archive.runlock import RunLock
lock = RunLock(Path(sys.argv[1]), command="crawl")
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""


def _holder(root: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(RunLockedError) as info:
            RunLock(tmp_path, command="crawl").acquire()
        message = str(info.value)
        assert "\n" not in message
        assert str(tmp_path) in message and f"pid {proc.pid}" in message and "crawl" in message
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the file stays; only the kernel's lock went with the process
    with RunLock(tmp_path, command="crawl"):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path, command="crawl").acquire()
    # Released on exit: a third run gets it.
    with RunLock(tmp_path, command="crawl"):
        pass


def test_lock_in_a_root_that_does_not_exist_yet(tmp_path: Path) -> None:
    root = tmp_path / "new" / "archive"
    with RunLock(root, command="demo") as lock:
        assert lock.path == root / LOCK_NAME
        assert "demo" in lock.path.read_text(encoding="utf-8")


def test_crawl_on_a_locked_root_exits_3_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from crawler.cli import main

    root = tmp_path / "archive"
    with RunLock(root, command="crawl"):
        code = main(["crawl", "jiji", "--archive", str(root), "--base-url", "jiji=http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "holds this archive root" in err and f"pid {os.getpid()}" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in root.iterdir()) == [LOCK_NAME]  # nothing was fetched or written

"""One crawl at a time per archive root: a run lock that a scheduler's overlapping run meets at once.

Scheduled crawls (cron, systemd timers, Kubernetes CronJobs) can overlap when one run is slow; two runs
writing the same root would each fetch the same new articles and race on the catalog. The second run
must stop before it does anything, say who holds the root, and exit with its own code (3), so that a
scheduler's log tells "skipped, still busy" apart from a failure.

The lock is `fcntl.flock` on `<root>/.newsarchive.lock` (for an `s3://` root: on its local spool), held
for the whole run. Why not the `filelock` package: it takes the same flock but keeps no record of the
holder, and the message should name the holder's pid, host and start time. Why flock and not a
lock file that exists-or-not: the kernel releases a flock when its process dies, even by SIGKILL or a
power cut, so a crashed run never leaves a stale lock that blocks every later run. The file itself
stays (deleting it while another process waits on it would let two runs each lock a different file).

Scope: one machine. Runs on several machines sharing one `s3://` root each lock their own spool; the
distributed case belongs to the shared Redis frontier.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from archive.paths import hostname

LOCK_NAME = ".newsarchive.lock"


class RunLockedError(RuntimeError):
    """Another run holds the archive root. str(err) is one line naming the root and the holder."""


class RunLock:
    """`with RunLock(root, command="crawl"):` holds the root's lock, or raises RunLockedError at once."""

    def __init__(self, root: Path, *, command: str) -> None:
        self.path = root / LOCK_NAME
        self.command = command
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "a+" so that opening never truncates the holder's record before we know we hold the lock.
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = _describe(fh.read())
            fh.close()
            raise RunLockedError(
                f"{self.path.parent}: another newsarchive run holds this archive root ({holder}); "
                "not starting a second one"
            ) from None
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        record = {
            "pid": os.getpid(),
            "host": hostname(),
            "command": self.command,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            # Closing the descriptor releases the flock; the record is left as it was (see module doc).
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _describe(text: str) -> str:
    try:
        record = json.loads(text)
        return f"{record['command']} pid {record['pid']} on {record['host']} since {record['since']}"
    except (ValueError, KeyError, TypeError):
        # The holder took the lock but has not written its record yet (a few microseconds), or the
        # file was written by something else: the lock is still held, only unnamed.
        return "holder unknown"

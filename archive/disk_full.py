"""A full disk (or an exhausted quota): how it is recognised, and how it is reported once.

When the archive root's filesystem fills up, every component that writes (the WARC capture, the article
files, the URL ledger, the manifest) fails with the same ENOSPC, each in its own words. The crawl stops
at the first one (finish reason `disk_full`, pipelines.warc), whatever it had open stays `.open` for the
next run to repair (archive.recovery), and the command reports the cause in one line with its own exit
code (crawler.cli). `DiskFullLogFilter` keeps the log to that: the first record about the full disk is
kept, without its traceback; the others are counted, not printed.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL_REASON = "disk_full"  # the crawl's finish reason when it stopped on a full disk
_MESSAGES = tuple(os.strerror(code) for code in sorted(DISK_FULL_ERRNOS))


def disk_full_error(exc: BaseException | None) -> OSError | None:
    """The ENOSPC / EDQUOT error that `exc` is or was raised from (its cause or context), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


class DiskFullError(Exception):
    """The run stopped on a full disk: the message is the one line the command prints."""

    def __init__(self, root: object, cause: OSError | None = None, *, not_logged: int = 0) -> None:
        why = (cause.strerror if cause is not None else None) or os.strerror(errno.ENOSPC)
        more = f" ({not_logged} more error(s) with this cause not logged)" if not_logged else ""
        super().__init__(
            f"disk full: {root}: {why}; the run stopped, the files it had open are left .open and the "
            f"next run repairs them (free some space first){more}"
        )


class DiskFullLogFilter(logging.Filter):
    """Lets the first log record about a full disk through (as one line) and counts the others."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        cause = disk_full_error(record.exc_info[1]) if record.exc_info else None
        if cause is None and not any(text in record.getMessage() for text in _MESSAGES):
            return True
        self.seen += 1
        if self.seen > 1:
            return False
        if cause is not None:  # the traceback of a full disk says nothing the message does not
            record.msg = f"{record.getMessage()}: {cause}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


@contextmanager
def reporting_disk_full(root: object) -> Iterator[DiskFullLogFilter]:
    """Within: log a full disk once (every root logger handler gets the filter), and turn the OSError
    that reaches this far into DiskFullError. The filter's count of silenced records goes in its message."""
    log_filter = DiskFullLogFilter()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield log_filter
    except OSError as exc:
        cause = disk_full_error(exc)
        if cause is None:
            raise
        raise DiskFullError(root, cause, not_logged=max(0, log_filter.seen - 1)) from None
    finally:
        for handler in handlers:
            handler.removeFilter(log_filter)

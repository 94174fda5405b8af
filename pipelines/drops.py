"""DropItem with the outcome the URL ledger records (pipelines.url_ledger): an exclusion is a decision
(off-topic, outside the window), a failure is a fault the next run retries."""

from __future__ import annotations

from scrapy.exceptions import DropItem


class Excluded(DropItem):
    def __init__(self, message: str, reason: str, log_level: str | None = None) -> None:
        super().__init__(message, log_level=log_level)
        self.reason = reason


class Failed(DropItem):
    def __init__(self, message: str, reason: str, log_level: str | None = None) -> None:
        super().__init__(message, log_level=log_level)
        self.reason = reason


class Unchanged(DropItem):
    """A revisit whose content is the archived version's: recorded as a revisit, no new row."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, log_level="DEBUG")
        self.reason = reason


def outcome_of(exc: BaseException) -> tuple[str, str]:
    """(state, reason) for an item dropped with `exc`; a plain DropItem is a failure."""
    if isinstance(exc, Unchanged):
        return "unchanged", exc.reason
    if isinstance(exc, Excluded):
        return "excluded", exc.reason
    if isinstance(exc, Failed):
        return "failed", exc.reason
    return "failed", "dropped"

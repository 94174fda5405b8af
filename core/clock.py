"""The time a run believes it is: the real clock, or NEWSARCHIVE_NOW (ISO 8601 with offset).

Revisit schedules and retry backoff are decided against it, and the URL ledger stamps its events with
it, so a test (or a replay of a backfill) can move a run to any moment without waiting for it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def parse_now(value: str | None) -> datetime | None:
    """The override, or None for the real clock; a value without an offset is refused."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"NEWSARCHIVE_NOW {value!r} needs a UTC offset, e.g. 2025-03-22T00:00:00+09:00")
    return moment.astimezone(UTC)


def now(override: str | None = None) -> datetime:
    return parse_now(override) or datetime.now(UTC)

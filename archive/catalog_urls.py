"""Each URL's state across runs, folded from the runs' URL ledgers (runs/<run>/urls-<outlet>.jsonl.gz).

The catalog keeps every ledger line as an event (`url_events`); a URL's state is the fold of its events
in time order (`fold`), so `newsarchive reindex` rebuilds it from the archive alone. From the state
follow the next run's decisions (`archive.catalog.Catalog` asks here):

- revisits of archived articles on a schedule (default +6 h, +24 h, +7 days after publication; slots
  that had passed when the article was first archived are skipped, and one revisit covers every slot
  that passed since the last check);
- retries of failed URLs with exponential backoff, up to a limit, after which the URL is reported as
  given up;
- conditional requests for discovery documents, from their newest ETag / Last-Modified (`validators`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

DEFAULT_REVISIT_HOURS: tuple[float, ...] = (6, 24, 7 * 24)
DEFAULT_MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(hours=1)  # then 4 h, 16 h, 64 h, ...: a site down for a day is retried tomorrow

_EVENT_COLUMNS = (
    "url",
    "outlet",
    "run_id",
    "time",
    "state",
    "reason",
    "sources",
    "published_at",
    "status",
    "etag",
    "last_modified",
    "digest",
    "record_id",
    "version",
    "revisit",
)
EVENT_INSERT = (
    f"INSERT INTO url_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)
EVENT_SELECT = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM url_events"


def ledger_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def event_rows(data: bytes) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str | None, str | None]]]:
    """(url_events rows, validators rows) of one ledger file."""
    events, validators = [], []
    for row in ledger_lines(data):
        if row.get("kind") == "discovery":
            validators.append((row["url"], row["time"], row.get("etag"), row.get("last_modified")))
            continue
        values = {
            **row,
            "sources": ",".join(row.get("sources") or []),
            "revisit": int(bool(row.get("revisit"))),
        }
        events.append(tuple(values.get(c) for c in _EVENT_COLUMNS))
    return events, validators


@dataclass
class UrlState:
    url: str
    outlet: str = ""
    state: str = "pending"  # archived, gone, failed, excluded, pending
    reason: str = ""
    first_seen: str = ""
    last_seen: str = ""
    sources: list[str] = field(default_factory=list)
    published_at: str | None = None
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    digest: str | None = None
    record_id: str | None = None  # the response the current version was extracted from
    versions: int = 0
    archived_at: str | None = None  # first archived
    last_checked: str | None = None  # last archived / revisited
    gone_at: str | None = None
    attempts: int = 0  # failures since the last success
    last_failure: str | None = None

    def next_revisit(self, hours: Sequence[float] = DEFAULT_REVISIT_HOURS) -> datetime | None:
        if self.state != "archived" or not self.archived_at or not self.last_checked:
            return None
        first = datetime.fromisoformat(self.archived_at)
        checked = datetime.fromisoformat(self.last_checked)
        base = _parse(self.published_at) or first
        for offset in sorted(hours):
            slot = base + timedelta(hours=offset)
            if slot > first and slot > checked:
                return slot
        return None

    def next_attempt(self) -> datetime | None:
        if self.state != "failed" or not self.last_failure:
            return None
        return datetime.fromisoformat(self.last_failure) + RETRY_BASE * 4 ** max(0, self.attempts - 1)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def fold(events: Iterable[dict[str, Any]]) -> UrlState | None:
    """One URL's state from its events, oldest first."""
    state: UrlState | None = None
    for ev in events:
        if state is None:
            state = UrlState(url=ev["url"], first_seen=ev["time"])
        state.outlet = ev.get("outlet") or state.outlet
        state.last_seen = ev["time"]
        for source in filter(None, (ev.get("sources") or "").split(",")):
            if source not in state.sources:
                state.sources.append(source)
        state.published_at = state.published_at or ev.get("published_at")
        _apply(state, ev)
    return state


def reason_of(ev: dict[str, Any]) -> str:
    return str(ev.get("reason") or "")


def _apply(state: UrlState, ev: dict[str, Any]) -> None:
    kind, time = ev["state"], ev["time"]
    held = state.state in ("archived", "gone")
    if ev.get("etag") or ev.get("last_modified"):
        state.etag, state.last_modified = ev.get("etag"), ev.get("last_modified")
    if kind in ("archived", "changed"):
        state.state, state.reason, state.attempts = "archived", "", 0
        state.versions = int(ev.get("version") or state.versions + 1)
        state.archived_at = state.archived_at or time
        state.last_checked = time
        state.digest, state.record_id, state.status = ev.get("digest"), ev.get("record_id"), ev.get("status")
    elif kind == "unchanged":
        state.last_checked = time
        state.attempts = 0
    elif kind == "gone":
        state.state, state.gone_at, state.last_checked = "gone", time, time
        state.status = ev.get("status")
    elif kind == "failed":
        if not held:
            state.state, state.reason = "failed", ev.get("reason") or ""
        state.attempts += 1
        state.last_failure = time
    elif kind == "excluded" and reason_of(ev) == "already_archived" and state.state == "excluded":
        pass  # skipped as known: the reason it was first excluded for (off-topic, ...) stays
    elif kind == "excluded" and not held:
        state.state, state.reason = "excluded", ev.get("reason") or ""
    elif kind == "pending" and not held and state.state != "failed":
        state.state, state.reason = "pending", ev.get("reason") or ""

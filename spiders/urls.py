"""URL and date helpers shared by the spiders and their tests (no Scrapy, no I/O).

Every time the crawler reasons about is an aware datetime; Japanese outlets publish in JST, so a value
without an offset is read as JST.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

JST = timezone(timedelta(hours=9), "JST")

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_window_bound(value: str | None, argument: str, *, end: bool) -> datetime | None:
    """A `--since`/`--until` value: ISO date or datetime; date-only means the whole JST day.

    `end=True` turns a date-only value into the last millisecond of that day, so `until=2025-03-21`
    includes articles published at 23:59 that day.
    """
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        if _DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            moment = time(23, 59, 59, 999000) if end else time(0, 0)
            return datetime.combine(day, moment, JST)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{argument}: '{value}' is not an ISO 8601 date or datetime (e.g. 2025-03-01 or 2025-03-01T09:00+09:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)


def parse_max_articles(value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"max_articles: '{value}' is not a whole number") from None
    if number < 1:
        raise ValueError(f"max_articles: must be at least 1, got {number}")
    return number


def parse_datetime(value: str | None) -> datetime | None:
    """A date as feeds and sitemaps write it (ISO 8601, W3C-DTF or RFC 822) -> aware datetime, or None."""
    if not value:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=JST)


def to_jst_iso(moment: datetime) -> str:
    return moment.astimezone(JST).isoformat()


def strip_query_params(url: str, names: Iterable[str]) -> str:
    """Drop the named query parameters and the fragment, keeping the order of the others."""
    drop = set(names)
    parts = urlsplit(url)
    # Raw pairs, not parse_qsl/urlencode: re-encoding would rewrite the other values (%20 -> +).
    kept = [pair for pair in parts.query.split("&") if pair and pair.partition("=")[0] not in drop]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), ""))


def in_window(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    """True when the moment is inside [since, until] or unknown (an unknown date never prunes)."""
    if moment is None:
        return True
    if since is not None and moment < since:
        return False
    return not (until is not None and moment > until)


def day_in_window(day: date | None, since: datetime | None, until: datetime | None) -> bool:
    """Window test for a date known only to the day (e.g. from the URL): any overlap counts."""
    if day is None:
        return True
    start = datetime.combine(day, time(0, 0), JST)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    if since is not None and end < since:
        return False
    return not (until is not None and start > until)


def infer_listing_time(month: int, day: int, hour: int, minute: int, reference: datetime) -> datetime | None:
    """A listing time without a year ("(03/21 18:58)"): the latest such moment not after `reference`.

    Listings run newest first, so the previous entry (or the crawl's upper bound for the first one) is a
    good reference; a day of slack absorbs clock skew between the outlet and us.
    """
    ref = reference.astimezone(JST)
    for year in (ref.year, ref.year - 1):
        try:
            candidate = datetime(year, month, day, hour, minute, tzinfo=JST)
        except ValueError:  # 02/29 in a non-leap year
            continue
        if candidate <= ref + timedelta(days=1):
            return candidate
    return None

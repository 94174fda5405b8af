"""Publication dates as ISO 8601 with +09:00, and the fallback chain that finds them.

htmldate's extensive search hands Japanese datelines (2024年5月1日) to dateparser, which costs seconds
and often picks the wrong date (STACK-NOTES), so trafilatura runs without it and these cheap, ordered
fallbacks take over: structured metadata first, then a 年月日 regex over the visible text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

from pipelines.htmlmeta import HeadMeta

JST = timezone(timedelta(hours=9), "JST")

# Matched on NFKC text, so full-width digits and （） / ： are already ASCII.
_JP_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
    r"(?:\s*\([^)]{1,4}\))?"  # weekday, e.g. (金)
    r"(?:\s*(午前|午後)?\s*(\d{1,2})\s*(?:時\s*(?:(\d{1,2})\s*分)?|:(\d{2})))?"
)


def _to_jst(value: datetime) -> datetime:
    # A naive timestamp on a Japanese news page is Japan time.
    return value.replace(tzinfo=JST) if value.tzinfo is None else value.astimezone(JST)


def format_jst(value: datetime) -> str:
    return _to_jst(value).isoformat(timespec="seconds")


def find_japanese_date(text: str) -> tuple[datetime, bool] | None:
    """The first valid 年月日 date in text, and whether it carried a time of day."""
    for match in _JP_DATE.finditer(unicodedata.normalize("NFKC", text)):
        year, month, day, ampm, hour, minute, colon_minute = match.groups()
        h = int(hour) if hour else 0
        if ampm == "午後" and h < 12:
            h += 12
        m = int(minute or colon_minute or 0)
        try:
            return datetime(int(year), int(month), int(day), h, m, tzinfo=JST), hour is not None
        except ValueError:
            continue  # 2月30日, 25時: not a dateline, keep looking
    return None


_DATELINE_WORDS = re.compile(r"(?:更新|配信|公開|掲載|最終更新|発行)(?:日時|日)?|[:|/\s]")


def is_dateline(text: str) -> bool:
    """A paragraph that is only a date stamp ("2022年10月17日19時09分", "更新 2025年1月13日 21時")."""
    folded = unicodedata.normalize("NFKC", text)
    match = _JP_DATE.search(folded)
    if match is None:
        return False
    rest = folded[: match.start()] + folded[match.end() :]
    return not _DATELINE_WORDS.sub("", rest)


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp or date (any offset, 'Z', naive = JST), or a Japanese dateline."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return _to_jst(datetime.fromisoformat(value))
    except ValueError:
        pass
    found = find_japanese_date(value)
    return found[0] if found else None


def to_jst_iso(value: str | None) -> str | None:
    parsed = parse_datetime(value)
    return format_jst(parsed) if parsed else None


def resolve_published(
    page_value: str | None,
    meta: HeadMeta,
    trafilatura_date: Callable[[], str | None],
    text_source: Callable[[], str],
) -> tuple[str | None, str]:
    """(published_at, method). The callables run only when every structured source failed."""
    ordered: Iterable[tuple[str, str | None]] = (
        ("page", page_value),
        ("jsonld", meta.jsonld_published),
        ("meta:pubdate", meta.meta_pubdate),
        ("meta:article:published_time", meta.og_published),
        ("time-element", meta.time_datetimes[0] if meta.time_datetimes else None),
    )
    for method, raw in ordered:
        iso = to_jst_iso(raw)
        if iso:
            return iso, method
    regex = find_japanese_date(text_source())
    day = parse_datetime(trafilatura_date())
    if day is not None:
        # htmldate only knows the day; a dateline on that same day adds the time.
        if regex is not None and regex[0].date() == day.date():
            return format_jst(regex[0]), "regex"
        return format_jst(day), "trafilatura"
    if regex is not None:
        return format_jst(regex[0]), "regex"
    return None, "none"


def resolve_modified(page_value: str | None, meta: HeadMeta) -> tuple[str | None, str]:
    for method, raw in (
        ("page", page_value),
        ("jsonld", meta.jsonld_modified),
        ("meta:article:modified_time", meta.og_modified),
    ):
        iso = to_jst_iso(raw)
        if iso:
            return iso, method
    return None, "none"

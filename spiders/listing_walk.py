"""Walking a listing's (or site search's) pager: the year its entries leave out, and when to stop.

Pure functions over `spiders.discovery.ListingEntry` (no Scrapy); `NewsSpider.parse_listing` applies them
page by page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from spiders.discovery import ListingEntry
from spiders.urls import JST, infer_listing_time


def entry_moments(
    entries: Sequence[ListingEntry], reference: datetime, url_day: Callable[[str], date | None]
) -> list[datetime | None]:
    """Each entry's publication time, None when the page does not show one.

    The listing shows no year: walk down from `reference` (the crawl's upper bound, or the previous
    page's last entry), since entries run newest first. An entry whose URL carries its day (`url_day`)
    is read against the end of that day instead.
    """
    moments: list[datetime | None] = []
    for item in entries:
        moment = item.published_at
        if moment is None and item.month_day_time:
            day = url_day(item.url)
            ref = datetime(day.year, day.month, day.day, 23, 59, tzinfo=JST) if day else reference
            moment = infer_listing_time(*item.month_day_time, reference=ref)
        if moment is not None:
            reference = moment
        moments.append(moment)
    return moments


def last_moment(moments: Sequence[datetime | None], default: datetime) -> datetime:
    """The reference for the next page: the page's last dated entry, else the one this page started from."""
    return next((m for m in reversed(moments) if m is not None), default)


def past_window(kind: str, moments: Sequence[datetime | None], since: datetime | None) -> bool:
    """Whether the pager stops after this page (`kind` is "listing" or "search")."""
    if since is None:
        return False
    if kind == "listing":
        # Listings run newest first: once a page's last dated entry is older than --since, every later
        # page is older still, so fetching one more page only to see it is wasted.
        last = next((m for m in reversed(moments) if m is not None), None)
        return last is not None and last < since
    # Search results' order is not confirmed to be by date: stop only on a page that is all old.
    return bool(moments) and all(m is not None and m < since for m in moments)

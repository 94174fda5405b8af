"""Discovery candidates: one per canonical URL, merged across sightings, and the order they are fetched in.

Pure functions over `core.items.Candidate` (no Scrapy): `NewsSpider` keeps the candidates and decides
which are inside the date window; these say which sighting wins and how the chosen ones are ordered.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from core.items import Candidate
from spiders.urls import JST

# Which source's date and title win when one URL is found several times (lower is better).
SOURCE_RANK = {"seed": 0, "sitemap": 1, "feed": 2, "listing": 3, "search": 4}


def merge_candidates(a: Candidate, b: Candidate) -> Candidate:
    """One candidate from two sightings: the better-ranked source leads, gaps filled from the other."""
    first, second = sorted((a, b), key=lambda c: SOURCE_RANK.get(c.source, 99))
    return replace(
        first,
        published_at=first.published_at or second.published_at,
        title=first.title or second.title,
        keywords=first.keywords or second.keywords,
    )


def newest_first(moment: datetime | None, url_day: date | None) -> tuple[int, float]:
    """Sort key: newest first by publication time, else by the day in the URL; undated last."""
    if moment is None:
        moment = datetime(url_day.year, url_day.month, url_day.day, tzinfo=JST) if url_day else None
    return (0, -moment.timestamp()) if moment else (1, 0.0)

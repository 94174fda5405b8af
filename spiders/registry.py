"""Outlet name -> spider class, and the discovery sources each outlet reads (for `newsarchive outlets`)."""

from __future__ import annotations

from spiders.asahi import AsahiSpider
from spiders.base import NewsSpider
from spiders.jiji import JijiSpider

OUTLETS: dict[str, type[NewsSpider]] = {cls.name: cls for cls in (JijiSpider, AsahiSpider)}


def outlet_sources(name: str) -> dict[str, list[str]]:
    """{"feeds": [...], "sitemaps": [...], "listings": [...]} for one outlet; KeyError names the outlet."""
    try:
        cls = OUTLETS[name]
    except KeyError:
        raise KeyError(f"unknown outlet '{name}' (known: {', '.join(sorted(OUTLETS))})") from None
    return {"feeds": list(cls.feeds), "sitemaps": list(cls.sitemaps), "listings": list(cls.listings)}

"""Spiders for outlets described only by a TOML file (spiders/outlets/*.toml or a user's file).

`spider_class(config)` builds a NewsSpider subclass whose class attributes come from the OutletConfig:
discovery and window pruning are NewsSpider's, URL rules and the page object come from the config.
"""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from spiders.base import NewsSpider
from spiders.discovery import ListingMarkup
from spiders.outlet_config import ListingConfig, OutletConfig
from spiders.pages.generic import css_to_xpath, make_parser


class GenericSpider(NewsSpider):
    """Base of the config-built spiders; `outlet_config` is set on each generated subclass."""

    outlet_config: ClassVar[OutletConfig]
    enabled: ClassVar[bool] = True
    disabled_reason: ClassVar[str] = ""

    def canonicalize(self, url: str) -> str:
        url = super().canonicalize(url)
        config = self.outlet_config
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != (urlsplit(config.origin).hostname or "").lower():
            return url
        path = parts.path
        for rewrite in config.path_rewrites:
            path = rewrite.pattern.sub(rewrite.replace, path)
        query = parts.query
        bare = urlunsplit(parts._replace(path=path, query=""))
        if config.drop_query and any(p.search(bare) for p in self.article_patterns):
            # An article that takes no meaningful query parameter: whatever is left is tracking.
            query = ""
        return urlunsplit(parts._replace(path=path, query=query))

    def url_date(self, url: str) -> date | None:
        return self.outlet_config.url_day(url)


def listing_markup(listing: ListingConfig) -> ListingMarkup:
    """CSS selectors from the TOML -> the XPath that spiders.discovery.parse_listing reads."""
    return ListingMarkup(
        item=css_to_xpath(listing.item),
        link=css_to_xpath(listing.link),
        time=css_to_xpath(listing.time),
        next=css_to_xpath(listing.next) + "/@href",
    )


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "Spider"


def spider_class(config: OutletConfig) -> type[GenericSpider]:
    """A NewsSpider subclass for one configured outlet."""
    attributes = {
        "name": config.name,
        "outlet_config": config,
        "origin": config.origin,
        "hosts": config.hosts,
        "feeds": config.feeds,
        "sitemaps": config.sitemaps,
        "listings": config.listings,
        "listing_markup": listing_markup(config.listing) if config.listing else None,
        "tracking_params": (*NewsSpider.tracking_params, *config.strip_params),
        "article_patterns": config.article_patterns,
        "excluded_patterns": config.exclude_patterns,
        "page_parser": staticmethod(make_parser(config.name, config.layouts, config.url_day)),
        "enabled": config.enabled,
        "disabled_reason": config.disabled_reason,
        "display_name": config.display_name,
        "language": config.language,
        "__module__": __name__,
        "__doc__": f"{config.display_name}: built from {config.source}.",
    }
    return type(_class_name(config.name), (GenericSpider,), attributes)

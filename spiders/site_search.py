"""Site search as a discovery source: the configured topics' queries and the search URLs they fill.

An outlet with `search_urls` (templates with `{query}`) and `search_markup` is asked every query of
every configured topic (settings `TOPICS`, resolved with `core.config.resolve_topic`; see
`TopicConfig.search_queries`). `NewsSpider` reads the result pages like listings (pager followed until a
page is all older than `since`, at most `DISCOVERY_SEARCH_MAX_PAGES` pages per query) and their links
become candidates with source "search". `DISCOVERY_SEARCH_ENABLED = False` turns it off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote_plus

import scrapy

from core.config import ConfigError, resolve_topic

logger = logging.getLogger(__name__)


def search_request_urls(templates: Iterable[str], queries: Iterable[str]) -> list[str]:
    """Every search URL template filled with every query (form-encoded UTF-8, as a GET form)."""
    queries = tuple(queries)
    return [
        template.replace("{query}", quote_plus(query, encoding="utf-8"))
        for template in templates
        for query in queries
    ]


def topic_search_queries(topic_specs: Iterable[str], spider: scrapy.Spider | None = None) -> tuple[str, ...]:
    """The site-search queries of the configured topics, in order, without repeats.

    A topic that cannot be loaded is skipped with a warning: the relevance pipeline, which loads the same
    TOPICS, is where a bad topic stops the crawl with a one-line error.
    """
    queries: list[str] = []
    for spec in topic_specs:
        try:
            topic = resolve_topic(str(spec))
        except ConfigError as exc:
            logger.warning("%s: no site search for topic %s: %s", getattr(spider, "name", "?"), spec, exc)
            continue
        queries += [q for q in topic.search_queries if q not in queries]
    return tuple(queries)

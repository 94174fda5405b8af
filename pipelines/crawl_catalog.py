"""One catalog per crawler: opened and refreshed by the first component that asks, closed with the spider.

IncrementalSkip (what is archived), CatalogFollowUps (revisits, retries, validators) and the WARC writer's
payload index (identical payloads of earlier runs) all read `.catalog.sqlite`. Each used to open it and
refresh it, so a crawl's start walked the archive root three times. They now share this one.

The refresh happens at the first `get()`: the WARC middleware asks at spider_opened, after repairing the
files a crash left open and indexing them, so what they hold is in the catalog before any request.
Catalog's SQLite connection belongs to the thread that opened it: every user asks from the reactor thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler

from archive.catalog import Catalog
from archive.storage import Store

logger = logging.getLogger(__name__)

_ATTRIBUTE = "_newsarchive_catalog"


class SharedCatalog:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        self.root = Path(root)
        self.store = store
        self.ingested = 0  # files the refresh ingested
        self._catalog: Catalog | None = None

    def get(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.open(self.root, self.store)
            self.ingested = self._catalog.refresh()
            logger.info("Catalog of %s: %d new file(s) ingested", self.root, self.ingested)
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None


def catalog_of(crawler: Crawler | None, root: Path, store: Store | None = None) -> SharedCatalog:
    """The crawler's catalog of `root`; a component used without a crawler (unit tests) gets its own."""
    if crawler is None:
        return SharedCatalog(root, store)
    shared: SharedCatalog | None = getattr(crawler, _ATTRIBUTE, None)
    if shared is None or shared.root != Path(root):
        shared = SharedCatalog(root, store)
        setattr(crawler, _ATTRIBUTE, shared)
        crawler.signals.connect(shared.close, signal=signals.spider_closed, weak=False)
    return shared

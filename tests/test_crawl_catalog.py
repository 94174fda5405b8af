"""A crawler opens and refreshes its archive's catalog once, whichever components read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler

from archive.catalog import CATALOG_NAME, Catalog
from pipelines.crawl_catalog import catalog_of
from pipelines.incremental import IncrementalSkip
from pipelines.revisits import CatalogFollowUps
from pipelines.warc import WarcCaptureMiddleware


def test_the_components_of_a_crawler_share_one_refreshed_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refreshes: list[Path] = []
    real_refresh = Catalog.refresh

    def counted(self: Catalog) -> int:
        refreshes.append(self.root)
        return real_refresh(self)

    monkeypatch.setattr(Catalog, "refresh", counted)
    crawler = get_crawler(
        settings_dict={"ARCHIVE_ROOT": str(tmp_path), "NEWSARCHIVE_RUN_ID": "20261204T000000Z-cafe01"}
    )
    capture = WarcCaptureMiddleware.from_crawler(crawler)
    skip = IncrementalSkip.from_crawler(crawler)
    followups = CatalogFollowUps.from_crawler(crawler)

    capture.spider_opened()  # repairs, then the crawl's one refresh (before any request)
    assert refreshes == [tmp_path]
    assert skip.catalog is followups.catalog is catalog_of(crawler, tmp_path).get()
    assert not skip.catalog.archived("https://www.jiji.com/jc/article?k=1")
    assert refreshes == [tmp_path]

    catalog = skip.catalog
    crawler.signals.send_catch_log(signals.spider_closed, spider=None, reason="finished")
    with pytest.raises(Exception, match="closed"):
        catalog.conn.execute("SELECT 1")


def test_a_component_without_a_crawler_owns_its_catalog(tmp_path: Path) -> None:
    shared: Any = catalog_of(None, tmp_path)
    assert shared is not catalog_of(None, tmp_path)
    shared.get()
    assert (tmp_path / CATALOG_NAME).is_file()
    shared.close()

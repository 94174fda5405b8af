"""The project's Scrapy settings load without deprecation warnings and keep the politeness they promise."""

from __future__ import annotations

import warnings

from scrapy.core.downloader import _default_jitter
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import Settings

import crawler.settings


def test_delay_jitter_is_set_without_the_deprecated_setting() -> None:
    settings = Settings()
    settings.setmodule(crawler.settings, priority="project")
    with warnings.catch_warnings():
        # Scrapy's Downloader asks exactly this at start-up, and warns when RANDOMIZE_DOWNLOAD_DELAY is set.
        warnings.simplefilter("error", ScrapyDeprecationWarning)
        assert _default_jitter(settings) == 0.5
    assert settings.getfloat("DOWNLOAD_DELAY") == 1.0

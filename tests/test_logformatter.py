from __future__ import annotations

import logging
from types import SimpleNamespace

from scrapy.exceptions import DropItem

from core.items import Candidate, FetchedPage
from crawler.logformatter import ShortItemLogFormatter, describe


def _page() -> FetchedPage:
    return FetchedPage(
        url="https://www.jiji.com/jc/article?k=2025032100001&g=int",
        fetched_url="http://127.0.0.1:1/jc/article?k=2025032100001&g=int",
        outlet="jiji",
        status=200,
        headers={},
        body=b"<html>" + b"x" * 100_000,
        encoding="utf-8",
        text="x" * 100_000,
        candidate=Candidate(
            url="https://www.jiji.com/jc/article?k=2025032100001&g=int", outlet="jiji", source="feed"
        ),
        warc=None,
    )


def test_dropped_line_names_the_url_not_the_body() -> None:
    spider = SimpleNamespace(crawler=SimpleNamespace(settings={"DEFAULT_DROPITEM_LOG_LEVEL": "WARNING"}))
    result = ShortItemLogFormatter().dropped(_page(), DropItem("off-topic"), None, spider)  # type: ignore[arg-type]
    message = result["msg"] % result["args"]
    assert "k=2025032100001" in message
    assert "xxxx" not in message and len(message) < 200
    assert result["level"] == logging.WARNING


def test_describe_plain_values() -> None:
    assert describe({"url": "u"}) == "<dict u>"
    assert describe(3) == "<int>"

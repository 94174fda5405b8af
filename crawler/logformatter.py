"""Log lines that name an item by its URL instead of dumping it.

Scrapy's default formatter prints the whole item on every scraped/dropped line; ours carry the page body
(hundreds of kilobytes of bytes repr) and the article text, which buries the log and leaks it into cron mail.
"""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


def describe(item: Any) -> str:
    name = type(item).__name__
    url = getattr(item, "url", None)
    if url is None and isinstance(item, dict):
        url = item.get("url")
    return f"<{name} {url}>" if url else f"<{name}>"


class ShortItemLogFormatter(LogFormatter):
    def scraped(self, item: Any, response: Any, spider: Any) -> LogFormatterResult:
        return super().scraped(describe(item), response, spider)

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        return super().dropped(describe(item), exception, response, spider)

    def item_error(
        self, item: Any, exception: BaseException, response: Any, spider: Any
    ) -> LogFormatterResult:
        return super().item_error(describe(item), exception, response, spider)

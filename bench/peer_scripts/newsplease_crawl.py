"""news-please crawling the simulator's article pages with Scrapy, its extractors on every page.

    python newsplease_crawl.py URLS.json OUT.jsonl

news-please's own CLI crawler needs a config directory and a storage back-end; its library entry
point `NewsPlease.from_html` runs the same extractor chain (newspaper, readability, date and language
detection), here called from a plain Scrapy spider over the same URLs our crawl fetches.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from common import Measure, emit


def main() -> None:
    import scrapy
    from newsplease import NewsPlease
    from scrapy.crawler import CrawlerProcess

    urls = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    out = Path(sys.argv[2]).open("w", encoding="utf-8")
    counts = {"pages": 0, "articles": 0, "with_title": 0, "with_text": 0, "with_date": 0, "errors": 0}
    errors: set[str] = set()

    class Pages(scrapy.Spider):
        name = "newsplease-bench"

        async def start(self):  # type: ignore[no-untyped-def]
            for url in urls:
                yield scrapy.Request(url, callback=self.parse)

        def parse(self, response):  # type: ignore[no-untyped-def]
            counts["pages"] += 1
            try:
                article = NewsPlease.from_html(response.text, url=response.url, fetch_images=False)
            except Exception as exc:  # counted and shown: a peer's failure is a result too
                counts["errors"] += 1
                errors.add(f"{type(exc).__name__}: {str(exc)[:80]}")
                return
            row = {
                "url": response.url,
                "title": article.title,
                "date_publish": str(article.date_publish) if article.date_publish else None,
                "authors": article.authors,
                "maintext": article.maintext,
                "language": article.language,
            }
            counts["articles"] += 1
            counts["with_title"] += bool(article.title)
            counts["with_text"] += bool(article.maintext)
            counts["with_date"] += bool(article.date_publish)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")

    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "ROBOTSTXT_OBEY": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "COOKIES_ENABLED": False,
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        }
    )
    process.crawl(Pages)
    with Measure() as m:
        process.start()
    out.close()
    emit({**m.figures(), **counts, "error_kinds": sorted(errors)})


if __name__ == "__main__":
    main()

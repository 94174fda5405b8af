"""The item an article response becomes: a `FetchedPage` for the pipelines.

A crawl builds it in `NewsSpider.parse_article`; `newsarchive parse` and `reextract` build theirs here
too, so a page read back from a WARC is the same item a crawl produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from scrapy.http import Response, TextResponse

from core.items import Candidate, FetchedPage, PageParser, WarcPointer


def decode_headers(response: Response) -> dict[str, list[str]]:
    """Response headers as lower-case names -> every value (getlist keeps repeated Set-Cookie)."""
    result: dict[str, list[str]] = {}
    for name in response.headers:
        key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
        values: Iterable[bytes] = response.headers.getlist(name)
        result.setdefault(key, []).extend(v.decode("latin-1") for v in values)
    return result


def fetched_page(
    response: TextResponse,
    *,
    url: str,
    outlet: str,
    parser: PageParser | None,
    candidate: Candidate | None,
    warc: WarcPointer | None,
    fetched_at: str,
) -> FetchedPage:
    """What the pipelines get for one article response; `parse` and `reextract` build theirs here too,
    so a page read back from a WARC is the same item a crawl produced."""
    return FetchedPage(
        url=url,
        fetched_url=response.url,
        outlet=outlet,
        status=response.status,
        headers=decode_headers(response),
        body=response.body,
        encoding=response.encoding,
        text=response.text,
        candidate=candidate,
        warc=warc,
        parser=parser,
        fetched_at=fetched_at,
        truncated=bool({"dataloss", "download_stopped"} & set(response.flags)),
    )


def fetched_at(warc: WarcPointer | None) -> str:
    """When the response arrived: the WARC-Date of its record when it was captured, so the JSON row and
    the record agree exactly (reextract reproduces the row from the WARC alone); otherwise now."""
    if warc is not None and warc.date:
        return datetime.fromisoformat(warc.date.replace("Z", "+00:00")).isoformat()
    return datetime.now(UTC).isoformat()

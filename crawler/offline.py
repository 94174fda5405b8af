"""Keep Scrapy from reaching the internet behind our back.

Scrapy's CookiesMiddleware builds a module-level `TLDExtract()` that downloads the Public Suffix List on
first use. We replace it with one that uses the snapshot bundled with tldextract and never fetches, so no
crawl and no test sends a packet for it. Done as an extension so it happens once per crawler, before any
request, without editing Scrapy.
"""

from __future__ import annotations

from typing import Any

import scrapy.downloadermiddlewares.cookies as cookies_mw
from tldextract import TLDExtract


def offline_tldextract() -> TLDExtract:
    # suffix_list_urls=() means "never fetch"; fallback_to_snapshot uses the list shipped in the wheel.
    return TLDExtract(suffix_list_urls=(), fallback_to_snapshot=True, include_psl_private_domains=True)


class OfflinePublicSuffixList:
    def __init__(self) -> None:
        if getattr(cookies_mw._split_domain, "suffix_list_urls", None) != ():
            cookies_mw._split_domain = offline_tldextract()

    @classmethod
    def from_crawler(cls, crawler: Any) -> OfflinePublicSuffixList:
        return cls()

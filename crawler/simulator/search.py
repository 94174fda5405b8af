"""The asahi site search (`https://sitesearch.asahi.com/.cgi/sitesearch/sitesearch.pl?Keywords=<q>`).

OUTLETS.md confirms only the URL (GET, UTF-8 form encoding); the result markup of the real engine is
not known, so the page below is written for the simulator: a `ul.SearchResult` list, newest first,
ten results per page, each with the article link, a full date (`2025/03/21 18:58`) and a snippet, and a
`ul.Pager` whose `rel="next"` link carries `start=<offset>` (the parameter the AJW search uses).

Matching is real: a story is found when every whitespace-separated keyword (ASCII or ideographic space)
occurs in its title or in its full text (the engine indexes the whole story, paywalled or not), after
NFKC normalisation of both sides, so full-width and half-width forms match each other.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote_plus

from crawler.simulator.site import SimArticle
from crawler.simulator.templating import esc

ASAHI_SEARCH_PATH = "/.cgi/sitesearch/sitesearch.pl"
PAGE_SIZE = 10


def keywords(query: str) -> list[str]:
    return [unicodedata.normalize("NFKC", word) for word in query.split()]


def find(newest: list[SimArticle], query: str) -> list[SimArticle]:
    """The stories matching every keyword, newest first (`newest` is already in that order)."""
    words = keywords(query)
    if not words:
        return []
    found = []
    for a in newest:
        text = unicodedata.normalize("NFKC", a.title + "\n" + "\n".join(a.paragraphs))
        if all(w in text for w in words):
            found.append(a)
    return found


def _start(query: dict[str, str]) -> int:
    value = query.get("start", "0")
    return int(value) if value.isdigit() else 0


def asahi_results_page(results: list[SimArticle], query_text: str, query: dict[str, str]) -> str:
    start = _start(query)
    shown = results[start : start + PAGE_SIZE]
    items = "\n".join(
        f'<li><a href="{a.url}?iref=sitesearch">{esc(a.title)}</a>'
        f'<span class="Date">{a.published:%Y/%m/%d %H:%M}</span>'
        f'<p class="Snippet">{esc(a.paragraphs[0][:60])}…</p></li>'
        for a in shown
    )
    more = start + PAGE_SIZE < len(results)
    next_href = f"{ASAHI_SEARCH_PATH}?Keywords={quote_plus(query_text)}&start={start + PAGE_SIZE}"
    pager = (
        f'<ul class="Pager"><li><a rel="next" href="{esc(next_href)}">次へ</a></li></ul>'
        if more
        else '<ul class="Pager"></ul>'
    )
    if shown:
        count = f"{len(results)}件中 {start + 1}～{start + len(shown)}件を表示"
    else:
        count = "該当する記事は見つかりませんでした"
    title = f"「{esc(query_text)}」の検索結果：朝日新聞デジタル"
    return (
        '<!DOCTYPE html>\n<html lang="ja"><head><meta charset="UTF-8">'
        f'<title>{title}</title><meta name="robots" content="noindex"></head>\n'
        f'<body><div id="SiteSearch"><h1>「{esc(query_text)}」の検索結果</h1>'
        f'<p class="ResultCount">{count}</p>\n<ul class="SearchResult">\n{items}\n</ul>{pager}</div>'
        "</body></html>\n"
    )

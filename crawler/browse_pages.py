"""The HTML pages of the browse server (`newsarchive serve`), as pure functions: data in, a page out.

No I/O and no HTTP here (crawler.browse_server does both), so every page can be tested as a string.
Everything that comes from the archive (titles, text, URLs, terms) or from the request goes through
html.escape: an archived page is hostile input. The pages carry no script, load nothing from anywhere
(styles are inline, fonts are the reader's own) and declare UTF-8 and lang="ja" so Japanese text renders
with Japanese glyphs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

from crawler.browse_chart import day_chart_svg

FORMATS = ("jsonl", "parquet", "csv", "wacz")

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK JP","Hiragino Sans","Yu Gothic",sans-serif;margin:0 auto;
max-width:60rem;padding:0 1rem 3rem;line-height:1.6;color:#222}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}header a{color:inherit;text-decoration:none}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:flex-end;background:#f4f4f4;
padding:.75rem;border-radius:4px}form.filters fieldset{border:0;padding:0;margin:0}
form.filters legend,form.filters label.block{font-size:.85rem;color:#555;display:block}
input[type=search]{width:16rem}
ol.results{padding-left:1.5rem}ol.results li{margin:.6rem 0}.meta{color:#666;font-size:.85rem}
mark{background:#ffe27a}.snippet{margin:.1rem 0}.error{color:#a00;font-weight:bold}
table.meta-table{border-collapse:collapse;font-size:.9rem}
table.meta-table th,table.meta-table td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;
vertical-align:top}.downloads a{margin-right:.75rem}.text p{margin:.8rem 0}
nav.pages a{margin-right:1rem}
"""


@dataclass(frozen=True)
class Filters:
    """The filters as the reader typed them (strings, so a bad date can be shown back as typed)."""

    topics: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    query: str = ""
    page: int = 1

    def params(self, **extra: str | int) -> list[tuple[str, str]]:
        """Query-string pairs for these filters (without the page), plus `extra`."""
        pairs = [("topic", t) for t in self.topics] + [("outlet", o) for o in self.outlets]
        pairs += [(k, v) for k, v in (("since", self.since), ("until", self.until), ("q", self.query)) if v]
        pairs += [(k, str(v)) for k, v in extra.items()]
        return pairs


@dataclass(frozen=True)
class ResultItem:
    url: str
    title: str
    outlet: str
    published_at: str | None
    # The snippet as (text, highlighted) pieces: the renderer escapes each and marks the highlighted ones.
    snippet: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class ListingView:
    root_label: str
    filters: Filters
    total: int
    items: Sequence[ResultItem]
    page_size: int
    day_counts: Mapping[date, int] = field(default_factory=dict)
    topic_choices: Sequence[str] = ()
    outlet_choices: Sequence[str] = ()
    error: str | None = None


def _q(pairs: list[tuple[str, str]]) -> str:
    return escape(urlencode(pairs), quote=True)


def page(title: str, body: str, *, root_label: str) -> str:
    """A whole HTML document around `body` (already HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} – newsarchive</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<header><h1><a href="/">newsarchive</a></h1><p class="meta">archive: {escape(root_label)}</p>'
        f"</header>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _checkboxes(name: str, legend: str, choices: Sequence[str], chosen: Sequence[str]) -> str:
    # Values chosen in the URL but unknown to the archive stay visible (and ticked) so they can be unticked.
    values = list(dict.fromkeys([*choices, *chosen]))
    if not values:
        return ""
    boxes = "".join(
        f'<label><input type="checkbox" name="{name}" value="{escape(v)}"'
        f"{' checked' if v in chosen else ''}> {escape(v)}</label> "
        for v in values
    )
    return f"<fieldset><legend>{escape(legend)}</legend>{boxes}</fieldset>"


def filter_form(view: ListingView) -> str:
    f = view.filters
    return (
        '<form class="filters" method="get" action="/" role="search">'
        f'<div><label class="block" for="q">text</label><input type="search" id="q" name="q" '
        f'value="{escape(f.query)}" placeholder="軍事協力"></div>'
        f"{_checkboxes('topic', 'topic', view.topic_choices, f.topics)}"
        f"{_checkboxes('outlet', 'outlet', view.outlet_choices, f.outlets)}"
        f'<div><label class="block" for="since">published from</label><input type="date" id="since" '
        f'name="since" value="{escape(f.since)}"></div>'
        f'<div><label class="block" for="until">to</label><input type="date" id="until" name="until" '
        f'value="{escape(f.until)}"></div>'
        '<div><button type="submit">Search</button> <a href="/">reset</a></div></form>'
    )


def _snippet(pieces: Sequence[tuple[str, bool]]) -> str:
    return "".join(f"<mark>{escape(t)}</mark>" if hit else escape(t) for t, hit in pieces)


def _result(item: ResultItem) -> str:
    href = "/article?" + _q([("url", item.url)])
    snippet = f'<p class="snippet">{_snippet(item.snippet)}</p>' if item.snippet else ""
    return (
        f'<li><a class="title" href="{href}">{escape(item.title or item.url)}</a>'
        f'<div class="meta">{escape(item.outlet)} · {escape(item.published_at or "date unknown")}</div>'
        f"{snippet}</li>"
    )


def _pager(view: ListingView) -> str:
    f = view.filters
    pages = max(1, -(-view.total // view.page_size))
    links = []
    if f.page > 1:
        links.append(f'<a rel="prev" href="/?{_q(f.params(page=f.page - 1))}">← newer</a>')
    if f.page < pages:
        links.append(f'<a rel="next" href="/?{_q(f.params(page=f.page + 1))}">older →</a>')
    return f'<nav class="pages">page {f.page} of {pages} {"".join(links)}</nav>' if pages > 1 else ""


def downloads(filters: Filters) -> str:
    """Links to the selection in each format: the data file alone, or the bundle (with manifest.json,
    README.md and the schema, which say how to cite) as a zip."""
    files = "".join(
        f'<a class="download" data-format="{fmt}" download href="/download?{_q(filters.params(format=fmt))}">'
        f"{fmt.upper()}</a>"
        for fmt in FORMATS
    )
    bundles = "".join(
        f'<a class="bundle" data-format="{fmt}" download '
        f'href="/download?{_q(filters.params(format=fmt, bundle=1))}">{fmt.upper()}</a>'
        for fmt in FORMATS
    )
    return (
        f'<p class="downloads">Download this selection: {files}<br>'
        f'<span class="meta">with its manifest, README and schema (zip):</span> {bundles}</p>'
    )


def listing_page(view: ListingView) -> str:
    """The start page: filters, the per-day chart, download links and one page of results."""
    parts = [filter_form(view)]
    if view.error:
        parts.append(f'<p class="error" role="alert">{escape(view.error)}</p>')
        return page("error", "".join(parts), root_label=view.root_label)
    noun = "article" if view.total == 1 else "articles"
    parts.append(f'<p id="count"><strong>{view.total}</strong> {noun} selected</p>')
    chart = day_chart_svg(view.day_counts)
    if chart:
        parts.append(
            f'<figure class="per-day">{chart}<figcaption class="meta">articles per published '
            "day (JST)</figcaption></figure>"
        )
    if view.total:
        parts.append(downloads(view.filters))
    start = (view.filters.page - 1) * view.page_size + 1
    items = "".join(_result(i) for i in view.items)
    parts.append(
        f'<ol class="results" start="{start}">{items}</ol>' if items else "<p>No article matches.</p>"
    )
    parts.append(_pager(view))
    title = view.filters.query or "browse"
    return page(title, "".join(parts), root_label=view.root_label)


def _topics_table(topics: Sequence[Mapping[str, Any]]) -> str:
    if not topics:
        return "<p>No topic judged.</p>"
    rows = []
    for t in topics:
        terms = ", ".join(f"{escape(str(term))} ×{int(n)}" for term, n in (t.get("matched") or {}).items())
        rows.append(
            f'<tr class="topic"><td>{escape(str(t.get("name", "")))}</td>'
            f"<td>{'yes' if t.get('accepted') else 'no'}</td><td>{escape(str(t.get('score', '')))}</td>"
            f'<td>{escape(str(t.get("stage", "")))}</td><td class="terms">{terms or "–"}</td></tr>'
        )
    return (
        '<table class="meta-table topics"><tr><th>topic</th><th>accepted</th><th>score</th><th>stage</th>'
        f"<th>matched terms</th></tr>{''.join(rows)}</table>"
    )


def _link(url: str) -> str:
    # Only web URLs become links: an archived row could carry a javascript: URL.
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}" rel="noreferrer noopener">{escape(url)}</a>'
    return escape(url)


def _metadata(row: Mapping[str, Any]) -> str:
    warc = row.get("warc") or {}
    fields: list[tuple[str, str]] = [
        ("URL", _link(str(row.get("url", "")))),
        ("outlet", escape(str(row.get("outlet", "")))),
        ("published", escape(str(row.get("published_at") or "unknown"))),
        ("modified", escape(str(row.get("modified_at") or "–"))),
        ("section", escape(str(row.get("section") or "–"))),
        ("authors", escape(", ".join(row.get("authors") or []) or "–")),
        ("tags", escape(", ".join(row.get("tags") or []) or "–")),
        ("access", escape(str(row.get("access", "")))),
        ("language", escape(str(row.get("language", "")))),
        ("fetched", escape(str(row.get("fetched_at", "")))),
        ("fetched URL", escape(str(row.get("fetched_url", "")))),
        ("run", escape(str(row.get("run_id", "")))),
        ("WARC record", escape(str(warc.get("record_id", "")))),
        (
            "WARC file",
            escape(f"{warc.get('path', '')} @ {warc.get('offset', '')} (+{warc.get('length', '')})"),
        ),
        ("story cluster", escape(str(row.get("story_cluster_id", "")))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in fields)
    return f'<table class="meta-table metadata">{body}</table>'


def _versions(versions: Sequence[Mapping[str, Any]], current: Mapping[str, Any]) -> str:
    if not versions:
        return "<p>One version.</p>"
    rows = []
    for v in versions:
        warc = v.get("warc") or {}
        is_current = v.get("run_id") == current.get("run_id") and v.get("fetched_at") == current.get(
            "fetched_at"
        )
        rows.append(
            f'<tr class="version"><td>{escape(str(v.get("fetched_at", "")))}</td>'
            f"<td>{escape(str(v.get('run_id', '')))}</td><td>{escape(str(v.get('title', '')))}</td>"
            f"<td>{escape(str(v.get('text_hash', ''))[:23])}</td><td>{escape(str(warc.get('record_id', '')))}</td>"
            f"<td>{'shown' if is_current else ''}</td></tr>"
        )
    return (
        '<table class="meta-table versions"><tr><th>fetched</th><th>run</th><th>title</th><th>text hash</th>'
        f"<th>WARC record</th><th></th></tr>{''.join(rows)}</table>"
    )


def article_page(root_label: str, row: Mapping[str, Any], versions: Sequence[Mapping[str, Any]]) -> str:
    """One article: clean text, metadata, topic judgements with their matched terms, and its versions."""
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in str(row.get("text") or "").split("\n\n") if p.strip())
    title = str(row.get("title") or row.get("url") or "")
    subtitle = f'<p class="subtitle">{escape(row["subtitle"])}</p>' if row.get("subtitle") else ""
    lead = f'<p class="lead"><em>{escape(row["lead"])}</em></p>' if row.get("lead") else ""
    body = (
        f'<article><h2 id="title">{escape(title)}</h2>{subtitle}'
        f'<p class="meta">{escape(str(row.get("outlet", "")))} · '
        f"{escape(str(row.get('published_at') or 'date unknown'))}</p>{lead}"
        f'<section class="text">{paragraphs or "<p>(no text)</p>"}</section>'
        f"<h3>Topics</h3>{_topics_table(row.get('topics') or [])}"
        f"<h3>Metadata</h3>{_metadata(row)}"
        f"<h3>Versions</h3>{_versions(versions, row)}</article>"
    )
    return page(title, body, root_label=root_label)


def message_page(root_label: str, title: str, message: str) -> str:
    """A page for an error or an empty answer (not found, bad request)."""
    return page(
        title,
        f'<h2>{escape(title)}</h2><p class="error" role="alert">{escape(message)}</p>',
        root_label=root_label,
    )

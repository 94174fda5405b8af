"""Asahi Shimbun (www.asahi.com) pages: article and latest-news listing.

Templates, all derived from the real saved article page `samples/asahi/AsahiShimbun_2025_01_13.html`
(2025-01-13, www.asahi.com/articles/AST1F4445T1FUTIL02SM.html):
- `asahi_article.html`: head (meta TITLE/description/keywords/pubdate, article:*_time, og:*, JSON-LD
  NewsArticle, cXenseParse), `main#main` with the `y_Qv3` title block (h1, `span.H8KYB` byline, `<time>`),
  share buttons, the body between `<!-- cxenseparse_start -->` / `<!-- cxenseparse_end -->` in `div.nfyQp`
  with `p#_gtm_LastLine`, the subscription CTA, the writer profile, related and latest news.  Trimmed: the
  story-specific tsunami banner and photo, the mail-share link (it embeds the story text), ad scripts, the
  top-news and news-summary boxes (they named North Korea and Russia), and the long area menus.
- `asahi_header.html`, `asahi_aside.html` (right column with the access ranking), `asahi_footer.html`:
  cut from the same sample; `asahi_list_prefix.html` is the sample's head scripts, body opening and header
  chrome, reused by the listing page whose list markup follows the site spec.
- `asahi_robots.txt`: `samples/asahi/robots_txt_asahi_com.txt`, verbatim.
"""

from __future__ import annotations

import hashlib
from datetime import UTC

from crawler.simulator.site import SimArticle, desk_of, reporter_department
from crawler.simulator.templating import esc, fill, js, load, q

PAGE_SIZE = 20
ORIGIN = "https://www.asahi.com"
PAYWALL_NOTE = "この記事は有料記事です。残り{n}文字有料会員になると続きをお読みいただけます。"
_KEY_GOLD = '<img src="//www.asahicom.jp/images/icon/top/icon__keyGold.svg" alt="有料会員記事">'
_KEY_GOLD_OLD = (
    '<span class="KeyGold"><img src="//www.asahicom.jp/images/icon_key_gold.gif" alt="有料会員記事"></span>'
)


def _stamp(a: SimArticle) -> str:
    t = a.published
    return f"{t.month}/{t.day} {t:%H:%M}"


def _jump_q(article_id: str) -> str:
    return q(f"https://digital.asahi.com/articles/{article_id}.html?_requesturl=articles/{article_id}.html")


def _aside(newest: list[SimArticle]) -> str:
    quiet = [a for a in newest if not a.on_topic][:5]
    items = "\n".join(
        '<dt><span><img src="//www.asahicom.jp/images/arrow_ranking.gif" alt="矢印"></span></dt>\n'
        f'<dd><p><a href="{a.url}?iref=com_rnavi_arank_nr{rank:02d}">{esc(a.title)}</a></p></dd>'
        for rank, a in enumerate(quiet, start=1)
    )
    return fill(load("asahi_aside.html"), {"ranking_items": items})


def _body_html(a: SimArticle) -> str:
    paragraphs = [f"<p>　{esc(p)}</p>" for p in a.paragraphs]
    if a.paywalled:
        remaining = sum(len(p) for p in a.paragraphs[1:])
        return paragraphs[0] + f'<div class="mLKOJ">{PAYWALL_NOTE.format(n=remaining)}</div>'
    if len(paragraphs) >= 6:  # longer stories get a subhead, as in many real articles
        paragraphs.insert(3, "<h2>今後の焦点</h2>")
    return "".join(paragraphs)


def _writer_profile(name: str) -> str:
    code = hashlib.sha256(name.encode("utf-8")).hexdigest()
    return (
        '<div x-component-name="WriterProfile"><div id="writerProfile" class="yT62y">'
        '<div class="FPrYd">この記事を書いた人</div><div class="jdPPS"><div class="zRkIz">'
        f'<a href="/reporter-bio/{code}?iref=article_reporter_profile" class="CES5K"></a>'
        f'<div class="iKuvI"><figure class="BKNFc"><img src="https://profile-image.kraken.asahi.com/{code}" alt/>'
        f'</figure><dl class="WptL0"><dt>{esc(name)}</dt><dd>{esc(reporter_department(name))}</dd></dl>'
        '<div class="IiGqP"><button type="button" class="vSW5i">フォロー</button></div></div>'
        "</div></div></div></div>"
    )


def article_page(a: SimArticle, newest: list[SimArticle]) -> str:
    """The article page; `newest` is every asahi article, newest first (for the boilerplate lists)."""
    desk = desk_of(a)
    t = a.published
    lead = a.paragraphs[0]
    description = "　" + (lead if len(lead) <= 90 else lead[:90] + "…")
    kin = [o for o in newest if o.on_topic == a.on_topic and o is not a]
    related = sorted(kin, key=lambda o: abs((o.published - t).total_seconds()))[:4]
    latest = [o for o in newest if not o.on_topic][:5]
    values = {
        "id": a.article_id,
        "title": esc(a.title),
        "title_json": js(a.title),
        "short_title": esc(a.title[:12] + "…"),
        "description": esc(description),
        "description_json": js(description),
        "meta_keywords": esc(
            ",".join(("朝日新聞デジタル", desk.asahi_category, desk.asahi_subcategory, *a.keywords))
            + ",朝日新聞,ニュース,新聞"
        ),
        "published": a.published_at,
        "modified": a.modified_at,
        "published_json": js(a.published_at),
        "modified_json": js(a.modified_at),
        "section_list_json": js([a.section]),
        "creators_json": js(list(a.authors)),
        "url_json": js(a.url),
        "release_date": f"{t:%Y-%m-%d}",
        "pub_year": f"{t:%Y}",
        "pub_month": f"{t:%Y%m}",
        "pub_day": f"{t:%Y%m%d}",
        "category_ja": desk.asahi_category,
        "subcategory_ja": desk.asahi_subcategory,
        "article_type": "paid" if a.paywalled else "free",
        "byline_html": "".join(f'<span class="H8KYB">{esc(name)}</span>' for name in a.authors),
        "published_utc": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "date_text": f"{t.year}年{t.month}月{t.day}日 {t.hour}時{t.minute:02d}分",
        "body_html": _body_html(a),
        "writer_profile": _writer_profile(a.authors[0]),
        "url_q": q(a.url),
        "digital_url_q": q(f"https://digital.asahi.com/articles/{a.article_id}.html"),
        "share_text_q": q(a.title + "：朝日新聞デジタル"),
        "related_items": "".join(
            f'<li><a href="{o.url}?iref=pc_rellink_{i:02d}" class="showCommentIcon"><p class="duyaz">'
            f"<span>{esc(o.title)}</span></p></a></li>"
            for i, o in enumerate(related, start=1)
        ),
        "latest_items": "\n".join(
            f'<li><span class="p-breaking__timeCell">{_stamp(o)}</span>'
            f'<a href="{o.url}?iref=com_latestnews_{i:02d}">{esc(o.title)}'
            f"{_KEY_GOLD_OLD if o.paywalled else ''}</a></li>"
            for i, o in enumerate(latest, start=1)
        ),
        "header": fill(load("asahi_header.html"), {"jump_q": _jump_q(a.article_id)}),
        "aside": _aside(newest),
        "footer": load("asahi_footer.html"),
    }
    return fill(load("asahi_article.html"), values)


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def list_page(newest: list[SimArticle], page: int) -> str:
    """`/news/history.html[?page=N]`: 20 entries per page, newest first; paid entries carry the gold key.

    Page 1 links one real article through its mobile URL (`/sp/articles/ID.html`, which redirects).
    """
    entries = newest[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    items = []
    for pos, a in enumerate(entries, start=1):
        href = (
            f"/sp/articles/{a.article_id}.html"
            if page == 1 and pos == 5
            else f"{a.path}?iref=com_latest_{pos:02d}"
        )
        key = _KEY_GOLD if a.paywalled else ""
        items.append(
            f'<li><a href="{href}">{esc(a.title)}{key}</a><span class="Time">({_stamp(a)})</span></li>'
        )
    more = page < page_count(len(newest))
    pager = (
        f'<ul class="Pager"><li><a rel="next" href="/news/history.html?page={page + 1}">次へ</a></li></ul>'
        if more
        else '<ul class="Pager"></ul>'
    )
    canonical = f"{ORIGIN}/news/history.html" + (f"?page={page}" if page > 1 else "")
    head = (
        "<title>速報・新着ニュース一覧：朝日新聞デジタル</title>"
        '<meta name="description" content="朝日新聞デジタルの速報・新着ニュースの一覧です。"/>'
        f'<link rel="canonical" href="{canonical}"/>'
        '<meta property="og:site_name" content="朝日新聞デジタル"/><meta property="og:type" content="website"/>'
    )
    prefix = fill(
        load("asahi_list_prefix.html"),
        {"list_head": head, "header": fill(load("asahi_header.html"), {"jump_q": q(canonical)})},
    )
    main = (
        '<div id="MainInner"><div class="Section"><div class="Title"><h1>速報・新着ニュース</h1></div>'
        f'<ul class="List">\n{chr(10).join(items)}\n</ul>{pager}</div></div></div>'
    )
    return prefix + main + _aside(newest) + load("asahi_footer.html")

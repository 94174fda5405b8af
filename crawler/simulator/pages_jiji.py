"""Jiji Press (www.jiji.com) pages: article and flash listing.

Templates, all derived from the real saved article page
`samples/jiji/jiji_article_2022101700794_pol.html` (2022-10-17, www.jiji.com/jc/article?k=2022101700794&g=pol):
- `jiji_article.html`: the page down to the end of `div#Main` (head metadata, both JSON-LD blocks, cXenseParse,
  breadcrumbs, share buttons, `div.ArticleTitle`, `div.ArticleData`, `div.ArticleText.clearfix` with
  `aside.ArticleInnerAD` / `aside.ArticleBottomLink`, genre comments, related list, comment widget, the
  genre `li.ThumbList` list, editorial boxes).  Trimmed: the ~150-line ad bootstrap script, logly widgets,
  and two boilerplate items that named North Korea / Russia (they would leak topic words into every page).
- `jiji_header.html` (header/nav), `jiji_sidebar.html` (right column: focus, ranking boxes, quiz),
  `jiji_footer.html` (footer and trailing scripts): cut from the same sample, shared with the listing.
- `jiji_list.html`: a listing page written for the simulator around the same header/sidebar/footer, with
  the markup of the flash list described in the site spec (`div#Main > div.MainInner.mb30 >
  div.ArticleListMain > ul.LinkList`).
"""

from __future__ import annotations

from crawler.simulator.site import MISSING_JIJI_K, SIM_NOW, SimArticle
from crawler.simulator.templating import esc, fill, js, load, q

PAGE_SIZE = 20
ORIGIN = "https://www.jiji.com"
_WEEKDAYS = "月火水木金土日"


def _stamp(a: SimArticle) -> str:
    return a.published.strftime("(%m/%d %H:%M)")


def _header() -> str:
    date = f"{SIM_NOW.year}年{SIM_NOW.month:02d}月{SIM_NOW.day:02d}日({_WEEKDAYS[SIM_NOW.weekday()]})"
    return fill(load("jiji_header.html"), {"header_date": date})


def _sidebar(section: str, newest: list[SimArticle]) -> str:
    """Ranking boxes list off-topic stories only, so that off-topic pages never carry topic words."""
    quiet = [a for a in newest if not a.on_topic]
    ranking = "\n".join(
        f'<li>\n<span class="ranking">{rank}</span>\n<a href="{a.path}">\n\t<p>{esc(a.title)}</p>\n'
        f'\t<img src="/news2/kiji_photos/square/{a.published:%Y%m}/{a.article_id}.jpg" alt="{esc(a.title)}"'
        ' width="60" height="60">\n</a>\n</li>'
        for rank, a in enumerate(quiet[:5], start=1)
    )
    attention = "\n".join(
        f'<li data-title="auto"><a href="{a.path}"><p>{esc(a.title)}</p></a>'
        f'<a class="cat" href="/jc/list?g={a.genre}"><span>{esc(a.section)}</span></a></li>'
        for a in quiet[5:10]
    )
    return fill(
        load("jiji_sidebar.html"),
        {"ranking_label": esc(section), "ranking_items": ranking, "attention_items": attention},
    )


def _footer(mobile_path: str) -> str:
    return fill(load("jiji_footer.html"), {"mobile_path": mobile_path})


def _body_html(a: SimArticle, related: SimArticle | None) -> str:
    """First paragraph alone, then the inline related link, then the rest joined by <br> (as the sample)."""
    first, rest = a.paragraphs[0], a.paragraphs[1:]
    pixel = '<img src="/news2/kiji_photos/square/dummy/dummy2.png" alt="" width="1" height="1">'
    if not rest:
        return f"\t<p>\n\t　{esc(first)}\n\t{pixel}</p>"
    tab = (
        f'<p class="ArticleTextTab"><a href="{related.path}">{esc(related.title)}</a></p>' if related else ""
    )
    tail = "<br>\n".join(f"\t　{esc(p)}" for p in rest)
    return f"\t<p>\n\t　{esc(first)}<br>\n</p>{tab}<p>\n{tail}\n\t{pixel}</p>"


def article_page(a: SimArticle, newest: list[SimArticle]) -> str:
    """The article page; `newest` is every jiji article, newest first (for the boilerplate lists)."""
    same_genre = [o for o in newest if o.genre == a.genre and o is not a]
    nearest = sorted(same_genre, key=lambda o: abs((o.published - a.published).total_seconds()))
    t, m = a.published, a.modified
    seconds = int(a.article_id[-2:]) % 60  # the sample's "news date" comment carries seconds
    values = {
        "charset": "Shift_JIS" if a.charset == "shift_jis" else "UTF-8",
        "title": esc(a.title),
        "title_json": js(a.title),
        "description": esc(a.paragraphs[0]),
        "description_json": js(a.paragraphs[0]),
        "url_attr": a.url,  # the real site writes raw '&' in attributes; parsers accept it
        "url_json": js(a.url),
        "url_q": q(a.url),
        "share_text_q": q(a.title + "：時事ドットコム"),
        "crumb_id_json": js(f"/jc/c?g={a.genre}"),
        "section": esc(a.section),
        "section_json": js(a.section),
        "genre": a.genre,
        "k": a.article_id,
        "published": a.published_at,
        "published_json": js(a.published_at),
        "modified_json": js(a.modified_at),
        "date_text": f"{t.year}年{t.month:02d}月{t.day:02d}日{t.hour:02d}時{t.minute:02d}分",
        "body_html": _body_html(a, nearest[0] if nearest else None),
        "news_date": f"{t:%Y%m%d%H%M}{seconds:02d}",
        "upd_date": f"{m:%Y%m%d%H%M}{seconds:02d}",
        "para_count": str(len(a.paragraphs)),
        "relation_items": "\n".join(
            f'<li class="RelationList"><a href="{o.path}">{esc(o.title)}</a></li>' for o in nearest[1:4]
        ),
        "genre_items": "".join(
            f'<li class="ThumbList"><a href="{o.path}" class="clearfix"><div class="NewsThumb">'
            f'<img src="/news2/kiji_photos/square/dummy/dummy.jpg" data-src="/news2/kiji_photos/square/dummy/'
            f'{o.genre}1-1.jpg" alt="{esc(o.title)}" height="65" width="65" class="lazyload"></div>'
            f"<p>{esc(o.title)}</p><span>{_stamp(o)}</span></a></li>"
            for o in same_genre[:10]
        ),
        "header": _header(),
        "sidebar": _sidebar(a.section, newest),
        "footer": _footer(f"/sp/article?k={a.article_id}&g={a.genre}"),
    }
    return fill(load("jiji_article.html"), values)


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def list_page(newest: list[SimArticle], page: int) -> str:
    """`/jc/list?g=flash[&p=N]`: 20 entries per page, newest first.

    Page 1 also carries the traps of the spec: two entries point at the mobile URL of a real article
    (which redirects) and one extra entry points at an article that does not exist (404).
    """
    entries = newest[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    items = []
    for pos, a in enumerate(entries):
        href = a.path.replace("/jc/", "/sp/", 1) if page == 1 and pos in (2, 6) else a.path
        items.append(f'<li><a href="{href}">{esc(a.title)}<span>{_stamp(a)}</span></a></li>')
        if page == 1 and pos == 9:
            items.append(
                f'<li><a href="/jc/article?k={MISSING_JIJI_K}&g=soc">春の全国交通安全運動、各地で始まる'
                "<span>(03/10 11:05)</span></a></li>"
            )
    more = page < page_count(len(newest))
    pager = (
        f'<div class="Pager"><a rel="next" href="/jc/list?g=flash&p={page + 1}">次へ</a></div>'
        if more
        else '<div class="Pager"></div>'
    )
    canonical = f"{ORIGIN}/jc/list?g=flash" + (f"&p={page}" if page > 1 else "")
    values = {
        "canonical": canonical,
        "items": "\n".join(items),
        "pager": pager,
        "header": _header(),
        "sidebar": _sidebar("速報", newest),
        "footer": _footer("/sp/list?g=flash"),
    }
    return fill(load("jiji_list.html"), values)

"""Layout noise for saved article pages: what a redesign or an ad server adds around the paragraphs.

Used by tests/test_body_mutations.py and bench/body_f1.py to check that a page object's body does not
change when the real sample gets photo captions and credits, related-article links and boxes, ad slots,
"続きを読む" teasers and paywall notices between its paragraphs, or its paragraphs move into nested
wrappers. The noise goes inside the body container, next to the paragraphs, where a careless selector
would pick it up; no Scrapy, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from lxml import etree, html

from spiders.pages.common import load_html

CAPTIONS = (
    '<figure class="photo"><img src="/m/photo1.jpg" alt="写真・図版">'
    "<figcaption>会見する官房長官＝首相官邸で（共同）</figcaption></figure>",
    '<p class="caption">写真：記者会見する防衛相（撮影・山田太郎）</p>',
    '<div class="photo-credit">（ロイター＝共同）</div>',
)
RELATED = (
    '<p><a href="/related/1">【関連】北朝鮮、日本海へ弾道ミサイル発射</a></p>',
    '<ul class="related-articles"><li><a href="/related/2">日米首脳が電話会談</a></li>'
    '<li>・<a href="/related/3">ロシア外相が訪朝</a></li></ul>',
    '<div class="relatedBox"><p>関連記事</p><p><a href="/related/4">北朝鮮兵、ロシアに派遣か</a></p></div>',
)
ADS = (
    '<div class="ad-slot" id="ad_dfp_inread"><script>googletag.cmd.push(function(){});</script>'
    "<p>広告</p></div>",
    '<ins class="adsbygoogle" data-ad-slot="123"></ins>',
    "<p>[PR]</p>",
)
TEASERS = (
    '<p class="readmore"><a href="/continue">続きを読む</a></p>',
    '<div class="paywall-notice"><p>この記事は有料会員限定です。</p><a href="/login">ログインして続きを読む</a></div>',
)
KINDS = ("captions", "related", "ads", "teasers", "nested")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def paragraph_element(doc: etree._Element, paragraph: str, *, end: bool = False) -> etree._Element:
    """The deepest block element whose text starts with `paragraph`'s opening (`end`: holds its end;
    a <p> of <br>-separated lines holds several paragraphs)."""
    text = _norm(paragraph)
    needle = text[-12:] if end else text[:12]
    found = None
    for element in doc.iter("p", "div", "li", "h2", "h3", "section"):
        own = _norm(element.text_content())
        if (needle in own) if end else own.startswith(needle):
            found = element  # iter() is document order: later hits are deeper
    if found is None:
        raise ValueError(f"no element holds {needle!r}")
    return found


def _insert_after(element: etree._Element, snippets: Sequence[str]) -> None:
    for snippet in reversed(snippets):
        element.addnext(html.fragment_fromstring(snippet))


def _wrap(element: etree._Element) -> None:
    outer = html.fragment_fromstring('<div class="inner"><div class="paragraph-wrap"></div></div>')
    element.addprevious(outer)
    tail, element.tail = element.tail, None
    outer[0].append(element)
    outer.tail = tail


def mutate(text: str, paragraphs: Sequence[str], kinds: Sequence[str] = KINDS) -> str:
    """`text` with the noise of `kinds` put between the paragraphs of the expected body."""
    doc = load_html(text)
    first = paragraph_element(doc, paragraphs[0])
    last = paragraph_element(doc, paragraphs[-1], end=True)
    second = paragraph_element(doc, paragraphs[1]) if len(paragraphs) > 1 else first
    # Wrap first: the inserts then land inside the wrapper when they follow that paragraph.
    if "nested" in kinds:
        _wrap(second)
    if "captions" in kinds:
        first.addprevious(html.fragment_fromstring(CAPTIONS[1]))
        _insert_after(first, CAPTIONS)
    if "related" in kinds:
        _insert_after(first, RELATED[:1])
        _insert_after(last, RELATED)
    if "ads" in kinds:
        _insert_after(first, ADS)
        _insert_after(last, ADS[:1])
    if "teasers" in kinds:
        _insert_after(last, TEASERS)
    return etree.tostring(doc, encoding="unicode", method="html")

"""What is article body and what is page furniture inside a body container.

Real article containers hold more than paragraphs: photo captions and credits, related-article boxes and
inline "see also" links, ad slots, share buttons, "続きを読む" teasers and paywall notices, and the
paragraphs themselves sit in wrappers that change with every redesign. The page objects pick the
container (or the paragraph elements) of their outlet; the rules here decide, the same way for all of
them, which text inside is the article:

- a subtree is skipped when its tag is never text (figure, aside, script...) or its class or id names
  furniture (caption, credit, related, ad, banner, share, paywall...);
- block elements (p, h2-h6, li, blockquote, div...) each give their own lines, however deeply nested,
  so a paragraph moved into a new wrapper keeps its place and a list keeps one line per item;
- a block whose whole text is a link is a related-article link, not a paragraph;
- a short line that is a call to action, a teaser or a paywall notice is dropped.

Pure functions over lxml trees: no Scrapy, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lxml import etree

from spiders.pages.common import clean_text

Skip = Callable[[etree._Element], bool]

NEVER_TEXT = frozenset(
    {
        "aside",
        "figure",
        "figcaption",
        "script",
        "style",
        "noscript",
        "img",
        "picture",
        "iframe",
        "button",
        "svg",
        "form",
        "nav",
        "template",
        "video",
        "audio",
        "ins",  # Google ad slots
    }
)
# Elements that start a new line of text. Inline elements (a, span, b, ruby...) stay inside the line.
BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "blockquote",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "table",
        "tr",
        "td",
        "th",
        "hr",
        "center",
    }
)
# Class or id words of furniture. Matched as whole words of the attribute (split at space, - and _), so
# the hashed class names of CSS-module sites (asahi's nfyQp) and words like "header" or "reading" do not
# match; "ad" must be a word of its own ("ad-slot", "p-ad-dfp", "ad_dfp_premiumrec").
_FURNITURE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:caption|captions|credit|credits|related|relation|recommend|recommended|ad|ads|advert"
    r"|ad(?:mod|unit|slot|box|area|wrap|block)"
    r"|advertisement|dfp|banner|sponsor|sponsored|share|sharing|sns|social|readmore|paywall|promo|teaser"
    r"|newsletter|read\s?more)(?:$|[\s_-])",
    re.IGNORECASE,
)
_CAMEL = re.compile(r"([a-z])([A-Z])")
# Lines that are never article text when they are short: teasers, paywall notices, box titles, credits.
_NOTICE = re.compile(
    r"^(?:[【\[〔［<＜《]\s*)?(?:続きを読む|続きは|もっと見る|この記事は.{0,12}(?:限定|有料)|有料会員|会員限定"
    r"|無料会員|読者会員|ログインして|会員登録|関連記事|関連ニュース|関連リンク|あわせて読みたい|合わせて読みたい"
    r"|おすすめ記事|広告|スポンサーリンク|PR$|\[PR\]$|ＰＲ$|写真[：:＝=]|（写真[：:]|Photo:|Related:|Read more)",
    re.IGNORECASE,
)
_NOTICE_MAX = 60
# Spaces and the bullets and arrows a list of links puts before each link ("・", "▼", "＞").
_BULLETS = re.compile(r"[\s・•◆◇■□▼▽▶►▸>＞›»→]+")
# A line break between two Japanese characters is markup layout, not a space: "岡田\n<ruby>彰布..." is
# one word. Between Latin letters the break stays a space.
_CJK = r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff9f]"
_CJK_BREAK = re.compile(rf"(?<={_CJK})[ \t\r\f\v]*\n\s*(?={_CJK})")


def is_furniture(element: etree._Element) -> bool:
    """A subtree that is never article text, by its tag or by the words of its class and id."""
    if element.tag in NEVER_TEXT:
        return True
    names = f"{element.get('class') or ''} {element.get('id') or ''}".strip()
    # camelCase names are words too (relatedBox, headerAd), but not the short hashed names of CSS
    # modules (asahi's 5-letter nfyQp could as well be gAdsK).
    words = " ".join(_CAMEL.sub(r"\1 \2", n) if len(n) >= 7 else n for n in names.split())
    return bool(words) and _FURNITURE_WORDS.search(words) is not None


def link_only(element: etree._Element) -> bool:
    """True when all of the element's text is the text of links: a related-article link, not prose."""
    links = [a for a in element.iter("a") if a.get("href")]
    if not links:
        return False
    text = _BULLETS.sub("", element.text_content())
    linked = "".join(_BULLETS.sub("", a.text_content()) for a in links)
    return bool(text) and text == linked


def is_notice(line: str) -> bool:
    """A short teaser, paywall notice, box title or credit line ("続きを読む", "関連記事", "写真：...")."""
    return len(line) <= _NOTICE_MAX and _NOTICE.search(line) is not None


def clean_line(raw: str) -> str:
    return clean_text(_CJK_BREAK.sub("", raw))


def block_lines(element: etree._Element, skip: Skip = is_furniture) -> list[str]:
    """The lines of text of `element`: one per block element and per <br>, furniture left out.

    Comments are dropped but their tails kept, so `岸<!--es-->田` reads 岸田. A nested block that is
    only a link is left out; the element itself is the caller's to judge (see `body_lines`).
    """
    lines: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        lines.append("".join(buffer))
        buffer.clear()

    def walk(node: etree._Element) -> None:
        if node.text:
            buffer.append(node.text)
        for child in node:
            if not isinstance(child.tag, str):  # comment, processing instruction, entity
                pass
            elif child.tag == "br":
                flush()
            elif skip(child):
                pass
            elif child.tag in BLOCKS:
                flush()
                if not link_only(child):
                    walk(child)
                flush()
            else:
                walk(child)
            if child.tail:
                buffer.append(child.tail)

    walk(element)
    flush()
    return [c for c in (clean_line(line) for line in lines) if c]


def body_lines(elements: Iterable[etree._Element], skip: Skip = is_furniture) -> list[str]:
    """The article lines of the selected body elements, in document order.

    An element inside another selected one is read once (with its ancestor), an element inside
    furniture not at all; a selected element that is only a link is a related link.
    """
    # Sets of elements, not of id()s: lxml hands out the same proxy for a node only while one is alive,
    # and these sets keep them alive (an id() of a dropped proxy can be reused by another node's).
    chosen = list(elements)
    picked = set(chosen)
    # Wrappers above the elements' common ancestor are the page's (a <body class="ad-enabled"> is no
    # ad box): only those below it are judged as furniture.
    shared = _common_ancestors(chosen)
    out: list[str] = []
    for element in chosen:
        ancestors = [a for a in element.iterancestors() if a not in shared]
        if any(a in picked for a in ancestors) or skip(element) or any(skip(a) for a in ancestors):
            continue
        if link_only(element):
            continue
        out.extend(line for line in block_lines(element, skip) if not is_notice(line))
    return out


def _common_ancestors(elements: list[etree._Element]) -> set[etree._Element]:
    """The elements that are ancestors (or self) of every one of `elements`."""
    if not elements:
        return set()
    common = [elements[0], *elements[0].iterancestors()]
    for element in elements[1:]:
        chain = {element, *element.iterancestors()}
        common = [a for a in common if a in chain]
    return set(common)

"""The simulated article set and its ground truth, generated deterministically from a seed.

Per outlet: 48 articles inside the demo window plus 12 older ones, numbered in id (= publication) order.
The index decides the traits the crawler must cope with: every 3rd article is on topic, every 8th jiji
article is served as Shift_JIS, every 5th article is sent chunked, every 4th asahi article (index 1, 5, ...)
is paywalled.  Only `random.Random(seed)` is used, and dates are fixed, so one seed gives one site.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from crawler.simulator import textbank
from crawler.simulator.textbank import Desk

OUTLETS: tuple[str, ...] = ("jiji", "asahi")
DEMO_SINCE = "2025-03-01T00:00:00+09:00"
DEMO_UNTIL = "2025-03-21T23:59:59+09:00"

JST = timezone(timedelta(hours=9))
# The simulated "now": the Date header of every response, so that served bytes are reproducible.
SIM_NOW = datetime(2025, 3, 22, 0, 0, tzinfo=JST)

ORIGINS = {"jiji": "https://www.jiji.com", "asahi": "https://www.asahi.com"}
IN_WINDOW = 48
OLDER = 12
ARTICLES_PER_OUTLET = IN_WINDOW + OLDER
JIJI_FLASH_INDEX = 30  # an on-topic, in-window jiji story published as a one-paragraph flash
MISSING_JIJI_K = "2025031099999"  # linked from the jiji listing, never served (404)

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MONTH_CODE = "123456789ABC"
_DAY_CODE = "123456789ABCDEFGHIJKLMNOPQRSTUV"


@dataclass(frozen=True)
class SimArticle:
    outlet: str
    url: str  # canonical URL on the outlet's real origin
    path: str  # path + query served by the simulator
    published_at: str  # ISO 8601, +09:00
    modified_at: str
    title: str
    paragraphs: tuple[str, ...]  # the full story, even when the page only shows the first paragraph
    on_topic: bool
    in_window: bool
    charset: str  # "utf-8" or "shift_jis"
    chunked: bool
    paywalled: bool
    authors: tuple[str, ...]  # personal bylines; jiji carries none (the author is the agency)
    section: str  # JSON-LD articleSection: Japanese on jiji ("国際"), English on asahi ("International")
    keywords: tuple[str, ...]

    @property
    def served_paragraphs(self) -> tuple[str, ...]:
        """The paragraphs the article page actually shows (a paywalled page stops after the first)."""
        return self.paragraphs[:1] if self.paywalled else self.paragraphs

    @property
    def published(self) -> datetime:
        return datetime.fromisoformat(self.published_at)

    @property
    def modified(self) -> datetime:
        return datetime.fromisoformat(self.modified_at)

    @property
    def article_id(self) -> str:
        """jiji: the 13-digit k; asahi: the AS... id."""
        if self.outlet == "jiji":
            return self.path.split("k=")[1].split("&")[0]
        return self.path.rsplit("/", 1)[1].removesuffix(".html")

    @property
    def genre(self) -> str:
        """The jiji g= parameter ("" on asahi)."""
        return self.path.split("g=")[1] if self.outlet == "jiji" else ""


def _publication_times(rng: random.Random, in_window: int = IN_WINDOW, older: int = OLDER) -> list[datetime]:
    """48 times spread over 2025-03-01..21 and 12 over 2025-02-01..27, ascending, all distinct."""
    times: set[datetime] = set()
    for i in range(in_window):
        day = datetime(2025, 3, 1, tzinfo=JST) + timedelta(days=i * 21 // in_window)
        times.add(_distinct(times, day + timedelta(minutes=rng.randint(6 * 60, 23 * 60 + 30))))
    for i in range(older):
        day = datetime(2025, 2, 1, tzinfo=JST) + timedelta(days=i * 26 // (older - 1))
        times.add(_distinct(times, day + timedelta(minutes=rng.randint(6 * 60, 23 * 60 + 30))))
    return sorted(times)


def _distinct(taken: set[datetime], t: datetime) -> datetime:
    while t in taken:
        t += timedelta(minutes=1)
    return t


def _asahi_id(rng: random.Random, t: datetime) -> str:
    """Shaped like the real ids (AST1F4445T1FUTIL02SM): AS + year code + month/day codes + random parts."""
    md = _MONTH_CODE[t.month - 1] + _DAY_CODE[t.day - 1]
    rand4 = "".join(rng.choice(_ALNUM) for _ in range(4))
    desk = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
    tail = f"{rng.randint(0, 99):02d}" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
    return f"AST{md}{rand4}T{md}{desk}{tail}"


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _story(
    outlet: str, index: int, t: datetime, rng: random.Random, used_titles: set[str]
) -> tuple[Desk, str, list[str]]:
    on_topic = index % 3 == 0
    desk = (
        textbank.ON_TOPIC if on_topic else textbank.OFF_TOPIC[(index // 3 + index) % len(textbank.OFF_TOPIC)]
    )
    if outlet == "jiji" and index == JIJI_FLASH_INDEX:
        title = textbank.fill(textbank.FLASH_TITLE, rng, t.day)
        body = [textbank.fill(textbank.FLASH_TEXT, rng, t.day)]
    else:
        for _ in range(50):
            title = textbank.fill(rng.choice(desk.titles), rng, t.day)
            if title not in used_titles:
                break
        body = textbank.compose_body(desk, rng, t.day, textbank.fill(rng.choice(desk.leads), rng, t.day))
    if outlet == "jiji" and index % 8 == 0:
        body.insert(min(2, len(body)), textbank.CP932_SENTENCE)
    if outlet == "jiji":
        title = textbank.to_fullwidth_digits(title)
        body = [textbank.to_fullwidth_digits(p) for p in body]
    used_titles.add(title)
    if not on_topic:
        text = title + "".join(body)
        leaked = [w for w in textbank.FORBIDDEN_OFF_TOPIC if w in text]
        assert not leaked, f"off-topic story mentions {leaked}"
    return desk, title, body


def build_articles(seed: int, articles_per_outlet: int = ARTICLES_PER_OUTLET) -> list[SimArticle]:
    """All simulated articles, outlet by outlet, each outlet in publication order.

    `articles_per_outlet` other than the default (60) gives a bigger site for benchmarks, split 4:1
    between the demo window and the month before; the default site is unchanged byte for byte.
    """
    if articles_per_outlet < ARTICLES_PER_OUTLET:
        raise ValueError(
            f"articles_per_outlet must be at least {ARTICLES_PER_OUTLET}, not {articles_per_outlet}"
        )
    in_window = articles_per_outlet * IN_WINDOW // ARTICLES_PER_OUTLET
    older = articles_per_outlet - in_window
    rng = random.Random(seed)
    since, until = datetime.fromisoformat(DEMO_SINCE), datetime.fromisoformat(DEMO_UNTIL)
    articles: list[SimArticle] = []
    used_titles: set[str] = set()
    for outlet in OUTLETS:
        times = _publication_times(rng, in_window, older)
        serials: dict[str, list[int]] = {}
        for t in times:
            serials.setdefault(t.strftime("%Y%m%d"), []).append(0)
        for day, slots in serials.items():
            serials[day] = sorted(rng.sample(range(100, 1400), len(slots)))
        for index, t in enumerate(times):
            desk, title, body = _story(outlet, index, t, rng, used_titles)
            authors: tuple[str, ...] = ()
            if outlet == "jiji":
                k = t.strftime("%Y%m%d") + f"{serials[t.strftime('%Y%m%d')].pop(0):05d}"
                path = f"/jc/article?k={k}&g={desk.jiji_genre}"
                modified, section = t, desk.jiji_section
            else:
                path = f"/articles/{_asahi_id(rng, t)}.html"
                modified = t + timedelta(minutes=rng.choice((0, 0, 12, 35, 90)), seconds=rng.randint(0, 59))
                names = rng.sample(textbank.REPORTERS, rng.choice((1, 1, 1, 2)))
                authors, section = tuple(name for name, _ in names), desk.asahi_section
            articles.append(
                SimArticle(
                    outlet=outlet,
                    url=ORIGINS[outlet] + path,
                    path=path,
                    published_at=_iso(t),
                    modified_at=_iso(modified),
                    title=title,
                    paragraphs=tuple(body),
                    on_topic=desk is textbank.ON_TOPIC,
                    in_window=since <= t <= until,
                    charset="shift_jis" if outlet == "jiji" and index % 8 == 0 else "utf-8",
                    chunked=index % 5 == 0,
                    paywalled=outlet == "asahi" and index % 4 == 1,
                    authors=authors,
                    section=section,
                    keywords=desk.keywords,
                )
            )
    return articles


def reporter_department(name: str) -> str:
    return dict(textbank.REPORTERS).get(name, "")


def desk_of(article: SimArticle) -> Desk:
    if article.on_topic:
        return textbank.ON_TOPIC
    if article.outlet == "jiji":
        return next(
            d
            for d in textbank.OFF_TOPIC
            if d.jiji_genre == article.genre and d.jiji_section == article.section
        )
    return next(d for d in textbank.OFF_TOPIC if d.asahi_section == article.section)

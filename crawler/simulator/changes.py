"""The simulated outlets publishing, correcting and removing articles between two crawls.

Tests of incremental runs change the site the way real outlets do: new stories appear at the top of
feeds, sitemaps and listings; a story is corrected (a paragraph added, a new modified time); a story is
taken down (404, or 410 Gone). Each change is deterministic (a seed), and every page that shows the
changed story is rendered afresh.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from crawler.simulator.site import ORIGINS, SimArticle, _asahi_id, _iso

if TYPE_CHECKING:
    from crawler.simulator.responses import SimSite

CORRECTION = "（訂正）当初の記事で、会談の日付に誤りがありました。おわびして訂正します。"


def add_articles(
    site: SimSite,
    outlet: str,
    count: int,
    seed: int = 1,
    start: datetime | None = None,
    every: timedelta = timedelta(minutes=5),
) -> list[SimArticle]:
    """Publish `count` new stories on `outlet`, `every` apart from `start` (default: 5 minutes after its
    newest story, so inside the demo window)."""
    rng = random.Random(f"{seed}-{outlet}-{len(site.articles)}")
    own = sorted((a for a in site.articles if a.outlet == outlet), key=lambda a: a.published)
    templates = [a for a in own if a.on_topic and a.in_window] or own
    first = start if start is not None else own[-1].published + every
    added = []
    for i in range(count):
        t = first + every * i
        template = templates[i % len(templates)]
        if outlet == "jiji":
            path = f"/jc/article?k={t:%Y%m%d}{1500 + len(own) + i:05d}&g={template.genre}"  # unique
        else:
            path = f"/articles/{_asahi_id(rng, t)}.html"
        added.append(
            replace(
                template,
                url=ORIGINS[outlet] + path,
                path=path,
                published_at=_iso(t),
                modified_at=_iso(t),
                title=f"{template.title}（続報{i + 1}）",
            )
        )
    site.replace_articles([*site.articles, *added])
    return added


def edit_article(site: SimSite, article: SimArticle, paragraph: str = CORRECTION) -> SimArticle:
    """Correct a story: a paragraph appended, modified an hour later."""
    modified = datetime.fromisoformat(article.modified_at) + timedelta(hours=1)
    edited = replace(article, paragraphs=(*article.paragraphs, paragraph), modified_at=_iso(modified))
    site.replace_articles([edited if a == article else a for a in site.articles])
    return edited


def delete_article(site: SimSite, article: SimArticle, status: int = 404) -> None:
    """Take a story down: its page answers `status` (404 or 410) and no listing shows it."""
    if status not in (404, 410):
        raise ValueError(f"a removed page answers 404 or 410, not {status}")
    site.gone[(article.outlet, article.article_id)] = status
    site.replace_articles([a for a in site.articles if a != article])

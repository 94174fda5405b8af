"""Topic relevance: term-group matching on normalised text, and the Scrapy pipeline that applies it.

A group named "a+b" (e.g. "russia+dprk" holding 露朝/朝露/ロ朝) satisfies each of the groups it names:
one compound abbreviation stands for both countries.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.config import ConfigError, TopicConfig, resolve_topic
from core.items import Article, TopicMatch
from pipelines.drops import Excluded
from pipelines.textnorm import fold

logger = logging.getLogger(__name__)

_KATAKANA = "\u30a1-\u30fa\u30fc"  # after NFKC, half-width katakana is already full-width
_ASCII_WORD = re.compile(r"[a-z0-9]")

# Words in which a one-kanji country abbreviation is not the country. No Japanese tokenizer is installed
# and one would be heavy for this single problem, so the common non-country words are listed instead.
_NOT_AN_ABBREVIATION: dict[str, tuple[str, ...]] = {
    "露": (
        "披露", "露出", "暴露", "吐露", "結露", "露天", "露骨", "露呈", "発露", "露見", "露店", "雨露",
        "夜露", "甘露", "白露", "玉露", "露地", "露営", "露払", "露わ", "草露", "松露",
    ),
}  # fmt: skip


def _is_kana(char: str) -> bool:
    name = unicodedata.name(char, "")
    return name.startswith(("KATAKANA", "HIRAGANA"))


def _is_katakana(char: str) -> bool:
    return re.fullmatch(f"[{_KATAKANA}]", char) is not None


def _term_pattern(term: str) -> str:
    """Regex for one folded term, with the boundaries that keep short forms from matching inside words."""
    pattern = re.escape(term)
    if _ASCII_WORD.match(term[0]):
        pattern = r"(?<![a-z0-9])" + pattern
    if _ASCII_WORD.match(term[-1]):
        pattern += r"(?:e?s)?(?![a-z0-9])"  # plurals: missiles, munitions
    # A one-character katakana abbreviation at the edge of a compound (朝ロ, ロ朝, 日ロ) must not be the
    # first or last letter of a longer katakana word: 今朝ロシア is not 朝ロ.
    if len(term) > 1 and _is_katakana(term[-1]) and not _is_katakana(term[-2]):
        pattern += f"(?![{_KATAKANA}])"
    if len(term) > 1 and _is_katakana(term[0]) and not _is_katakana(term[1]):
        pattern = f"(?<![{_KATAKANA}])" + pattern
    return pattern


@dataclass(frozen=True)
class _Term:
    label: str  # as written in the topic file
    groups: frozenset[str]


class TopicMatcher:
    """Counts a topic's terms in a title and text and decides whether the article is on topic."""

    def __init__(self, topic: TopicConfig) -> None:
        self.topic = topic
        self.ignored_terms: list[str] = []
        group_names = {g.name for g in topic.groups}
        terms: dict[str, _Term] = {}
        for group in topic.groups:
            parts = set(group.name.split("+"))
            covers = frozenset(parts | {group.name}) if parts <= group_names else frozenset({group.name})
            for raw in group.terms:
                folded = fold(raw).strip()
                # A lone kana (ロ) or letter matches inside countless words: it only counts inside a
                # listed compound such as ロ朝.
                if not folded or (len(folded) == 1 and (_is_kana(folded) or folded.isascii())):
                    self.ignored_terms.append(raw)
                    continue
                known = terms.get(folded)
                terms[folded] = _Term(
                    known.label if known else raw, (known.groups if known else frozenset()) | covers
                )
        self._terms = [terms[t] for t in sorted(terms, key=len, reverse=True)]
        folded_order = sorted(terms, key=len, reverse=True)
        # One alternation, longest first: at each position the longest term wins (軍事協力 is not also
        # 軍事), and matches never overlap.
        self._regex = re.compile(
            "|".join(f"(?P<t{i}>{_term_pattern(t)})" for i, t in enumerate(folded_order))
        )
        self._folded = folded_order
        self._exclude = [fold(t).strip() for t in topic.exclude if fold(t).strip()]

    @property
    def name(self) -> str:
        return self.topic.name

    def _starts(self, text: str) -> list[int]:
        """Every position where some term's letters begin, in order.

        Why: the alternation's branches open with lookbehinds, so `re` cannot skip ahead by first
        character and tries all ~65 branches at every position (about 20 ms for a long article). A match
        can only begin where a term's letters do, and str.find finds those in C.
        """
        found: set[int] = set()
        for term in self._folded:
            at = text.find(term)
            while at != -1:
                found.add(at)
                at = text.find(term, at + 1)
        return sorted(found)

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        """What `self._regex.finditer(text)` yields, trying the regex only where a term begins."""
        end = 0
        for start in self._starts(text):
            if start < end:
                continue  # inside the previous match: finditer resumes after it
            match = self._regex.match(text, start)  # lookbehinds still see the text before `start`
            if match is not None:
                end = match.end()
                yield match

    def _count(self, text: str) -> Counter[int]:
        counts: Counter[int] = Counter()
        if not text or not self._folded:
            return counts
        for match in self._matches(text):
            index = int(str(match.lastgroup)[1:])
            term = self._folded[index]
            if len(term) == 1 and self._inside_other_word(text, match.start(), term):
                continue
            counts[index] += 1
        return counts

    @staticmethod
    def _inside_other_word(text: str, pos: int, char: str) -> bool:
        for word in _NOT_AN_ABBREVIATION.get(char, ()):
            start = pos - word.index(char)
            if start >= 0 and text[start : start + len(word)] == word:
                return True
        return False

    def judge(self, title: str, text: str, *, stage: int = 2) -> TopicMatch:
        folded_title, folded_text = fold(title or ""), fold(text or "")
        in_title, in_text = self._count(folded_title), self._count(folded_text)
        matched: dict[str, int] = {}
        satisfied: set[str] = set()
        score = 0.0
        for index in in_title.keys() | in_text.keys():
            term = self._terms[index]
            matched[term.label] = in_title[index] + in_text[index]
            satisfied |= term.groups
            score += in_title[index] * self.topic.title_weight + in_text[index]
        excluded = any(e in folded_title or e in folded_text for e in self._exclude)
        accepted = (
            all(group in satisfied for group in self.topic.required)
            and not excluded
            and score >= self.topic.threshold
        )
        return TopicMatch(
            name=self.topic.name,
            score=score,
            matched=dict(sorted(matched.items(), key=lambda kv: (-kv[1], kv[0]))),
            stage=stage,
            accepted=accepted,
        )

    def title_is_off_topic(self, title: str) -> bool:
        """Stage 1: a title with no term of the topic at all (or an excluded term) is clearly off topic.

        Deliberately lenient: a headline names one or two of the groups at most, so requiring all of
        them or the article threshold would drop relevant articles before anyone read them.
        """
        folded = fold(title or "")
        if any(e in folded for e in self._exclude):
            return True
        return not self._count(folded)


def prefilter(candidate_title: str, topics: Iterable[TopicMatcher | TopicConfig]) -> bool:
    """Stage 1: should this candidate be fetched? False only when every topic allows pruning by title
    (prefilter = true) and the title is clearly off every one of them. An unknown title is fetched."""
    matchers = [t if isinstance(t, TopicMatcher) else TopicMatcher(t) for t in topics]
    if not matchers or not (candidate_title or "").strip():
        return True
    if any(not m.topic.prefilter for m in matchers):
        return True
    return any(not m.title_is_off_topic(candidate_title) for m in matchers)


def load_matchers(specs: Sequence[str]) -> list[TopicMatcher]:
    """Matchers for builtin topic names or .toml paths; ConfigError names the bad spec."""
    specs = [s.strip() for s in specs if s.strip()]
    if not specs:
        raise ConfigError("TOPICS: at least one topic is required (a builtin name or a .toml path)")
    matchers = []
    for spec in specs:
        matcher = TopicMatcher(resolve_topic(spec))
        if matcher.ignored_terms:
            logger.warning(
                "topic %s: ignoring one-character terms %s (they only count inside listed compounds)",
                matcher.name,
                ", ".join(matcher.ignored_terms),
            )
        matchers.append(matcher)
    return matchers


class RelevancePipeline:
    """Scrapy item pipeline: judges every Article against the configured topics (stage 2)."""

    def __init__(self, matchers: Sequence[TopicMatcher], archive_all: bool = False) -> None:
        self.matchers = list(matchers)
        self.archive_all = archive_all
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> RelevancePipeline:
        settings = crawler.settings
        pipeline = cls(
            load_matchers(settings.getlist("TOPICS", ["russia-dprk"])),
            archive_all=settings.getbool("TOPIC_ARCHIVE_ALL", False),
        )
        pipeline.crawler = crawler
        return pipeline

    def _count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        item.topics = [m.judge(item.title, item.text, stage=2) for m in self.matchers]
        accepted = [t.name for t in item.topics if t.accepted]
        # A new version of an archived article is kept whatever the judgement: its first version was.
        if not accepted and not self.archive_all and item.version <= 1:
            self._count("newsarchive/articles/off_topic")
            raise Excluded(f"off-topic: {item.url}", "off_topic", log_level="DEBUG")
        for name in accepted:
            self._count(f"newsarchive/topics/{name}")
        return item

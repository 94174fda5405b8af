"""Topic relevance: the default russia-dprk topic on realistic positives and negatives, the pipeline."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.exceptions import DropItem
from scrapy.settings import Settings

from core.config import ConfigError, TermGroup, TopicConfig, resolve_topic
from core.items import Article, WarcPointer
from pipelines.article_extraction import extract_article
from pipelines.relevance import RelevancePipeline, TopicMatcher, load_matchers, prefilter
from pipelines.textnorm import fold
from tests.extraction_helpers import ASAHI, ASAHI_URL, JIJI, JIJI_URL, make_page

SEED = Path(__file__).parent / "fixtures" / "extract" / "topic-example-seed.txt"


@pytest.fixture(scope="module")
def matcher() -> TopicMatcher:
    return TopicMatcher(resolve_topic("russia-dprk"))


def seed_title_and_text() -> tuple[str, str]:
    lines = [line for line in SEED.read_text("utf-8").splitlines() if line and not line.startswith("#")]
    return lines[0], "\n".join(lines[1:])


# Realistic wire-style items (written for these tests in the register of Jiji/Asahi flashes).
TROOPS_TITLE = "北朝鮮兵、ロシア西部クルスク州で戦闘参加か　韓国情報機関"
TROOPS_TEXT = (
    "韓国の情報機関、国家情報院は、ロシアに派遣された北朝鮮兵約1万1000人の一部が、ウクライナ軍が越境攻撃を"
    "続けるロシア西部クルスク州で戦闘に参加していると明らかにした。死傷者も出ているという。\n\n"
    "国情院によると、北朝鮮は砲弾や短距離弾道ミサイルもロシアに供与しており、見返りとして軍事技術の"
    "移転を受けている可能性がある。"
)
UKRAINE_TITLE = "ロシア軍、ウクライナ東部で攻勢強める　ミサイルと無人機で大規模攻撃"
UKRAINE_TEXT = (
    "ウクライナ空軍によると、ロシア軍は25日未明、巡航ミサイルや弾道ミサイル、無人機計約150機で"
    "ウクライナ各地のエネルギー施設を攻撃した。ゼレンスキー大統領は「ロシアは冬を前に送電網を破壊しようと"
    "している」と非難し、欧米に防空システムの追加供与を求めた。\n\n"
    "東部ドネツク州ではロシア軍の部隊が前進を続けており、ウクライナ軍は兵力不足に苦しんでいる。"
    "プーチン大統領はモスクワで開いた会合で、戦闘の目的は変わらないと強調した。"
)
DPRK_MISSILE_TITLE = "北朝鮮が弾道ミサイル発射　日本のＥＥＺ外に落下か"
DPRK_MISSILE_TEXT = (
    "防衛省によると、北朝鮮は14日午前、同国東岸付近から少なくとも1発の弾道ミサイルを東方向に発射した。"
    "ミサイルは最高高度約50キロで約350キロ飛行し、日本の排他的経済水域（EEZ）外に落下したとみられる。\n\n"
    "北朝鮮による弾道ミサイル発射は今年に入って5回目。政府は北京の大使館ルートを通じて北朝鮮に抗議した。"
    "韓国軍合同参謀本部は、米韓の合同軍事演習に反発したものとみて分析を進めている。"
)
DOMESTIC_TITLE = "宮崎県で震度5弱、高知と宮崎に1メートルの津波注意報　気象庁"
DOMESTIC_TEXT = (
    "気象庁は13日、午後9時19分ごろ、日向灘で震度5弱の地震があったと発表した。震源の深さは約30キロ、"
    "地震の規模（マグニチュード）は6.9と推定される。この地震で、気象庁は高知県と宮崎県に1メートルの"
    "津波注意報を出した。政府は首相官邸の危機管理センターに官邸対策室を設置した。"
)
# A defence-budget story naming each country once: all three groups appear, but it is not about them.
ROUNDUP_TITLE = "防衛費、過去最大の8兆円台に　来年度予算案"
ROUNDUP_TEXT = (
    "政府は27日、来年度予算案を閣議決定した。防衛費は過去最大の8兆円台となり、反撃能力として導入する"
    "長射程ミサイルの取得費などを計上した。中国の海洋進出や北朝鮮の核開発、ロシアの動向など安全保障環境が"
    "厳しさを増していることを踏まえた。財源の確保を巡っては与党内にも異論が残る。"
)


def test_seed_text_is_accepted(matcher: TopicMatcher) -> None:
    title, text = seed_title_and_text()
    result = matcher.judge(title, text)
    assert result.accepted
    assert result.name == "russia-dprk" and result.stage == 2
    assert result.matched["ロシア"] > 10 and result.matched["北朝鮮"] > 10 and result.matched["軍事協力"] > 3
    assert result.score >= 10 * matcher.topic.threshold


def test_troop_deployment_flash_is_accepted(matcher: TopicMatcher) -> None:
    result = matcher.judge(TROOPS_TITLE, TROOPS_TEXT)
    assert result.accepted
    assert result.matched["北朝鮮兵"] == 2  # one term, counted for both dprk and military


@pytest.mark.parametrize(
    ("title", "text"),
    [(UKRAINE_TITLE, UKRAINE_TEXT), (DPRK_MISSILE_TITLE, DPRK_MISSILE_TEXT), (DOMESTIC_TITLE, DOMESTIC_TEXT)],
    ids=["russia-only-ukraine", "dprk-only-missile", "domestic"],
)
def test_negatives_are_rejected(matcher: TopicMatcher, title: str, text: str) -> None:
    assert not matcher.judge(title, text).accepted


def test_russia_only_news_scores_but_misses_dprk(matcher: TopicMatcher) -> None:
    result = matcher.judge(UKRAINE_TITLE, UKRAINE_TEXT)
    assert result.score >= matcher.topic.threshold  # rejected by the required groups, not the score
    assert not any(term in result.matched for term in ("北朝鮮", "平壌", "金正恩"))


def test_single_mentions_stay_below_threshold(matcher: TopicMatcher) -> None:
    result = matcher.judge(ROUNDUP_TITLE, ROUNDUP_TEXT)
    assert {"ロシア", "北朝鮮", "ミサイル"} <= set(result.matched)
    assert result.score < matcher.topic.threshold
    assert not result.accepted


def test_title_only_mention_is_weighted(matcher: TopicMatcher) -> None:
    title = "ロシアと北朝鮮、弾薬供与で合意か"
    in_title = matcher.judge(title, "")
    assert in_title.accepted
    assert in_title.score == 3 * matcher.topic.title_weight
    in_text = matcher.judge("", title)
    assert in_text.score == 3 and not in_text.accepted


def test_width_and_case_variants_are_equal(matcher: TopicMatcher) -> None:
    half_width = "ﾛｼｱと北朝鮮の軍事協力、ﾐｻｲﾙ技術の移転も　ﾌﾟｰﾁﾝ氏と金正恩氏が会談"
    result = matcher.judge("", half_width)
    assert result.matched == {
        "ロシア": 1,
        "北朝鮮": 1,
        "軍事協力": 1,
        "ミサイル": 1,
        "プーチン": 1,
        "金正恩": 1,
    }
    latin = "ＲＵＳＳＩＡ and Ｎｏｒｔｈ Ｋｏｒｅａ sign a military pact; Ｒｕｓｓｉａ sends MISSILES"
    result = matcher.judge("", latin)
    assert result.matched == {"Russia": 2, "North Korea": 1, "military": 1, "missile": 1}
    assert fold("ﾐｻｲﾙ") == "ミサイル" and fold("ＲＵＳＳＩＡ") == fold("Russia") == "russia"
    assert fold("ミサイル") != fold("みさいる")  # katakana stays katakana


def test_longest_match_first(matcher: TopicMatcher) -> None:
    result = matcher.judge("", "露朝の軍事協力と軍事演習が拡大した。北朝鮮と朝鮮労働党。")
    assert result.matched == {"北朝鮮": 1, "朝鮮労働党": 1, "軍事協力": 1, "軍事演習": 1, "露朝": 1}
    assert "軍事" not in result.matched and "露" not in result.matched


def test_combined_term_satisfies_both_countries(matcher: TopicMatcher) -> None:
    assert matcher.judge("ロ朝が軍事協力を強化", "").accepted
    assert matcher.judge("朝露、軍事協力の新協定", "").accepted
    # The same claim without any country term fails the required groups.
    assert not matcher.judge("両国が軍事協力を強化", "軍事協力の新協定").accepted


def test_short_aliases(matcher: TopicMatcher) -> None:
    result = matcher.judge("", "日露首脳会談。露外相が訪朝。")
    assert result.matched == {"露": 2, "訪朝": 1}
    # 露 inside ordinary words is not Russia; ロ alone is never Russia (マクロ, ロケット, 今朝ロシア).
    noise = matcher.judge("", "新製品を披露し、露出が増えた。本音を吐露した。マクロ経済とロケット。")
    assert noise.matched == {}
    assert matcher.judge("", "今朝ロシアが発表").matched == {"ロシア": 1}
    assert matcher.judge("", "日ロ関係と米ロ対話").matched == {"日ロ": 1, "米ロ": 1}


def test_single_kana_term_is_ignored() -> None:
    topic = TopicConfig(
        name="t",
        description="",
        groups=(TermGroup("russia", ("ロ", "ロシア")), TermGroup("dprk", ("北朝鮮",))),
        required=("russia", "dprk"),
        threshold=1.0,
    )
    matcher = TopicMatcher(topic)
    assert matcher.ignored_terms == ["ロ"]
    assert matcher.judge("", "ロケットとマクロ、北朝鮮").matched == {"北朝鮮": 1}
    assert not matcher.judge("", "ロケットとマクロ、北朝鮮").accepted


def test_exclusion_vetoes() -> None:
    topic = TopicConfig(
        name="t",
        description="",
        groups=(TermGroup("russia", ("ロシア",)),),
        required=("russia",),
        exclude=("フィギュアスケート",),
        threshold=1.0,
    )
    matcher = TopicMatcher(topic)
    assert matcher.judge("ロシア情勢", "").accepted
    assert not matcher.judge("ロシア選手", "ﾌｨｷﾞｭｱｽｹｰﾄ大会").accepted  # the exclusion is width-folded too


def test_prefilter() -> None:
    base = resolve_topic("russia-dprk")
    assert base.prefilter is False
    strict = TopicConfig(**{**base.__dict__, "prefilter": True})
    # The default topic never prunes by title.
    assert prefilter("大谷翔平が本塁打", [base])
    assert not prefilter("大谷翔平が本塁打", [strict])
    assert prefilter("北朝鮮が弾道ミサイル発射", [strict])  # one group is enough at stage 1
    assert prefilter("", [strict])  # unknown title: fetch
    assert prefilter("大谷翔平が本塁打", [strict, base])  # another topic cannot judge by title
    assert prefilter("大谷翔平が本塁打", [])


# --- the pipeline -----------------------------------------------------------------------------------


class StubStats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count


def stub_crawler(settings: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(settings=Settings(settings or {}), stats=StubStats(), spider=None)


def article(title: str, text: str) -> Article:
    warc = WarcPointer(
        "f.warc.gz", "warc/f.warc.gz", 0, 1, "<urn:uuid:1>", "sha1:A", "https://x/1", "2025-01-01"
    )
    return Article(
        url="https://x/1",
        fetched_url="https://x/1",
        outlet="x",
        title=title,
        published_at=None,
        text=text,
        topics=[],
        warc=warc,
        run_id="r",
        fetched_at="",
    )


def test_pipeline_keeps_on_topic_and_drops_off_topic() -> None:
    crawler = stub_crawler()
    pipeline = RelevancePipeline.from_crawler(crawler)
    kept = pipeline.process_item(article(TROOPS_TITLE, TROOPS_TEXT))
    assert [t.name for t in kept.topics] == ["russia-dprk"]
    assert kept.topics[0].accepted and kept.topics[0].stage == 2
    with pytest.raises(DropItem, match="off-topic"):
        pipeline.process_item(article(DOMESTIC_TITLE, DOMESTIC_TEXT))
    assert crawler.stats.values == {"newsarchive/topics/russia-dprk": 1, "newsarchive/articles/off_topic": 1}
    other = object()
    assert pipeline.process_item(other) is other


def test_pipeline_archive_all_keeps_off_topic_with_its_judgement() -> None:
    crawler = stub_crawler({"TOPIC_ARCHIVE_ALL": True})
    item = RelevancePipeline.from_crawler(crawler).process_item(article(DOMESTIC_TITLE, DOMESTIC_TEXT))
    assert item.topics[0].accepted is False
    assert crawler.stats.values == {}


def test_pipeline_topics_from_toml_path(tmp_path: Path) -> None:
    path = tmp_path / "quake.toml"
    path.write_text(
        'name = "quake"\nthreshold = 2.0\nrequired = ["quake"]\n[groups]\nquake = ["地震", "震度"]\n', "utf-8"
    )
    crawler = stub_crawler({"TOPICS": ["russia-dprk", str(path)]})
    item = RelevancePipeline.from_crawler(crawler).process_item(article(DOMESTIC_TITLE, DOMESTIC_TEXT))
    assert [(t.name, t.accepted) for t in item.topics] == [("russia-dprk", False), ("quake", True)]
    assert crawler.stats.values == {"newsarchive/topics/quake": 1}


@pytest.mark.parametrize("spec", ["no-such-topic", "/nonexistent/topic.toml"])
def test_bad_topic_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError):
        RelevancePipeline.from_crawler(stub_crawler({"TOPICS": [spec]}))


def test_empty_topics_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TOPICS"):
        load_matchers([" "])


def test_real_pages_are_off_topic(matcher: TopicMatcher) -> None:
    # The asahi earthquake page links "ウクライナ軍捕虜の北朝鮮兵" in its navigation: extraction must keep
    # it out of the text, or every page of the site would look relevant.
    for path, url in ((JIJI, JIJI_URL), (ASAHI, ASAHI_URL)):
        extracted = extract_article(make_page(path.read_bytes(), url), run_id="r")
        result = matcher.judge(extracted.title, extracted.text)
        assert not result.accepted, (url, result)
        assert "北朝鮮兵" not in result.matched


# Pieces that make terms, near-terms and the boundaries around them: katakana compounds (今朝ロシア),
# the 露 words that are not Russia (披露), ASCII plurals and word edges.
_PIECES = [
    "ロシア",
    "朝",
    "ロ",
    "露",
    "披露",
    "北朝鮮",
    "軍事",
    "協力",
    "missile",
    "s",
    "es",
    "x",
    " ",
    "今朝",
]


@given(
    st.lists(
        st.sampled_from([*_PIECES, "軍事協力", "ロ朝", "朝ロ", "north korea", "ammunition"]), max_size=30
    )
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_term_scan_matches_what_the_regex_finds(matcher: TopicMatcher, pieces: list[str]) -> None:
    """The scan that tries the regex only where a term begins finds exactly the matches finditer does."""
    text = fold("".join(pieces))
    fast = [(m.start(), m.end(), m.lastgroup) for m in matcher._matches(text)]
    assert fast == [(m.start(), m.end(), m.lastgroup) for m in matcher._regex.finditer(text)]


def test_term_scan_on_the_seed_article(matcher: TopicMatcher) -> None:
    title, text = seed_title_and_text()
    folded = fold(title + "\n" + text)
    fast = [(m.start(), m.lastgroup) for m in matcher._matches(folded)]
    assert len(fast) > 10
    assert fast == [(m.start(), m.lastgroup) for m in matcher._regex.finditer(folded)]

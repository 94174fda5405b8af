"""Story clusters: copies of one wire story share an id, different stories on one topic do not."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.defer import Deferred

from archive.jsonl import encode_rows
from core.items import Article, WarcPointer
from pipelines import story_sketch
from pipelines.dedup import (
    JACCARD_THRESHOLD,
    MIN_CONTAINMENT_SHINGLES,
    Signature,
    Sketch,
    StoryClusterIndex,
    cluster_id_for,
    normalise_for_shingles,
    shingle_hashes,
)
from pipelines.story_clusters import StoryClusterPipeline
from pipelines.textnorm import join_paragraphs, text_hash

# A Kyodo-style wire story as one paper prints it ...
WIRE = [
    "【ソウル共同】韓国の国家情報院は20日、北朝鮮がロシアに追加で約3000人の兵士を派遣したとの分析を国会の情報委員会に報告した。",
    "国情院によると、追加派遣された兵士は主に工兵や砲兵で、ロシア西部クルスク州の前線付近に配置されたとみられる。",
    "北朝鮮はこれまでに計1万4000人以上を派遣し、うち約4000人が死傷したと推定されている。",
    "国情院は、北朝鮮が見返りとしてロシアから防空システムや電子戦装備の技術提供を受けている可能性が高いと指摘した。",
    "また、北朝鮮が短距離弾道ミサイルや多連装ロケット砲を追加でロシアに供与したとの見方も示した。",
    "ロシアのプーチン大統領と北朝鮮の金正恩朝鮮労働党総書記は昨年6月、包括的戦略パートナーシップ条約に署名している。",
    "日米韓の3カ国は、露朝の軍事協力が国連安全保障理事会の決議に違反するとして強く非難している。",
    "韓国政府は、北朝鮮兵の捕虜の処遇についてウクライナ政府と協議を続けていると明らかにした。",
]
# ... and as another paper prints it: its own dateline and credit line, two sentences reworded, one
# sentence cut, a closing sentence of its own.
REWRITE = [
    "韓国の国家情報院は20日、北朝鮮がロシアに追加で約3000人の兵士を派遣したとの分析を国会の情報委員会に報告した。",
    "国情院によれば、新たに送られた兵士は主に工兵や砲兵で、ロシア西部クルスク州の前線付近に配置されたもようだ。",
    "北朝鮮はこれまでに計1万4000人以上を派遣し、うち約4000人が死傷したと推定されている。",
    "国情院は、北朝鮮が見返りとしてロシアから防空システムや電子戦装備の技術提供を受けている可能性が高いと指摘した。",
    "また、北朝鮮が短距離弾道ミサイルや多連装ロケット砲を追加でロシアに供与したとの見方も示した。",
    "ロシアのプーチン大統領と北朝鮮の金正恩朝鮮労働党総書記は昨年6月、包括的戦略パートナーシップ条約に署名している。",
    "日米韓の3カ国は、露朝の軍事協力が国連安全保障理事会の決議に違反するとして強く非難している。",
    "（共同）",
]
# A different story on the same topic, the same week: many of the same words, different facts.
OTHER = [
    "ロシアのショイグ安全保障会議書記が21日、平壌を訪問し、北朝鮮の金正恩朝鮮労働党総書記と会談した。",
    "朝鮮中央通信によると、両者はウクライナ情勢や米ロ交渉について意見を交わし、軍事協力を一層強化することで一致した。",
    "ショイグ氏はプーチン大統領からのメッセージを伝え、5月の対ドイツ戦勝80周年記念式典に金総書記を招待する意向を示した。",
    "北朝鮮はロシアへの派兵を公式には認めていないが、韓国や米国はクルスク州での北朝鮮兵の戦闘を確認している。",
    "専門家は、今回の訪朝が両国首脳会談に向けた地ならしである可能性があると分析している。",
    "日本政府は、露朝の軍事協力の動向を重大な関心を持って注視していると表明した。",
]

# What a regional paper adds below a wire story.
LOCAL = [
    "新潟県内の拉致被害者の家族会は20日、露朝の接近で拉致問題の解決が一段と遠のくと懸念する声明を出した。",
    "声明は「北朝鮮がロシアという後ろ盾を得て、日本との対話に応じる理由がなくなる」と訴えている。",
    "県内では毎年、拉致被害者の早期帰国を求める県民集会が開かれており、今年は来月に新潟市で予定されている。",
    "花角英世知事は記者会見で「政府には国際社会と連携し、あらゆる手段で解決を図ってほしい」と述べた。",
    "専門家の一人は、ロシアが国連安保理で北朝鮮への制裁強化に拒否権を行使し続ける可能性を指摘する。",
    "その場合、北朝鮮に対する国際的な圧力は弱まり、日本の外交的な選択肢も限られると分析している。",
    "一方で、中国が露朝の急接近を警戒しているとの見方もあり、3カ国の関係の行方が注目される。",
    "県は今後も国や関係団体と連携し、拉致問題への関心を高める啓発活動を続ける方針だ。",
]


def _text(paragraphs: list[str]) -> str:
    return join_paragraphs(paragraphs)


def _article(
    url: str, paragraphs: list[str], *, title: str, published: str = "2025-03-20T18:00:00+09:00"
) -> Article:
    text = _text(paragraphs)
    pointer = WarcPointer(
        "f.warc.gz", "warc/f.warc.gz", 0, 1, "<urn:uuid:x>", "sha1:X", url, "2026-01-01T00:00:00Z"
    )
    return Article(
        url=url,
        fetched_url=url,
        outlet=url.split("/")[2],
        title=title,
        published_at=published,
        text=text,
        topics=[],
        warc=pointer,
        run_id="run",
        fetched_at="2026-01-01T00:00:00+00:00",
        text_hash=text_hash(text),
    )


def test_similarity_is_well_separated() -> None:
    wire, rewrite, other = (Sketch.of(_text(p)) for p in (WIRE, REWRITE, OTHER))
    assert wire.jaccard(rewrite) >= JACCARD_THRESHOLD + 0.05
    assert wire.jaccard(other) < 0.2 and rewrite.jaccard(other) < 0.2


def test_shingles_ignore_width_and_whitespace() -> None:
    assert shingle_hashes("ロシアと北朝鮮、３０００人") == shingle_hashes("ロシアと 北朝鮮、\n3000人")
    assert shingle_hashes("ﾛｼｱと北朝鮮") == shingle_hashes("ロシアと北朝鮮")


def test_wire_copies_share_a_cluster_and_other_story_does_not() -> None:
    index = StoryClusterIndex()
    a = _article("https://www.tokyo-np.co.jp/article/1", WIRE, title="北朝鮮、ロシアに3000人追加派兵か")
    b = _article("https://www.nikkei.com/article/2", REWRITE, title="北朝鮮兵3000人を追加派遣　韓国情報機関")
    c = _article("https://www.jiji.com/jc/article?k=3", OTHER, title="ショイグ氏が訪朝、金総書記と会談")
    ids = [index.assign(x.text_hash, x.text, x.url, x.published_at) for x in (a, b, c)]
    assert ids[0] == ids[1] == cluster_id_for(a.text_hash)
    assert ids[2] == cluster_id_for(c.text_hash) != ids[0]
    assert ids[0].startswith("story:") and len(ids[0]) == len("story:") + 16


def test_exact_copy_with_other_whitespace_and_width_shares_the_cluster() -> None:
    index = StoryClusterIndex()
    first = _text(WIRE)
    # Same text as another site renders it: full-width digits, paragraphs wrapped differently.
    copy = first.replace("3000", "３０００").replace("\n\n", "\n")
    assert text_hash(copy) == text_hash(first)
    assert index.assign(text_hash(first), first, "u1") == index.assign(text_hash(copy), copy, "u2")


def test_copy_published_weeks_later_is_a_new_story() -> None:
    index = StoryClusterIndex()
    text = _text(WIRE)
    first = index.assign(text_hash(text), text, "u1", "2025-03-20T10:00:00+09:00")
    later_text = _text(REWRITE)
    later = index.assign(text_hash(later_text), later_text, "u2", "2025-04-20T10:00:00+09:00")
    assert first != later


def test_paper_that_adds_its_own_paragraphs_to_the_wire_story_joins_it() -> None:
    index = StoryClusterIndex()
    wire = _text(WIRE)
    extended = _text([*WIRE, *LOCAL])  # a long local addition: Jaccard drops, containment stays
    a = index.assign(text_hash(wire), wire, "u1")
    sketch_a, sketch_b = Sketch.of(wire), Sketch.of(extended)
    assert sketch_a.jaccard(sketch_b) < JACCARD_THRESHOLD  # only containment can link them
    assert index.assign(text_hash(extended), extended, "u2") == a


def test_empty_bodies_are_not_one_story() -> None:
    index = StoryClusterIndex()
    ids = {index.assign(text_hash(""), "", url) for url in ("https://a/1", "https://a/2")}
    assert len(ids) == 2 and all(i.startswith("story:url-") for i in ids)


def test_arrival_order_keeps_the_partition_and_id_is_first_arrival() -> None:
    bodies = {"wire": _text(WIRE), "rewrite": _text(REWRITE), "other": _text(OTHER)}
    for order in itertools.permutations(bodies):
        index = StoryClusterIndex()
        ids = {name: index.assign(text_hash(bodies[name]), bodies[name], name) for name in order}
        assert ids["wire"] == ids["rewrite"] != ids["other"], order
        first_copy = next(n for n in order if n in ("wire", "rewrite"))
        assert ids["wire"] == cluster_id_for(text_hash(bodies[first_copy])), order


def test_seeded_ids_win_whatever_the_order() -> None:
    bodies = [_text(REWRITE), _text(WIRE)]
    for order in (bodies, bodies[::-1]):
        index = StoryClusterIndex()
        index.seed(text_hash(bodies[0]), bodies[0], "story:archived00000001")
        index.seed(text_hash(bodies[1]), bodies[1], "story:archived00000001")
        assert {index.assign(text_hash(b), b, "u") for b in order} == {"story:archived00000001"}


def test_sketch_hash_is_stable_across_processes() -> None:
    # blake2b, not Python's salted hash(): the same text gives the same sketch in every process.
    expected = int.from_bytes(hashlib.blake2b("ロシア".encode(), digest_size=8).digest(), "big")
    assert Sketch.of("ロシア").values == (expected,)


def test_memoised_shingle_hashes_are_blake2b_through_a_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashes come from a bounded memo: the values equal a blake2b of every shingle, before and after the
    memo fills up and starts over."""
    monkeypatch.setattr(story_sketch, "_MEMO_LIMIT", 50)
    monkeypatch.setattr(story_sketch, "_memo", {})
    for body in (_text(WIRE), _text(REWRITE), _text(OTHER), _text(WIRE)):
        norm = normalise_for_shingles(body)
        plain = {
            int.from_bytes(hashlib.blake2b(norm[i : i + 4].encode(), digest_size=8).digest(), "big")
            for i in range(len(norm) - 3)
        }
        assert shingle_hashes(body) == plain
    assert 0 < len(story_sketch._memo) < 50 + len(plain)  # it was reset, not left to grow


def test_pipeline_joins_a_copy_archived_by_an_earlier_run(tmp_path: Path) -> None:
    earlier = _article("https://www.tokyo-np.co.jp/article/1", WIRE, title="t1")
    earlier.story_cluster_id = "story:fromearlierrun01"
    part = tmp_path / "articles" / "outlet=tokyo" / "date=2025-03-19"
    part.mkdir(parents=True)
    (part / "20250319T000000Z-aaaaaa-tokyo-00000.jsonl.gz").write_bytes(encode_rows([earlier.to_json()]))
    # A file of this very run must not be read back as "earlier".
    (part / "20250320T000000Z-bbbbbb-tokyo-00000.jsonl.gz").write_bytes(
        encode_rows([{**earlier.to_json(), "story_cluster_id": "story:thisrun0000000"}])
    )
    pipeline = StoryClusterPipeline(tmp_path, "20250320T000000Z-bbbbbb")
    copy = _article("https://www.nikkei.com/article/2", REWRITE, title="t2")
    other = _article("https://www.jiji.com/jc/article?k=3", OTHER, title="t3")
    assert pipeline.cluster_of(copy) == "story:fromearlierrun01"
    assert pipeline.cluster_of(other) == cluster_id_for(other.text_hash)


def _run(coro: Any) -> Deferred[Any]:
    # Under the asyncio reactor, a coroutine that awaits asyncio futures runs as an asyncio task.
    return Deferred.fromFuture(asyncio.ensure_future(coro))


@pytest_twisted.ensureDeferred
async def test_pipeline_without_archive_root_clusters_within_the_run() -> None:
    pipeline = StoryClusterPipeline(None)
    a = _article("https://a.example/1", WIRE, title="a")
    b = _article("https://b.example/2", REWRITE, title="b")
    out = [await _run(pipeline.process_item(x)) for x in (a, b)]
    assert out[0].story_cluster_id == out[1].story_cluster_id == cluster_id_for(a.text_hash)
    assert await _run(pipeline.process_item({"not": "an article"})) == {"not": "an article"}


def test_a_one_sentence_excerpt_does_not_chain_two_stories() -> None:
    # A paywalled page shows only the stock opening sentence that two different stories share.
    opening = WIRE[0]
    index = StoryClusterIndex()
    first = _text([opening, *WIRE[1:4]])
    excerpt = _text([opening])
    second = _text([opening, *OTHER])
    ids = [index.assign(text_hash(t), t, f"u{i}") for i, t in enumerate((first, excerpt, second))]
    assert ids[2] != ids[0]


def test_a_signature_computed_elsewhere_gives_the_same_clusters() -> None:
    """reextract signs the text in a worker process and passes the signature to assign/best_match."""
    import pickle

    bodies = [_text(WIRE), _text(REWRITE), _text(OTHER), "", "短い"]
    plain, signed = StoryClusterIndex(), StoryClusterIndex()
    for i, body in enumerate(bodies):
        signature = pickle.loads(pickle.dumps(Signature.of(body)))  # as it crosses from a worker
        assert (signature.sketch is None) == (len(body.strip()) < 4)
        url = f"https://a/{i}"
        assert plain.best_match(body) == signed.best_match(body, signature=signature)
        assert plain.assign(text_hash(body), body, url) == signed.assign(
            text_hash(body), body, url, signature=signature
        )
    assert signed.best_match(bodies[1], signature=Signature.of(bodies[1])) is not None


def _reference_jaccard(a: Sketch, b: Sketch, k: int = 128) -> float:
    """The bottom-k estimate written out plainly: the share of the union's k smallest values in both."""
    union = sorted(set(a.values) | set(b.values))[:k]
    return sum(1 for v in union if v in a.values and v in b.values) / len(union) if union else 0.0


@given(
    st.sets(st.integers(0, 400), max_size=128),
    st.sets(st.integers(0, 400), max_size=128),
)
@settings(max_examples=300, deadline=None)
def test_jaccard_estimate_and_its_bound(a_values: set[int], b_values: set[int]) -> None:
    """The merged-tuple estimate equals the plain one, and the cheap bound never falls below it (the
    index skips a pair on the bound alone)."""
    a, b = Sketch(tuple(sorted(a_values)), 500), Sketch(tuple(sorted(b_values)), 500)
    assert a.jaccard(b) == _reference_jaccard(a, b)
    assert a.jaccard(b) <= a.jaccard_bound(b, len(a_values & b_values))


def _brute_force_match(index: StoryClusterIndex, sketch: Sketch, day: int | None) -> tuple[str, float] | None:
    """Every indexed sketch compared in full, as the index did before it bounded and ordered them."""
    best: tuple[float, int, str] | None = None
    for i, (other, cluster, other_day) in enumerate(index._sketches):
        if sketch.size < index.min_near_shingles or other.size < index.min_near_shingles:
            continue
        if len(set(sketch.values) & set(other.values)) < min(8, len(sketch.values), len(other.values)):
            continue
        if day is not None and other_day is not None and abs(day - other_day) > index.window_days:
            continue
        jaccard = sketch.jaccard(other)
        containment = sketch.containment(other, jaccard)
        if min(sketch.size, other.size) < MIN_CONTAINMENT_SHINGLES:
            containment = 0.0
        if jaccard < index.jaccard_threshold and containment < index.containment_threshold:
            continue
        key = (max(jaccard, containment), -i)
        if best is None or key > best[:2]:
            best = (key[0], key[1], cluster)
    return (best[2], best[0]) if best else None


@st.composite
def _near_copies(draw: st.DrawFn) -> list[tuple[set[int], int, int | None]]:
    """Sketches drawn as edits of a few base stories: many pairs above the thresholds, some ties."""
    # Full sketches (up to 128 values): their unions exceed 128, so the bound is not the estimate itself.
    bases = draw(st.lists(st.sets(st.integers(0, 600), min_size=100, max_size=128), min_size=1, max_size=3))
    entries = []
    for _ in range(draw(st.integers(2, 25))):
        values = set(draw(st.sampled_from(bases)))
        values -= set(draw(st.lists(st.sampled_from(sorted(values)), max_size=40)))
        values |= draw(st.sets(st.integers(0, 600), max_size=40))
        values = set(sorted(values)[:128])
        size = draw(st.sampled_from([len(values), 100, 149, 150, 400]))
        entries.append((values, max(size, len(values)), draw(st.one_of(st.none(), st.integers(0, 8)))))
    return entries


@given(_near_copies())
@settings(max_examples=150, deadline=None)
def test_best_match_equals_comparing_every_sketch(entries: list[tuple[set[int], int, int | None]]) -> None:
    """The index counts, bounds and orders its candidates before comparing: it must find exactly the
    match a comparison with every indexed sketch finds (values from a small range: many near copies)."""
    index = StoryClusterIndex()
    for n, (values, size, day) in enumerate(entries):
        sketch = Sketch(tuple(sorted(values)), max(size, len(values)))
        found = index._best_match(sketch, day)
        expected = _brute_force_match(index, sketch, day)
        assert (
            None if found is None else (found.cluster_id, max(found.jaccard, found.containment))
        ) == expected
        index._add(f"h{n}", sketch, found.cluster_id if found else f"c{n}", day)

"""Layout noise inserted into the real saved pages must not change the body their page objects extract.

Captions and photo credits, related-article links and boxes, ad slots, teasers and paywall notices go
between the paragraphs, and a paragraph moves into nested wrappers (spiders.fixture_mutations); the body
must stay the one checked by hand or by fundus (bench/body_f1.py scores the same pages).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiders.fixture_mutations import KINDS, mutate
from spiders.fixtures import fixture_paths, read_fixture
from spiders.registry import load_outlets

FIXTURES = Path(__file__).parent / "fixtures"
FUNDUS = {"asahi": "AsahiShimbun", "mainichi": "MainichiShimbun", "japannews": "TheJapanNews"}
REAL = [p for p in fixture_paths(FIXTURES / "outlets") if not read_fixture(p).synthetic]


def expected(outlet: str) -> list[str]:
    if outlet in FUNDUS:
        data = json.loads((FIXTURES / "fundus_expected" / f"{FUNDUS[outlet]}.json").read_text("utf-8"))
        return [x for s in data["V1"]["body"]["sections"] for x in (*s["headline"], *s["paragraphs"])]
    return json.loads((FIXTURES / "expected_bodies" / f"{outlet}.json").read_text("utf-8"))["paragraphs"]


@pytest.fixture(scope="module")
def outlets():
    return load_outlets()


def test_every_real_sample_has_an_independent_expected_body():
    assert {read_fixture(p).outlet for p in REAL} == {
        "jiji",
        "asahi",
        "mainichi",
        "yomiuri",
        "japannews",
        "nikkei",
    }
    for path in REAL:
        assert len(expected(read_fixture(path).outlet)) >= 3


@pytest.mark.parametrize("meta_path", REAL, ids=lambda p: p.parent.name)
def test_real_sample_body_equals_expected(outlets, meta_path):
    fixture = read_fixture(meta_path)
    fields = outlets[fixture.outlet].page_parser(fixture.text(), fixture.url)
    assert fields.body_paragraphs == expected(fixture.outlet)


@pytest.mark.parametrize("kind", [*KINDS, "all"])
@pytest.mark.parametrize("meta_path", REAL, ids=lambda p: p.parent.name)
def test_noise_does_not_change_the_body(outlets, meta_path, kind):
    fixture = read_fixture(meta_path)
    parser = outlets[fixture.outlet].page_parser
    want = expected(fixture.outlet)
    noisy = mutate(fixture.text(), want, KINDS if kind == "all" else [kind])
    assert noisy != fixture.text()
    assert parser(noisy, fixture.url).body_paragraphs == want

"""Body accuracy per real page: character-bigram F1 of the extracted body, worst page first (issue 16).

    .venv/bin/python -m bench.body_f1 [--no-write]

Corpus: every real (not synthetic) fixture under tests/fixtures/outlets/, decoded as Scrapy would, and
the same page with layout noise (captions, related links, ad slots, teasers, nested wrappers:
spiders.fixture_mutations) between its paragraphs ("+ noise"). Each page is scored against the most independent expected body there is: fundus's expected output
(tests/fixtures/fundus_expected/), else a body checked by hand from the saved HTML
(tests/fixtures/expected_bodies/), else the fixture's golden (which only says the parser did not change).

Per page, on the same decoded text:
- `article`: extract_article as in a crawl (page object, with the body cross-check of
  pipelines.body_crosscheck firing only on a suspicious body);
- `page object`: the page object's own paragraphs;
- `generic`: extract_article with no page object (trafilatura), what an unknown site gets;
- the page object / trafilatura length ratio and what the cross-check would decide if forced
  (`check_body=True`), and the CPU time that forced check costs.
F1 is over character bigrams after NFKC and with all whitespace removed, so it counts missing and stray
text, not paragraph boundaries. The target is >= 0.98 on every page, not on average. The table goes into
bench/RESULTS.md between `<!-- body_f1 -->` markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import replace
from typing import Any

from bench.report import REPO, machine, median_cpu_ms, write_section

OUTLETS = REPO / "tests" / "fixtures" / "outlets"
FUNDUS = REPO / "tests" / "fixtures" / "fundus_expected"
CHECKED = REPO / "tests" / "fixtures" / "expected_bodies"
FUNDUS_NAMES = {"asahi": "AsahiShimbun", "mainichi": "MainichiShimbun", "japannews": "TheJapanNews"}
TARGET = 0.98


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def bigram_f1(got: str, want: str) -> float:
    a, b = _norm(got), _norm(want)
    ga = Counter(a[i : i + 2] for i in range(len(a) - 1))
    gb = Counter(b[i : i + 2] for i in range(len(b) - 1))
    overlap = sum((ga & gb).values())
    if not overlap:
        return 1.0 if not ga and not gb else 0.0
    precision, recall = overlap / sum(ga.values()), overlap / sum(gb.values())
    return 2 * precision * recall / (precision + recall)


def expected_body(outlet: str, golden: dict[str, Any]) -> tuple[list[str], str]:
    """The expected paragraphs and where they come from."""
    if outlet in FUNDUS_NAMES:
        data = json.loads((FUNDUS / f"{FUNDUS_NAMES[outlet]}.json").read_text("utf-8"))["V1"]
        # fundus splits at subheads; a subhead is a line of our body.
        lines = [x for s in data["body"]["sections"] for x in (*s["headline"], *s["paragraphs"])]
        return lines, "fundus"
    checked = CHECKED / f"{outlet}.json"
    if checked.is_file():
        return json.loads(checked.read_text("utf-8"))["paragraphs"], "checked by hand"
    return list(golden["fields"]["body_paragraphs"]), "golden"


def measure() -> list[dict[str, Any]]:
    from core.items import WarcPointer
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixture_mutations import mutate
    from spiders.fixtures import fixture_paths, golden_path, read_fixture

    pointer = WarcPointer("bench.warc.gz", "bench.warc.gz", 0, 0, "", "", "", "")
    rows = []
    for meta_path in fixture_paths(OUTLETS):
        fixture = read_fixture(meta_path)
        if fixture.synthetic:
            continue
        golden = json.loads(golden_path(fixture).read_text("utf-8"))
        want, source = expected_body(fixture.outlet, golden)
        want_text = "\n".join(want)
        response = decode_like_scrapy(fixture.url, fixture.body, fixture.headers)
        saved = fetched_page(outlet_for_url(fixture.url), response, warc=pointer, fetched_at="")
        name = f"{fixture.outlet}/{meta_path.name.removesuffix('.fixture.json')}"
        noisy = replace(saved, text=mutate(saved.text, want))
        for label, page in ((name, saved), (f"{name} + noise", noisy)):
            rows.append(_row(label, source, want_text, page))
    rows.sort(key=lambda r: (r["f1"], r["page"]))
    return rows


def _row(label: str, source: str, want_text: str, page: Any) -> dict[str, Any]:
    from pipelines.article_extraction import BODY_FALLBACK_KEY, extract_article

    assert page.parser is not None, label
    article = extract_article(page, run_id="bench")
    forced = extract_article(page, run_id="bench", check_body=True)
    generic = extract_article(replace(page, parser=None), run_id="bench")
    fields = page.parser(page.text, page.url)
    return {
        "page": label,
        "expected": source,
        "f1": bigram_f1(article.text, want_text),
        "method": article.extraction["text"],
        "page_object": bigram_f1("\n".join(fields.body_paragraphs), want_text),
        "generic": bigram_f1(generic.text, want_text),
        "page_chars": len(_norm("".join(fields.body_paragraphs))),
        "generic_chars": len(_norm(generic.text)),
        "fired": BODY_FALLBACK_KEY in article.extraction,
        "forced": forced.extraction.get(BODY_FALLBACK_KEY, "agree"),
        "po_ms": median_cpu_ms(lambda: extract_article(page, run_id="bench"), 3),
        "forced_ms": median_cpu_ms(lambda: extract_article(page, run_id="bench", check_body=True), 3),
    }


def render(rows: list[dict[str, Any]]) -> str:
    worst = min(r["f1"] for r in rows)
    lines = [
        "<!-- body_f1 -->",
        "## Body F1 per real page (bench/body_f1.py)",
        "",
        f"{machine('trafilatura', 'lxml')}. Character-bigram F1 (NFKC, whitespace removed) of the body "
        "against the most independent expected body (fundus, else checked by hand, else golden); worst "
        f"page first. Target >= {TARGET} on every page: {'met' if worst >= TARGET else 'NOT met'} "
        f"(worst {worst:.4f}).",
        "",
        "| page | expected | F1 (crawl) | text from | F1 page object | F1 trafilatura | chars page / "
        "trafilatura | cross-check fired | forced cross-check | ms crawl | ms forced |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = r["page_chars"] / r["generic_chars"] if r["generic_chars"] else float("inf")
        lines.append(
            f"| {r['page']} | {r['expected']} | {r['f1']:.4f} | {r['method']} | {r['page_object']:.4f} "
            f"| {r['generic']:.4f} | {r['page_chars']} / {r['generic_chars']} ({ratio:.2f}) "
            f"| {'yes' if r['fired'] else 'no'} | {r['forced']} | {r['po_ms']:.1f} | {r['forced_ms']:.1f} |"
        )
    lines += [
        "",
        "`ms` is thread CPU time of one extract_article call, median of 3: `crawl` as configured (the "
        "cross-check runs only on a suspicious body), `forced` with check_body=True (trafilatura on every "
        "page): the price of checking every page instead of suspicious ones.",
        "<!-- /body_f1 -->",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.body_f1", description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = ap.parse_args(argv)
    rows = measure()
    section = render(rows)
    print(section)
    if not args.no_write:
        write_section("body_f1", section)
    return 0 if all(r["f1"] >= TARGET for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

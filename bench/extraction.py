"""Cost and accuracy of extraction against plain trafilatura, and reextract's use of both cores (issue 5).

    .venv/bin/python -m bench.extraction [--repeat 5] [--articles 600] [--rounds 3]

1. Fixture corpus (tests/fixtures/outlets/*: every registered outlet's recorded page, real or synthetic,
   plus the real 2022 jiji page of tests/fixtures/pages/jiji), each page decoded once as Scrapy would.
   Per page, in the same run and on the same decoded text:
   - `page object`: pipelines.article_extraction.extract_article with the outlet's page object (as in a crawl);
   - `generic`: extract_article with no page object (what a page of an unknown site gets);
   - `trafilatura`: plain `trafilatura.extract(text, url=url)` with its defaults (text only: the
     cheapest plain call, so the ratios are conservative).
   Each page's time is the median of `--repeat` calls, in thread CPU time (robust against other
   processes on this 2-core machine); the table gives the median and p95 over pages and the ratio of
   the medians. The first extract_article call of the process (py3langid model load, lxml and
   trafilatura warm-up) is excluded from the figures and reported on its own.
   Field accuracy against the fixtures' goldens: title exact (after whitespace normalisation),
   published_at to the minute (trafilatura only gives a day: its date counts as right when the day
   is), body as character-bigram F1 against the golden paragraphs. trafilatura's title and date come
   from an untimed `extract(..., with_metadata=True, output_format="json")` call.
2. reextract: the simulator (`--articles` per outlet) crawled once into a temporary archive
   (capture on, item pipelines off: reextract reads only the WARC response records); then
   crawler.reextract.reextract(..., archive_all=True) with workers=1 and workers=2, alternating,
   `--rounds` times each, every run on a fresh copy of the WARC folder. Wall-clock pages/s.

The figures are written into bench/RESULTS.md between `<!-- extraction -->` markers. The parts: the
corpus (bench/extraction_corpus.py), its scoring (bench/extraction_accuracy.py), the reextract arm
(bench/extraction_reextract.py) and the tables (bench/extraction_report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from bench.extraction_accuracy import bigram_f1, date_right, norm
from bench.extraction_corpus import load_corpus
from bench.extraction_reextract import reextract_bench
from bench.extraction_report import render
from bench.report import median_cpu_ms, write_section


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def corpus_bench(repeat: int) -> dict[str, Any]:
    import py3langid
    import trafilatura

    from pipelines.article_extraction import extract_article

    load = os.getloadavg()
    pages = load_corpus()
    t0 = time.perf_counter()
    # The model loads on the first classification; Japanese pages with kana never need it.
    py3langid.classify("A warm-up sentence in English for the language identification model.")
    warmup_ms = 1000 * (time.perf_counter() - t0)
    for p in pages:
        extract_article(p.page, run_id="bench")
    trafilatura.extract(pages[0].page.text, url=pages[0].url)

    rows = []
    for p in pages:
        generic_page = replace(p.page, parser=None)
        po_ms = median_cpu_ms(partial(extract_article, p.page, run_id="bench"), repeat)
        gen_ms = median_cpu_ms(partial(extract_article, generic_page, run_id="bench"), repeat)
        tr_ms = median_cpu_ms(partial(trafilatura.extract, p.page.text, url=p.url), repeat)
        ours = extract_article(p.page, run_id="bench")
        generic = extract_article(generic_page, run_id="bench")
        plain_text = trafilatura.extract(p.page.text, url=p.url) or ""
        meta = json.loads(
            trafilatura.extract(p.page.text, url=p.url, with_metadata=True, output_format="json") or "{}"
        )
        want_body = "\n".join(p.golden.get("body_paragraphs") or [])
        want_title, want_date = p.golden.get("title", ""), p.golden.get("published_at", "")
        rows.append(
            {
                "name": p.name,
                "real": p.real,
                "page_object": ours.extraction.get("text", ""),
                "po_ms": po_ms,
                "gen_ms": gen_ms,
                "tr_ms": tr_ms,
                "acc": {
                    "page object": (
                        norm(ours.title) == norm(want_title),
                        date_right(ours.published_at, want_date, False),
                        bigram_f1(ours.text, want_body),
                    ),
                    "generic": (
                        norm(generic.title) == norm(want_title),
                        date_right(generic.published_at, want_date, False),
                        bigram_f1(generic.text, want_body),
                    ),
                    "trafilatura": (
                        norm(meta.get("title", "")) == norm(want_title),
                        date_right(meta.get("date"), want_date, True),
                        bigram_f1(plain_text, want_body),
                    ),
                },
            }
        )
    return {"pages": rows, "warmup_ms": warmup_ms, "load": load}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="calls per page and arm")
    parser.add_argument("--articles", type=int, default=600, help="articles per simulated outlet (reextract)")
    parser.add_argument("--rounds", type=int, default=3, help="reextract runs per arm")
    parser.add_argument("--skip-reextract", action="store_true")
    args = parser.parse_args(argv)
    corpus = corpus_bench(args.repeat)
    work = Path(tempfile.mkdtemp(prefix="bench-extraction-"))
    try:
        if args.skip_reextract:
            r = {
                "pages": 0,
                "w1": 0.0,
                "w2": 0.0,
                "w1_all": [],
                "w2_all": [],
                "ratio": 0.0,
                "ratios": [],
                "trafilatura_pages": 0,
                "tr": 0.0,
                "tr_all": [],
                "vs_tr": 0.0,
                "vs_tr_all": [],
            }
        else:
            r = reextract_bench(args.articles, args.rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = render(corpus, r, args)
    write_section("extraction", section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

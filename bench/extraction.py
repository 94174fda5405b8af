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

The figures are written into bench/RESULTS.md between `<!-- extraction -->` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import REPO, machine, write_section

OUTLET_FIXTURES = REPO / "tests" / "fixtures" / "outlets"
EXTRA_PAGES: list[Path] = []  # tests/fixtures/pages/* are copies of outlet fixtures already in the corpus


@dataclass
class Page:
    name: str
    url: str
    page: Any  # core.items.FetchedPage with its page object
    golden: dict[str, Any]
    real: bool = True  # a saved page of the outlet's site (False: synthetic, built from OUTLETS.md)


def load_corpus() -> list[Page]:
    from core.items import WarcPointer
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixtures import fixture_paths, read_fixture

    pointer = WarcPointer("bench.warc.gz", "bench.warc.gz", 0, 0, "", "", "", "")
    items: list[tuple[str, str, bytes, dict[str, list[str]], Path, bool]] = []
    for meta in fixture_paths(OUTLET_FIXTURES):
        fx = read_fixture(meta)
        stem = meta.name.removesuffix(".fixture.json")
        golden_path = meta.with_name(stem + ".golden.json")
        items.append((f"{fx.outlet}/{stem}", fx.url, fx.body, fx.headers, golden_path, not fx.synthetic))
    for extra in EXTRA_PAGES:
        golden = json.loads(extra.with_name(extra.name + ".golden.json").read_text("utf-8"))
        headers = {"content-type": ["text/html"]}
        body = extra.with_name(extra.name + ".html").read_bytes()
        items.append(
            (
                f"{extra.parent.name}/{extra.name}",
                golden["url"],
                body,
                headers,
                extra.with_name(extra.name + ".golden.json"),
                True,
            )
        )
    pages = []
    for name, url, body, headers, golden_path, real in items:
        match = outlet_for_url(url)
        response = decode_like_scrapy(url, body, headers)
        page = fetched_page(match, response, warc=pointer, fetched_at="")
        golden = json.loads(golden_path.read_text("utf-8"))
        pages.append(Page(name, url, page, golden.get("fields", golden), real))
    return pages


def _median_cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        times.append(1000 * (time.thread_time() - t0))
    return statistics.median(times)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def _bigram_f1(got: str, want: str) -> float:
    a, b = _norm(got), _norm(want)
    ga, gb = (
        Counter(a[i : i + 2] for i in range(len(a) - 1)),
        Counter(b[i : i + 2] for i in range(len(b) - 1)),
    )
    overlap = sum((ga & gb).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(ga.values()), overlap / sum(gb.values())
    return 2 * precision * recall / (precision + recall)


def _date_right(got: str | None, want: str, day_only: bool) -> bool:
    if not got or not want:
        return False
    return got[:10] == want[:10] if day_only else got[:16] == want[:16]


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
        po_ms = _median_cpu_ms(partial(extract_article, p.page, run_id="bench"), repeat)
        gen_ms = _median_cpu_ms(partial(extract_article, generic_page, run_id="bench"), repeat)
        tr_ms = _median_cpu_ms(partial(trafilatura.extract, p.page.text, url=p.url), repeat)
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
                        _norm(ours.title) == _norm(want_title),
                        _date_right(ours.published_at, want_date, False),
                        _bigram_f1(ours.text, want_body),
                    ),
                    "generic": (
                        _norm(generic.title) == _norm(want_title),
                        _date_right(generic.published_at, want_date, False),
                        _bigram_f1(generic.text, want_body),
                    ),
                    "trafilatura": (
                        _norm(meta.get("title", "")) == _norm(want_title),
                        _date_right(meta.get("date"), want_date, True),
                        _bigram_f1(plain_text, want_body),
                    ),
                },
            }
        )
    return {"pages": rows, "warmup_ms": warmup_ms, "load": load}


def _crawl_archive(articles: int, work: Path) -> Path:
    from bench.capture import _run_arm, simulator_process

    with simulator_process(articles) as base_urls:
        _run_arm(work, "crawl", base_urls, True, keep=True)
    return work / "crawl"


def _archive_texts(source: Path) -> list[tuple[str, str]]:
    """(url, decoded html) of every article response reextract reads, decoded as reextract does."""
    from scrapy.http import Headers, HtmlResponse

    from archive.readback import read_record
    from crawler.reextract import _DROPPED_BY_DECOMPRESSION, _is_html, _Scan

    texts = []
    for job in _Scan(source).jobs():
        record = read_record(Path(job.path), job.offset, job.length)
        pairs = [(n, v) for n, v in record.http_headers if n.lower() not in _DROPPED_BY_DECOMPRESSION]
        if not _is_html(record.target_uri, pairs, record.payload):
            continue
        headers = Headers()
        for name, value in pairs:
            headers.appendlist(name, value)
        response = HtmlResponse(url=record.target_uri, body=record.payload, headers=headers, status=200)
        texts.append((record.target_uri, response.text))
    return texts


def _trafilatura_rate(texts: list[tuple[str, str]]) -> float:
    import trafilatura

    t0 = time.perf_counter()
    for url, text in texts:
        trafilatura.extract(text, url=url)
    return len(texts) / (time.perf_counter() - t0)


def reextract_bench(articles: int, rounds: int, work: Path) -> dict[str, Any]:
    from core.config import builtin_topics
    from crawler.reextract import reextract

    source = _crawl_archive(articles, work)
    topics = [builtin_topics()["russia-dprk"]]
    results: dict[int, list[float]] = {1: [], 2: []}
    # Plain trafilatura.extract on the same pages, one process, decoding untimed: only the extraction
    # call is timed while reextract's figure includes reading the WARCs and writing the article set.
    texts = _archive_texts(source)
    _trafilatura_rate(texts[:20])  # warm-up
    trafilatura_rates: list[float] = []
    pages = 0
    for i in range(rounds):
        trafilatura_rates.append(_trafilatura_rate(texts))
        for workers in (1, 2) if i % 2 == 0 else (2, 1):
            root = work / f"re-{i}-{workers}"
            shutil.copytree(source / "warc", root / "warc")
            t0 = time.perf_counter()
            report = reextract(root, topics=topics, archive_all=True, workers=workers)
            elapsed = time.perf_counter() - t0
            if report.errors or not report.article_pages:
                raise RuntimeError(f"reextract failed: {report.summary()}")
            pages = report.article_pages
            results[workers].append(pages / elapsed)
            shutil.rmtree(root)
    ratios = [b / a for a, b in zip(results[1], results[2], strict=True)]
    vs_trafilatura = [a / t for a, t in zip(results[1], trafilatura_rates, strict=True)]
    return {
        "pages": pages,
        "trafilatura_pages": len(texts),
        "tr": statistics.median(trafilatura_rates),
        "tr_all": trafilatura_rates,
        "vs_tr": statistics.median(vs_trafilatura),
        "vs_tr_all": vs_trafilatura,
        "w1": statistics.median(results[1]),
        "w2": statistics.median(results[2]),
        "w1_all": results[1],
        "w2_all": results[2],
        "ratio": statistics.median(ratios),
        "ratios": ratios,
    }


def _acc_summary(rows: list[dict[str, Any]], arm: str) -> str:
    n = len(rows)
    titles = sum(r["acc"][arm][0] for r in rows)
    dates = sum(r["acc"][arm][1] for r in rows)
    f1 = statistics.median(r["acc"][arm][2] for r in rows)
    low = min(r["acc"][arm][2] for r in rows)
    return f"{titles}/{n} | {dates}/{n} | {f1:.3f} (min {low:.3f})"


def _speed_row(label: str, rows: list[dict[str, Any]]) -> str:
    """One line of the speed table: medians, ratio of medians, and the per-page ratios' spread."""
    po = [x["po_ms"] for x in rows]
    gen = [x["gen_ms"] for x in rows]
    tr = [x["tr_ms"] for x in rows]
    per_page = [t / p for t, p in zip(tr, po, strict=True)]
    gen_per_page = [g / t for g, t in zip(gen, tr, strict=True)]
    return (
        f"| {label} | {len(rows)} | {statistics.median(po):.2f} | {statistics.median(gen):.2f} "
        f"| {statistics.median(tr):.2f} | **{statistics.median(tr) / statistics.median(po):.1f}x** "
        f"| {statistics.median(per_page):.1f}x (min {min(per_page):.1f}x; {sum(r >= 20 for r in per_page)}"
        f"/{len(rows)} >= 20x) | {statistics.median(gen) / statistics.median(tr):.2f}x "
        f"(max per page {max(gen_per_page):.2f}x) |"
    )


def render(c: dict[str, Any], r: dict[str, Any], args: argparse.Namespace) -> str:
    rows = c["pages"]
    handled = [x for x in rows if x["page_object"].startswith("page:")]
    real = [x for x in handled if x["real"]]
    tr_real = [x["tr_ms"] for x in real]
    po_real = [x["po_ms"] for x in real]
    real_ratio = statistics.median(tr_real) / statistics.median(po_real)
    real_per_page = [t / p for t, p in zip(tr_real, po_real, strict=True)]
    gen_all = statistics.median(x["gen_ms"] for x in rows) / statistics.median(x["tr_ms"] for x in rows)
    verdict = {True: "met", False: "NOT met"}
    short = {x["name"]: x["name"].split("/")[0] for x in rows}
    missed = ", ".join(
        f"{short[x['name']]} {x['tr_ms'] / x['po_ms']:.1f}x" for x in real if x["tr_ms"] / x["po_ms"] < 20
    )
    per_page = "\n".join(
        f"| {x['name']} | {'real' if x['real'] else 'synthetic'} | {x['po_ms']:.2f} | {x['gen_ms']:.1f} "
        f"| {x['tr_ms']:.1f} | {x['tr_ms'] / x['po_ms']:.1f}x | {x['gen_ms'] / x['tr_ms']:.2f}x "
        f"| {x['page_object']} |"
        for x in rows
    )
    return (
        textwrap.dedent(
            f"""\
        <!-- extraction -->
        ## Extraction (bench/extraction.py)

        {machine("scrapy", "twisted", "warcio", "fastwarc")}; trafilatura {_version("trafilatura")}, lxml {_version("lxml")}, py3langid {_version("py3langid")}.

        ### Fixture corpus: {len(rows)} pages ({sum(x["real"] for x in rows)} real, {sum(not x["real"] for x in rows)} synthetic), median of {args.repeat} calls per page, thread CPU ms

        Arms: `page object` = extract_article with the outlet's page object (as in a crawl); `generic` =
        extract_article with no page object; `trafilatura` = plain `trafilatura.extract(text, url=url)`.
        "Handled" pages are those whose text came from the outlet's page object (the target's scope).

        | pages | n | page object ms | generic ms | trafilatura ms | trafilatura / page object (ratio of medians) | per-page ratio: median (min; pages >= 20x) | generic / trafilatura |
        |---|---|---|---|---|---|---|---|
        {_speed_row("**real pages handled by a page object**", real)}
        {_speed_row("all pages handled by a page object", handled)}
        {_speed_row("all pages", rows)}

        | target (issue 5) | figure | verdict |
        |---|---|---|
        | page object >= 20x faster than trafilatura, on real pages an outlet's page object handles | ratio of medians **{real_ratio:.1f}x**; per page {", ".join(f"{v:.0f}x" for v in real_per_page)} | {verdict[real_ratio >= 20]} on the medians; per page: {("below 20x: " + missed) if missed else "every page >= 20x"} |
        | generic path <= 1.3x trafilatura (pages of no known outlet) | ratio of medians, all pages: **{gen_all:.2f}x** | {verdict[gen_all <= 1.3]} |

        Why a page misses 20x: trafilatura is cheap on the English japannews page (~8 ms, against
        ~30-60 ms on the Japanese pages), while the page object cannot go below one lxml parse of it
        (~0.55 ms), so ~15x is that page's ceiling; a page near 20x (yomiuri) moves across it with the
        noise of a shared 2-core machine. Load average when this run started / ended: {c["load"][0]:.2f} /
        {os.getloadavg()[0]:.2f} (above ~1, other processes were competing for the 2 cores).

        The synthetic pages are under 1 KB: there trafilatura's fixed cost per call (~3 ms) meets the page
        object's (~0.2 ms: lxml parse, JSON-LD, language, hash), so their ratio says little about real
        pages and they are kept out of the headline figure. On a real page the page object's floor is one
        lxml parse of the page (~1-2 ms for 100-270 KB).

        py3langid model load (one-off per process, done before timing; pages with kana never call it):
        {c["warmup_ms"]:.0f} ms wall. Each arm also runs once on every page before timing.

        Field accuracy against the fixtures' goldens (title exact | published_at right | body bigram F1, median):

        | arm | title | date | body F1 |
        |---|---|---|---|
        | page object | {_acc_summary(rows, "page object")} |
        | generic path | {_acc_summary(rows, "generic")} |
        | plain trafilatura (date: day only) | {_acc_summary(rows, "trafilatura")} |

        The goldens are the page objects' own reviewed output (the synthetic fixtures have no other truth),
        so the page-object row checks that extract_article keeps those fields intact; the other rows are a
        real comparison. Per page (ms; ratios trafilatura / page object and generic / trafilatura; method of
        the text field):

        | page | kind | page object | generic | trafilatura | tr / po | gen / tr | text from |
        |---|---|---|---|---|---|---|---|
        """
        )
        + per_page
        + textwrap.dedent(
            f"""

        ### reextract from a WARC ({r["pages"]} article pages of the simulator with {args.articles} articles per outlet)

        Wall-clock pages/s, median of {args.rounds} runs per arm, arms alternating, each on a fresh copy of the
        WARCs. `trafilatura` = plain `trafilatura.extract` over the same {r["trafilatura_pages"]} decoded pages in
        one process (only that call timed), once per round; reextract's rate also covers reading the WARCs,
        topic judgement and writing the article set.

        | arm | pages/s (median) | every run |
        |---|---|---|
        | reextract, 1 worker | {r["w1"]:.1f} | {", ".join(f"{v:.1f}" for v in r["w1_all"])} |
        | reextract, 2 workers | {r["w2"]:.1f} | {", ".join(f"{v:.1f}" for v in r["w2_all"])} |
        | plain trafilatura.extract, 1 process | {r["tr"]:.1f} | {", ".join(f"{v:.1f}" for v in r["tr_all"])} |
        | **ratio 2 / 1 workers** (median of per-round ratios; target >= 1.6) | **{r["ratio"]:.2f}x** ({verdict[r["ratio"] >= 1.6]}) | {", ".join(f"{v:.2f}" for v in r["ratios"])} |
        | **reextract 1 worker / trafilatura** (median of per-round ratios) | **{r["vs_tr"]:.1f}x** | {", ".join(f"{v:.1f}" for v in r["vs_tr_all"])} |
        <!-- /extraction -->
        """
        )
    )


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


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

"""The extraction section of bench/RESULTS.md: the speed and accuracy tables of bench/extraction.py."""

from __future__ import annotations

import argparse
import os
import statistics
import textwrap
from typing import Any

from bench.extraction_accuracy import acc_summary
from bench.report import machine


def speed_row(label: str, rows: list[dict[str, Any]]) -> str:
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
        {speed_row("**real pages handled by a page object**", real)}
        {speed_row("all pages handled by a page object", handled)}
        {speed_row("all pages", rows)}

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
        | page object | {acc_summary(rows, "page object")} |
        | generic path | {acc_summary(rows, "generic")} |
        | plain trafilatura (date: day only) | {acc_summary(rows, "trafilatura")} |

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

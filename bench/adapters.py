"""`run(quick)` for the benchmarks written before the harness: each measures as its own `main` does
(smaller in QUICK mode), writes its section of bench/RESULTS.md and returns its headline figures."""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.report import write_section


def _work(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))


def capture(quick: bool) -> dict[str, Any]:
    from bench import capture as mod

    articles, repeat = (100, 1) if quick else (600, 5)
    work = _work("capture")
    try:
        r = mod.measure(articles, repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section("capture", mod.render(r, articles, mod.NOTES))
    return {
        "cpu_ratio": r["cpu_ratio"],
        "cpu_ratios": r["cpu_ratios"],
        "pages": r["pages"],
        "on_ms_per_page": r["on_ms"],
        "off_ms_per_page": r["off_ms"],
        "on_pages_per_s": r["on_rate"],
        "off_pages_per_s": r["off_rate"],
        "warc_mib": r["warc_mib"],
    }


def extraction(quick: bool) -> dict[str, Any]:
    from bench import extraction as mod
    from bench.extraction_report import render

    args = argparse.Namespace(
        repeat=2 if quick else 5, articles=100 if quick else 600, rounds=1 if quick else 3
    )
    corpus = mod.corpus_bench(args.repeat)
    work = _work("extraction")
    try:
        r = mod.reextract_bench(args.articles, args.rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section("extraction", render(corpus, r, args))
    real = [x for x in corpus["pages"] if x["real"] and x["page_object"].startswith("page:")]
    po = statistics.median(x["po_ms"] for x in real)
    tr = statistics.median(x["tr_ms"] for x in real)
    return {
        "po_speedup_real": tr / po,
        "po_ms_real": po,
        "trafilatura_ms_real": tr,
        "reextract_2_vs_1": r["ratio"],
        "reextract_1_worker_pages_per_s": r["w1"],
        "reextract_2_workers_pages_per_s": r["w2"],
        "reextract_vs_trafilatura": r["vs_tr"],
    }


def body_f1(quick: bool) -> dict[str, Any]:
    from bench import body_f1 as mod

    rows = mod.measure()
    write_section("body_f1", mod.render(rows))
    return {"worst_f1": min(r["f1"] for r in rows), "pages": len(rows), "worst_page": rows[0]["page"]}


def requests(quick: bool) -> dict[str, Any]:
    from bench import requests as mod

    work = _work("requests")
    results = {}
    try:
        # QUICK skips the control run: with the politeness delay on, it mostly waits.
        results["Default site (60 articles per outlet)"] = mod.measure(None, work, control=not quick)
        if not quick:
            results["Bigger site (600 articles per outlet)"] = mod.measure(600, work, control=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_section("requests", mod.render(results, not quick, mod.NOTES))
    met, literal = mod.verdict(results)
    per_new = [
        (w.total(o) - w.count(o, mod.DISCOVERY)) / w.new[o]
        for arms in results.values()
        for w in (arms["window"],)
        for o in mod.OUTLETS
        if w.new[o]
    ]
    figures: dict[str, Any] = {"target_met": met, "literal_target_met": literal}
    if per_new:
        figures["article_requests_per_new"] = max(per_new)
    return figures


def publish(quick: bool) -> dict[str, Any]:
    import os

    from moto.server import ThreadedMotoServer

    from bench import publish as mod

    warc_mib, large_mib, repeat = (8, 64, 1) if quick else (64, 1024, 3)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(mod._env(endpoint))
    work = _work("publish")
    try:
        r = mod.ratio(endpoint, warc_mib, repeat, work)
        m = mod.memory(endpoint, large_mib, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.stop()
    args = argparse.Namespace(warc_mib=warc_mib, large_mib=large_mib, repeat=repeat)
    mod.write_results(r, m, args)
    return {
        **r,
        **m,
        "publish_ratio": r["ratio"],
        "upload_memory_growth_mb": m["upload_growth_mib"] * 1.048576,
    }

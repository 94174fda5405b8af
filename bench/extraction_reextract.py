"""The reextract arm of bench/extraction.py: a simulator crawl re-extracted with 1 and 2 workers, against
plain trafilatura over the same decoded pages (wall-clock pages/s)."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any


def crawl_archive(articles: int, work: Path) -> Path:
    from bench.capture import _run_arm, simulator_process

    with simulator_process(articles) as base_urls:
        _run_arm(work, "crawl", base_urls, True, keep=True)
    return work / "crawl"


def archive_texts(source: Path) -> list[tuple[str, str]]:
    """(url, decoded html) of every article response reextract reads, decoded as reextract does."""
    from scrapy.http import Headers, HtmlResponse

    from archive.readback import read_record
    from crawler.reextract_scan import ArchiveScan
    from crawler.reextract_worker import DROPPED_BY_DECOMPRESSION, is_html

    texts = []
    for job in ArchiveScan(source).jobs():
        record = read_record(Path(job.path), job.offset, job.length)
        pairs = [(n, v) for n, v in record.http_headers if n.lower() not in DROPPED_BY_DECOMPRESSION]
        if not is_html(record.target_uri, pairs, record.payload):
            continue
        headers = Headers()
        for name, value in pairs:
            headers.appendlist(name, value)
        response = HtmlResponse(url=record.target_uri, body=record.payload, headers=headers, status=200)
        texts.append((record.target_uri, response.text))
    return texts


def trafilatura_rate(texts: list[tuple[str, str]]) -> float:
    import trafilatura

    t0 = time.perf_counter()
    for url, text in texts:
        trafilatura.extract(text, url=url)
    return len(texts) / (time.perf_counter() - t0)


def reextract_bench(articles: int, rounds: int, work: Path) -> dict[str, Any]:
    from core.config import builtin_topics
    from crawler.reextract import reextract

    source = crawl_archive(articles, work)
    topics = [builtin_topics()["russia-dprk"]]
    results: dict[int, list[float]] = {1: [], 2: []}
    # Plain trafilatura.extract on the same pages, one process, decoding untimed: only the extraction
    # call is timed while reextract's figure includes reading the WARCs and writing the article set.
    texts = archive_texts(source)
    trafilatura_rate(texts[:20])  # warm-up
    trafilatura_rates: list[float] = []
    pages = 0
    for i in range(rounds):
        trafilatura_rates.append(trafilatura_rate(texts))
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

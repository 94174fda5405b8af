"""Side by side with the tools a researcher would pick instead, on the same input in the same run.

    .venv/bin/python -m bench.peers [--quick]

- crawl: news-please (its own venv) fetching the simulator's in-window article pages with Scrapy and
  its extractor chain; what it produced is scored against the simulator's ground truth. Our crawl's
  figures come from bench/pipeline.py (same simulator, same pages plus the discovery pages).
- extraction: fundus (its own venv; its Japanese parsers), trafilatura alone and ours on the recorded
  real pages in tests/fixtures: ms per page and field accuracy against the expected bodies.
- WARC: plain warcio (default gzip) against our writer, writing the same responses as received.
A peer that cannot be installed or run keeps its row, with the reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine, write_section
from bench.venvs import PeerUnavailable, ensure, installed_version, run_script


def _f1(got: str, want: str) -> float:
    from bench.body_f1 import bigram_f1

    return bigram_f1(got or "", want)


# ----------------------------------------------------------------------------------------- crawl
def crawl_peer(quick: bool, work: Path) -> list[dict[str, Any]]:
    from crawler.simulator import Simulator

    articles = 150 if quick else 600
    sim = Simulator(articles_per_outlet=articles)
    sim.start()
    try:
        truth = {sim.base_urls[a.outlet] + a.path: a for a in sim.site.articles if a.in_window}
        # QUICK: news-please costs ~100 ms per page; 80 pages tell its rate well enough.
        urls = sorted(truth)[:80] if quick else sorted(truth)
        (work / "urls.json").write_text(json.dumps(urls), "utf-8")
        row: dict[str, Any] = {"task": "crawl (simulator)", "tool": "news-please", "pages": len(urls)}
        try:
            python = ensure("news-please")
            row["tool"] = f"news-please {installed_version(python, 'news-please')}"
            r, refused = run_script(
                python, "newsplease_crawl.py", str(work / "urls.json"), str(work / "np.jsonl")
            )
        except PeerUnavailable as exc:
            return [{**row, "status": "unavailable", "why": str(exc)}]
    finally:
        sim.stop()
    produced = [json.loads(x) for x in (work / "np.jsonl").read_text("utf-8").splitlines() if x.strip()]
    titles = sum((p["title"] or "").strip() == truth[p["url"]].title for p in produced if p["url"] in truth)
    f1s = [
        _f1(p["maintext"], "".join(truth[p["url"]].served_paragraphs)) for p in produced if p["url"] in truth
    ]
    return [
        {
            **row,
            "status": "ok",
            "pages": r["pages"],
            "pages_per_s": r["pages"] / r["wall_s"],
            "cpu_ms_per_page": 1000 * r["cpu_s"] / max(r["pages"], 1),
            "peak_rss_mb": r["peak_rss_mb"],
            "produced": f"JSON only: {r['with_text']} texts, {r['with_date']} dates, {titles} exact titles "
            f"of {r['pages']}; body F1 median {statistics.median(f1s) if f1s else 0:.3f}",
            "note": "loopback only; refused: "
            + (", ".join(refused) if refused else "none")
            + (f"; {r['errors']} pages failed: {'; '.join(r['error_kinds'])}" if r.get("errors") else ""),
        }
    ]


# ------------------------------------------------------------------------------------ extraction
def _real_pages() -> list[dict[str, Any]]:
    from bench.body_f1 import OUTLETS, expected_body
    from core.items import WarcPointer
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixtures import fixture_paths, golden_path, read_fixture

    pointer = WarcPointer("bench.warc.gz", "bench.warc.gz", 0, 0, "", "", "", "")
    pages = []
    for meta in fixture_paths(OUTLETS):
        fx = read_fixture(meta)
        if fx.synthetic:
            continue
        golden = json.loads(golden_path(fx).read_text("utf-8"))
        want, _ = expected_body(fx.outlet, golden)
        response = decode_like_scrapy(fx.url, fx.body, fx.headers)
        page = fetched_page(outlet_for_url(fx.url), response, warc=pointer, fetched_at="")
        fields = golden.get("fields", golden)
        pages.append(
            {
                "name": fx.outlet,
                "outlet": fx.outlet,
                "url": fx.url,
                "page": page,
                "want": "\n".join(want),
                "title": fields.get("title", ""),
                "published": fields.get("published_at", ""),
            }
        )
    return pages


def _score(tool: str, pages: list[dict[str, Any]], got: list[dict[str, Any]]) -> dict[str, Any]:
    from bench.extraction_accuracy import date_right, norm

    pairs = [(p, g) for p, g in zip(pages, got, strict=True) if g is not None]
    if not pairs:
        return {"task": "extraction (real pages)", "tool": tool, "pages": 0, "status": "unsupported"}
    ms = [g["ms"] for _, g in pairs]
    f1 = [_f1(g["text"], p["want"]) for p, g in pairs]
    return {
        "task": "extraction (real pages)",
        "tool": tool,
        "status": "ok",
        "pages": len(pairs),
        "pages_per_s": 1000 / statistics.median(ms),
        "cpu_ms_per_page": statistics.median(ms),
        "title_exact": sum(norm(g["title"] or "") == norm(p["title"]) for p, g in pairs),
        "date_day_right": sum(date_right(g["published"], p["published"], True) for p, g in pairs),
        "body_f1_median": statistics.median(f1),
        "body_f1_min": min(f1),
        "produced": f"title {sum(norm(g['title'] or '') == norm(p['title']) for p, g in pairs)}/{len(pairs)}, "
        f"date {sum(date_right(g['published'], p['published'], True) for p, g in pairs)}/{len(pairs)}, "
        f"body F1 median {statistics.median(f1):.3f} (min {min(f1):.3f})",
        "note": ", ".join(p["name"] for p, _ in pairs),
    }


def _timed(fn: Any, repeat: int) -> tuple[Any, float]:
    fn()
    times, out = [], None
    for _ in range(repeat):
        t0 = time.thread_time()
        out = fn()
        times.append(1000 * (time.thread_time() - t0))
    return out, statistics.median(times)


def extraction_peers(quick: bool, work: Path) -> list[dict[str, Any]]:
    import trafilatura

    from pipelines.article_extraction import extract_article

    repeat = 3 if quick else 7
    pages = _real_pages()
    ours, tra = [], []
    for p in pages:
        article, ms = _timed(lambda p=p: extract_article(p["page"], run_id="bench"), repeat)
        ours.append(
            {"ms": ms, "title": article.title, "published": article.published_at, "text": article.text}
        )
        doc, ms = _timed(
            lambda p=p: trafilatura.bare_extraction(p["page"].text, url=p["url"], with_metadata=True), repeat
        )
        d = doc.as_dict() if doc is not None else {}
        tra.append(
            {"ms": ms, "title": d.get("title"), "published": d.get("date"), "text": d.get("text") or ""}
        )
    rows = [
        _score("ours (extract_article)", pages, ours),
        _score(
            f"trafilatura {installed_version(Path(__import__('sys').executable), 'trafilatura')}", pages, tra
        ),
    ]
    row: dict[str, Any] = {"task": "extraction (real pages)", "tool": "fundus", "pages": len(pages)}
    try:
        python = ensure("fundus")
        row["tool"] = f"fundus {installed_version(python, 'fundus')}"
        payload = [
            {"name": p["name"], "outlet": p["outlet"], "url": p["url"], "html": p["page"].text} for p in pages
        ]
        (work / "pages.json").write_text(json.dumps(payload), "utf-8")
        r, _refused = run_script(python, "fundus_parse.py", str(work / "pages.json"), str(repeat))
    except PeerUnavailable as exc:
        return [*rows, {**row, "status": "unavailable", "why": str(exc)}]
    got = [g if g.get("supported") else None for g in r["rows"]]
    scored = _score(row["tool"], pages, got)
    unsupported = [p["name"] for p, g in zip(pages, got, strict=True) if g is None]
    scored["note"] = f"{scored.get('note', '')}; no parser for: {', '.join(unsupported) or 'none'}"
    # The same pages for every tool, so that medians compare: ours and trafilatura on fundus's pages too.
    keep = [g is not None for g in got]
    rows.append(
        _score(
            "ours, on fundus's pages",
            [p for p, k in zip(pages, keep, strict=True) if k],
            [o for o, k in zip(ours, keep, strict=True) if k],
        )
    )
    rows.append(
        _score(
            "trafilatura, on fundus's pages",
            [p for p, k in zip(pages, keep, strict=True) if k],
            [o for o, k in zip(tra, keep, strict=True) if k],
        )
    )
    return [*rows, scored]


# ------------------------------------------------------------------------------------------ WARC
def _responses(quick: bool) -> list[Any]:
    """The simulator's article pages as received (gzip where the simulator sends it), as exchanges."""
    import urllib.request

    from archive.exchange import HttpExchange
    from crawler.simulator import Simulator

    sim = Simulator(articles_per_outlet=100 if quick else 600)
    sim.start()
    out = []
    try:
        for a in sim.site.articles:
            url = sim.base_urls[a.outlet] + a.path
            req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", "User-Agent": "bench"})
            with urllib.request.urlopen(req) as resp:
                body, headers, status = resp.read(), list(resp.headers.items()), resp.status
            out.append(
                HttpExchange(
                    url,
                    "GET",
                    [("Host", url.split("/")[2]), ("Accept-Encoding", "gzip")],
                    b"",
                    "HTTP/1.1",
                    status,
                    headers,
                    body,
                    "127.0.0.1",
                    datetime.now(UTC),
                )
            )
    finally:
        sim.stop()
    return out


def warc_peers(quick: bool, work: Path) -> list[dict[str, Any]]:
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from archive.warc_writer import WarcWriter

    exchanges = _responses(quick)
    mib = sum(len(e.body) for e in exchanges) / (1 << 20)

    def ours() -> None:
        writer = WarcWriter(work / "ours", cdxj=True)
        for e in exchanges:
            writer.write_exchange(e)
        writer.close()

    def plain() -> None:
        with (work / "warcio.warc.gz").open("wb") as fh:
            w = WARCWriter(fh, gzip=True, warc_version="1.1")
            for e in exchanges:
                http = StatusAndHeaders(f"{e.status} OK", e.response_headers, protocol="HTTP/1.1")
                resp = w.create_warc_record(e.url, "response", payload=io.BytesIO(e.body), http_headers=http)
                rh = StatusAndHeaders(f"GET {e.url} HTTP/1.1", e.request_headers, is_http_request=True)
                w.write_request_response_pair(w.create_warc_record(e.url, "request", http_headers=rh), resp)

    rows = []
    for tool, fn in (("ours (archive.warc_writer, gzip 6, CDXJ)", ours), ("warcio (gzip default 9)", plain)):
        cpu, wall = [], []
        for _ in range(2 if quick else 5):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rows.append(
            {
                "task": "WARC writing",
                "tool": tool,
                "status": "ok",
                "pages": len(exchanges),
                "pages_per_s": len(exchanges) / statistics.median(wall),
                "cpu_ms_per_page": 1000 * statistics.median(cpu) / len(exchanges),
                "mb_per_s": mib * 1.048576 / statistics.median(cpu),
                "produced": f"{mib:.1f} MiB of payload in; {mib * 1.048576 / statistics.median(cpu):.1f} MB/s of CPU",
                "note": "same responses, as received",
            }
        )
    return rows


# ---------------------------------------------------------------------------------------- report
def render(rows: list[dict[str, Any]], quick: bool) -> str:
    from bench.summary import peer_table

    return "\n".join(
        [
            "<!-- peers -->",
            "## Peers (bench/peers.py)",
            "",
            f"{machine('warcio', 'trafilatura')}.",
            "Each peer in its own venv under bench/.venvs (created by the harness; nothing of theirs in our",
            "dependencies), connections to anything but 127.0.0.1 refused and listed. warcio and trafilatura",
            "are already our own dependencies: they run in the project's venv.",
            "",
            *peer_table(rows),
            "",
            "<!-- /peers -->",
            "",
        ]
    )


def run(quick: bool) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        work = Path(tmp)
        for part in (crawl_peer, extraction_peers, warc_peers):
            try:
                rows += part(quick, work)
            except Exception as exc:  # one broken part keeps the others' rows
                rows.append(
                    {
                        "task": part.__name__,
                        "tool": "?",
                        "status": "failed",
                        "why": f"{type(exc).__name__}: {exc}",
                    }
                )
    write_section("peers", render(rows, quick))
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

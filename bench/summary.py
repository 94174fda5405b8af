"""The summary section of bench/RESULTS.md: machine, targets with verdicts, benchmark status, peers."""

from __future__ import annotations

from typing import Any

from bench.targets import verdicts


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value).replace("|", "/").replace("\n", " ")


PEER_NOTES = """How to read it. Crawl rows: ours come from bench/pipeline.py (our spiders: feeds, sitemaps,
listings, then the in-window articles); news-please fetches the same in-window article URLs directly,
so its pages are all article pages, the costliest kind. Extraction rows: the expected bodies are
fundus's own expected output where fundus has a parser (tests/fixtures/fundus_expected) and the
goldens are our page objects' reviewed output, so fundus's body F1 and our titles/dates score 1 by
construction; trafilatura's row is the independent comparison, and the speed columns are fair for all.
Quick mode (`make bench QUICK=1`) uses fewer pages and rounds: its verdicts are indicative only. On
this shared 2-core machine wall-clock figures move with the load (see each section's rounds); CPU
per page is the steadier figure."""


def machine_line(m: dict[str, Any]) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in m.get("libraries", {}).items())
    return (
        f"{m.get('date')}, {m.get('arch')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB memory, "
        f"Python {m.get('python')} ({m.get('os')}), load average at the end {m.get('load_average')}; {libs}."
    )


def peer_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| task | tool | pages | pages/s | CPU ms per page | peak RSS MB | produced | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {_cell(r.get('task'))} | {_cell(r.get('tool'))} | {_cell(r.get('pages'))} | "
            f"{_cell(r.get('pages_per_s'))} | {_cell(r.get('cpu_ms_per_page'))} | {_cell(r.get('peak_rss_mb'))} | "
            f"{_cell(r.get('produced'))} | {_cell(r.get('note') or r.get('why'))} |"
        )
    return out


def ours_crawl_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The crawl arms of bench/pipeline.py, as rows of the peers table."""
    figures = results.get("pipeline", {}).get("figures") or {}
    rows = []
    for key, arm in (figures.get("arms") or {}).items():
        label = {
            "bare": "bare Scrapy (no capture, no pipelines)",
            "naive": "naive scrapy + warcio + trafilatura",
        }
        rows.append(
            {
                "task": "crawl (simulator)",
                "tool": label.get(key, f"ours, full pipeline ({key})"),
                "pages": arm["pages"],
                "pages_per_s": arm["pages_per_s"]["median"],
                "cpu_ms_per_page": arm["cpu_ms_per_page"]["median"],
                "peak_rss_mb": arm["peak_rss_mb"]["max"],
                "produced": "WARC + JSON"
                if key.startswith("full")
                else "WARC + JSON lines"
                if key == "naive"
                else "-",
                "note": "bench/pipeline.py; pages include discovery (feeds, sitemaps, listings)",
            }
        )
    return rows


def render_summary(
    results: dict[str, dict[str, Any]], machine: dict[str, Any], quick: bool, plot: str | None
) -> str:
    lines = [
        "<!-- summary -->",
        "## Summary: every target, us and the peers (`make bench`, bench/harness.py)",
        "",
        machine_line(machine),
        f"Mode: {'QUICK (fewer pages and rounds: indicative only)' if quick else 'full'}. Raw figures: "
        "[results.json](results.json). Each benchmark's own section below gives its method and every round.",
        "",
        "| issue | figure | value | target | verdict | benchmark |",
        "|---|---|---|---|---|---|",
    ]
    for row in verdicts(results):
        verdict = row["verdict"] if row["verdict"] == "not measured yet" else f"**{row['verdict']}**"
        lines.append(
            f"| {row['issue']} | {row['label']} | {row['shown']} | {row['target']} | {verdict} | {row['bench']} |"
        )
    lines += ["", "| benchmark | status | mode | seconds | note |", "|---|---|---|---|---|"]
    for name, r in results.items():
        note = r.get("why", "")
        if r.get("stale"):
            note = "; ".join(x for x in ("not run this time: figures of an earlier run", note) if x)
        mode = "-" if "quick" not in r else "quick" if r["quick"] else "full"
        lines.append(f"| {name} | {r.get('status')} | {mode} | {_cell(r.get('seconds'))} | {_cell(note)} |")
    peers = ours_crawl_rows(results) + ((results.get("peers", {}).get("figures") or {}).get("rows") or [])
    if peers:
        lines += ["", "### Side by side with the tools a researcher would pick instead", ""]
        lines += peer_table(peers)
        lines += ["", PEER_NOTES]
    if plot:
        lines += ["", f"![throughput and CPU per page, us and peers]({plot})", ""]
    lines += ["<!-- /summary -->", ""]
    return "\n".join(lines)

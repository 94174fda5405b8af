"""A synthetic archive of N articles for benchmarks, built from a `newsarchive demo` crawl and written
through the real writers (bench/archive_access.py measures researcher access over it).

Each synthetic article takes a demo article's captured response (status, headers and payload bytes as
archived) under a URL of its own, and a row whose title, text (paragraphs drawn from all demo articles,
led by a synthetic name that makes rare search terms), published time and WARC pointer are its own.
Records go through archive.warc_writer.WarcWriter (request + response + metadata records, CDXJ index),
rows through archive.jsonl.JsonlPartitionWriter (gzip JSON lines by outlet and day), and each run gets a
manifest: one run per month of publication, as a monthly crawl would (it also bounds the partition
files open at once). Each article file gets its Parquet twin from the same writer a crawl uses
(archive.parquet_out.ParquetTwins): the Parquet export reads them.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import REPO

FIRST_DAY = date(2024, 1, 1)
DAYS = 730  # articles are spread evenly over this many days from FIRST_DAY
JST_OFFSET = "+09:00"
NAME_SYLLABLES = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"


def demo_archive(work: Path) -> Path:
    root = work / "demo"
    subprocess.run(
        [sys.executable, "-m", "crawler.cli", "demo", "--archive", str(root)],
        check=True,
        capture_output=True,
        cwd=REPO,
        timeout=600,
    )
    return root


def templates(demo_root: Path) -> list[tuple[dict[str, Any], Any]]:
    """(row, response record) of every demo article."""
    from archive.jsonl import iter_row_files, read_rows
    from archive.readback import read_record

    out = []
    for path in iter_row_files(demo_root):
        for row in read_rows(path):
            w = row["warc"]
            out.append((row, read_record(demo_root / w["path"], w["offset"], w["length"])))
    if not out:
        raise RuntimeError(f"{demo_root}: the demo crawl archived no article")
    return out


def _name(rng: random.Random) -> str:
    # About 40^4 = 2.5M names: with 100,000 articles almost every name is rare.
    return "".join(rng.choice(NAME_SYLLABLES) for _ in range(4))


def _synthetic_row(
    i: int, n: int, template: dict[str, Any], paragraphs: list[str], rng: random.Random
) -> tuple[dict[str, Any], str]:
    from pipelines.textnorm import text_hash

    day = FIRST_DAY + timedelta(days=i * DAYS // n)
    minute = rng.randrange(24 * 60)
    published = f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00{JST_OFFSET}"
    name = _name(rng)
    body = rng.sample(paragraphs, k=min(len(paragraphs), rng.randint(4, 8)))
    text = "\n\n".join([f"{name}氏によると、{body[0]}", *body[1:]])
    url = f"{template['url'].split('?')[0]}?k=SYN{i:08d}"
    row = dict(template)
    row.update(
        url=url,
        fetched_url=url,
        title=f"{template['title']}（{name}）",
        text=text,
        published_at=published,
        modified_at=published,
        text_hash=text_hash(text),
        story_cluster_id=f"story:syn{i:013d}",
    )
    return row, name


def build_archive(
    root: Path, n: int, sources: list[tuple[dict[str, Any], Any]], seed: int = 11
) -> dict[str, Any]:
    """Write `n` synthetic articles into `root`, one run per publication month. Returns build figures
    and a sample of the rare names (for searches)."""
    from archive.exchange import HttpExchange
    from archive.jsonl import JsonlPartitionWriter
    from archive.parquet_out import PARQUET_KIND, ParquetTwins
    from archive.paths import parquet_twin
    from archive.run import install_schema, software_versions, write_manifest
    from archive.warc_writer import WarcWriter
    from core.items import SCHEMA_VERSION
    from core.schema import article_schema, schema_text

    rng = random.Random(seed)
    paragraphs = sorted({p for row, _ in sources for p in row["text"].split("\n\n") if len(p) > 20})
    t0 = time.perf_counter()
    names: list[str] = []
    i = 0
    schema_rel = install_schema(root, SCHEMA_VERSION, schema_text())
    while i < n:
        month = (FIRST_DAY + timedelta(days=i * DAYS // n)).replace(day=1)
        started = datetime(month.year, month.month, month.day, 1, tzinfo=UTC)
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{rng.randrange(1 << 24):06x}"
        rows = JsonlPartitionWriter(root, run_id, twin=ParquetTwins(article_schema()))
        first = i
        with WarcWriter(root) as warcs:
            while i < n and (FIRST_DAY + timedelta(days=i * DAYS // n)).replace(day=1) == month:
                template, record = sources[i % len(sources)]
                row, name = _synthetic_row(i, n, template, paragraphs, rng)
                if i % 97 == 0:
                    names.append(name)
                fetched = started + timedelta(seconds=i)
                ex = HttpExchange(
                    url=row["fetched_url"],
                    method="GET",
                    request_headers=[("Host", row["fetched_url"].split("/")[2]), ("User-Agent", "bench")],
                    request_body=b"",
                    protocol="HTTP/1.1",
                    status=record.http_status or 200,
                    response_headers=list(record.http_headers),
                    body=record.raw_payload,
                    ip_address="127.0.0.1",
                    fetched_at=fetched,
                )
                loc = warcs.capture(ex).payload_source
                row.update(run_id=run_id, fetched_at=fetched.isoformat(), warc=dict(vars(loc)))
                payload = json.dumps(row, ensure_ascii=False).encode("utf-8")
                warcs.write_metadata(
                    row["fetched_url"],
                    payload,
                    refers_to=loc.record_id,
                    concurrent_to=loc.record_id,
                    date=loc.date,
                )
                rows.write(row)
                i += 1
        files = [(p.relative_to(root).as_posix(), "warc") for p in warcs.closed_files]
        closed = rows.close()
        files += [(p, "articles") for p in closed]
        files += [(parquet_twin(p), PARQUET_KIND) for p in closed]
        files.append((schema_rel, "schema"))
        write_manifest(
            root,
            run_id,
            files=files,
            counts={"articles": i - first},
            config={"synthetic": True},
            versions=software_versions(),
            started_at=started.isoformat(),
            finished_at=started.isoformat(),
            errors={},
            previous_run_id=None,
        )
    return {"build_s": time.perf_counter() - t0, "names": names, "size_mib": disk_mib(root)}


def disk_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / (1 << 20)

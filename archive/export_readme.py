"""The README.md put inside every export bundle (archive.export): what the files are, what the fields
mean and how to cite an article, so a bundle makes sense to whoever receives it without this software."""

from __future__ import annotations

import json
from typing import Any

_FORMAT_NOTES = {
    "jsonl": "one JSON object per line (UTF-8), exactly as archived; read it with `pandas.read_json(path, "
    "lines=True)`, `duckdb` (`read_json_auto`) or `jq`.",
    "csv": "one row per article (UTF-8, no BOM, RFC 4180 quoting). Lists and objects (topics, authors, "
    "tags, images, charset, extraction) are JSON text; the WARC pointer is spread over the `warc_*` "
    "columns; `accepted_topics` lists the topics the article was kept for, separated by `;`. In Excel, "
    "import it as UTF-8 (Data > From Text/CSV) so Japanese text displays.",
    "parquet": "Parquet (zstd) with the same schema as the archive's own Parquet files; the article JSON "
    "Schema travels in the file metadata (`newsarchive.json_schema`). Read it with pandas, polars, "
    "DuckDB, Spark or R (arrow).",
    "wacz": "a WACZ web archive of the selected pages (open it in https://replayweb.page or with pywb): the "
    "WARC records of each article (request, response, metadata), a CDXJ index and `pages.jsonl`.",
}

_TEMPLATE = """\
# Article selection from a newsarchive archive

Created {created_at} by newsarchive {version} from `{root}`.

Selection: {selection}

{count} article(s){span}. Data file: `{data_name}`: {format_note}

## Files

- `{data_name}`: the articles (latest archived version of each), newest published first.
- `{schema}`: the JSON Schema the article rows follow (rows of schema version(s) {schema_version}).
- `manifest.json`: the filters, the counts, the sha256 and size of every other file in this folder
  and the crawl runs the rows come from. Check the files with `sha256sum` against it.

## Fields (the main ones; the schema file has them all)

- `url`: the article's canonical URL on the outlet's site (what to cite).
- `outlet`, `title`, `subtitle`, `lead`, `text` (clean body text), `authors`, `section`, `tags`.
- `published_at`, `modified_at`: as the outlet states them, ISO 8601 with offset (Japan time, +09:00).
- `fetched_at`: when the archive fetched the page (UTC); `fetched_url`: the URL actually fetched.
- `topics`: for each research topic judged, its score, the terms matched and whether the article was
  kept for it (`accepted`).
- `access`: free, paywalled, registration or unknown; `body_complete`: false when the page showed only
  part of the article (a paywall, a size limit).
- `warc`: where the page as fetched is kept: WARC file (`path`), byte `offset` and `length` of the
  response record, its `record_id`, `payload_digest` and `date` (the capture time).
- `run_id`: the crawl (or re-extraction) run that wrote the row; `extraction`: which method produced
  each field.

## How to cite an article

Give the outlet, the title, the canonical URL, the publication time and the archive capture, e.g.:

    時事通信「<title>」<published_at>. <url>
    (archived <warc.date>, WARC record <warc.record_id> in <warc.filename>, newsarchive)

The WARC record id and payload digest identify the exact bytes received; anyone with the archive can
read that record back (`newsarchive get-record ROOT --file <warc.path> --offset <warc.offset> --length
<warc.length>`, or `newsarchive get ROOT <url> --warc`).
"""


def readme_text(manifest: dict[str, Any], data_name: str) -> str:
    counts = manifest.get("counts") or {}
    first, last = counts.get("first_day"), counts.get("last_day")
    span = f", published {first} to {last} (JST)" if first and last else ""
    selection = {k: v for k, v in (manifest.get("selection") or {}).items() if v}
    return _TEMPLATE.format(
        created_at=manifest.get("created_at"),
        version=manifest.get("newsarchive_version"),
        root=(manifest.get("source") or {}).get("root"),
        selection=json.dumps(selection, ensure_ascii=False) if selection else "the whole archive",
        count=counts.get("articles", 0),
        span=span,
        data_name=data_name,
        format_note=_FORMAT_NOTES.get(str(manifest.get("format")), ""),
        schema="`, `".join(manifest.get("schemas") or ["schema/"]),
        schema_version=", ".join(
            manifest.get("row_schema_versions") or [str(manifest.get("schema_version"))]
        ),
    )

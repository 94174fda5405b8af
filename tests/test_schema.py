"""The JSON contract: the published schema file, the rows the crawler writes, the validator."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from archive.jsonl import InvalidRowError, JsonlPartitionWriter, encode_rows, iter_row_files, read_rows
from archive.jsonvalidate import UnsupportedSchemaError, errors
from archive.verify import verify_archive
from core.items import SCHEMA_VERSION, Article
from core.schema import article_schema, schema_relpath, schema_text
from tests.s3server import build_run, make_article

REPO = Path(__file__).resolve().parent.parent


def _row() -> dict:
    from archive.exchange import RecordLocation

    loc = RecordLocation(
        "f.warc.gz", "warc/f.warc.gz", 10, 20, "<urn:uuid:x>", "sha1:AAAA", "http://h/", "2025"
    )
    return make_article(1, loc, "20261128T000000Z-abcdef", "jiji").to_json()


def test_committed_schema_file_is_the_generated_one() -> None:
    committed = REPO / schema_relpath()
    assert committed.is_file(), f"run: python -m core.schema > {schema_relpath()}"
    assert committed.read_text(encoding="utf-8") == schema_text()
    out = subprocess.run(
        [sys.executable, "-m", "core.schema"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out == committed.read_text(encoding="utf-8")


def test_schema_declares_every_field_the_producer_emits() -> None:
    schema = article_schema()
    assert set(schema["properties"]) == {f.name for f in fields(Article)} == set(_row())
    assert schema["$id"].endswith(f"article-{SCHEMA_VERSION}.json")
    required = {f.name for f in fields(Article) if f.name in schema["required"]}
    assert {"url", "outlet", "title", "published_at", "text", "warc", "schema_version"} <= required
    assert "subtitle" not in schema["required"]  # has a default


def test_valid_row_and_each_kind_of_violation() -> None:
    schema = article_schema()
    row = _row()
    assert errors(row, schema) == []
    bad = json.loads(json.dumps(row))
    del bad["title"]
    bad["warc"]["offset"] = "10"
    bad["access"] = "maybe"
    bad["topics"][0]["score"] = True
    bad["authors"] = [1]
    problems = "\n".join(errors(bad, schema))
    for expected in (
        "$: required property 'title' is missing",
        "$.warc.offset: str is not of type integer",
        "$.access: 'maybe' is not one of",
        "$.topics[0].score: boolean is not of type number",
        "$.authors[0]: int is not of type string",
    ):
        assert expected in problems


def test_compatible_additions_pass_an_older_schema_but_a_new_major_does_not() -> None:
    schema = article_schema()
    newer = {**_row(), "schema_version": "1.4.0", "new_field": {"x": 1}}
    assert errors(newer, schema) == []
    assert errors({**_row(), "schema_version": "2.0.0"}, schema)


def test_unknown_schema_keywords_are_refused_not_ignored() -> None:
    with pytest.raises(UnsupportedSchemaError):
        errors("x", {"type": "string", "minLength": 3})


def test_jsonl_writer_refuses_an_invalid_row(tmp_path: Path) -> None:
    writer = JsonlPartitionWriter(tmp_path, "20261128T000000Z-abcdef", schema=article_schema())
    writer.write(_row())
    with pytest.raises(InvalidRowError, match="title"):
        writer.write({k: v for k, v in _row().items() if k != "title"})
    (path,) = writer.close()
    assert len(list(read_rows(tmp_path / path))) == 1


def test_verify_reports_rows_that_break_the_roots_schema(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root", parquet=False)
    path = run.root / run.keys("articles")[0]
    rows = list(read_rows(path))
    rows[0]["body_complete"] = "yes"
    path.write_bytes(encode_rows(rows))
    problems = "\n".join(verify_archive(run.root).problems)
    assert (
        f"{run.keys('articles')[0]}:1: schema {SCHEMA_VERSION}: $.body_complete: str is not of type boolean"
        in problems
    )


def test_verify_without_schema_file_warns_and_can_use_a_given_schema(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root", parquet=False)
    (run.root / schema_relpath()).unlink()
    report = verify_archive(run.root)
    assert any("missing from the archive root" in w for w in report.warnings)
    path = run.root / run.keys("articles")[0]
    row = next(read_rows(path))
    row["tags"] = "not a list"
    path.write_bytes(encode_rows([row]))
    report = verify_archive(run.root, schemas={SCHEMA_VERSION: article_schema()})
    assert any("$.tags: str is not of type array" in p for p in report.problems)


@pytest.mark.e2e
def test_every_row_the_store_pipeline_writes_is_valid(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    root = tmp_path / "archive"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "demo", "--archive", str(root)],
        env=subprocess_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    schema = article_schema()
    rows = [row for path in iter_row_files(root) for row in read_rows(path)]
    assert len(rows) >= 10
    for row in rows:
        assert errors(row, schema) == [], row["url"]


def test_row_is_what_asdict_gives_in_the_documented_field_order() -> None:
    """to_json skips asdict's deepcopy (speed): same values, nested dataclasses as dicts, same order."""
    from dataclasses import asdict, replace

    from archive.exchange import RecordLocation

    loc = RecordLocation("f.warc.gz", "warc/f.warc.gz", 10, 20, "<urn:uuid:x>", "sha1:A", "http://h/", "2025")
    article = replace(
        make_article(1, loc, "20261128T000000Z-abcdef", "jiji"),
        version=2,
        changes={"title": {"before": "a", "after": "b"}, "text": {"added": ["x"], "removed": []}},
    )
    row = article.to_json()
    expected = asdict(article)
    assert row == expected
    assert list(row)[:5] == ["schema_version", "url", "outlet", "title", "published_at"]
    assert set(row) == set(expected)
    assert row["topics"][0] == {**expected["topics"][0]} and isinstance(row["warc"], dict)
    assert row["changes"] is not article.changes  # a copy: changing the row leaves the article alone

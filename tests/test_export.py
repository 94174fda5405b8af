"""`newsarchive export` (archive.export): bundles over the session demo archive match the catalog's counts,
every row is schema-valid, the bundle is written atomically, an s3:// root exports the same rows, and
user mistakes are one line with exit code 2."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import Catalog
from archive.export import export_selection
from archive.export_formats import CSV_COLUMNS
from archive.jsonvalidate import errors
from archive.parquet_out import read_parquet_rows
from archive.selection import Selection, select_articles
from core.schema import article_schema
from crawler.cli import main
from tests.s3server import S3Env

pytest_plugins = ["tests.s3server"]


@pytest.fixture(scope="module")
def root(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


def catalog_count(root: Path, outlets: tuple[str, ...] = (), since: str = "", until: str = "") -> int:
    """The same question asked of the crawl's catalog (articles table): distinct canonical URLs."""
    sql, params = "SELECT COUNT(DISTINCT url) FROM articles WHERE 1", []
    if outlets:
        sql += f" AND outlet IN ({','.join('?' * len(outlets))})"
        params += list(outlets)
    if since:
        sql += " AND substr(published_at, 1, 10) >= ?"  # demo rows are all +09:00: the JST day
        params.append(since)
    if until:
        sql += " AND substr(published_at, 1, 10) <= ?"
        params.append(until)
    with Catalog.open(root) as catalog:
        catalog.refresh()
        return int(catalog.conn.execute(sql, params).fetchone()[0])


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


COMBOS = [
    ((), (), "", ""),
    (("russia-dprk",), ("jiji",), "", ""),
    ((), ("asahi",), "2025-03-05", "2025-03-15"),
    ((), ("jiji", "asahi"), "2025-03-10", ""),
    (("russia-dprk",), (), "", "2025-03-09"),
]


@pytest.mark.parametrize(("topics", "outlets", "since", "until"), COMBOS)
def test_export_counts_match_the_catalog(
    root: Path, tmp_path: Path, topics: tuple[str, ...], outlets: tuple[str, ...], since: str, until: str
) -> None:
    selection = Selection(
        topics=topics,
        outlets=outlets,
        since=date.fromisoformat(since) if since else None,
        until=date.fromisoformat(until) if until else None,
    )
    expected = catalog_count(root, outlets, since, until)
    assert expected > 0
    result = export_selection(root, selection, "jsonl", tmp_path / "bundle")
    rows = jsonl_rows(tmp_path / "bundle" / "articles.jsonl")
    assert result.count == len(rows) == expected
    assert len({r["url"] for r in rows}) == len(rows)
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["articles"] == expected
    assert manifest["selection"] == selection.describe()
    assert sum(manifest["counts"]["by_outlet"].values()) == expected
    published = [r["published_at"] for r in rows]
    assert published == sorted(published, reverse=True)  # newest first (all +09:00 in the demo)


def test_an_unknown_topic_selects_nothing(root: Path) -> None:
    assert list(select_articles(root, Selection(topics=("no-such-topic",)))) == []


def test_bundle_rows_are_schema_valid_in_every_format(root: Path, tmp_path: Path) -> None:
    selection = Selection(outlets=("asahi",))
    bundles = {
        fmt: export_selection(root, selection, fmt, tmp_path / fmt) for fmt in ("jsonl", "csv", "parquet")
    }
    rows = jsonl_rows(tmp_path / "jsonl" / "articles.jsonl")
    assert rows and {r["outlet"] for r in rows} == {"asahi"}
    manifest = json.loads((tmp_path / "jsonl" / "manifest.json").read_text(encoding="utf-8"))
    schemas = {
        name: json.loads((tmp_path / "jsonl" / name).read_text(encoding="utf-8"))
        for name in manifest["schemas"]
    }
    for row in rows:
        schema = schemas[f"schema/article-{row['schema_version']}.json"]
        assert errors(row, schema) == [], row["url"]
    assert read_parquet_rows(tmp_path / "parquet" / "articles.parquet") == rows
    with (tmp_path / "csv" / "articles.csv").open(encoding="utf-8", newline="") as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0]) == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, r, strict=True)) for r in table[1:]]
    assert [r["url"] for r in records] == [r["url"] for r in rows]
    first = records[0]
    assert json.loads(first["topics"]) == rows[0]["topics"]
    assert first["warc_record_id"] == rows[0]["warc"]["record_id"]
    assert first["body_complete"] in ("true", "false")
    assert first["accepted_topics"] == "russia-dprk"
    # every field of the schema has its column (the WARC pointer as warc_* columns)
    for name in article_schema()["properties"]:
        assert name in CSV_COLUMNS or name == "warc"
    for fmt, result in bundles.items():
        assert result.count == len(rows)
        listed = json.loads((tmp_path / fmt / "manifest.json").read_text(encoding="utf-8"))["files"]
        names = {f["name"] for f in listed}
        on_disk = {
            p.relative_to(tmp_path / fmt).as_posix() for p in (tmp_path / fmt).rglob("*") if p.is_file()
        }
        assert names | {"manifest.json"} == on_disk
        for entry in listed:
            data = (tmp_path / fmt / entry["name"]).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    readme = (tmp_path / "csv" / "README.md").read_text(encoding="utf-8")
    assert "How to cite" in readme and "record_id" in readme


def test_a_failed_export_leaves_no_bundle(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archive.export as export_module

    class Failing:
        def __init__(self) -> None:
            self.n = 0

        def write(self, row: dict[str, Any]) -> None:
            self.n += 1
            if self.n == 3:
                raise OSError("disk full")

        def close(self) -> None:
            pass

    monkeypatch.setattr(export_module, "open_writer", lambda *args: Failing())
    with pytest.raises(OSError, match="disk full"):
        export_selection(root, Selection(), "jsonl", tmp_path / "bundle")
    assert list(tmp_path.iterdir()) == []  # neither the bundle nor its partial folder


def test_cli_export_summary_and_progress(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    code = main(
        [
            "export",
            str(root),
            "--outlet",
            "jiji",
            "--since",
            "2025-03-01",
            "--format",
            "csv",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    expected = catalog_count(root, ("jiji",), "2025-03-01")
    assert captured.out.startswith(f"Exported {expected} article(s) as csv to {out}")
    assert f"exported {expected}/{expected} articles" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "--format xml: unknown format"),
        (["--format", "csv", "--since", "2025-02-30"], "'2025-02-30' is not a date"),
        (["--format", "csv", "--since", "2025-03-10", "--until", "2025-03-01"], "is after --until"),
    ],
)
def test_cli_export_usage_mistakes(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["export", str(root), *args, "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_cli_export_unreadable_root_and_existing_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", str(tmp_path / "missing"), "--format", "jsonl", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "not an archive folder" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "plain").mkdir()
    code = main(["export", str(tmp_path / "plain"), "--format", "jsonl", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "not an archive root" in err
    (tmp_path / "b").mkdir()
    code = main(["export", str(tmp_path / "plain"), "--format", "jsonl", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


def upload_archive(s3: S3Env, root: Path, prefix: str) -> None:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in rel.split("/")):
            s3.client.put_object(Bucket=s3.bucket, Key=f"{prefix}/{rel}", Body=path.read_bytes())


def test_export_from_an_s3_root(
    root: Path, s3: S3Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upload_archive(s3, root, "news")
    monkeypatch.setenv("NEWSARCHIVE_SPOOL", str(tmp_path / "spool"))  # empty: every row comes from S3
    selection = Selection(outlets=("jiji",), since=date(2025, 3, 5))
    local = export_selection(root, selection, "jsonl", tmp_path / "local")
    code = main(
        [
            "export",
            s3.url("news"),
            "--outlet",
            "jiji",
            "--since",
            "2025-03-05",
            "--format",
            "jsonl",
            "--out",
            str(tmp_path / "remote"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    remote_rows = jsonl_rows(tmp_path / "remote" / "articles.jsonl")
    assert remote_rows == jsonl_rows(local.out / "articles.jsonl")
    assert len(remote_rows) == catalog_count(root, ("jiji",), "2025-03-05")
    manifest = json.loads((tmp_path / "remote" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"]["root"] == s3.url("news")
    assert (tmp_path / "spool" / ".search.sqlite").is_file()


def test_wacz_bundle_through_the_wacz_writer(root: Path, tmp_path: Path) -> None:
    import zipfile

    selection = Selection(outlets=("jiji",), since=date(2025, 3, 15))
    result = export_selection(root, selection, "wacz", tmp_path / "w")
    assert result.count == catalog_count(root, ("jiji",), "2025-03-15") > 0
    with zipfile.ZipFile(tmp_path / "w" / "articles.wacz") as wacz:
        assert "datapackage.json" in wacz.namelist()

"""Run ids, the run ledger, and the manifest written last and atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive import run as run_module
from archive.jsonl import JsonlPartitionWriter
from archive.run import RunLedger, latest_run_id, new_run_id, software_versions, write_manifest


def manifest_args(**kw: object) -> dict:
    args: dict = {
        "counts": {"articles": 2},
        "config": {"topic": "ru-kp"},
        "versions": software_versions(),
        "started_at": "2026-11-28T05:15:00Z",
        "finished_at": "2026-11-28T05:20:00Z",
        "errors": {"fetch/timeout": 1},
        "previous_run_id": None,
    }
    args.update(kw)
    return args


def test_new_run_id_sortable_and_unique() -> None:
    when = datetime(2026, 11, 28, 5, 15, tzinfo=UTC)
    ids = {new_run_id(when) for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"20261128T051500Z-[0-9a-f]{6}", i) for i in ids)
    assert new_run_id(datetime(2026, 11, 28, 5, 16, tzinfo=UTC)) > max(ids)


def test_ledger_is_shared_per_root_and_run(tmp_path: Path) -> None:
    results: list[RunLedger] = []
    threads = [
        threading.Thread(target=lambda: results.append(RunLedger.for_run(tmp_path, "r1"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(ledger is results[0] for ledger in results)
    assert RunLedger.for_run(tmp_path, "r2") is not results[0]
    results[0].add_file("warc/a.warc.gz", "warc")
    RunLedger.for_run(tmp_path / ".", "r1").add_file("articles/x.jsonl", "articles")
    assert RunLedger.for_run(tmp_path, "r1").files() == [
        ("warc/a.warc.gz", "warc"),
        ("articles/x.jsonl", "articles"),
    ]
    with pytest.raises(ValueError):
        results[0].add_file("../outside", "warc")


def test_manifest_lists_sizes_and_sha256(tmp_path: Path) -> None:
    run_id = new_run_id()
    writer = JsonlPartitionWriter(tmp_path, run_id)
    writer.write({"outlet": "jiji", "published_at": "2026-11-27T23:30:00+09:00", "title": "露朝"})
    writer.write({"outlet": "jiji", "published_at": "2026-11-27T15:30:00Z", "title": "翌日"})  # JST 28th
    writer.write({"outlet": "asahi", "published_at": None, "title": "日付なし"})
    assert not list(tmp_path.rglob("*.jsonl.gz"))  # nothing under a final name while being written
    assert len(list(tmp_path.rglob("*.jsonl.gz.open"))) == 3
    rels = writer.close()
    assert sorted(rels) == sorted(
        [
            f"articles/outlet=jiji/date=2026-11-27/{run_id}-jiji-00000.jsonl.gz",
            f"articles/outlet=jiji/date=2026-11-28/{run_id}-jiji-00000.jsonl.gz",
            f"articles/outlet=asahi/date=unknown/{run_id}-asahi-00000.jsonl.gz",
        ]
    )
    assert not list(tmp_path.rglob("*.open"))
    text = gzip.decompress((tmp_path / rels[0]).read_bytes()).decode("utf-8")
    assert json.loads(text)["title"] == "露朝"
    assert "露朝" in text  # ensure_ascii=False

    path = write_manifest(tmp_path, run_id, files=[(r, "articles") for r in rels], **manifest_args())

    assert path == tmp_path / "runs" / run_id / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["run_id"] == run_id and manifest["errors"] == {"fetch/timeout": 1}
    assert manifest["versions"]["warcio"] and manifest["versions"]["python"]
    for entry in manifest["files"]:
        data = (tmp_path / entry["path"]).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert [e["path"] for e in manifest["files"]] == rels
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def test_manifest_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = new_run_id()
    (tmp_path / "f.bin").write_bytes(b"x")
    first = write_manifest(tmp_path, run_id, files=[("f.bin", "other")], **manifest_args())
    before = first.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("crash at rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_manifest(tmp_path, run_id, files=[], **manifest_args(counts={"articles": 99}))
    assert first.read_bytes() == before  # the old manifest is intact, not half rewritten
    assert [p.name for p in first.parent.iterdir()] == ["manifest.json"]


def test_manifest_refuses_missing_or_escaping_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_manifest(tmp_path, "r1", files=[("warc/missing.warc.gz", "warc")], **manifest_args())
    with pytest.raises(ValueError):
        write_manifest(tmp_path, "r1", files=[("../etc/passwd", "warc")], **manifest_args())
    assert latest_run_id(tmp_path) is None


def test_latest_run_id_only_counts_finished_runs(tmp_path: Path) -> None:
    assert latest_run_id(tmp_path) is None
    older = new_run_id(datetime(2026, 11, 1, tzinfo=UTC))
    newer = new_run_id(datetime(2026, 11, 2, tzinfo=UTC))
    unfinished = new_run_id(datetime(2026, 11, 3, tzinfo=UTC))
    write_manifest(tmp_path, newer, files=[], **manifest_args(previous_run_id=older))
    write_manifest(tmp_path, older, files=[], **manifest_args())
    (tmp_path / "runs" / unfinished).mkdir()
    assert latest_run_id(tmp_path) == newer


def test_software_versions_do_not_import_scrapy() -> None:
    code = "import sys; from archive.run import software_versions; software_versions(); print('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    versions = software_versions()
    assert set(versions) >= {"newsarchive", "scrapy", "twisted", "warcio", "trafilatura", "lxml", "python"}
    assert versions["scrapy"].startswith("2.19")
    assert run_module.package_version("no-such-package-xyz") == "not-installed"


def test_second_writer_of_a_run_gets_the_next_number(tmp_path: Path) -> None:
    row = {"outlet": "jiji", "published_at": "2026-11-28T10:00:00+09:00"}
    first, second = JsonlPartitionWriter(tmp_path, "r1"), JsonlPartitionWriter(tmp_path, "r1")
    assert first.write(row).endswith("r1-jiji-00000.jsonl.gz")
    assert second.write(row).endswith("r1-jiji-00001.jsonl.gz")
    assert first.close() != second.close()
    third = JsonlPartitionWriter(tmp_path, "r1")
    assert third.write(row).endswith("r1-jiji-00002.jsonl.gz")
    third.close()
    with pytest.raises(ValueError):
        JsonlPartitionWriter(tmp_path, "r1").write({"outlet": "../evil", "published_at": None})

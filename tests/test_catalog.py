"""The catalog (archive.catalog), crash recovery with row salvage (archive.recovery), and the
`get-record` / `reindex` commands, on small archives built with the archive library."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.catalog import CATALOG_NAME, Catalog
from archive.catalog_sources import path_query
from archive.exchange import HttpExchange, RecordLocation
from archive.jsonl import JsonlPartitionWriter, iter_row_files, read_rows
from archive.recovery import dead_runs, recover_root
from archive.run import write_manifest
from archive.storage import LocalStore
from archive.verify import verify_archive
from archive.warc_writer import WarcWriter
from crawler.cli import main

SIM = "http://127.0.0.1:8123"
REAL = "https://www.jiji.com"


def exchange(path: str, status: int = 200, body: bytes | None = None) -> HttpExchange:
    return HttpExchange(
        url=SIM + path,
        method="GET",
        request_headers=[("User-Agent", "newsarchive-test")],
        request_body=b"",
        protocol="HTTP/1.1",
        status=status,
        response_headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body if body is not None else f"<html>{path} {'x' * 300}</html>".encode(),
        ip_address="127.0.0.1",
        fetched_at=datetime(2026, 11, 28, 5, 15, tzinfo=UTC),
    )


def row_for(path: str, loc: RecordLocation, run_id: str) -> dict[str, Any]:
    return {
        "url": REAL + path,
        "fetched_url": SIM + path,
        "outlet": "jiji",
        "title": f"title {path}",
        "published_at": "2025-03-10T09:00:00+09:00",
        "text": "本文",
        "run_id": run_id,
        "warc": {
            "filename": loc.filename,
            "path": loc.path,
            "offset": loc.offset,
            "length": loc.length,
            "record_id": loc.record_id,
            "payload_digest": loc.payload_digest,
            "target_uri": loc.target_uri,
            "date": loc.date,
        },
    }


def kept_article(writer: WarcWriter, rows: JsonlPartitionWriter | None, path: str, run_id: str) -> None:
    """What the crawl does for a kept article: response, metadata record with the row, then the row."""
    loc = writer.write_exchange(exchange(path))
    row = row_for(path, loc, run_id)
    writer.write_metadata(SIM + path, json.dumps(row, ensure_ascii=False).encode(), refers_to=loc.record_id)
    if rows is not None:
        rows.write(row)


def finished_run(root: Path, run_id: str, files: list[tuple[str, str]]) -> None:
    now = datetime.now(UTC).isoformat()
    write_manifest(
        root,
        run_id,
        files=files,
        counts={},
        config={},
        versions={},
        started_at=now,
        finished_at=now,
        errors={},
        previous_run_id=None,
    )


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Run r1 (finished): kept article /a/1, off-topic page /a/2, a 404 /a/404, a feed; a truncated /a/t."""
    root = tmp_path / "root"
    rows = JsonlPartitionWriter(root, "r1")
    with WarcWriter(root, warcinfo={"isPartOf": "r1"}) as writer:
        writer.write_exchange(exchange("/feed.rdf"))
        kept_article(writer, rows, "/a/1", "r1")
        writer.write_exchange(exchange("/a/2"))
        writer.write_exchange(exchange("/a/404", status=404))
        ex = exchange("/a/t")
        ex.truncated = "length"
        writer.write_exchange(ex)
    files = [(p.relative_to(root).as_posix(), "warc") for p in writer.closed_files]
    files += [(rel, "articles") for rel in rows.close()]
    finished_run(root, "r1", files)
    return root


def test_catalog_counts_rows_metadata_and_finished_runs(archive: Path) -> None:
    with Catalog.open(archive) as catalog:
        assert catalog.refresh() == 3  # one .cdxj, one .jsonl.gz, one manifest
        # the kept article, under its canonical URL and under the URL it was fetched from
        assert catalog.archived(REAL + "/a/1") and catalog.archived(SIM + "/a/1")
        # fetched and judged by a finished run, not kept: still archived
        assert catalog.archived(SIM + "/a/2")
        # an error page and a truncated body are not what the page is
        assert not catalog.archived(SIM + "/a/404")
        assert not catalog.archived(SIM + "/a/t")
        assert not catalog.archived(SIM + "/a/never")
        assert catalog.refresh() == 0  # nothing new: nothing read again
    assert (archive / CATALOG_NAME).is_file()


def test_unfinished_run_counts_only_articles_with_metadata(archive: Path) -> None:
    """A run without a manifest (still running, or killed): a bare response proves nothing."""
    with WarcWriter(archive, warcinfo={"isPartOf": "r2"}) as writer:
        writer.write_exchange(exchange("/a/3"))  # captured, never processed
        kept_article(writer, None, "/a/4", "r2")  # row lost, metadata record kept
    with Catalog.open(archive) as catalog:
        assert catalog.refresh() == 4  # the new .cdxj
        assert not catalog.archived(SIM + "/a/3")
        assert catalog.archived(SIM + "/a/4")
        # rebuild from scratch gives the same answers
        before = catalog.counts()
        assert catalog.rebuild() == 4
        assert catalog.counts() == before
        assert catalog.archived(REAL + "/a/1") and not catalog.archived(SIM + "/a/3")


def test_catalog_reads_the_store_when_the_spool_has_shed_runs(archive: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    with Catalog.open(spool, LocalStore(archive)) as catalog:
        assert catalog.refresh() == 3
        assert catalog.archived(REAL + "/a/1") and catalog.archived(SIM + "/a/2")
    with Catalog.open(spool) as alone:
        alone.rebuild()
        assert not alone.archived(REAL + "/a/1")


OTHER = "http://127.0.0.1:9456"  # the same outlet served on another port, in a later crawl


def via(origin: str, path: str, status: int = 200) -> HttpExchange:
    ex = exchange(path, status)
    ex.url = origin + path
    return ex


@pytest.fixture
def override_archive(tmp_path: Path) -> Path:
    """Run r1 (finished) crawled jiji through the override origin SIM: an off-topic page, a 404, a feed;
    run r2 (no manifest) through OTHER: a bare response and a kept article's response + metadata."""
    root = tmp_path / "override"
    info = {"isPartOf": "r1", "outlet-base-urls": json.dumps({"jiji": SIM})}
    with WarcWriter(root, warcinfo=info) as writer:
        writer.write_exchange(exchange("/feed.rdf"))
        writer.write_exchange(exchange("/a/2?p=1"))
        writer.write_exchange(exchange("/a/404", status=404))
    finished_run(root, "r1", [(p.relative_to(root).as_posix(), "warc") for p in writer.closed_files])
    info = {
        "isPartOf": "r2",
        "outlet-base-urls": json.dumps({"jiji": OTHER, "asahi": "http://127.0.0.1:9457"}),
    }
    with WarcWriter(root, warcinfo=info) as writer:
        writer.write_exchange(via(OTHER, "/a/3"))  # captured, never processed
        loc = writer.write_exchange(via(OTHER, "/a/4"))
        writer.write_metadata(OTHER + "/a/4", b"{}", refers_to=loc.record_id)
    return root


def test_pages_fetched_through_an_override_are_known_by_path(override_archive: Path, tmp_path: Path) -> None:
    third = "http://127.0.0.1:7001"  # a third crawl, on yet another port
    with Catalog.open(override_archive) as catalog:
        catalog.refresh()
        # The off-topic page fetched via SIM: by URL only on SIM, by (outlet, path?query) on any origin.
        assert catalog.archived(SIM + "/a/2?p=1") and not catalog.archived(third + "/a/2?p=1")
        assert catalog.archived_path("jiji", path_query(REAL + "/a/2?p=1"))
        assert catalog.archived_path("jiji", path_query(third + "/a/2?p=1#top"))
        # another outlet, another query, an error page: not the same page
        assert not catalog.archived_path("asahi", "/a/2?p=1")
        assert not catalog.archived_path("jiji", "/a/2") and not catalog.archived_path("jiji", "/a/2?p=2")
        assert not catalog.archived_path("jiji", "/a/404")
        # run r2 (unfinished) via OTHER: the archived() rule holds by path too
        assert not catalog.archived_path("jiji", "/a/3")
        assert catalog.archived_path("jiji", "/a/4")
    # The same answers from the store when the local spool has shed the files (the warcinfo read by range).
    spool = tmp_path / "spool"
    spool.mkdir()
    with Catalog.open(spool, LocalStore(override_archive)) as catalog:
        catalog.refresh()
        assert catalog.archived_path("jiji", "/a/2?p=1") and catalog.archived_path("jiji", "/a/4")
        assert not catalog.archived_path("jiji", "/a/3")


def test_no_path_keys_without_an_override(archive: Path) -> None:
    with Catalog.open(archive) as catalog:
        catalog.refresh()
        assert catalog.archived(SIM + "/a/2")  # no outlet-base-urls in the warcinfo: known by URL only
        assert not catalog.archived_path("jiji", "/a/2")


def test_a_catalog_of_schema_1_is_rebuilt(override_archive: Path) -> None:
    """A catalog file of the previous version (no path columns, every file already ingested) is rebuilt."""
    conn = sqlite3.connect(override_archive / CATALOG_NAME)
    conn.executescript(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE ingested (key TEXT PRIMARY KEY, kind TEXT NOT NULL);"
        "CREATE TABLE captures (uri TEXT NOT NULL, kind TEXT NOT NULL, status INTEGER, warc_path TEXT NOT NULL,"
        " offset INTEGER NOT NULL, length INTEGER NOT NULL, record_id TEXT, digest TEXT, date TEXT);"
    )
    keys = [p.relative_to(override_archive).as_posix() for p in override_archive.rglob("*.cdxj")]
    conn.executemany("INSERT INTO ingested VALUES (?, 'cdxj')", [(k,) for k in keys])
    conn.commit()
    conn.close()
    with Catalog.open(override_archive) as catalog:
        assert catalog.refresh() == 0  # rebuilt when opened
        assert catalog.archived_path("jiji", "/a/2?p=1")


def test_verify_ignores_the_catalog_file(archive: Path) -> None:
    with Catalog.open(archive) as catalog:
        catalog.refresh()
    report = verify_archive(archive)
    assert report.ok, report.problems


def killed_run(tmp_path: Path) -> tuple[Path, list[str]]:
    """An archive as a SIGKILL leaves it: r1 finished; r9's WARC and JSONL still `.open`, the WARC with a
    torn record at its end, the JSONL holding only the first of three rows."""
    root = tmp_path / "crashed"
    scratch = tmp_path / "scratch"
    shutil.copytree(_finished(tmp_path), root)
    writer = WarcWriter(scratch, warcinfo={"isPartOf": "r9"})
    rows = JsonlPartitionWriter(scratch, "r9")
    kept_article(writer, rows, "/b/1", "r9")
    kept_article(writer, None, "/b/2", "r9")  # row still in the write buffer at the kill
    kept_article(writer, None, "/b/3", "r9")
    writer.write_exchange(exchange("/b/4"))  # captured, not yet extracted
    open_warc = writer.current_path
    assert open_warc is not None
    rows_open = next(scratch.rglob("*.jsonl.gz.open"))
    for partition in rows._open.values():
        partition.gz.flush()  # a sync flush: the first row's compressed bytes reach the file, as a buffer would
    # Copy the files as the dead process left them: it never closed them.
    copies = []
    for src in (open_warc, rows_open):
        dst = root / src.relative_to(scratch)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copies.append(dst)
    with copies[0].open("ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00torn")
    writer.close()
    rows.close()
    return root, [c.relative_to(root).as_posix() for c in copies]


def _finished(tmp_path: Path) -> Path:
    root = tmp_path / "base"
    with WarcWriter(root, warcinfo={"isPartOf": "r1"}) as writer:
        kept_article(writer, None, "/a/1", "r1")
    finished_run(root, "r1", [(p.relative_to(root).as_posix(), "warc") for p in writer.closed_files])
    return root


def test_recovery_salvages_the_rows_of_a_killed_run(tmp_path: Path) -> None:
    root, (open_warc, open_rows) = killed_run(tmp_path)
    assert dead_runs(root) == ["r9"]
    report = recover_root(root)
    assert report.repaired_warcs == [open_warc.removesuffix(".open")]
    assert report.removed_open_rows == [open_rows]
    assert report.salvaged_rows == 3
    assert not list(root.rglob("*.open"))
    rows = [row for p in iter_row_files(root) for row in read_rows(p)]
    assert sorted(r["url"] for r in rows) == [REAL + "/b/1", REAL + "/b/2", REAL + "/b/3"]
    assert all(r["run_id"] == "r9" for r in rows)
    report_v = verify_archive(root)  # every salvaged row's pointer reads back its response
    assert report_v.ok, report_v.problems
    assert report_v.articles == 3
    with Catalog.open(root) as catalog:
        catalog.refresh()
        assert all(catalog.archived(REAL + p) for p in ("/b/1", "/b/2", "/b/3"))
        assert not catalog.archived(SIM + "/b/4")  # lost between capture and extraction: fetch again
    # Idempotent: nothing left to repair, no row written twice.
    again = recover_root(root)
    assert again.repaired_warcs == [] and again.salvaged_rows == 0


def test_get_record_and_reindex_commands(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [row for p in iter_row_files(archive) for row in read_rows(p)]
    pointer = rows[0]["warc"]
    args = ["get-record", str(archive), "--file", pointer["path"], "--offset", str(pointer["offset"])]
    assert main([*args, "--length", str(pointer["length"])]) == 0
    out = capsys.readouterr().out
    assert "WARC-Type: response" in out and f"WARC-Record-ID: {pointer['record_id']}" in out
    assert "HTTP/1.1 200 OK" in out and f"WARC-Target-URI: {SIM}/a/1" in out
    # by file name alone, payload as stored
    assert (
        main(
            [
                "get-record",
                str(archive),
                "--file",
                pointer["filename"],
                "--offset",
                str(pointer["offset"]),
                "--payload",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("<html>/a/1 ")
    # a wrong offset is one clear line and exit 2
    assert main([*args[:-1], str(pointer["offset"] + 3)]) == 2
    err = capsys.readouterr().err
    assert "no readable record there" in err and "Traceback" not in err
    assert main(["get-record", str(archive), "--file", "nope.warc.gz", "--offset", "0"]) == 2
    assert "no such WARC file" in capsys.readouterr().err

    (archive / CATALOG_NAME).write_bytes(b"")  # damaged or stale: reindex rebuilds it
    assert main(["reindex", str(archive)]) == 0
    assert "1 article rows" in capsys.readouterr().out
    with Catalog.open(archive) as catalog:
        assert catalog.archived(REAL + "/a/1")
    assert main(["reindex", str(archive / "missing")]) == 2


def test_record_fsync_happens_before_the_location_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WARC_FSYNC="record": a record is reported archived only once it reached the disk."""
    import archive.warc_writer as warc_writer

    synced: list[int] = []
    real_fsync = warc_writer.os.fsync

    def fsync(fd: int) -> None:
        synced.append(warc_writer.os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(warc_writer.os, "fsync", fsync)
    with WarcWriter(tmp_path, fsync="record") as writer:
        for path in ("/a/1", "/a/2"):
            before = len(synced)
            loc = writer.write_exchange(exchange(path))
            # synced after the call, covering the whole record
            assert len(synced) == before + 1 and synced[-1] >= loc.offset + loc.length
        meta = writer.write_metadata(SIM + "/a/2", b"{}", refers_to=loc.record_id)
        assert synced[-1] >= meta.offset + meta.length
    with WarcWriter(tmp_path / "close", fsync="close") as lazy:
        before = len(synced)
        lazy.write_exchange(exchange("/a/3"))
        assert len(synced) == before  # only at close (and the catalog counts only closed files)

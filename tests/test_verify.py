"""verify_archive: a good archive passes; each kind of damage is reported naming the file."""

from __future__ import annotations

import gzip
import json
import shutil
import zlib
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.exchange import HttpExchange, RecordLocation
from archive.jsonl import JsonlPartitionWriter, encode_rows, encode_text, read_rows
from archive.run import RunLedger, new_run_id, software_versions, write_manifest
from archive.verify import verify_archive
from archive.warc_writer import WarcWriter

PAGE = "<html><body>" + "ロシアと北朝鮮の軍事協力について。" * 40 + "</body></html>"


def build_archive(root: Path) -> dict:
    run_id = new_run_id()
    ledger = RunLedger.for_run(root, run_id)
    writer = WarcWriter(root, on_close=lambda p: ledger.add_file(p.relative_to(root).as_posix(), "warc"))
    locations: list[RecordLocation] = []
    for i in range(3):
        locations.append(
            writer.write_exchange(
                HttpExchange(
                    url=f"http://127.0.0.1:8080/article/{i}?ref=feed",
                    method="GET",
                    request_headers=[("Accept-Encoding", "gzip")],
                    request_body=b"",
                    protocol="HTTP/1.1",
                    status=200,
                    response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                    body=gzip.compress(PAGE.encode("utf-8")),
                    ip_address="127.0.0.1",
                    fetched_at=datetime.now(UTC),
                )
            )
        )
    writer.close()
    articles = JsonlPartitionWriter(root, run_id)
    for i, loc in enumerate(locations):
        articles.write(
            {
                "url": f"https://www.jiji.com/article/{i}",
                "outlet": "jiji",
                "title": f"記事{i}",
                "published_at": "2026-11-28T10:00:00+09:00",
                "text": PAGE,
                "warc": asdict(loc),
            }
        )
    for rel in articles.close():
        ledger.add_file(rel, "articles")
    write_manifest(
        root,
        run_id,
        files=ledger.files(),
        counts={"articles": 3},
        config={},
        versions=software_versions(),
        started_at="",
        finished_at="",
        errors={},
        previous_run_id=None,
    )
    (jsonl,) = [rel for rel, kind in ledger.files() if kind == "articles"]
    return {"run_id": run_id, "locations": locations, "warc": root / locations[0].path, "jsonl": root / jsonl}


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "root"
    return root, build_archive(root)


def only_problem(root: Path) -> str:
    report = verify_archive(root)
    assert not report.ok
    assert len(report.problems) >= 1
    return "\n".join(report.problems)


def test_good_archive_verifies(archive: tuple[Path, dict]) -> None:
    root, _ = archive
    seen: list[str] = []
    report = verify_archive(root, progress=seen.append)
    assert report.ok, report.problems
    assert report.counts == {"warc_files": 1, "records": 7, "articles": 3, "manifests": 1}
    assert len(seen) == 3


def test_flipped_byte_in_compressed_payload_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    loc = info["locations"][1]
    data = bytearray(info["warc"].read_bytes())
    data[loc.offset + loc.length - 40] ^= 0x55  # inside the deflate stream of the response payload
    info["warc"].write_bytes(bytes(data))
    problems = only_problem(root)
    assert info["warc"].name in problems


def test_payload_digest_mismatch_is_reported(archive: tuple[Path, dict]) -> None:
    """A valid gzip member whose payload changed: only the WARC digests can tell."""
    root, info = archive
    loc = info["locations"][2]
    data = info["warc"].read_bytes()
    record = zlib.decompress(data[loc.offset : loc.offset + loc.length], zlib.MAX_WBITS + 16)
    head, sep, payload = record.partition(b"\r\n\r\nHTTP/1.1")
    http_head, sep2, body = payload.partition(b"\r\n\r\n")
    flipped = bytearray(body)
    flipped[20] ^= 0x01
    tampered = gzip.compress(head + sep + http_head + sep2 + bytes(flipped))
    info["warc"].write_bytes(data[: loc.offset] + tampered + data[loc.offset + loc.length :])
    problems = only_problem(root)
    assert f"{info['warc'].name}: offset {loc.offset}" in problems
    assert "Digest mismatch" in problems


def test_truncated_warc_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    data = info["warc"].read_bytes()
    info["warc"].write_bytes(data + data[:30])  # a partial member after the last record
    problems = only_problem(root)
    assert info["warc"].name in problems and "after the last complete record" in problems


def test_wrong_pointer_in_jsonl_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    rows = list(read_rows(info["jsonl"]))
    rows[0]["warc"]["offset"] = rows[1]["warc"]["offset"] - 1
    rows[2]["warc"]["record_id"] = rows[1]["warc"]["record_id"]
    info["jsonl"].write_bytes(encode_rows(rows))
    report = verify_archive(root)
    rel = info["jsonl"].relative_to(root).as_posix()
    assert any(p.startswith(f"{rel}:1: ") and "does not read back" in p for p in report.problems)
    assert any(p.startswith(f"{rel}:3: ") and "record id" in p for p in report.problems)
    assert not any(p.startswith(f"{rel}:2: ") for p in report.problems)


def test_missing_fields_and_bad_json_are_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    rows = list(read_rows(info["jsonl"]))
    del rows[0]["title"]
    del rows[1]["warc"]["length"]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "{not json\n"
    info["jsonl"].write_bytes(encode_text(text))
    problems = only_problem(root)
    assert "jsonl.gz:1: missing fields: title" in problems
    assert "jsonl.gz:2: missing fields: warc.length" in problems
    assert "jsonl.gz:4: not valid JSON" in problems


def test_damaged_gzip_of_an_article_file_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    data = bytearray(info["jsonl"].read_bytes())
    data[-6] ^= 0xFF  # in the gzip trailer's CRC-32: the member no longer checks
    info["jsonl"].write_bytes(bytes(data))
    rel = info["jsonl"].relative_to(root).as_posix()
    problems = only_problem(root)
    assert f"{rel}: unreadable (BadGzipFile" in problems
    info["jsonl"].write_bytes(bytes(data[: len(data) // 2]))  # truncated mid-stream
    assert f"{rel}: unreadable (EOFError" in only_problem(root)


def test_plain_jsonl_of_an_older_archive_is_still_verified(archive: tuple[Path, dict]) -> None:
    root, info = archive
    rows = list(read_rows(info["jsonl"]))
    rows[2]["warc"]["record_id"] = rows[1]["warc"]["record_id"]
    plain = info["jsonl"].with_name(info["jsonl"].name.removesuffix(".gz"))
    plain.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report = verify_archive(root)
    assert report.articles == 6  # both files read
    rel = plain.relative_to(root).as_posix()
    about_plain = [p for p in report.problems if p.startswith(f"{rel}:")]
    assert len(about_plain) == 1 and about_plain[0].startswith(f"{rel}:3: ") and "record id" in about_plain[0]


def test_wrong_sha256_in_manifest_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    manifest_path = root / "runs" / info["run_id"] / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][0]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    problems = only_problem(root)
    assert f"runs/{info['run_id']}/manifest.json: {manifest['files'][0]['path']}: sha256" in problems


def test_leftover_open_file_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    leftover = info["warc"].with_name("crashed.warc.gz.open")
    shutil.copy(info["warc"], leftover)
    problems = only_problem(root)
    assert "crashed.warc.gz.open: leftover .open file" in problems


def test_missing_listed_file_is_reported(archive: tuple[Path, dict]) -> None:
    root, info = archive
    info["jsonl"].unlink()
    problems = only_problem(root)
    assert f"{info['jsonl'].relative_to(root).as_posix()}: listed but missing" in problems

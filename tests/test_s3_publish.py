"""Publishing a run to a real S3 endpoint (moto over HTTP on 127.0.0.1) and verifying it there."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from archive.jsonl import encode_rows, encode_text, read_rows
from archive.publish import latest_published_run_id, pending_runs, publish_run, queue_path
from archive.s3_client import ClientOptions
from archive.s3store import S3Store
from archive.verify import verify_archive
from tests.s3server import (
    FaultProxy,
    S3Env,
    build_run,
    object_key,
    op_name,
)

pytest_plugins = ["tests.s3server"]  # the moto server and the s3 fixture

MIB = 1 << 20


def test_publish_small_run_in_order_and_verify_on_s3(s3: S3Env, tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging")
    with FaultProxy(s3.endpoint) as proxy:
        store = S3Store.from_url(s3.url(), client=ClientOptions(endpoint_url=proxy.endpoint))
        seen: list[str] = []
        report = publish_run(run.root, run.run_id, store, progress=seen.append)
        writes = [object_key(r, s3.bucket) for r in proxy.requests() if op_name(r) == "PutObject"]
    assert report.ok, report.problems()
    assert not report.warnings  # moto honours If-None-Match
    manifest_key = f"runs/{run.run_id}/manifest.json"
    expected = set(run.keys()) | {manifest_key}
    assert set(report.uploaded) == expected and len(seen) == len(expected)
    # The order a consumer can rely on: WARC, JSONL, Parquet, schema, manifest last.
    writes = [w.removeprefix("archive/") for w in writes if ".newsarchive-probe" not in w]
    assert writes[-1] == manifest_key
    assert writes.index(run.keys("warc")[0]) < min(writes.index(k) for k in run.keys("articles"))
    assert max(writes.index(k) for k in run.keys("articles")) < min(
        writes.index(k) for k in run.keys("parquet")
    )
    stored = s3.keys("archive/")
    assert set(stored) == {f"archive/{k}" for k in expected}
    for key in expected:
        assert stored[f"archive/{key}"] == (run.root / key).read_bytes()
    head = s3.client.head_object(Bucket=s3.bucket, Key=f"archive/{run.keys('warc')[0]}")
    assert head["ContentType"] == "application/warc" and "ContentEncoding" not in head
    # Article files are .gz objects, not a transfer encoding: a client must get the stored gzip bytes.
    rows_key = run.keys("articles")[0]
    assert rows_key.endswith(".jsonl.gz")
    head = s3.client.head_object(Bucket=s3.bucket, Key=f"archive/{rows_key}")
    assert head["ContentType"] == "application/gzip" and "ContentEncoding" not in head
    assert stored[f"archive/{rows_key}"][:2] == b"\x1f\x8b"
    assert not queue_path(run.root, run.run_id).exists()
    # verify over S3, configured only by the standard AWS environment variables
    result = verify_archive(s3.url())
    assert result.ok, result.problems
    assert result.counts == {"warc_files": 1, "records": 7, "articles": 3, "manifests": 1}
    assert latest_published_run_id(store) == run.run_id


def test_multipart_warc_over_the_threshold(s3: S3Env, tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging", big_payload=12 * MIB)
    warc = run.keys("warc")[0]
    assert (run.root / warc).stat().st_size > 12 * MIB
    with FaultProxy(s3.endpoint) as proxy:
        store = S3Store.from_url(
            s3.url(),
            client=ClientOptions(endpoint_url=proxy.endpoint),
            multipart_threshold=5 * MIB,
            part_size=5 * MIB,
        )
        report = publish_run(run.root, run.run_id, store)
        ops = [op_name(r) for r in proxy.requests() if object_key(r, s3.bucket) == f"archive/{warc}"]
    assert report.ok, report.problems()
    assert ops.count("UploadPart") == 3 and ops.count("CompleteMultipartUpload") == 1
    head = s3.client.head_object(Bucket=s3.bucket, Key=f"archive/{warc}")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == (run.root / warc).stat().st_size
    assert s3.incomplete_uploads() == []
    result = verify_archive(store)
    assert result.ok, result.problems


def test_failing_store_retries_without_partial_or_duplicate_objects(s3: S3Env, tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging", big_payload=11 * MIB)
    counts: dict[str, int] = {}

    def flaky(seen) -> str:  # type: ignore[no-untyped-def]
        op = op_name(seen)
        counts[op] = counts.get(op, 0) + 1
        n = counts[op]
        if op == "UploadPart":
            return {1: "503", 2: "drop", 4: "500"}.get(n, "pass")
        if op == "CompleteMultipartUpload" and n == 1:
            return "drop-after"  # completed in the store, the answer lost: the retry must not fail
        if op == "PutObject":
            return {2: "503", 4: "drop-after", 6: "drop", 7: "500"}.get(n, "pass")
        if op == "HeadObject" and n == 2:
            return "503"
        return "pass"

    with FaultProxy(s3.endpoint, rule=flaky) as proxy:
        store = S3Store.from_url(
            s3.url(),
            client=ClientOptions(endpoint_url=proxy.endpoint),
            multipart_threshold=5 * MIB,
            part_size=5 * MIB,
        )
        store.retry.base_delay = 0.01
        report = publish_run(run.root, run.run_id, store)
        injected = [r for r in proxy.requests() if r.action != "pass"]
    assert report.ok, report.problems()
    assert {r.action for r in injected} == {"503", "500", "drop", "drop-after"}
    assert s3.incomplete_uploads() == []
    stored = s3.keys("archive/")
    expected = set(run.keys()) | {f"runs/{run.run_id}/manifest.json"}
    assert set(stored) == {f"archive/{k}" for k in expected}  # nothing extra, nothing missing
    for key in expected:
        assert stored[f"archive/{key}"] == (run.root / key).read_bytes()
    assert verify_archive(store).ok


def test_refuses_to_overwrite_and_reports_it(s3: S3Env, tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging")
    store = S3Store.from_url(s3.url())
    assert publish_run(run.root, run.run_id, store).ok
    # The same run published again from a copy where one JSONL file changed afterwards.
    changed = run.keys("articles")[0]
    original = (run.root / changed).read_bytes()
    rows = list(read_rows(original))
    rows[0]["title"] = "書き換えられた見出し"
    (run.root / changed).write_bytes(encode_rows(rows))
    manifest_path = run.root / f"runs/{run.run_id}/manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    import hashlib

    for entry in manifest["files"]:
        if entry["path"] == changed:
            data = (run.root / changed).read_bytes()
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    old_manifest = s3.client.get_object(Bucket=s3.bucket, Key=f"archive/runs/{run.run_id}/manifest.json")[
        "Body"
    ].read()

    report = publish_run(run.root, run.run_id, store)
    assert not report.ok and report.refused == [changed]
    assert (
        f"{changed}: exists in {store.url} with different content; refused to overwrite" in report.problems()
    )
    assert run.keys("warc")[0] in report.already_present  # identical objects are fine
    assert not report.manifest_published
    assert s3.client.get_object(Bucket=s3.bucket, Key=f"archive/{changed}")["Body"].read() == original
    assert (
        s3.client.get_object(Bucket=s3.bucket, Key=f"archive/runs/{run.run_id}/manifest.json")["Body"].read()
        == old_manifest
    )
    assert pending_runs(run.root) == [run.run_id]  # stays queued, reported again next time
    queued = json.loads(queue_path(run.root, run.run_id).read_text("utf-8"))
    assert [e["state"] for e in queued["entries"] if e["key"] == changed] == ["refused"]


def test_store_ignoring_if_none_match_is_detected_once(
    s3: S3Env, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = build_run(tmp_path / "a")
    second = build_run(tmp_path / "b")
    with FaultProxy(s3.endpoint, rule=lambda _seen: "strip-if-none-match") as proxy:
        store = S3Store.from_url(s3.url(), client=ClientOptions(endpoint_url=proxy.endpoint))
        with caplog.at_level(logging.WARNING, logger="archive.s3store"):
            r1 = publish_run(first.root, first.run_id, store)
            r2 = publish_run(second.root, second.run_id, store)
        assert r1.ok and r2.ok
        assert store.conditional_writes is False
        warnings = [r for r in caplog.records if "ignores If-None-Match" in r.getMessage()]
        assert len(warnings) == 1 and len(r1.warnings) == 1
        # Still no overwrite: the fallback checks with HEAD before writing.
        (first.root / "runs" / first.run_id / "manifest.json").unlink()
        victim = first.keys("articles")[0]
        (first.root / victim).write_bytes(encode_text('{"changed": true}\n'))
        from archive.storage import ObjectExistsError

        with pytest.raises(ObjectExistsError):
            store.put_file(
                victim, first.root / victim, sha256="0" * 64, size=(first.root / victim).stat().st_size
            )
    stored = s3.client.get_object(Bucket=s3.bucket, Key=f"archive/{victim}")["Body"].read()
    assert all("changed" not in row for row in read_rows(stored))


def test_verify_catches_a_flipped_byte_on_s3(s3: S3Env, tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging")
    store = S3Store.from_url(s3.url())
    assert publish_run(run.root, run.run_id, store).ok
    warc = run.keys("warc")[0]
    loc = run.locations[1]
    data = bytearray((run.root / warc).read_bytes())
    data[loc.offset + loc.length // 2] ^= 0xFF
    s3.client.put_object(Bucket=s3.bucket, Key=f"archive/{warc}", Body=bytes(data))  # behind our back
    report = verify_archive(s3.url())
    assert not report.ok
    text = "\n".join(report.problems)
    assert f"runs/{run.run_id}/manifest.json: {warc}: sha256 differs from the manifest" in text
    assert f"warc pointer {warc} @ {loc.offset}: does not read back" in text


def test_no_secret_in_logs_manifest_or_objects(
    s3: S3Env, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = build_run(tmp_path / "staging")
    with caplog.at_level(logging.DEBUG):
        store = S3Store.from_url(s3.url())
        report = publish_run(run.root, run.run_id, store)
        result = verify_archive(store)
    assert report.ok and result.ok
    assert any(r.name.startswith("botocore") for r in caplog.records)  # its DEBUG log was captured
    assert s3.secret not in caplog.text
    assert s3.secret not in repr(store.__dict__) and s3.secret not in store.url
    stored = s3.keys()
    assert stored
    for key, body in stored.items():
        assert s3.secret.encode() not in body, key
    for path in run.root.rglob("*"):
        if path.is_file():
            assert s3.secret.encode() not in path.read_bytes(), path

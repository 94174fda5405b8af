"""The local store, key sanitising, and publishing to a second local folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archive.keys import UnsafeKeyError, check_key, join_key, key_for_url, sanitize_component
from archive.publish import publish_run, upload_rank
from archive.storage import LocalFileChangedError, LocalStore, ObjectExistsError
from archive.stores import open_store
from archive.verify import verify_archive
from core.items import SCHEMA_VERSION
from tests.s3server import build_run


@pytest.mark.parametrize(
    "key",
    ["", "/abs/x", "a/../b", "a/./b", "a//b", "..", "a\\b", "a/b\x00c", "a/\nb", "x" * 256, "a/" * 600],
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(UnsafeKeyError):
        check_key(key)


def test_keys_join_under_a_prefix() -> None:
    assert join_key("archive/", "warc/a.warc.gz") == "archive/warc/a.warc.gz"
    assert join_key("", "runs/r/manifest.json") == "runs/r/manifest.json"
    with pytest.raises(UnsafeKeyError):
        join_key("p", "../escape")


@pytest.mark.parametrize(
    "text",
    ["../../etc/passwd", "a/b\\c", "\x00\x1f\x7f", "..", ".", "", "露朝 記事?x=1&y=..", "é" * 500],
)
def test_sanitized_components_are_always_valid_keys(text: str) -> None:
    part = sanitize_component(text)
    assert check_key(part) == part
    assert "/" not in part and ".." not in part and len(part.encode()) <= 200


def test_long_components_stay_distinct() -> None:
    a, b = sanitize_component("x" * 400 + "a"), sanitize_component("x" * 400 + "b")
    assert a != b and len(a.encode()) <= 200


def test_key_for_url_is_bounded_and_safe() -> None:
    key = key_for_url("https://WWW.Jiji.com/jc/../article?k=2025&g=" + "%2F" * 500)
    assert key.startswith("www.jiji.com/") and check_key(key) == key and ".." not in key


def test_local_store_never_overwrites(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    sha = hashlib.sha256(b"abc").hexdigest()
    store = LocalStore(tmp_path / "dest")
    assert store.put_file("a/b.bin", src, sha256=sha, size=3).sha256 == sha
    assert store.put_file("a/b.bin", src, sha256=sha, size=3).verified_by == "already-present"
    other = tmp_path / "other.bin"
    other.write_bytes(b"xyz")
    with pytest.raises(ObjectExistsError):
        store.put_file("a/b.bin", other, sha256=hashlib.sha256(b"xyz").hexdigest(), size=3)
    assert (tmp_path / "dest" / "a" / "b.bin").read_bytes() == b"abc"
    src.write_bytes(b"abd")
    with pytest.raises(LocalFileChangedError):
        store.put_file("a/c.bin", src, sha256=sha, size=3)
    assert not (tmp_path / "dest" / "a" / "c.bin").exists()
    assert [p.name for p in (tmp_path / "dest" / "a").iterdir()] == ["b.bin"]  # no temporary left
    assert store.read_range("a/b.bin", 1, 2) == b"bc"
    assert isinstance(open_store(tmp_path / "dest"), LocalStore)


def test_publish_to_a_local_store_then_verify_it(tmp_path: Path) -> None:
    run = build_run(tmp_path / "staging")
    dest = LocalStore(tmp_path / "published")
    report = publish_run(run.root, run.run_id, dest)
    assert report.ok, report.problems()
    ranks = [upload_rank(k) for k in report.uploaded]
    assert ranks == sorted(ranks) and report.uploaded[-1] == f"runs/{run.run_id}/manifest.json"
    result = verify_archive(tmp_path / "published")
    assert result.ok and not result.warnings, (result.problems, result.warnings)
    # publishing again finds everything already there (same bytes): nothing is written twice
    again = build_run(tmp_path / "other")
    assert publish_run(again.root, again.run_id, dest).already_present == [
        f"schema/article-{SCHEMA_VERSION}.json"
    ]


def test_an_invalid_warc_is_never_published(tmp_path: Path) -> None:
    import json

    run = build_run(tmp_path / "staging")
    warc_key = run.keys("warc")[0]
    path = run.root / warc_key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # damaged before the manifest was written: sizes and sha256 agree
    path.write_bytes(bytes(data))
    manifest_path = run.root / f"runs/{run.run_id}/manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    for entry in manifest["files"]:
        if entry["path"] == warc_key:
            entry["size"] = len(data)
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest), "utf-8")

    dest = LocalStore(tmp_path / "published")
    report = publish_run(run.root, run.run_id, dest)
    assert not report.ok
    assert "invalid WARC" in report.failed[warc_key]
    published = {
        p.relative_to(tmp_path / "published").as_posix() for p in (tmp_path / "published").rglob("*")
    }
    assert warc_key not in published
    assert not any(p.startswith(("runs/", "articles/")) for p in published)

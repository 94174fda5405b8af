"""WACZ bundles (archive.wacz_export): `wacz validate` accepts them, pywb (`--unpack-wacz`) replays every
article in them, pages.jsonl holds our own titles and text, every digest matches, the index points into
the bundled WARC, memory stays flat on a large selection, a failed write leaves no bundle, and an s3://
archive gives the same bundle through ranged GETs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator

from archive import wacz_package
from archive.jsonl import read_rows
from archive.readback import read_record
from archive.s3store import S3Store
from archive.storage import LocalStore
from archive.wacz_export import WaczResult, WaczSourceError, write_wacz
from archive.warc_records import warc_target_uri
from tests.s3server import S3Env
from tests.wacz_helpers import (
    PYWB_BIN,
    WACZ_BIN,
    fetch,
    members,
    pywb_serving,
    synthetic_archive,
    wacz_validate,
)

pytest_plugins = ["tests.s3server"]

MANIFEST = {"kind": "export", "filters": {"topics": ["russia-dprk"]}, "note": "露朝"}
needs_wacz = pytest.mark.skipif(
    not (WACZ_BIN / "wacz").exists(),
    reason=f"py-wacz is not installed in {WACZ_BIN.parent} (`make wacz-venv`)",
)
needs_pywb = pytest.mark.skipif(
    not (PYWB_BIN / "wayback").exists(),
    reason=f"pywb is not installed in {PYWB_BIN.parent} (`make pywb-venv`)",
)


def archive_rows(root: Path) -> list[dict[str, Any]]:
    return [row for path in sorted((root / "articles").rglob("*.jsonl.gz")) for row in read_rows(path)]


@pytest.fixture(scope="module")
def demo(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[dict[str, Any]], WaczResult]:
    root, proc = demo_archive
    assert proc.returncode == 0, proc.stderr
    rows = archive_rows(root)
    assert len(rows) >= 10
    seen: list[int] = []
    out = tmp_path_factory.mktemp("wacz") / "demo.wacz"
    result = write_wacz(
        rows, LocalStore(root), out, manifest=MANIFEST, progress=seen.append, readme="# 読み方\n"
    )
    assert seen == list(range(1, len(rows) + 1))
    return root, rows, result


@pytest.fixture(scope="module")
def revisits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], WaczResult]:
    """Two articles, the first fetched again under another URL and written as a revisit of the first."""
    root = tmp_path_factory.mktemp("revisit-archive")
    bodies = [
        ("<html><body>" + f"記事{i}：ロシアと北朝鮮～" * 30 + "</body></html>").encode() for i in range(2)
    ]
    rows = synthetic_archive(root, bodies, repeat_first_as="http://127.0.0.1:9/m/articles/0.html")
    out = tmp_path_factory.mktemp("wacz") / "revisits.wacz"
    return root, rows, write_wacz(rows, LocalStore(root), out, manifest=MANIFEST)


def bundled_records(bundle: Path) -> list[Any]:
    data = members(bundle)[wacz_package.WARC_MEMBER]
    return [
        (r.rec_type, dict(r.rec_headers.headers), r.content_stream().read())
        for r in ArchiveIterator(io.BytesIO(data))
    ]


def pages_of(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in members(bundle)[wacz_package.PAGES_MEMBER].decode().splitlines()]


@needs_wacz
def test_wacz_validate_accepts_the_bundles_and_refuses_a_tampered_one(
    demo: Any, revisits: Any, tmp_path: Path
) -> None:
    for _, _, result in (demo, revisits):
        proc = wacz_validate(result.path)
        assert proc.returncode == 0 and "is valid" in proc.stdout, proc.stdout + proc.stderr
    # The validator really checks digests: one changed character in pages.jsonl fails it.
    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(demo[2].path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == wacz_package.PAGES_MEMBER:
                data = data.replace("ロシア".encode(), "ロシヤ".encode(), 1)
            dst.writestr(info, data)
    assert wacz_validate(tampered).returncode != 0


@needs_pywb
def test_pywb_replays_every_article_of_the_bundles(demo: Any, revisits: Any, tmp_path: Path) -> None:
    bundles = {"demo": demo, "revisits": revisits}
    with pywb_serving({name: b[2].path for name, b in bundles.items()}, tmp_path / "pywb") as base:
        for coll, (root, rows, result) in bundles.items():
            pages = pages_of(result.path)[1:]
            assert len(pages) == len(rows)
            for page, row in zip(pages, rows, strict=True):
                pointer = row["warc"]
                original = read_record(root / pointer["path"], pointer["offset"], pointer["length"]).payload
                ts = "".join(ch for ch in page["ts"] if ch.isdigit())[:14]
                status, headers, body = fetch(f"{base}/{coll}/{ts}id_/{page['url']}")
                assert status == 200, (coll, page["url"], body[:300])
                if headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                assert body == original, (coll, page["url"])
    # The article fetched again under another URL replays at that URL, through its revisit record.
    assert pages_of(revisits[2].path)[3]["url"] == "http://127.0.0.1:9/m/articles/0.html"


def test_pages_jsonl_holds_our_titles_and_text(demo: Any) -> None:
    _, rows, result = demo
    raw = members(result.path)[wacz_package.PAGES_MEMBER]
    header, *pages = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert header == wacz_package.PAGES_HEADER
    assert len(pages) == len(rows) == result.articles
    assert len({p["id"] for p in pages}) == len(pages)
    for page, row in zip(pages, rows, strict=True):
        assert (page["title"], page["text"]) == (row["title"], row["text"])
        assert page["title"].encode("utf-8") in raw  # written as UTF-8, not as \u escapes
        assert page["url"] == warc_target_uri(row["fetched_url"]) and page["canonical_url"] == row["url"]
        assert page["ts"] == row["warc"]["date"] and page["ts"].endswith("Z")
    assert any("北朝鮮" in p["text"] for p in pages)


def test_datapackage_lists_every_member_with_its_digest(demo: Any) -> None:
    _, _, result = demo
    found = members(result.path)
    package = json.loads(found["datapackage.json"])
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    assert package["software"].startswith("newsarchive ") and package["created"].endswith("Z")
    listed = {res["path"]: res for res in package["resources"]}
    assert set(listed) == set(found) - {"datapackage.json", "datapackage-digest.json"}
    for path, res in listed.items():
        assert res["hash"] == "sha256:" + hashlib.sha256(found[path]).hexdigest(), path
        assert res["bytes"] == len(found[path]) and res["name"] == Path(path).name.lower()
    digest = json.loads(found["datapackage-digest.json"])
    assert digest == {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(found["datapackage.json"]).hexdigest(),
    }
    assert json.loads(found["newsarchive/manifest.json"]) == MANIFEST
    assert found["newsarchive/README.md"].decode() == "# 読み方\n"
    with zipfile.ZipFile(result.path) as zf:
        assert zf.getinfo(wacz_package.WARC_MEMBER).compress_type == zipfile.ZIP_STORED
    whole = result.path.read_bytes()
    assert (result.size, result.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert result.resources == package["resources"] and result.warnings == []


def test_index_points_into_the_bundled_warc(demo: Any, revisits: Any, tmp_path: Path) -> None:
    for name, (_, rows, result) in {"demo": demo, "revisits": revisits}.items():
        found = members(result.path)
        warc = tmp_path / name / "data.warc.gz"
        warc.parent.mkdir()
        warc.write_bytes(found[wacz_package.WARC_MEMBER])
        expected = io.StringIO()
        fields = "warc-record-id,warc-date,warc-truncated"
        CDXJIndexer(expected, [str(warc)], sort=True, fields=fields).process_all()
        index = found[wacz_package.INDEX_MEMBER].decode()
        assert index == expected.getvalue()  # byte for byte what cdxj-indexer says of the bundled WARC
        for line in index.splitlines():
            entry = json.loads(line.split(" ", 2)[2])
            record = read_record(warc, int(entry["offset"]), int(entry["length"]))
            assert record.record_id == entry["warc-record-id"]
        records = bundled_records(result.path)
        ids = [h["WARC-Record-ID"] for _, h, _ in records]
        assert len(ids) == len(set(ids)) == result.records
        by_id = {h["WARC-Record-ID"]: (t, h) for t, h, _ in records}
        for row in rows:  # each article: its response, the request sent for it, its metadata record
            response_id = row["warc"]["record_id"]
            assert by_id[response_id][0] == "response"
            assert any(
                t == "request" and h.get("WARC-Concurrent-To") == response_id for t, h in by_id.values()
            )
            assert any(t == "metadata" and h.get("WARC-Refers-To") == response_id for t, h in by_id.values())
    kinds = [t for t, _, _ in bundled_records(revisits[2].path)]
    assert kinds.count("revisit") == 1 and kinds.count("request") == 3 and kinds.count("metadata") == 3


def test_memory_stays_flat_on_a_large_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "archive"
    rows = synthetic_archive(root, [os.urandom(3 << 19) for _ in range(20)])  # 30 MiB of payloads
    monkeypatch.setattr(wacz_package, "SORT_RUN_LINES", 7)  # the index is sorted in spilled runs
    tracemalloc.start()
    try:
        result = write_wacz(rows * 3, LocalStore(root), tmp_path / "big.wacz", manifest=MANIFEST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.warc_bytes > 30 << 20 and result.records == 60 and result.articles == 60
    # Measured: ~2 MiB (the 1 MiB copy chunks) for a 30 MiB bundle; it does not grow with the bundle.
    assert peak < min(8 << 20, result.size // 8), f"peak {peak} bytes for a {result.size}-byte bundle"
    index = members(result.path)[wacz_package.INDEX_MEMBER].decode().splitlines()
    assert index == sorted(set(index)) and len(index) == 40  # responses and metadata records, once each


def test_a_failed_write_leaves_no_bundle(demo: Any, tmp_path: Path) -> None:
    root, rows, _ = demo
    out = tmp_path / "out.wacz"
    out.write_bytes(b"an earlier bundle")

    def failing() -> Iterator[dict[str, Any]]:
        yield rows[0]
        raise RuntimeError("selection broke")

    with pytest.raises(RuntimeError):
        write_wacz(failing(), LocalStore(root), out, manifest=MANIFEST)
    bad = dict(rows[1], warc=dict(rows[1]["warc"], offset=rows[1]["warc"]["offset"] + 1))
    with pytest.raises(WaczSourceError, match=r"no WARC record at offset"):
        write_wacz([rows[0], bad], LocalStore(root), out, manifest=MANIFEST)
    assert out.read_bytes() == b"an earlier bundle"  # untouched; nothing beside it either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wacz"]


def test_an_s3_archive_gives_the_same_bundle_through_ranged_gets(
    demo: Any, s3: S3Env, tmp_path: Path
) -> None:
    root, rows, local = demo
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_file() and key.split("/")[0] in ("warc", "articles", "runs"):
            s3.client.upload_file(str(path), s3.bucket, f"archive/{key}")
    store = S3Store.from_url(s3.url())
    gets: list[tuple[str, str | None]] = []  # (URL, Range header) of every GET the export sends

    def seen(request: Any, **_: Any) -> None:
        gets.append((request.url, request.headers.get("Range")))

    store.client.meta.events.register("before-send.s3.GetObject", seen)
    result = write_wacz(rows, store, tmp_path / "s3.wacz", manifest=MANIFEST)
    assert any(url.endswith(".warc.gz") for url, _ in gets)
    whole_warc_gets = [url for url, rng in gets if url.endswith(".warc.gz") and rng is None]
    assert whole_warc_gets == []
    ours, theirs = members(result.path), members(local.path)
    for name in (wacz_package.WARC_MEMBER, wacz_package.INDEX_MEMBER, wacz_package.PAGES_MEMBER):
        assert ours[name] == theirs[name], name

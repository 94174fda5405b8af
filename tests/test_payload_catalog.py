"""Payload dedup over earlier runs answered on disk from the catalog (archive.dedup.PayloadIndex with
archive.catalog_payloads): a new process finds the origin of a repeated payload without reading every
CDXJ index into memory, with load_cdxj's rule for what an origin is, and its memory at start does not
grow with the number of archived records."""

from __future__ import annotations

import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.catalog import CATALOG_NAME
from archive.catalog_payloads import CatalogPayloads
from archive.cdxj import cdxj_line, write_cdxj_lines
from archive.dedup import PayloadIndex
from archive.exchange import RecordLocation
from archive.storage import LocalStore
from archive.warc_writer import WarcWriter
from bench.startup_scale import digest_of, url_of, write_synthetic_archive
from tests.warc_samples import HTML_JA, exchange

BODY = (HTML_JA * 10).encode("utf-8")
EARLY = datetime(2026, 11, 1, 5, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 11, 2, 5, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def no_load_cdxj(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: PayloadIndex, root: Path) -> int:
        raise AssertionError("start-up must not load the CDXJ indexes into memory")

    monkeypatch.setattr(PayloadIndex, "load_cdxj", refuse)


def earlier_run(root: Path) -> RecordLocation:
    writer = WarcWriter(root, dedup=PayloadIndex())
    original = writer.write_exchange(exchange("http://127.0.0.1:1/story", body=BODY, fetched_at=EARLY))
    writer.close()
    return original


def test_a_new_process_finds_earlier_origins_in_the_catalog(tmp_path: Path, no_load_cdxj: None) -> None:
    original = earlier_run(tmp_path)

    payloads = PayloadIndex()
    assert payloads.use_catalog(tmp_path) >= 1  # the earlier run's index, ingested once
    assert payloads._by_digest == {} and payloads._by_uri == {} and len(payloads) == 0
    assert payloads.use_catalog(tmp_path) == 0  # nothing new: a second start reads no index again

    later = WarcWriter(tmp_path, dedup=payloads)
    copy = later.capture(exchange("http://127.0.0.1:1/copy", body=BODY, fetched_at=LATER))
    not_modified = later.capture(exchange("http://127.0.0.1:1/story", status=304, body=b"", fetched_at=LATER))
    fresh_body = BODY + b"<!-- new -->"
    fresh = later.capture(exchange("http://127.0.0.1:1/fresh", body=fresh_body, fetched_at=LATER))
    fresh_again = later.capture(exchange("http://127.0.0.1:1/fresh2", body=fresh_body, fetched_at=LATER))
    later.close()
    payloads.close()

    assert copy.rec_type == "revisit" and copy.original == original  # every field, from the catalog
    assert not_modified.rec_type == "revisit" and not_modified.original == original
    assert fresh.rec_type == "response" and fresh_again.original == fresh.record
    # Only what this process wrote is held in memory.
    assert set(payloads._by_digest) == {fresh.record.payload_digest}


def test_the_capture_middleware_starts_from_the_catalog(tmp_path: Path, no_load_cdxj: None) -> None:
    from pipelines.warc import WarcCaptureMiddleware

    original = earlier_run(tmp_path)
    mw = WarcCaptureMiddleware(tmp_path)
    mw.recover()
    assert mw.payloads is not None and len(mw.payloads) == 0
    assert mw.payloads.original_for(original.payload_digest) == original
    assert (tmp_path / CATALOG_NAME).is_file()
    mw.spider_closed()


def _line(uri: str, date: str, digest: str | None, filename: str, n: int, **kw: object) -> str:
    line = cdxj_line(
        uri=uri,
        warc_date=date,
        offset=1000 * n,
        length=900,
        filename=filename,
        record_id=f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>",
        payload_digest=digest,
        **kw,  # type: ignore[arg-type]
    )
    assert line is not None
    return line


def test_origin_rule_is_load_cdxj_s(tmp_path: Path) -> None:
    """First complete capture by date is the origin whatever order the files are ingested in; truncated
    responses, revisits and metadata records never are; a URL's last capture is its latest response."""
    folder = tmp_path / "warc" / "2026" / "11" / "01"
    d1, d2 = "2026-11-01T00:00:00.000001Z", "2026-11-02T00:00:00.000001Z"
    a, b = "sha1:" + "A" * 32, "sha1:" + "B" * 32
    cut, rev, meta, other = ("sha1:" + c * 32 for c in "CDEF")
    late, early = folder / "a-later.warc.gz", folder / "b-earlier.warc.gz"  # the later file sorts first
    response = {"rec_type": "response", "status": 200, "http_content_type": "text/html"}
    write_cdxj_lines(
        late,
        [
            _line("http://x/copy", d2, a, late.name, 1, **response),
            _line("http://x/a", d2, other, late.name, 2, **response),
        ],
    )
    write_cdxj_lines(
        early,
        [
            _line("http://x/a", d1, a, early.name, 1, **response),
            _line("http://x/cut", d1, cut, early.name, 2, truncated="length", **response),
            _line("http://x/rev", d1, rev, early.name, 3, rec_type="revisit", status=200),
            _line(
                "urn:newsarchive:article:http://x/a",
                d1,
                meta,
                early.name,
                4,
                rec_type="metadata",
                warc_content_type="application/json",
            ),
            _line("http://x/b", d1, b, early.name, 5, **response),
        ],
    )
    payloads = PayloadIndex(min_size=128)
    payloads.use_catalog(tmp_path)
    origin = payloads.original_for(a)
    assert origin is not None and (origin.path, origin.date) == (f"warc/2026/11/01/{early.name}", d1)
    assert origin.target_uri == "http://x/a" and origin.offset == 1000 and origin.length == 900
    assert [payloads.original_for(d) for d in (cut, rev, meta)] == [None, None, None]
    last = payloads.last_capture_of("http://x/a")
    assert last is not None and (last.payload_digest, last.date) == (other, d2)
    assert payloads.last_capture_of("http://x/cut") is None
    assert not payloads.eligible(127) and payloads.eligible(128)
    payloads.close()


def test_lookups_from_another_thread(tmp_path: Path) -> None:
    original = earlier_run(tmp_path)
    payloads = PayloadIndex()
    payloads.use_catalog(tmp_path)
    writer = WarcWriter(tmp_path, dedup=payloads)
    with ThreadPoolExecutor(max_workers=1) as pool:
        copy = pool.submit(writer.capture, exchange("http://127.0.0.1:1/copy", body=BODY)).result()
    writer.close()
    payloads.close()
    assert copy.rec_type == "revisit" and copy.original == original


def test_an_s3_root_reads_published_runs_the_spool_has_shed(tmp_path: Path, no_load_cdxj: None) -> None:
    published = tmp_path / "bucket"
    original = earlier_run(published)
    spool = tmp_path / "spool"
    payloads = PayloadIndex()
    payloads.use_catalog(spool, LocalStore(published))
    assert (spool / CATALOG_NAME).is_file() and not (published / CATALOG_NAME).exists()
    assert payloads.original_for(original.payload_digest) == original
    payloads.close()


def _start_peak(root: Path, probes: int) -> int:
    """Peak bytes Python allocates while a PayloadIndex starts over `root` and answers a few lookups."""
    tracemalloc.start()
    try:
        payloads = PayloadIndex()
        payloads.use_catalog(root)
        for i in range(probes):
            payloads.original_for(digest_of(i))
            payloads.last_capture_of(url_of(i))
        payloads.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_at_start_does_not_grow_with_archived_records(tmp_path: Path) -> None:
    empty, large = tmp_path / "empty", tmp_path / "large"
    empty.mkdir()
    # 20,000 records, as a few runs would leave them: 5 index files of 4,000.
    write_synthetic_archive(large, 20_000, per_file=4_000, placeholders=False)
    for root in (empty, large):  # the one-time catalog build, not measured
        CatalogPayloads.open(root)[0].close()
    found = PayloadIndex()
    found.use_catalog(large)
    assert found.original_for(digest_of(12_345)) is not None and len(found) == 0
    found.close()

    peak_empty, peak_large = _start_peak(empty, 20), _start_peak(large, 20)
    # A few more files to list, nothing per record: load_cdxj held ~800 bytes per record (~16 MB here).
    assert peak_large < peak_empty * 1.2 + 64 * 1024, (peak_empty, peak_large)
    assert peak_large - peak_empty < 20_000 * 4, (peak_empty, peak_large)

"""WarcWriter revisits: a payload archived earlier in the run or in an earlier run (through the CDXJ
indexes), and 304 answers, become revisit records that point at the original."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive import warc_records
from archive.dedup import PayloadIndex
from archive.readback import read_record
from archive.warc_writer import WarcWriter
from tests.warc_samples import HTML_JA, exchange, records, warcio_check


def test_revisit_for_a_payload_archived_earlier_in_the_run(tmp_path: Path) -> None:
    payloads = PayloadIndex(min_size=128)
    writer = WarcWriter(tmp_path, dedup=payloads)
    # Random bytes keep the compressed payload above min_size.
    body = gzip.compress(HTML_JA.encode("utf-8") + os.urandom(300), mtime=0)
    headers = [("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("ETag", '"v1"')]
    first = writer.capture(exchange("http://127.0.0.1:1/a", body=body, response_headers=headers))
    again = writer.capture(
        exchange("http://127.0.0.1:1/a?utm=x", body=body, response_headers=[*headers, ("X-Again", "1")])
    )
    small_a = writer.capture(exchange("http://127.0.0.1:1/robots.txt", body=b"User-agent: *\n"))
    small_b = writer.capture(exchange("http://127.0.0.1:1/robots.txt", body=b"User-agent: *\n"))
    cut = writer.capture(exchange("http://127.0.0.1:1/cut", body=body[:200], truncated="length"))
    cut_again = writer.capture(exchange("http://127.0.0.1:1/cut2", body=body[:200]))
    path = writer.close()
    assert path is not None
    warcio_check(path)

    assert first.rec_type == "response" and first.original is None
    assert again.rec_type == "revisit" and again.original == first.record
    assert again.payload_source == first.record  # what an article pointer must use
    assert (small_a.rec_type, small_b.rec_type) == ("response", "response")  # under min_size
    assert cut.rec_type == "response" and cut_again.rec_type == "response"  # a cut body is no origin

    rec: dict[str, Any] = {r.rec_headers.get_header("WARC-Record-ID"): r for _, r in records(path)}  # type: ignore[attr-defined]
    revisit = rec[again.record.record_id]
    h = revisit.rec_headers
    assert revisit.rec_type == "revisit"
    assert h.get_header("WARC-Profile") == warc_records.PROFILE_IDENTICAL
    assert h.get_header("WARC-Refers-To") == first.record.record_id
    assert h.get_header("WARC-Refers-To-Target-URI") == "http://127.0.0.1:1/a"
    assert h.get_header("WARC-Refers-To-Date") == first.record.date
    assert h.get_header("WARC-Payload-Digest") == first.record.payload_digest == again.record.payload_digest
    assert revisit.http_headers.get_header("X-Again") == "1"  # this exchange's headers, kept
    assert revisit.http_headers.get_header("Content-Encoding") == "gzip"
    back = read_record(path, again.record.offset, again.record.length)
    assert back.rec_type == "revisit" and back.raw_payload == b""  # no payload stored twice
    assert read_record(path, first.record.offset, first.record.length).raw_payload == body
    assert rec[cut.record.record_id].rec_headers.get_header("WARC-Truncated") == "length"
    assert again.record.length < first.record.length


def test_revisit_across_runs_through_the_cdxj_indexes(tmp_path: Path) -> None:
    body = (HTML_JA * 10).encode("utf-8")
    earlier = WarcWriter(tmp_path, dedup=PayloadIndex())
    original = earlier.write_exchange(exchange("http://127.0.0.1:1/story", body=body))
    earlier.close()

    payloads = PayloadIndex()
    assert payloads.load_cdxj(tmp_path) == 1
    later = WarcWriter(tmp_path, dedup=payloads)
    result = later.capture(exchange("http://127.0.0.1:1/story", body=body))
    not_modified = later.capture(
        exchange("http://127.0.0.1:1/story", status=304, body=b"", response_headers=[("ETag", '"v1"')])
    )
    unknown_304 = later.capture(exchange("http://127.0.0.1:1/never-seen", status=304, body=b""))
    path = later.close()
    assert path is not None
    warcio_check(path)

    assert result.rec_type == "revisit" and result.original == original
    assert result.record.path != original.path  # the origin is in the earlier file
    back = read_record(tmp_path / original.path, original.offset, original.length)
    assert back.rec_type == "response" and back.payload == body

    assert not_modified.rec_type == "revisit" and not_modified.original == original
    rec = read_record(path, not_modified.record.offset, not_modified.record.length)
    assert rec.http_status == 304 and ("ETag", '"v1"') in rec.http_headers
    with path.open("rb") as fh:
        heads = {r.rec_headers.get_header("WARC-Record-ID"): r.rec_headers for r in ArchiveIterator(fh)}
    nm = heads[not_modified.record.record_id]
    assert nm.get_header("WARC-Profile") == warc_records.PROFILE_NOT_MODIFIED
    assert nm.get_header("WARC-Refers-To") == original.record_id
    assert nm.get_header("WARC-Refers-To-Date") == original.date
    assert unknown_304.rec_type == "revisit" and unknown_304.original is None
    assert heads[unknown_304.record.record_id].get_header("WARC-Refers-To") is None

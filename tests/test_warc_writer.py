"""WarcWriter: records as received, offsets that read back, rotation, atomic close, crash recovery."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive import warc_writer
from archive.cdxj import EXTRA_FIELDS, cdxj_path_for, index_missing
from archive.dedup import PayloadIndex
from archive.exchange import HttpExchange
from archive.readback import read_record
from archive.warc_writer import (
    FIDELITY_NOTE,
    WarcWriter,
    iter_gzip_members,
    metadata_target_uri,
    warc_target_uri,
)

BIN = Path(sys.executable).parent
HTML_JA = "<html><head><title>露朝の軍事協力</title></head><body>ロシアと北朝鮮～</body></html>"


def exchange(url: str, body: bytes = b"<html>ok</html>", **kw: object) -> HttpExchange:
    fields: dict = {
        "url": url,
        "method": "GET",
        "request_headers": [("User-Agent", "newsarchive-test"), ("Accept-Encoding", "gzip, deflate")],
        "request_body": b"",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_headers": [("Content-Type", "text/html; charset=utf-8")],
        "body": body,
        "ip_address": "127.0.0.1",
        "fetched_at": datetime(2026, 11, 28, 5, 15, 0, 123456, tzinfo=UTC),
    }
    fields.update(kw)
    return HttpExchange(**fields)


def sample_exchanges() -> list[HttpExchange]:
    return [
        exchange(
            "http://127.0.0.1:8080/gz",
            body=gzip.compress(HTML_JA.encode("utf-8")),
            response_headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Set-Cookie", "session=abc; Path=/"),
                ("Set-Cookie", "region=tokyo; Path=/"),
            ],
        ),
        exchange("http://127.0.0.1:8080/search?q=north+korea&page=2"),
        exchange("http://127.0.0.1:8080/記事/ロシア?q=北朝鮮"),
        exchange(
            "http://127.0.0.1:8080/sjis",
            body=HTML_JA.encode("cp932"),
            response_headers=[("Content-Type", "text/html; charset=Shift_JIS")],
        ),
        exchange(
            "http://127.0.0.1:8080/missing", status=404, body=b"not found", ip_address=None, protocol="h2"
        ),
    ]


def warcio_check(path: Path) -> str:
    result = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def records(path: Path) -> list[tuple[str, object]]:
    """(type, record) with digests checked while the content is read."""
    out = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            rec.content_stream().read()
            out.append((rec.rec_type, rec))
    return out


def test_records_as_received_and_readable(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, warcinfo={"operator": "ops@example.org", "http-header-user-agent": "UA/1"})
    exchanges = sample_exchanges()
    locations = [writer.write_exchange(ex) for ex in exchanges]
    path = writer.close()
    assert path is not None and path.name.endswith(".warc.gz")
    out = warcio_check(path)
    assert out.count("digest pass") == 1 + 2 * len(exchanges)

    with path.open("rb") as fh:
        it = ArchiveIterator(fh, check_digests="raise")
        parsed = []
        for rec in it:
            raw = rec.raw_stream.read()
            parsed.append((rec.rec_type, rec.rec_headers, rec.http_headers, raw, it.get_record_offset()))
    assert [p[0] for p in parsed] == ["warcinfo"] + ["request", "response"] * len(exchanges)

    info = parsed[0][3].decode("utf-8")
    assert "software: newsarchive/" in info and "warc-writer: newsarchive/" in info and "warcio " in info
    assert "operator: ops@example.org" in info and "http-header-user-agent: UA/1" in info
    assert "robots: obey" in info and "format: WARC File Format 1.1" in info
    assert FIDELITY_NOTE in info

    for i, ex in enumerate(exchanges):
        _, req_h, req_http, _, _ = parsed[1 + 2 * i]
        _, resp_h, resp_http, resp_raw, resp_off = parsed[2 + 2 * i]
        assert req_h.get_header("WARC-Concurrent-To") == resp_h.get_header("WARC-Record-ID")
        assert resp_h.protocol == "WARC/1.1"
        assert resp_raw == ex.body  # as received: gzip stays gzip, Shift_JIS stays Shift_JIS
        assert resp_http.get_statuscode() == str(ex.status)
        assert resp_h.get_header("WARC-Target-URI") == warc_target_uri(ex.url)
        assert resp_h.get_header("WARC-Target-URI").isascii()
        assert req_http.get_header("Host") == "127.0.0.1:8080"
        assert resp_h.get_header("WARC-Date") == "2026-11-28T05:15:00.123456Z"
        assert resp_h.get_header("WARC-IP-Address") == ex.ip_address
        assert resp_off == locations[i].offset
        assert resp_h.get_header("WARC-Record-ID") == locations[i].record_id
        assert resp_h.get_header("WARC-Payload-Digest") == locations[i].payload_digest

    gz_http = parsed[2][2]
    assert gz_http.get_header("Content-Encoding") == "gzip"
    assert [v for k, v in gz_http.headers if k == "Set-Cookie"] == [
        "session=abc; Path=/",
        "region=tokyo; Path=/",
    ]
    assert gz_http.statusline == "200 OK"
    assert parsed[10][2].statusline == "404 Not Found"
    assert parsed[10][2].protocol == "HTTP/1.1"  # written from "h2" in the HTTP/1.1 form replay tools read
    assert (
        parsed[3][2].protocol == "GET" and parsed[3][2].statusline == "/search?q=north+korea&page=2 HTTP/1.1"
    )
    ja_uri = (
        "http://127.0.0.1:8080/%E8%A8%98%E4%BA%8B/%E3%83%AD%E3%82%B7%E3%82%A2?q=%E5%8C%97%E6%9C%9D%E9%AE%AE"
    )
    assert locations[2].target_uri == ja_uri
    assert "WARC-IP-Address" not in str(parsed[10][1])


def test_locations_read_back_exactly_one_record(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    exchanges = sample_exchanges()
    locations = [writer.write_exchange(ex) for ex in exchanges]
    path = writer.close()
    assert path is not None
    members = {offset: length for offset, length, _ in iter_gzip_members(path.open("rb"))}
    for ex, loc in zip(exchanges, locations, strict=True):
        assert loc.path == path.relative_to(tmp_path).as_posix() and loc.filename == path.name
        assert members[loc.offset] == loc.length  # the location is exactly one gzip member
        rec = read_record(tmp_path / loc.path, loc.offset, loc.length)
        assert rec.rec_type == "response" and rec.record_id == loc.record_id
        assert rec.target_uri == loc.target_uri and rec.http_status == ex.status
        assert rec.raw_payload == ex.body
    assert read_record(path, locations[0].offset).payload == HTML_JA.encode("utf-8")  # gzip undone
    assert read_record(path, locations[3].offset).payload.decode("cp932") == HTML_JA


def test_cdxj_indexer_offsets_match_locations(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    locations = [writer.write_exchange(ex) for ex in sample_exchanges()]
    path = writer.close()
    assert path is not None
    out = subprocess.run(
        [str(BIN / "cdxj-indexer"), str(path)], capture_output=True, text=True, check=True
    ).stdout
    indexed = {}
    for line in out.splitlines():
        fields = json.loads(line.split(" ", 2)[2])
        indexed[fields["url"]] = (int(fields["offset"]), int(fields["length"]))
    assert indexed == {loc.target_uri: (loc.offset, loc.length) for loc in locations}


def test_open_suffix_while_writing_and_rename_on_close(tmp_path: Path) -> None:
    closed: list[Path] = []
    writer = WarcWriter(tmp_path, prefix="test", on_close=closed.append)
    loc = writer.write_exchange(exchange("http://127.0.0.1:1/a"))
    open_path = writer.current_path
    assert open_path is not None and open_path.name.endswith(".warc.gz.open") and open_path.exists()
    final = tmp_path / loc.path
    assert not final.exists()
    assert open_path.name == final.name + ".open"
    # warc/YYYY/MM/DD/{prefix}-{17-digit time}-{serial}-{host}-{pid}.warc.gz, dated at opening (UTC)
    parts = loc.path.split("/")
    today = datetime.now(UTC)
    assert parts[:4] == ["warc", f"{today:%Y}", f"{today:%m}", f"{today:%d}"]
    assert parts[4].startswith("test-") and parts[4].endswith(f"-{os.getpid()}.warc.gz")
    assert writer.close() == final
    assert final.exists() and not open_path.exists() and closed == [final]
    assert writer.close() is None  # idempotent


def test_two_writers_in_one_process_get_distinct_names(tmp_path: Path) -> None:
    a, b = WarcWriter(tmp_path), WarcWriter(tmp_path)
    la = a.write_exchange(exchange("http://127.0.0.1:1/a"))
    lb = b.write_exchange(exchange("http://127.0.0.1:1/b"))
    assert la.path != lb.path
    a.close()
    b.close()
    assert len(list(tmp_path.rglob("*.warc.gz"))) == 2


def test_rotation_by_size(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, max_size=3000, gzip_level=0)
    locations = [
        writer.write_exchange(exchange(f"http://127.0.0.1:1/{i}", body=b"x" * 1500)) for i in range(6)
    ]
    writer.close()
    files = sorted({loc.path for loc in locations})
    assert len(files) >= 3
    for rel in files:
        path = tmp_path / rel
        assert path.stat().st_size < 3000 + 2500  # rotation happens before the record that would overflow
        kinds = [kind for kind, _ in records(path)]
        assert kinds[0] == "warcinfo" and kinds.count("warcinfo") == 1
        assert kinds[1:] == ["request", "response"] * ((len(kinds) - 1) // 2)
        warcio_check(path)
    for loc in locations:
        assert read_record(tmp_path / loc.path, loc.offset, loc.length).record_id == loc.record_id


def test_rotation_by_age(tmp_path: Path) -> None:
    now = [0.0]
    writer = WarcWriter(tmp_path, max_age_s=60, clock=lambda: now[0])
    first = writer.write_exchange(exchange("http://127.0.0.1:1/a"))
    now[0] = 30.0
    second = writer.write_exchange(exchange("http://127.0.0.1:1/b"))
    now[0] = 61.0
    third = writer.write_exchange(exchange("http://127.0.0.1:1/c"))
    writer.close()
    assert first.path == second.path != third.path
    for rel in {first.path, third.path}:
        assert records(tmp_path / rel)[0][0] == "warcinfo"
    assert (tmp_path / first.path).exists() and (tmp_path / third.path).exists()


def test_gzip_level_is_applied(tmp_path: Path) -> None:
    body = (HTML_JA * 200).encode("utf-8")
    sizes = {}
    for level in (0, 9):
        writer = WarcWriter(tmp_path / str(level), gzip_level=level)
        loc = writer.write_exchange(exchange("http://127.0.0.1:1/a", body=body))
        writer.close()
        sizes[level] = loc.length
    assert sizes[0] > len(body) > 10 * sizes[9]


def test_recover_truncated_open_file(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    locations = [writer.write_exchange(ex) for ex in sample_exchanges()]
    path = writer.close()
    assert path is not None
    data = path.read_bytes()
    path.unlink()
    open_path = path.with_name(path.name + ".open")
    # Crash in the middle of the last response: its request is kept only if its response is complete.
    open_path.write_bytes(data[: locations[-1].offset + locations[-1].length // 2])

    repaired = WarcWriter.recover_open_files(tmp_path)

    assert repaired == [path] and path.exists() and not open_path.exists()
    assert path.stat().st_size == locations[-2].offset + locations[-2].length
    warcio_check(path)
    kinds = [kind for kind, _ in records(path)]
    assert kinds == ["warcinfo"] + ["request", "response"] * (len(locations) - 1)
    for loc in locations[:-1]:
        assert read_record(path, loc.offset, loc.length).record_id == loc.record_id


def test_recover_leaves_a_live_writer_alone_and_drops_empty_files(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.write_exchange(exchange("http://127.0.0.1:1/a"))
    live = writer.current_path
    assert live is not None
    stray = live.with_name("other-20260101000000000-00001-elsewhere-1.warc.gz.open")
    shutil.copy(live, stray)  # written on another host: that host recovers it
    garbage = live.parent / "junk.warc.gz.open"
    garbage.write_bytes(b"\x1f\x8b\x08\x00partial")
    assert WarcWriter.recover_open_files(tmp_path) == []
    assert live.exists() and stray.exists() and not garbage.exists()
    writer.close()


def test_failed_write_leaves_no_partial_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = WarcWriter(tmp_path)
    good = writer.write_exchange(exchange("http://127.0.0.1:1/a"))
    real_flush = warc_writer._GzipMember.flush
    flushes = [0]

    def disk_full_at_response_end(self: warc_writer._GzipMember) -> None:
        flushes[0] += 1
        real_flush(self)
        if flushes[0] == 2:  # the request and most of the response are already in the file
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(warc_writer._GzipMember, "flush", disk_full_at_response_end)
    with pytest.raises(OSError):
        writer.write_exchange(exchange("http://127.0.0.1:1/b", body=os.urandom(20_000)))
    monkeypatch.undo()
    after = writer.write_exchange(exchange("http://127.0.0.1:1/c"))
    path = writer.close()
    assert path is not None
    warcio_check(path)
    assert [k for k, _ in records(path)] == ["warcinfo", "request", "response", "request", "response"]
    assert read_record(path, after.offset, after.length).target_uri == "http://127.0.0.1:1/c"
    assert after.offset > good.offset


# -- CDXJ index, revisits, metadata, truncation -----------------------------------------------------


def read_index(path: Path) -> list[tuple[str, str, dict]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, ts, data = line.split(" ", 2)
        out.append((key, ts, json.loads(data)))
    return out


def test_cdxj_written_beside_closed_file_points_at_records(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    exchanges = sample_exchanges()
    locations = [writer.write_exchange(ex) for ex in exchanges]
    meta = writer.write_metadata(exchanges[1].url, b'{"a": 1}', refers_to=locations[1].record_id)
    open_path = writer.current_path
    assert open_path is not None and not cdxj_path_for(tmp_path / locations[0].path).exists()
    path = writer.close()
    assert path is not None
    index = cdxj_path_for(path)
    assert index.parent == path.parent and index.name == path.name.removesuffix(".warc.gz") + ".cdxj"
    raw_lines = index.read_text(encoding="utf-8").splitlines()
    assert raw_lines == sorted(raw_lines)  # pywb binary-searches the file
    entries = read_index(index)
    by_id = {fields["warc-record-id"]: (key, ts, fields) for key, ts, fields in entries}
    assert set(by_id) == {loc.record_id for loc in locations} | {meta.record_id}
    for ex, loc in zip(exchanges, locations, strict=True):
        key, ts, fields = by_id[loc.record_id]
        assert (int(fields["offset"]), int(fields["length"])) == (loc.offset, loc.length)
        assert fields["filename"] == path.name and fields["url"] == loc.target_uri
        assert fields["digest"] == loc.payload_digest and fields["status"] == str(ex.status)
        assert fields["warc-date"] == loc.date and ts == "20261128051500"
        assert key.startswith("1,0,0,127:8080)/")  # SURT: host reversed, scheme dropped
    key, _, fields = by_id[meta.record_id]
    assert (int(fields["offset"]), int(fields["length"])) == (meta.offset, meta.length)
    assert fields["mime"] == "application/json" and key.startswith("urn:newsarchive:article:http://127.0.0.1")
    assert not any(k == key for k, _, f in entries if f["warc-record-id"] != meta.record_id)
    # cdxj-indexer's own CLI, run the way the issue names it, agrees line for line.
    cli = subprocess.run(
        [str(BIN / "cdxj-indexer"), "-s", "-f", EXTRA_FIELDS, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert cli == raw_lines


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
    assert h.get_header("WARC-Profile") == warc_writer.PROFILE_IDENTICAL
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
    assert nm.get_header("WARC-Profile") == warc_writer.PROFILE_NOT_MODIFIED
    assert nm.get_header("WARC-Refers-To") == original.record_id
    assert nm.get_header("WARC-Refers-To-Date") == original.date
    assert unknown_304.rec_type == "revisit" and unknown_304.original is None
    assert heads[unknown_304.record.record_id].get_header("WARC-Refers-To") is None


def test_metadata_record_refers_to_its_response(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    url = "http://127.0.0.1:8080/記事?id=1"
    loc = writer.write_exchange(exchange(url))
    payload = json.dumps({"title": "露朝", "warc": {"record_id": loc.record_id}}, ensure_ascii=False)
    meta = writer.write_metadata(
        url, payload.encode("utf-8"), refers_to=loc.record_id, concurrent_to=loc.record_id, date=loc.date
    )
    path = writer.close()
    assert path is not None
    warcio_check(path)
    found = []
    with path.open("rb") as fh:
        for r in ArchiveIterator(fh, check_digests="raise"):
            if r.rec_type == "metadata":
                found.append((r.rec_headers, r.content_stream().read()))
    assert len(found) == 1
    h, content = found[0]
    assert h.get_header("Content-Type") == "application/json"
    assert h.get_header("WARC-Refers-To") == loc.record_id
    assert h.get_header("WARC-Concurrent-To") == loc.record_id
    assert h.get_header("WARC-Date") == loc.date
    assert h.get_header("WARC-Target-URI") == metadata_target_uri(url)
    assert metadata_target_uri(url) == "urn:newsarchive:article:" + loc.target_uri
    assert json.loads(content) == json.loads(payload)
    assert read_record(path, meta.offset, meta.length).raw_payload == payload.encode("utf-8")


def test_index_missing_indexes_recovered_files(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, cdxj=False)
    locations = [writer.write_exchange(ex) for ex in sample_exchanges()]
    open_path = writer.current_path
    assert open_path is not None
    data = open_path.read_bytes()
    writer.close()
    path = tmp_path / locations[0].path
    assert not cdxj_path_for(path).exists()
    path.rename(open_path)  # as a crash would have left it, minus half of the last response
    open_path.write_bytes(data[: locations[-1].offset + 10])
    assert WarcWriter.recover_open_files(tmp_path) == [path]
    assert index_missing(tmp_path) == [cdxj_path_for(path)]
    assert index_missing(tmp_path) == []  # already indexed
    offsets = {int(f["offset"]) for _, _, f in read_index(cdxj_path_for(path))}
    assert offsets == {loc.offset for loc in locations[:-1]}


def cdxj_indexer_output(path: Path) -> str:
    """What cdxj-indexer writes for a WARC file, with the options archive/cdxj.py uses for it."""
    from io import StringIO

    from cdxj_indexer.main import CDXJIndexer

    out = StringIO()
    CDXJIndexer(out, [str(path)], sort=True, fields=EXTRA_FIELDS).process_all()
    return out.getvalue()


def test_index_built_while_writing_equals_cdxj_indexer_byte_for_byte(tmp_path: Path) -> None:
    payloads = PayloadIndex(min_size=0)
    writer = WarcWriter(tmp_path, dedup=payloads)
    shared = b"<html>" + "同じ本文".encode() * 200 + b"</html>"
    results = [writer.capture(ex) for ex in sample_exchanges()]  # gzip, query, Japanese path, Shift_JIS, 404
    first = writer.capture(exchange("http://127.0.0.1:8080/a?x=1&b=2", body=shared))
    results += [
        first,
        writer.capture(exchange("http://127.0.0.1:8080/b", body=shared)),  # identical payload: revisit
        # 304 to a conditional request: a server-not-modified revisit with no payload digest
        writer.capture(
            exchange("http://127.0.0.1:8080/a?x=1&b=2", status=304, body=b"", response_headers=[])
        ),
        writer.capture(exchange("http://127.0.0.1:8080/big", body=b"x" * 5000, truncated="length")),
        writer.capture(exchange("http://127.0.0.1:8080/cut", body=b"y" * 100, truncated="disconnect")),
        writer.capture(
            exchange(
                "http://127.0.0.1:8080/form",
                method="POST",
                request_body=b"q=%E6%97%A5",
                response_headers=[("content-type", " application/json ; charset=utf-8")],
                body=b'{"ok": 1}',
            )
        ),
        # Non-ASCII header value (warcio percent-encodes it) and no Content-Type at all
        writer.capture(
            exchange("http://127.0.0.1:8080/dl", response_headers=[("X-Name", "日本")], body=b"z")
        ),
        writer.capture(exchange("https://xn--wgv71a.jp/h2", protocol="h2", status=999, body=b"?")),
    ]
    writer.write_metadata(
        "http://127.0.0.1:8080/a?x=1&b=2",
        json.dumps({"title": "露朝"}, ensure_ascii=False).encode("utf-8"),
        refers_to=first.record.record_id,
        date=first.record.date,
    )
    # application/warc-fields metadata is left out of the index by cdxj-indexer, and so by us
    writer.write_metadata(
        "http://127.0.0.1:8080/b", b"note: x\r\n", refers_to="<x>", content_type="application/warc-fields"
    )
    path = writer.close()
    assert path is not None
    warcio_check(path)

    inline = cdxj_path_for(path).read_bytes()
    assert inline.decode("utf-8") == cdxj_indexer_output(path)
    lines = read_index(cdxj_path_for(path))
    kinds = {r.rec_type for r in results}
    assert kinds == {"response", "revisit"}
    assert len(lines) == len(results) + 1  # + the JSON metadata record
    revisits = sum(1 for r in results if r.rec_type == "revisit")
    assert revisits >= 2  # the identical /b and the 304
    assert sum(1 for _, _, f in lines if f.get("mime") == "warc/revisit") == revisits
    assert {f.get("warc-truncated") for _, _, f in lines} == {None, "length", "disconnect"}
    assert any(key.startswith("urn:newsarchive:article:") for key, _, _ in lines)
    assert any("%e8%a8%98%e4%ba%8b" in key for key, _, _ in lines)  # 記事, SURT-lowercased
    assert {f.get("status") for _, _, f in lines} >= {"200", "304", "404", "999"}


def test_index_missing_still_uses_cdxj_indexer_and_agrees(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    for ex in sample_exchanges():
        writer.write_exchange(ex)
    path = writer.close()
    assert path is not None
    inline = cdxj_path_for(path).read_bytes()
    cdxj_path_for(path).unlink()
    assert index_missing(tmp_path) == [cdxj_path_for(path)]
    assert cdxj_path_for(path).read_bytes() == inline


def test_compressed_payload_stored_in_blocks_reads_back(tmp_path: Path) -> None:
    # Over 65535 bytes: the already-gzipped payload spans several deflate stored blocks.
    body = gzip.compress(os.urandom(150_000), compresslevel=1)
    writer = WarcWriter(tmp_path)
    loc = writer.write_exchange(
        exchange("http://127.0.0.1:8080/big.gz", body=body, response_headers=[("Content-Encoding", "gzip")])
    )
    path = writer.close()
    assert path is not None
    warcio_check(path)
    assert read_record(path, loc.offset, loc.length).raw_payload == body
    assert loc.length < len(body) + 1024  # stored, not inflated by a second deflate
    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType

    with path.open("rb") as fh:
        bodies = [
            r.reader.read() for r in FastIterator(fh, record_types=WarcRecordType.response, parse_http=True)
        ]
    assert bodies == [body]

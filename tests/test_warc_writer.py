"""WarcWriter records: as received, offsets that read back, metadata records, and the CDXJ index
written beside each closed file (byte for byte what cdxj-indexer writes)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import EXTRA_FIELDS, cdxj_path_for, index_missing
from archive.dedup import PayloadIndex
from archive.readback import read_record
from archive.warc_records import metadata_target_uri, warc_target_uri
from archive.warc_repair import iter_gzip_members
from archive.warc_writer import FIDELITY_NOTE, WarcWriter
from tests.warc_samples import BIN, HTML_JA, exchange, read_index, sample_exchanges, warcio_check


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


# -- CDXJ index -----------------------------------------------------------------------------------


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

"""WarcWriter files: `.open` while written and renamed on close, distinct names, rotation by size and
age, the gzip level, no partial record after a failed write, and repair of `.open` files after a crash."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive import warc_gzip
from archive.cdxj import cdxj_path_for, index_missing
from archive.readback import read_record
from archive.warc_writer import WarcWriter
from tests.warc_samples import HTML_JA, exchange, read_index, records, sample_exchanges, warcio_check


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
    real_flush = warc_gzip.GzipMember.flush
    flushes = [0]

    def disk_full_at_response_end(self: warc_gzip.GzipMember) -> None:
        flushes[0] += 1
        real_flush(self)
        if flushes[0] == 2:  # the request and most of the response are already in the file
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(warc_gzip.GzipMember, "flush", disk_full_at_response_end)
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

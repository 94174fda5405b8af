"""Article files: gzip-compressed JSON lines written deterministically, and the one reader of them
(which also reads the plain `.jsonl` files of older archives)."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest

from archive.jsonl import (
    JsonlPartitionWriter,
    RowFileError,
    encode_rows,
    iter_lines,
    iter_row_files,
    read_rows,
)
from archive.paths import is_row_file, parquet_twin

ROWS = [
    {"outlet": "jiji", "published_at": "2025-03-01T10:00:00+09:00", "title": "見出し", "text": "一\u2028二"},
    {"outlet": "jiji", "published_at": "2025-03-01T11:00:00+09:00", "title": "次", "text": "三\u0085四"},
]


def _write(root: Path, run_id: str, rows: list[dict]) -> Path:
    writer = JsonlPartitionWriter(root, run_id)
    for row in rows:
        writer.write(row)
    (rel,) = writer.close()
    return root / rel


def test_file_is_one_gzip_member_with_a_deterministic_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "a", "r1", ROWS)
    assert path.name == "r1-jiji-00000.jsonl.gz"
    data = path.read_bytes()
    magic, method, flags, mtime = struct.unpack("<2sBBI", data[:8])
    assert (magic, method) == (b"\x1f\x8b", 8)
    assert flags == 0 and mtime == 0  # no file name (the `.open` name would leak in), no time
    assert data[8] == 0  # XFL: 0 for level 6 (4 would mean fastest, 2 best)
    # One member: decompressing it consumes the whole file.
    text = gzip.decompress(data).decode("utf-8")
    assert [json.loads(line) for line in text.split("\n") if line] == ROWS
    assert len(list(_members(data))) == 1
    # Same rows, other root, other time: the same bytes (so the same sha256 in a manifest).
    again = _write(tmp_path / "b", "r1", ROWS)
    assert again.read_bytes() == data == encode_rows(ROWS)


def _members(data: bytes) -> list[bytes]:
    import zlib

    out = []
    while data:
        decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
        out.append(decomp.decompress(data))
        assert decomp.eof
        data = decomp.unused_data
    return out


def test_read_rows_splits_lines_on_newline_only(tmp_path: Path) -> None:
    path = _write(tmp_path, "r1", ROWS)
    # U+2028 and U+0085 are not escaped by json.dumps; str.splitlines() would break these rows apart.
    assert list(read_rows(path)) == ROWS
    assert list(read_rows(path.read_bytes())) == ROWS
    assert [n for n, _ in iter_lines(path)] == [1, 2]


def test_plain_jsonl_of_older_archives_is_read_too(tmp_path: Path) -> None:
    gz = _write(tmp_path, "r2", ROWS)
    plain = gz.parent / "r1-jiji-00000.jsonl"
    plain.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS) + "\n", "utf-8")
    assert list(read_rows(plain)) == ROWS  # the blank line is skipped
    assert list(read_rows(plain.read_bytes())) == ROWS
    # Both kinds are listed, oldest run first; `.open` and hidden files never are.
    (gz.parent / "r3-jiji-00000.jsonl.gz.open").write_bytes(b"")
    (gz.parent / ".tmp-r0-jiji-00000.jsonl.gz").write_bytes(b"")
    assert list(iter_row_files(tmp_path)) == [plain, gz]
    assert list(iter_row_files(tmp_path, run_id="r2")) == [gz]
    assert list(iter_row_files(tmp_path, day="2025-03-02")) == []
    assert list(iter_row_files(tmp_path / "nothing-here")) == []
    assert is_row_file("articles/outlet=jiji/date=2025-03-01/r1-jiji-00000.jsonl")
    assert not is_row_file("articles/outlet=jiji/date=2025-03-01/r1-jiji-00000.jsonl.gz.open")
    assert parquet_twin("articles/x/r1-jiji-00000.jsonl.gz") == "articles/x/r1-jiji-00000.parquet"
    assert parquet_twin("articles/x/r1-jiji-00000.jsonl") == "articles/x/r1-jiji-00000.parquet"


def test_a_plain_file_of_the_same_stem_keeps_its_number(tmp_path: Path) -> None:
    """An older writer's `r1-jiji-00000.jsonl` would share the Parquet twin name: the number is taken."""
    folder = tmp_path / "articles" / "outlet=jiji" / "date=2025-03-01"
    folder.mkdir(parents=True)
    (folder / "r1-jiji-00000.jsonl").write_text(json.dumps(ROWS[0]) + "\n", "utf-8")
    assert _write(tmp_path, "r1", ROWS).name == "r1-jiji-00001.jsonl.gz"


def test_damage_and_bad_lines(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = encode_rows(ROWS)
    with pytest.raises(RowFileError, match="EOFError"):
        list(read_rows(data[: len(data) - 10]))
    bad_crc = bytearray(data)
    bad_crc[-6] ^= 0xFF
    with pytest.raises(RowFileError, match="BadGzipFile"):
        list(read_rows(bytes(bad_crc)))
    with pytest.raises(RowFileError, match="UnicodeDecodeError"):
        list(read_rows(b'{"a": "\xff"}\n'))
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n{oops\n[1]\n{"b": 2}\n'))
    with pytest.raises(RowFileError, match=r"x\.jsonl\.gz: line 2 is not JSON"):
        list(read_rows(path))
    assert list(read_rows(path, skip_bad_lines=True)) == [{"a": 1}, {"b": 2}]
    assert "line 3: skipping a line that is not a JSON object" in caplog.text

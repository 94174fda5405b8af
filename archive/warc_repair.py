"""Repair the `*.warc.gz.open` files a crashed writer left behind, and leave alone those still in use.

Each record is one gzip member, flushed as it was written, so the complete members of a dead writer's
file survive: a repair keeps them, drops a trailing partial member (and a request left without its
response) and renames the file to its final name. archive.warc_writer registers the files it is
writing here, so a repair in the same process never touches them.
"""

from __future__ import annotations

import os
import re
import threading
import zlib
from pathlib import Path
from typing import IO, Any

from archive.paths import OPEN_SUFFIX, WARC_DIR, fsync_dir, hostname, rename_no_replace

# `.open` files some writer of this process is writing: recovery must leave them alone.
_live_paths: set[Path] = set()
_live_lock = threading.Lock()

_OPEN_NAME = re.compile(r"^.+-\d{17}-\d{5,}-(?P<host>.+)-(?P<pid>\d+)\.warc\.gz\.open$")


def writing(open_path: Path) -> None:
    """Mark an `.open` file as being written by this process (see recover_open_files)."""
    with _live_lock:
        _live_paths.add(open_path.resolve())


def done_writing(open_path: Path) -> None:
    with _live_lock:
        _live_paths.discard(open_path.resolve())


def recover_open_files(root: Path) -> list[Path]:
    """Repair `*.warc.gz.open` files left by a crash; return the final paths of the repaired files.

    Keeps the complete gzip members (each is one whole record), drops a trailing partial or corrupt
    one, and drops a trailing request record whose response never made it. A file with no
    complete record left is removed. Files that may still be in use are left alone: those a writer
    of this process has open, those of a live process on this host, and those written on another
    host (which recovers its own). Indexing the repaired files is the caller's (archive.cdxj).
    """
    repaired = []
    for open_path in sorted((Path(root) / WARC_DIR).rglob(f"*.warc.gz{OPEN_SUFFIX}")):
        if not _owner_is_gone(open_path):
            continue
        keep = _complete_length(open_path)
        final_path = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
        if keep == 0:
            open_path.unlink()
            fsync_dir(open_path.parent)
            continue
        with open_path.open("r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        rename_no_replace(open_path, final_path)
        repaired.append(final_path)
    return repaired


def iter_gzip_members(fh: IO[bytes], chunk_size: int = 1 << 20) -> Any:
    """Yield (offset, length, head) for each complete gzip member; stop at the first partial/corrupt one.

    `head` is the first bytes of the member's decompressed content (enough to read the WARC-Type).
    zlib checks each member's CRC32 and length, so a complete member is also an intact one. Written by
    hand because neither gzip nor warcio reports where a member ends or tolerates a truncated tail.
    """
    start = 0
    fed = 0
    head = b""
    decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
    pending = b""
    while True:
        if not pending:
            pending = fh.read(chunk_size)
            if not pending:
                return
        try:
            out = decomp.decompress(pending)
        except zlib.error:
            return
        fed += len(pending)
        if len(head) < 512:
            head += out[: 512 - len(head)]
        if decomp.eof:
            length = fed - len(decomp.unused_data)
            yield start, length, head
            start += length
            pending = decomp.unused_data
            decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
            fed = 0
            head = b""
        else:
            pending = b""


def _owner_is_gone(open_path: Path) -> bool:
    with _live_lock:
        if open_path.resolve() in _live_paths:
            return False
    match = _OPEN_NAME.match(open_path.name)
    if match is None:
        return True  # not a name this writer makes: nobody we know is writing it
    if match["host"] != hostname():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return True  # ours, yet no writer holds it: left behind by a writer that was never closed
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


def _warc_type(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"warc-type:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""


def _complete_length(path: Path) -> int:
    with path.open("rb") as fh:
        members = list(iter_gzip_members(fh))
    # A request is written just before its response: alone at the end, it is half an exchange.
    while members and _warc_type(members[-1][2]) == "request":
        members.pop()
    if not members:
        return 0
    offset, length, _ = members[-1]
    return offset + length

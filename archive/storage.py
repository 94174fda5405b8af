"""Where an archive root lives: one small interface, a local folder and an S3-compatible bucket behind it.

Keys are archive-relative paths (`warc/2026/11/28/x.warc.gz`), identical on both backends; the store
adds its own location (a folder, or `s3://bucket/prefix`). Writes never overwrite: an archive object,
once written, is immutable, and a second write of the same key is refused (`ObjectExistsError`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from archive.keys import check_key
from archive.paths import fsync_dir

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # archive-relative
    size: int
    sha256: str | None = None  # what the store recorded at upload (S3 metadata); None if it keeps none


@dataclass(frozen=True)
class PutResult:
    key: str
    size: int
    sha256: str
    multipart: bool = False
    verified_by: str = ""  # how the store confirmed the bytes, e.g. "etag-md5,head"


class StoreError(Exception):
    """The store failed (after retries) or answered something that cannot be right."""


class StoreUnavailableError(StoreError):
    """The store cannot be used at all: missing bucket, refused credentials, unreachable endpoint.
    str(err) is one line naming the store and the cause; the CLI exits with code 4."""


class ObjectExistsError(StoreError):
    """The key already exists: archive objects are never overwritten."""

    def __init__(self, key: str, existing: ObjectInfo | None) -> None:
        super().__init__(f"{key}: already exists in the store; not overwriting it")
        self.key = key
        self.existing = existing


class LocalFileChangedError(StoreError):
    """The local file no longer has the size or sha256 the manifest recorded: uploading it would
    publish something the manifest does not describe."""


@runtime_checkable
class Store(Protocol):
    @property
    def url(self) -> str:
        """Where the store is, for messages (never contains credentials)."""
        ...

    def put_file(self, key: str, path: Path, *, sha256: str, size: int) -> PutResult:
        """Upload a local file that must have this sha256 and size; refuse to overwrite."""
        ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with prefix, in key order."""
        ...

    def read_bytes(self, key: str) -> bytes: ...

    def read_range(self, key: str, offset: int, length: int) -> bytes: ...

    def download_to(self, key: str, out: IO[bytes]) -> str:
        """Stream the object into `out`; return the sha256 of what was read."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object as a local file, when the store is a local folder."""
        ...

    def warnings(self) -> list[str]:
        """Things the operator must know about this store (reported once each)."""
        ...


def sha256_stream(fh: IO[bytes], out: IO[bytes] | None = None) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(HASH_CHUNK):
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest()


class LocalStore:
    """An archive root on a local (or mounted) file system."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, path: Path, *, sha256: str, size: int) -> PutResult:
        target = self._path(key)
        if target.exists():
            return self._existing(key, target, sha256, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".upload", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, Path(path).open("rb") as src:
                actual = sha256_stream(src, out)
                written = out.tell()
                out.flush()
                os.fsync(out.fileno())
            if actual != sha256 or written != size:
                raise LocalFileChangedError(
                    f"{path}: {written} bytes, sha256 {actual}; the manifest says {size} bytes, {sha256}"
                )
            try:
                # link() fails if the name exists, unlike rename(): the no-overwrite rule holds even
                # against a concurrent writer.
                os.link(tmp, target)
            except FileExistsError:
                return self._existing(key, target, sha256, size)
            fsync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return PutResult(key=key, size=size, sha256=actual, verified_by="local-rehash")

    def _existing(self, key: str, target: Path, sha256: str, size: int) -> PutResult:
        """Same bytes already there (a resumed or repeated publish) is success; anything else is refused."""
        with target.open("rb") as fh:
            existing = ObjectInfo(key=key, size=target.stat().st_size, sha256=sha256_stream(fh))
        if existing.size == size and existing.sha256 == sha256:
            return PutResult(key=key, size=size, sha256=sha256, verified_by="already-present")
        raise ObjectExistsError(key, existing)

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return ObjectInfo(key=key, size=path.stat().st_size)

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self.root
        if not base.is_dir():
            return
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield ObjectInfo(key=key, size=path.stat().st_size)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self._path(key).open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def download_to(self, key: str, out: IO[bytes]) -> str:
        with self._path(key).open("rb") as fh:
            return sha256_stream(fh, out)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def warnings(self) -> list[str]:
        return []

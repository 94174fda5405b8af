"""Read access to an archive root for the researcher commands: a local folder or an `s3://` archive.

Readers look at a local folder first and at the store second, the way the catalog does: for an s3://
archive the local folder is the crawl spool (`NEWSARCHIVE_SPOOL`, or the folder a crawl of the same URL
uses by default under `~/.cache/newsarchive/spool/`), which may still hold runs that were published (or
hold none at all, on a researcher's machine). Indexes built for reading (archive.article_index) live in
that local folder as dot-files, which verify, manifests and publishing ignore; a local root the user may
not write to gets its index in the user's cache instead.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from archive.paths import ARTICLES_DIR, RUNS_DIR, WARC_DIR, resolve_inside
from archive.storage import Store


class RootError(ValueError):
    """The archive root cannot be read: str(err) is one line naming it (a usage mistake, exit 2)."""


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def spool_for(url: str) -> Path:
    """Where runs for an s3:// archive are written before upload (`crawl`'s default `--spool`), and where
    the readers find its local copies and its catalog: persistent, so a failed upload is retried by the
    next run and a machine that crawled the archive reads its own copies instead of downloading them."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in url.removeprefix("s3://").strip("/"))
    return _cache_home() / "newsarchive" / "spool" / name


def default_spool(url: str) -> Path:
    """The readers' local folder of an s3:// archive: NEWSARCHIVE_SPOOL, else `spool_for(url)`."""
    configured = os.environ.get("NEWSARCHIVE_SPOOL")
    if configured:
        return Path(configured)
    return spool_for(url)


@dataclass(frozen=True)
class ArchiveRoot:
    url: str  # as the user gave it, for messages
    local: Path  # the local folder (the root itself, or the spool of an s3:// archive)
    store: Store | None  # the store of an s3:// archive

    @property
    def index_dir(self) -> Path:
        """Where read indexes of this root are kept: the local folder when writable, else the cache."""
        if self.store is not None:
            self.local.mkdir(parents=True, exist_ok=True)  # a spool that does not exist yet
        if os.access(self.local, os.W_OK):
            return self.local
        digest = hashlib.sha256(str(self.local.resolve()).encode()).hexdigest()[:16]
        return _cache_home() / "newsarchive" / "index" / digest

    def read_bytes(self, key: str) -> bytes:
        local = resolve_inside(self.local, key)
        if local.is_file():
            return local.read_bytes()
        if self.store is None:
            raise FileNotFoundError(f"{self.url}: no file {key}")
        return self.store.read_bytes(key)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset` of an object: a seek locally, a ranged GET from the store."""
        local = resolve_inside(self.local, key)
        if local.is_file():
            with local.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        elif self.store is None:
            raise FileNotFoundError(f"{self.url}: no file {key}")
        else:
            data = self.store.read_range(key, offset, length)
        if len(data) != length:
            raise ValueError(f"{key}: only {len(data)} of {length} bytes at offset {offset}")
        return data


def open_root(root: str | Path | ArchiveRoot, store: Store | None = None) -> ArchiveRoot:
    """An archive root to read. `root` is a local folder, or an s3:// URL (its store is opened unless
    given), or a local spool folder with the `store` of its s3:// archive. Raises RootError when a local
    root is missing, unreadable or holds no archive."""
    if isinstance(root, ArchiveRoot):
        return root
    text = str(root)
    if text.startswith("s3://"):
        if store is None:
            from archive.stores import open_store

            store = open_store(text)
        return ArchiveRoot(url=text, local=default_spool(text), store=store)
    local = Path(text)
    if store is None:
        if not local.is_dir():
            raise RootError(f"{text}: not an archive folder (no such folder)")
        if not os.access(local, os.R_OK | os.X_OK):
            raise RootError(f"{text}: cannot read this folder (permission denied)")
        if not any((local / name).is_dir() for name in (ARTICLES_DIR, WARC_DIR, RUNS_DIR)):
            raise RootError(f"{text}: not an archive root (no {ARTICLES_DIR}/, {WARC_DIR}/ or {RUNS_DIR}/)")
    return ArchiveRoot(url=store.url if store is not None else text, local=local, store=store)

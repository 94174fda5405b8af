"""Open the store behind an archive root: a local folder or `s3://bucket/prefix`.

Its own module so that `archive.storage` (the Store interface and the local store) and `archive.s3store`
(which implements that interface) do not import each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.storage import LocalStore, Store


def open_store(root: str | Path, **s3_options: Any) -> Store:
    """A store for an archive root: `s3://bucket/prefix` or a local folder. S3 options are passed to
    S3Store.from_url (`client`: archive.s3_client.ClientOptions, and the store's own options)."""
    text = str(root)
    if text.startswith("s3://"):
        from archive.s3store import S3Store  # boto3 costs ~0.3 s to import: only when needed

        return S3Store.from_url(text, **s3_options)
    if s3_options:
        raise ValueError(f"{text}: S3 options given for a local archive root")
    return LocalStore(Path(text))

"""An archive root in an S3-compatible bucket (AWS, MinIO, Ceph, R2, Wasabi), through boto3.

S3Store is the Store (archive.storage) for `s3://bucket/prefix` URLs. It is assembled from its parts:
the boto3 client, error classes and retries (archive.s3_client), reading (archive.s3_read) and
uploads that never overwrite and check every byte (archive.s3_upload, whose docstring says how).
Credentials, endpoint, region and profile come from the standard boto3 chain; nothing here logs or
stores credentials. Importing this module imports boto3 (~0.3 s): archive.stores imports it only for an
s3:// URL.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.s3_client import ClientOptions, RetryPolicy, make_client
from archive.s3_upload import DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MIN_PART_SIZE, S3Uploader


class S3Store(S3Uploader):
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = 4,
        retry: RetryPolicy | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size {part_size} is below the S3 minimum of {MIN_PART_SIZE} bytes")
        if multipart_threshold < MIN_PART_SIZE:
            raise ValueError(f"multipart_threshold {multipart_threshold} is below {MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max(1, max_concurrency)
        self.retry = retry or RetryPolicy()
        self.conditional_writes = None  # None until probed
        self._warnings = []
        self._probe_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, client: ClientOptions | None = None, **options: Any) -> S3Store:
        """`s3://bucket/prefix`, reached as `client` says (archive.s3_client.ClientOptions); `options` are
        S3Store's own (multipart_threshold, part_size, max_concurrency, retry)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r}: not an s3://bucket/prefix URL")
        client = client or ClientOptions()
        if "max_concurrency" in options:  # the connection pool follows the store's concurrency
            client = replace(client, max_concurrency=options["max_concurrency"])
        return cls(make_client(client), parts.netloc, parts.path.lstrip("/"), **options)

    # -- Store interface (reading: archive.s3_read; put_file: archive.s3_upload) ----------------------

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def local_path(self, key: str) -> Path | None:
        return None

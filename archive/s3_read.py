"""Read an archive root in an S3-compatible bucket: list, HEAD (size and sha256 metadata), whole and
ranged GETs, and downloads hashed as they stream. The reading half of archive.s3store.S3Store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO, Any

import botocore.exceptions

from archive.keys import join_key
from archive.s3_client import RetryPolicy, not_found, raise_unusable, store_errors
from archive.storage import HASH_CHUNK, ObjectInfo

SHA256_META = "sha256"  # sent as x-amz-meta-sha256


class S3Reader:
    """Objects under `prefix` in `bucket`, read through `client`; S3Store sets these attributes."""

    client: Any
    bucket: str
    prefix: str
    retry: RetryPolicy

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @store_errors
    def head(self, key: str) -> ObjectInfo | None:
        full = join_key(self.prefix, key)
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=full)
        except botocore.exceptions.ClientError as exc:
            if not_found(exc):
                return None
            raise
        meta = {k.lower(): v for k, v in (resp.get("Metadata") or {}).items()}
        return ObjectInfo(key=key, size=int(resp["ContentLength"]), sha256=meta.get(SHA256_META))

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=full_prefix))
        while True:
            # A generator cannot take the store_errors decorator: each page's request runs at next().
            with raise_unusable(self.url):
                page = next(pages, None)
            if page is None:
                return
            for obj in page.get("Contents", []):
                yield ObjectInfo(key=obj["Key"][strip:], size=int(obj["Size"]))

    @store_errors
    def read_bytes(self, key: str) -> bytes:
        full = join_key(self.prefix, key)
        resp = self.retry.run(f"GET {full}", lambda: self.client.get_object(Bucket=self.bucket, Key=full))
        return bytes(resp["Body"].read())

    @store_errors
    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """Exactly the bytes [offset, offset+length): for a WARC pointer, one gzip member = one record."""
        full = join_key(self.prefix, key)
        if length <= 0:
            return b""
        rng = f"bytes={offset}-{offset + length - 1}"
        resp = self.retry.run(
            f"GET {full} {rng}", lambda: self.client.get_object(Bucket=self.bucket, Key=full, Range=rng)
        )
        return bytes(resp["Body"].read())

    @store_errors
    def download_to(self, key: str, out: IO[bytes]) -> str:
        full = join_key(self.prefix, key)
        resp = self.retry.run(f"GET {full}", lambda: self.client.get_object(Bucket=self.bucket, Key=full))
        digest = hashlib.sha256()
        for chunk in resp["Body"].iter_chunks(HASH_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        return digest.hexdigest()

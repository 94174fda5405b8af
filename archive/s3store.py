"""An archive root in an S3-compatible bucket (AWS, MinIO, Ceph, R2, Wasabi), through boto3.

Credentials, endpoint, region and profile come from the standard boto3 chain (environment,
~/.aws/config and credentials, instance roles); the arguments of `from_url` only override it when given.
Nothing here logs or stores credentials.

Integrity: the local file is read once; while it is read, its sha256 (compared with the manifest's
before the object is made visible) and the MD5 of every request body (sent as Content-MD5, which every
S3-compatible store checks, and compared with the ETag it answers) are computed. The sha256 is stored as
object metadata (`x-amz-meta-sha256`) and read back with HEAD after the upload together with the size.
The flexible-checksum headers (CRC32/SHA256) are not used for this: several S3-compatible stores reject
or ignore them, and moto does not check them.

Overwrites: every PUT and CompleteMultipartUpload carries `If-None-Match: *`. A store that ignores the
header is detected once, by writing a probe object twice, and reported; the store then falls back to a
HEAD before each write (which a concurrent writer can race).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from archive.keys import join_key
from archive.storage import (
    HASH_CHUNK,
    LocalFileChangedError,
    ObjectExistsError,
    ObjectInfo,
    PutResult,
    StoreError,
)

log = logging.getLogger(__name__)

MIB = 1 << 20
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last (moto enforces it)
MAX_PARTS = 10_000
SHA256_META = "sha256"  # sent as x-amz-meta-sha256

_CONTENT_TYPES = {
    ".warc.gz": "application/warc",  # never Content-Encoding: gzip, or clients gunzip and offsets break
    ".cdxj": "text/plain; charset=utf-8",
    ".jsonl": "application/x-ndjson; charset=utf-8",
    # The object IS gzip bytes (a .gz file), not a transfer encoding: never Content-Encoding: gzip, or
    # clients would hand back decompressed bytes whose sha256 no longer matches the manifest.
    ".jsonl.gz": "application/gzip",
    ".json": "application/json; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}
_RETRYABLE_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeoutException",
    "OperationAborted",
    "ConditionalRequestConflict",  # 409 from S3 while a conflicting conditional write is in flight
}
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


def content_type(key: str) -> str:
    for suffix, ctype in _CONTENT_TYPES.items():
        if key.endswith(suffix):
            return ctype
    return "application/octet-stream"


def _status(exc: BaseException) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def _code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_retryable(exc: BaseException) -> bool:
    """5xx, throttling and connection-level failures are worth another try; 4xx answers are not."""
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        return _status(exc) >= 500 or _code(exc) in _RETRYABLE_CODES
    return False


def _precondition_failed(exc: BaseException) -> bool:
    return _status(exc) == 412 or _code(exc) == "PreconditionFailed"


def _not_found(exc: BaseException) -> bool:
    return _status(exc) == 404 or _code(exc) in ("404", "NoSuchKey", "NotFound")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _is_aws(endpoint: str | None) -> bool:
    host = urlsplit(endpoint or "").hostname or ""
    return not endpoint or host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


@dataclass
class RetryPolicy:
    """Our own loop around whole operations, on top of botocore's per-request retries: botocore gives up
    after `max_attempts` requests, and a multipart upload must not be lost for one part."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.attempts or not is_retryable(exc):
                    raise
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                log.warning(
                    "%s: %s; retry %d/%d in %.1fs", what, _describe(exc), attempt, self.attempts - 1, delay
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{_status(exc)} {_code(exc)}"
    return f"{type(exc).__name__}: {exc}"


class S3Store:
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
        self.conditional_writes: bool | None = None  # None until probed
        self._warnings: list[str] = []
        self._probe_lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        path_style: bool | None = None,
        profile: str | None = None,
        checksum_when_required: bool | None = None,
        max_attempts: int = 8,
        connect_timeout: float = 10,
        read_timeout: float = 120,
        **options: Any,
    ) -> S3Store:
        """`s3://bucket/prefix`. Arguments left as None keep boto3's own resolution (environment, config
        files). For a non-AWS endpoint, path-style addressing and checksum calculation "when_required"
        are the defaults (STACK-NOTES: boto3 >= 1.36 sends CRC32 headers some stores reject)."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r}: not an s3://bucket/prefix URL")
        session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        client_kwargs: dict[str, Any] = {}
        if endpoint_url is not None:
            client_kwargs["endpoint_url"] = endpoint_url
        if region is not None:
            client_kwargs["region_name"] = region

        def make(path: bool | None, when_required: bool | None) -> Any:
            config: dict[str, Any] = {
                "retries": {"max_attempts": max_attempts, "mode": "standard"},
                "connect_timeout": connect_timeout,
                "read_timeout": read_timeout,
                "max_pool_connections": max(10, options.get("max_concurrency", 4) * 2),
            }
            if path is not None:
                config["s3"] = {"addressing_style": "path" if path else "virtual"}
            if when_required is not None:
                mode = "when_required" if when_required else "when_supported"
                config["request_checksum_calculation"] = mode
                config["response_checksum_validation"] = mode
            return session.client("s3", config=Config(**config), **client_kwargs)

        client = make(path_style, checksum_when_required)
        if not _is_aws(client.meta.endpoint_url) and (path_style is None or checksum_when_required is None):
            client = make(
                True if path_style is None else path_style,
                True if checksum_when_required is None else checksum_when_required,
            )
        return cls(client, parts.netloc, parts.path.lstrip("/"), **options)

    # -- Store interface ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def put_file(self, key: str, path: Path, *, sha256: str, size: int) -> PutResult:
        full = join_key(self.prefix, key)
        self._ensure_probed()
        if not self.conditional_writes and (existing := self.head(key)) is not None:
            return self._existing(key, existing, sha256, size)
        if size < self.multipart_threshold:
            result = self._put_single(key, full, Path(path), sha256, size)
        else:
            result = self._put_multipart(key, full, Path(path), sha256, size)
        if result.verified_by == "already-present":
            return result
        info = self.retry.run(f"HEAD {full}", lambda: self.head(key))
        if info is None or info.size != size or info.sha256 != sha256:
            raise StoreError(
                f"{self.url}/{key}: after upload the store reports {info!r}, expected {size} bytes, sha256 {sha256}"
            )
        return PutResult(
            key=key,
            size=size,
            sha256=sha256,
            multipart=result.multipart,
            verified_by=result.verified_by + ",head",
        )

    def head(self, key: str) -> ObjectInfo | None:
        full = join_key(self.prefix, key)
        try:
            resp = self.client.head_object(Bucket=self.bucket, Key=full)
        except botocore.exceptions.ClientError as exc:
            if _not_found(exc):
                return None
            raise
        meta = {k.lower(): v for k, v in (resp.get("Metadata") or {}).items()}
        return ObjectInfo(key=key, size=int(resp["ContentLength"]), sha256=meta.get(SHA256_META))

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for obj in page.get("Contents", []):
                yield ObjectInfo(key=obj["Key"][strip:], size=int(obj["Size"]))

    def read_bytes(self, key: str) -> bytes:
        full = join_key(self.prefix, key)
        resp = self.retry.run(f"GET {full}", lambda: self.client.get_object(Bucket=self.bucket, Key=full))
        return bytes(resp["Body"].read())

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

    def download_to(self, key: str, out: IO[bytes]) -> str:
        full = join_key(self.prefix, key)
        resp = self.retry.run(f"GET {full}", lambda: self.client.get_object(Bucket=self.bucket, Key=full))
        digest = hashlib.sha256()
        for chunk in resp["Body"].iter_chunks(HASH_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        return digest.hexdigest()

    def local_path(self, key: str) -> Path | None:
        return None

    def abort_incomplete(self, key: str) -> int:
        """Abort multipart uploads of this key left by a killed process (they cost storage, invisibly)."""
        full = join_key(self.prefix, key)
        resp = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=full)
        aborted = 0
        for upload in resp.get("Uploads", []):
            if upload["Key"] == full:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload["UploadId"])
                aborted += 1
        return aborted

    # -- internals --------------------------------------------------------------------------------------

    def _existing(self, key: str, existing: ObjectInfo | None, sha256: str, size: int) -> PutResult:
        """The key exists: fine if it holds exactly these bytes (a retried or resumed upload), refused
        otherwise."""
        if existing is not None and existing.size == size and existing.sha256 == sha256:
            return PutResult(key=key, size=size, sha256=sha256, verified_by="already-present")
        raise ObjectExistsError(key, existing)

    def _put_single(self, key: str, full: str, path: Path, sha256: str, size: int) -> PutResult:
        data = path.read_bytes()
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise LocalFileChangedError(
                f"{path}: differs from the manifest ({len(data)} bytes, expected {size})"
            )
        md5 = hashlib.md5(data, usedforsecurity=False)
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "Body": data,
            "ContentMD5": _b64(md5.digest()),
            "ContentType": content_type(key),
            "Metadata": {SHA256_META: sha256},
        }
        if self.conditional_writes:
            kwargs["IfNoneMatch"] = "*"
        try:
            resp = self.retry.run(f"PUT {full}", lambda: self.client.put_object(**kwargs))
        except botocore.exceptions.ClientError as exc:
            if _precondition_failed(exc):
                # Also what a retry sees when the first attempt landed but its answer was lost.
                return self._existing(key, self.head(key), sha256, size)
            raise
        self._check_etag(full, resp.get("ETag", ""), md5.hexdigest())
        return PutResult(key=key, size=size, sha256=sha256, verified_by="content-md5,etag")

    def _put_multipart(self, key: str, full: str, path: Path, sha256: str, size: int) -> PutResult:
        part_size = max(self.part_size, -(-size // MAX_PARTS))
        upload_id = self.retry.run(
            f"CreateMultipartUpload {full}",
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                ContentType=content_type(key),
                Metadata={SHA256_META: sha256},
            )["UploadId"],
        )
        try:
            parts, part_md5s, actual, total = self._upload_parts(full, path, upload_id, part_size)
            if actual != sha256 or total != size:
                raise LocalFileChangedError(
                    f"{path}: read {total} bytes with sha256 {actual}; the manifest says {size}, {sha256}"
                )
            expected_etag = hashlib.md5(b"".join(part_md5s), usedforsecurity=False).hexdigest()
            expected_etag += f"-{len(parts)}"
            resp = self._complete(key, full, upload_id, parts, sha256, size)
            if isinstance(resp, PutResult):
                return resp
            self._check_etag(full, resp.get("ETag", ""), expected_etag)
        except BaseException:
            self._abort(full, upload_id)
            raise
        return PutResult(key=key, size=size, sha256=sha256, multipart=True, verified_by="content-md5,etag")

    def _upload_parts(
        self, full: str, path: Path, upload_id: str, part_size: int
    ) -> tuple[list[dict[str, Any]], list[bytes], str, int]:
        """Read the file once, in order (for the whole-file sha256), and upload parts concurrently.
        At most max_concurrency + 1 parts are in memory at any time."""
        digest = hashlib.sha256()
        slots = threading.BoundedSemaphore(self.max_concurrency + 1)
        futures: list[Future[dict[str, Any]]] = []
        part_md5s: list[bytes] = []
        total = 0

        def send(number: int, body: bytes, md5: bytes) -> dict[str, Any]:
            try:
                resp = self.retry.run(
                    f"UploadPart {full} #{number}",
                    lambda: self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=body,
                        ContentMD5=_b64(md5),
                    ),
                )
                self._check_etag(f"{full} part {number}", resp.get("ETag", ""), md5.hex())
                return {"PartNumber": number, "ETag": resp["ETag"]}
            finally:
                slots.release()

        with (
            ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="s3-part") as pool,
            path.open("rb") as fh,
        ):
            number = 0
            while True:
                slots.acquire()
                body = fh.read(part_size)
                if not body and number > 0:
                    slots.release()
                    break
                number += 1
                total += len(body)
                digest.update(body)
                md5 = hashlib.md5(body, usedforsecurity=False).digest()
                part_md5s.append(md5)
                futures.append(pool.submit(send, number, body, md5))
                del body
                if futures[0].done() and futures[0].exception() is not None:
                    break  # fail fast: the result() loop below raises it
            parts = [f.result() for f in futures]
        return parts, part_md5s, digest.hexdigest(), total

    def _complete(
        self, key: str, full: str, upload_id: str, parts: list[dict[str, Any]], sha256: str, size: int
    ) -> Any:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": full,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": parts},
        }
        if self.conditional_writes:
            kwargs["IfNoneMatch"] = "*"
        try:
            return self.retry.run(
                f"CompleteMultipartUpload {full}", lambda: self.client.complete_multipart_upload(**kwargs)
            )
        except botocore.exceptions.ClientError as exc:
            # NoSuchUpload after a retry: the first attempt completed but its answer was lost.
            if _precondition_failed(exc) or _code(exc) == "NoSuchUpload":
                return self._existing(key, self.head(key), sha256, size)
            raise

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except Exception as exc:  # the original failure matters more; the leftover is reported
            log.warning(
                "could not abort multipart upload of %s (%s): a lifecycle rule should clean it",
                full,
                _describe(exc),
            )

    def _check_etag(self, what: str, etag: str, expected: str) -> None:
        etag = etag.strip('"').lower()
        # An ETag that is not an MD5 (SSE-KMS, some stores) proves nothing; Content-MD5 was checked
        # by the store on receipt and the HEAD afterwards checks size and sha256 metadata.
        if _MD5_ETAG.match(etag) and etag != expected:
            raise StoreError(
                f"{what}: the store's ETag {etag} != local MD5 {expected}: bytes changed in transit"
            )

    def _ensure_probed(self) -> None:
        with self._probe_lock:
            if self.conditional_writes is not None:
                return
            full = join_key(self.prefix, f".newsarchive-probe/{uuid.uuid4().hex}")
            put = lambda: self.client.put_object(  # noqa: E731
                Bucket=self.bucket, Key=full, Body=b"If-None-Match probe", IfNoneMatch="*"
            )
            try:
                self.retry.run(f"PUT {full}", put)
                try:
                    self.retry.run(f"PUT {full}", put)
                    honoured = False
                except botocore.exceptions.ClientError as exc:
                    if not _precondition_failed(exc):
                        raise
                    honoured = True
            except botocore.exceptions.ClientError as exc:
                if _status(exc) not in (400, 501):
                    raise
                honoured = False  # a store that rejects the header outright (NotImplemented)
            finally:
                try:
                    self.client.delete_object(Bucket=self.bucket, Key=full)
                except Exception:  # a store without delete permission keeps a 19-byte probe: harmless
                    pass
            self.conditional_writes = honoured
            if not honoured:
                message = (
                    f"{self.url}: the store ignores If-None-Match: * (conditional writes); overwrites are "
                    "prevented only by a HEAD before each write, which a concurrent writer can race"
                )
                self._warnings.append(message)
                log.warning("%s", message)

"""Upload files to an S3-compatible bucket without ever overwriting or corrupting an object: the writing
half of archive.s3store.S3Store.

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
import re
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.exceptions

from archive.keys import join_key
from archive.s3_client import describe, error_code, error_status, precondition_failed, store_errors
from archive.s3_read import SHA256_META, S3Reader
from archive.storage import LocalFileChangedError, ObjectExistsError, ObjectInfo, PutResult, StoreError

# The S3 store's logger, whichever of its modules logs: logging configurations name it.
log = logging.getLogger("archive.s3store")

MIB = 1 << 20
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last (moto enforces it)
MAX_PARTS = 10_000

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
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


def content_type(key: str) -> str:
    for suffix, ctype in _CONTENT_TYPES.items():
        if key.endswith(suffix):
            return ctype
    return "application/octet-stream"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3Uploader(S3Reader):
    """put_file and its parts: single PUT or concurrent multipart upload, conditional writes, checks.
    S3Store sets the attributes below."""

    multipart_threshold: int
    part_size: int
    max_concurrency: int
    conditional_writes: bool | None  # None until probed
    _warnings: list[str]
    _probe_lock: threading.Lock

    @store_errors
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
            if precondition_failed(exc):
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
            if precondition_failed(exc) or error_code(exc) == "NoSuchUpload":
                return self._existing(key, self.head(key), sha256, size)
            raise

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except Exception as exc:  # the original failure matters more; the leftover is reported
            log.warning(
                "could not abort multipart upload of %s (%s): a lifecycle rule should clean it",
                full,
                describe(exc),
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
                    if not precondition_failed(exc):
                        raise
                    honoured = True
            except botocore.exceptions.ClientError as exc:
                if error_status(exc) not in (400, 501):
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

"""Talk to an S3-compatible store through boto3: a client configured for it, which errors are worth
another try, and the retry loop around whole operations (archive.s3store builds on these).

Credentials, endpoint, region and profile come from the standard boto3 chain (environment,
~/.aws/config and credentials, instance roles); the arguments of `make_client` only override it when
given. Nothing here logs or stores credentials.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from archive.storage import StoreUnavailableError

# The S3 store's logger, whichever of its modules logs: logging configurations name it.
log = logging.getLogger("archive.s3store")

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


def error_status(exc: BaseException) -> int:
    if isinstance(exc, botocore.exceptions.ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_retryable(exc: BaseException) -> bool:
    """5xx, throttling and connection-level failures are worth another try; 4xx answers are not."""
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return True
    if isinstance(exc, botocore.exceptions.ClientError):
        return error_status(exc) >= 500 or error_code(exc) in _RETRYABLE_CODES
    return False


def precondition_failed(exc: BaseException) -> bool:
    return error_status(exc) == 412 or error_code(exc) == "PreconditionFailed"


def not_found(exc: BaseException) -> bool:
    return error_status(exc) == 404 or error_code(exc) in ("404", "NoSuchKey", "NotFound")


def describe(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return f"{error_status(exc)} {error_code(exc)}"
    return f"{type(exc).__name__}: {exc}"


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
                    "%s: %s; retry %d/%d in %.1fs", what, describe(exc), attempt, self.attempts - 1, delay
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _is_aws(endpoint: str | None) -> bool:
    host = urlsplit(endpoint or "").hostname or ""
    return not endpoint or host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


@dataclass(frozen=True)
class ClientOptions:
    """How to reach the store. None keeps boto3's own resolution (environment, config files). For a
    non-AWS endpoint, path-style addressing and checksum calculation "when_required" are the defaults
    (STACK-NOTES: boto3 >= 1.36 sends CRC32 headers some stores reject)."""

    endpoint_url: str | None = None
    region: str | None = None
    path_style: bool | None = None
    profile: str | None = None
    checksum_when_required: bool | None = None
    max_attempts: int = 8
    connect_timeout: float = 10
    read_timeout: float = 120
    max_concurrency: int = 4  # sizes the connection pool: two connections per concurrent part upload


def make_client(options: ClientOptions | None = None) -> Any:
    """A boto3 S3 client configured by `options` (see ClientOptions)."""
    o = options or ClientOptions()
    endpoint_url, region, path_style, profile = o.endpoint_url, o.region, o.path_style, o.profile
    checksum_when_required = o.checksum_when_required
    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    client_kwargs: dict[str, Any] = {}
    if endpoint_url is not None:
        client_kwargs["endpoint_url"] = endpoint_url
    if region is not None:
        client_kwargs["region_name"] = region

    def make(path: bool | None, when_required: bool | None) -> Any:
        config: dict[str, Any] = {
            "retries": {"max_attempts": o.max_attempts, "mode": "standard"},
            "connect_timeout": o.connect_timeout,
            "read_timeout": o.read_timeout,
            "max_pool_connections": max(10, o.max_concurrency * 2),
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
    return client


# Errors that no retry or other object can fix: the whole store is unusable with this configuration.
_UNUSABLE = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied (check the credentials and the bucket's policy)",
    "AllAccessDisabled": "all access to the bucket is disabled",
    "InvalidAccessKeyId": "the store does not know this access key (AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "the store refused the signature (wrong AWS_SECRET_ACCESS_KEY?)",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is not valid",
}


def unusable_store(exc: BaseException, url: str) -> StoreUnavailableError | None:
    """`exc` as a one-line StoreUnavailableError naming `url`, or None when it is about one object or
    one request rather than the whole store."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return StoreUnavailableError(f"{url}: no credentials found (AWS_ACCESS_KEY_ID or AWS_PROFILE)")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return StoreUnavailableError(
            f"{url}: cannot connect to the endpoint {exc.kwargs.get('endpoint_url', '')}"
        )
    if isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) in _UNUSABLE:
        return StoreUnavailableError(f"{url}: {_UNUSABLE[error_code(exc)]} ({error_code(exc)})")
    return None


_F = TypeVar("_F", bound=Callable[..., Any])


def store_errors(method: _F) -> _F:
    """Decorate a store method so that an unusable store surfaces as StoreUnavailableError: one line for
    the user (exit code 4) instead of a botocore traceback."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with raise_unusable(self.url):
            return method(self, *args, **kwargs)

    return cast(_F, wrapper)


@contextmanager
def raise_unusable(url: str) -> Iterator[None]:
    """Inside the block, an error that makes the store unusable is raised as StoreUnavailableError."""
    try:
        yield
    except Exception as exc:
        translated = unusable_store(exc, url)
        if translated is None:
            raise
        raise translated from None

"""Test helpers for the storage contract: a real S3 endpoint (moto's server over HTTP on 127.0.0.1), a
fault-injecting HTTP proxy in front of it, and a small but real archive run to publish.

A test module uses them with `pytest_plugins = ["tests.s3server"]`: one moto server per test session.
PYTEST_DONT_REWRITE (test modules import helpers from here before pytest loads it as a plugin)
"""

from __future__ import annotations

import gzip
import http.client
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from botocore.config import Config

from archive.exchange import HttpExchange, RecordLocation
from archive.jsonl import JsonlPartitionWriter
from archive.parquet_out import write_parquet_for_run
from archive.run import RunLedger, install_schema, new_run_id, software_versions, write_manifest
from archive.warc_writer import WarcWriter
from core.items import SCHEMA_VERSION, Article, TopicMatch, WarcPointer
from core.schema import article_schema, schema_text

REGION = "us-east-1"


# -- moto -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0 works: checked
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass
class S3Env:
    endpoint: str
    bucket: str
    secret: str
    client: Any  # a plain boto3 client straight to moto, for the test's own checks

    def url(self, prefix: str = "archive") -> str:
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def keys(self, prefix: str = "") -> dict[str, bytes]:
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
        return out

    def incomplete_uploads(self) -> list[dict[str, Any]]:
        return list(self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


def aws_environment(endpoint: str, secret: str) -> dict[str, str]:
    """Fake credentials and the endpoint in the standard boto3 variables: no project flag involved."""
    return {
        "AWS_ACCESS_KEY_ID": "AKIATESTNEWSARCHIVE",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_S3": endpoint,
        # Never read the developer's own AWS files.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Env:
    secret = "nA-secret-" + secrets.token_hex(16)
    for name, value in aws_environment(moto_endpoint, secret).items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        config=Config(
            request_checksum_calculation="when_required", response_checksum_validation="when_required"
        ),
    )
    bucket = f"test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    return S3Env(endpoint=moto_endpoint, bucket=bucket, secret=secret, client=client)


# -- fault-injecting proxy --------------------------------------------------------------------------------


@dataclass
class Seen:
    n: int
    method: str
    path: str  # with query
    headers: dict[str, str]
    action: str
    status: int = 0


Rule = Callable[[Seen], str]
"""Decides per request: "pass", "503", "500", "drop" (close before forwarding), "drop-after" (forward,
then close without answering: the store applied it, the client never hears), "hang" (block until the
proxy is released, then drop), "strip-if-none-match" (forward without that header)."""


@dataclass
class FaultProxy:
    upstream: str
    rule: Rule = lambda _seen: "pass"
    log: list[Seen] = field(default_factory=list)
    hung: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def requests(self, action: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self.log if action is None or s.action == action]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        up = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _serve(self) -> None:
                body = self._body()
                with proxy._lock:
                    seen = Seen(len(proxy.log) + 1, self.command, self.path, dict(self.headers), "pass")
                    proxy.log.append(seen)
                action = proxy.rule(seen)
                seen.action = action
                if action in ("503", "500"):
                    payload = (
                        f"<Error><Code>{'ServiceUnavailable' if action == '503' else 'InternalError'}</Code>"
                        "<Message>injected</Message></Error>"
                    ).encode()
                    self.send_response(int(action))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    seen.status = int(action)
                    return
                if action == "drop":
                    return self._drop()
                if action == "hang":
                    proxy.hung.set()
                    proxy.release.wait(60)
                    return self._drop()
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")
                }
                if action == "strip-if-none-match":
                    headers = {k: v for k, v in headers.items() if k.lower() != "if-none-match"}
                conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                seen.status = resp.status
                if action == "drop-after":
                    return self._drop()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in (
                        "connection",
                        "keep-alive",
                        "transfer-encoding",
                        "content-length",
                        "server",
                        "date",
                    ):
                        self.send_header(k, v)
                self.send_header(
                    "Content-Length",
                    str(resp.getheader("Content-Length", len(data)))
                    if self.command == "HEAD"
                    else str(len(data)),
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler


def op_name(seen: Seen) -> str:
    """The S3 operation a proxied request is, for rules and order checks."""
    query = seen.path.partition("?")[2]
    if seen.method == "PUT" and "partNumber=" in query:
        return "UploadPart"
    if seen.method == "POST" and "uploadId=" in query:
        return "CompleteMultipartUpload"
    if seen.method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    return {"PUT": "PutObject", "HEAD": "HeadObject", "GET": "GetObject", "DELETE": "DeleteObject"}.get(
        seen.method, seen.method
    )


def object_key(seen: Seen, bucket: str) -> str:
    return unquote(seen.path.partition("?")[0]).removeprefix(f"/{bucket}/")


# -- a real archive run ---------------------------------------------------------------------------------

PAGE = "<html><body>" + "ロシアと北朝鮮の軍事協力について。" * 40 + "</body></html>"


@dataclass
class BuiltRun:
    root: Path
    run_id: str
    files: list[tuple[str, str]]
    locations: list[RecordLocation]

    def keys(self, kind: str | None = None) -> list[str]:
        return [p for p, k in self.files if kind is None or k == kind]


def build_run(
    root: Path,
    *,
    articles: int = 3,
    big_payload: int = 0,
    parquet: bool = True,
    outlets: tuple[str, ...] = ("jiji", "asahi"),
) -> BuiltRun:
    """A finished run written with the archive library: WARC + JSONL (valid Article rows) + Parquet +
    schema + manifest. `big_payload` adds one incompressible response of that many bytes (for multipart)."""
    root.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    ledger = RunLedger.for_run(root, run_id)
    install_schema(root, SCHEMA_VERSION, schema_text())
    writer = WarcWriter(
        root,
        gzip_level=1,
        on_close=lambda p: ledger.add_file(p.relative_to(root).as_posix(), "warc"),
    )
    locations: list[RecordLocation] = []
    bodies = [gzip.compress(PAGE.encode("utf-8") + str(i).encode()) for i in range(articles)]
    if big_payload:
        bodies.append(os.urandom(big_payload))
    for i, body in enumerate(bodies):
        locations.append(
            writer.write_exchange(
                HttpExchange(
                    url=f"http://127.0.0.1:8080/article/{i}?ref=feed",
                    method="GET",
                    request_headers=[("Accept-Encoding", "gzip")],
                    request_body=b"",
                    protocol="HTTP/1.1",
                    status=200,
                    response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                    body=body,
                    ip_address="127.0.0.1",
                    fetched_at=datetime.now(UTC),
                )
            )
        )
    writer.close()
    for rel in [p for p, k in ledger.files() if k == "warc"]:
        index = rel.removesuffix(".warc.gz") + ".cdxj"  # written by WarcWriter on close
        if (root / index).is_file():
            ledger.add_file(index, "cdxj")
    jsonl = JsonlPartitionWriter(root, run_id, schema=article_schema())
    for i, loc in enumerate(locations[:articles]):
        jsonl.write(make_article(i, loc, run_id, outlets[i % len(outlets)]).to_json())
    for rel in jsonl.close():
        ledger.add_file(rel, "articles")
    if parquet:
        write_parquet_for_run(root, run_id)
    ledger.add_file(f"schema/article-{SCHEMA_VERSION}.json", "schema")
    write_manifest(
        root,
        run_id,
        files=ledger.files(),
        counts={"articles": articles},
        config={"outlets": list(outlets)},
        versions=software_versions(),
        started_at=datetime.now(UTC).isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        errors={},
        previous_run_id=None,
    )
    return BuiltRun(root=root, run_id=run_id, files=ledger.files(), locations=locations)


def make_article(i: int, loc: RecordLocation, run_id: str, outlet: str) -> Article:
    return Article(
        url=f"https://www.{outlet}.com/article/{i}",
        fetched_url=f"http://127.0.0.1:8080/article/{i}?ref=feed",
        outlet=outlet,
        title=f"露朝の軍事協力 {i}",
        published_at=None if i == 2 else f"2025-03-{10 + i:02d}T09:00:00+09:00",
        text=PAGE,
        topics=[
            TopicMatch(
                name="russia-dprk", score=12.5, matched={"ロシア": 3, "北朝鮮": i}, stage=2, accepted=True
            )
        ],
        warc=WarcPointer(**asdict(loc)),
        run_id=run_id,
        fetched_at=datetime.now(UTC).isoformat(),
        authors=["田中彩"] if i % 2 else [],
        tags=[],
        charset={"declared_http": "utf-8", "declared_meta": None, "used": "utf-8", "replacement_chars": 0},
        extraction={"title": "page:jiji@2022", "versions": "trafilatura 2.3.1"},
    )

"""Cost of publishing a run to a local S3 endpoint (moto over HTTP), against bare boto3 upload_file.

    .venv/bin/python -m bench.publish [--warc-mib 64] [--large-mib 200] [--repeat 3]

1. Ratio: publish_run (sha256 + MD5 while reading, Content-MD5, If-None-Match, HEAD check after every
   object, queue file updates, manifest last) vs `client.upload_file` of the same files in the same
   order, same client settings, fresh bucket each time, alternating which goes first; median of N.
2. Memory: peak RSS (VmHWM) of a child process publishing one large WARC (200 MB by default rather than the
   issue's 1 GB, to keep the run short and the moto server's in-memory copy small), minus the RSS it
   had before the upload started.

The figures are written into bench/RESULTS.md between `<!-- publish -->` markers (other benchmarks
keep their own sections).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.report import REPO, write_section

MIB = 1 << 20


def _env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-" + secrets.token_hex(8),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _bare_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
        ),
    )


def ratio(endpoint: str, warc_mib: int, repeat: int, work: Path) -> dict[str, float]:
    from archive.publish import publish_run
    from archive.s3store import S3Store
    from tests.s3server import build_run

    run = build_run(work / "staging", big_payload=warc_mib * MIB)
    files = [p for p, _ in run.files] + [f"runs/{run.run_id}/manifest.json"]
    total = sum((run.root / f).stat().st_size for f in files)
    client = _bare_client(endpoint)
    ours, bare = [], []
    for i in range(repeat):
        for which in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):
            bucket = f"bench-{which}-{i}-{secrets.token_hex(3)}"
            client.create_bucket(Bucket=bucket)
            t0 = time.perf_counter()
            if which == "ours":
                report = publish_run(run.root, run.run_id, S3Store.from_url(f"s3://{bucket}/a"))
                assert report.ok, report.problems()
                ours.append(time.perf_counter() - t0)
            else:
                for rel in files:
                    client.upload_file(str(run.root / rel), bucket, f"a/{rel}")
                bare.append(time.perf_counter() - t0)
    return {
        "files": len(files),
        "bytes": total,
        "ours_s": statistics.median(ours),
        "bare_s": statistics.median(bare),
        "ratio": statistics.median(o / b for o, b in zip(ours, bare, strict=True)),
    }


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from archive.publish import publish_run
    from archive.s3store import S3Store

    def hwm_kib():
        # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across fork+exec.
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    root, run_id, bucket = sys.argv[1:4]
    store = S3Store.from_url(f"s3://{bucket}/a")
    store.head("warm-up")  # imports and the connection pool before the baseline
    before = hwm_kib()
    report = publish_run(Path(root), run_id, store)
    print(json.dumps({"ok": report.ok, "before_kib": before, "peak_kib": hwm_kib()}))
    """
)


def memory(endpoint: str, large_mib: int, work: Path) -> dict[str, float]:
    import json

    from archive.exchange import HttpExchange
    from archive.run import new_run_id, software_versions, write_manifest
    from archive.warc_writer import WarcWriter

    root = work / "large"
    run_id = new_run_id()
    # A real, valid WARC (publish refuses invalid ones): 1 MiB gzip-encoded bodies, stored as received.
    writer = WarcWriter(root, max_size=(large_mib + 64) * MIB, cdxj=False)
    for i in range(large_mib):
        writer.write_exchange(
            HttpExchange(
                url=f"https://www.example.org/big/{i}",
                method="GET",
                request_headers=[("Host", "www.example.org")],
                request_body=b"",
                protocol="HTTP/1.1",
                status=200,
                response_headers=[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                body=os.urandom(MIB),
                ip_address=None,
                fetched_at=datetime.now(UTC),
            )
        )
    closed = writer.close()
    assert closed is not None
    rel = closed.relative_to(root).as_posix()
    write_manifest(
        root,
        run_id,
        files=[(rel, "warc")],
        counts={},
        config={},
        versions=software_versions(),
        started_at="",
        finished_at="",
        errors={},
        previous_run_id=None,
    )
    bucket = f"bench-mem-{secrets.token_hex(3)}"
    _bare_client(endpoint).create_bucket(Bucket=bucket)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), run_id, bucket],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    assert data["ok"]
    return {
        "size_mib": large_mib,
        "rss_before_mib": data["before_kib"] / 1024,
        "rss_peak_mib": data["peak_kib"] / 1024,
        "upload_growth_mib": (data["peak_kib"] - data["before_kib"]) / 1024,
    }


def write_results(r: dict[str, float], m: dict[str, float], args: argparse.Namespace) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    section = textwrap.dedent(
        f"""\
        <!-- publish -->
        ## Publishing a run to S3 (bench/publish.py)

        {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine}; endpoint: moto {_version("moto")} server on 127.0.0.1
        (a Python server: absolute times say more about moto than about a real store), boto3 {_version("boto3")}.

        | measure | value |
        |---|---|
        | run published | {r["files"]:.0f} files, {r["bytes"] / MIB:.1f} MiB (one {args.warc_mib} MiB WARC + cdxj, JSONL, Parquet, schema, manifest) |
        | publish_run (median of {args.repeat}) | {r["ours_s"]:.2f} s |
        | bare boto3 upload_file, same files (median of {args.repeat}) | {r["bare_s"]:.2f} s |
        | **ratio** (median of per-round ratios; target <= 1.25) | **{r["ratio"]:.2f}x** |
        | large WARC published | {m["size_mib"]:.0f} MiB{"" if m["size_mib"] >= 1024 else " (smaller than the 1 GB of the target: pass --large-mib 1024)"} |
        | child RSS before upload / peak | {m["rss_before_mib"]:.0f} MiB / {m["rss_peak_mib"]:.0f} MiB |
        | **memory growth while uploading** (target < 200 MB) | **{m["upload_growth_mib"]:.0f} MiB** |

        publish_run does more than upload_file: a sha256 and MD5 of every byte as it is read, Content-MD5 on
        every request, a HEAD after every object (size + sha256 metadata), the queue file rewritten after
        every object, an If-None-Match probe once per store. Memory is bounded by (concurrency + 1) parts of
        16 MiB, or one file below the 64 MiB multipart threshold.
        <!-- /publish -->
        """
    )
    write_section("publish", section)
    return section


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warc-mib", type=int, default=64)
    parser.add_argument(
        "--large-mib",
        type=int,
        default=1024,
        help="size of the large WARC for the memory measure (the target names 1 GB)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(_env(endpoint))
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        r = ratio(endpoint, args.warc_mib, args.repeat, work)
        m = memory(endpoint, args.large_mib, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        server.stop()
    print(write_results(r, m, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A publish killed mid-upload stays queued on disk; the next publish_pending completes it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from archive.publish import pending_runs, publish_pending, publish_run, queue_path
from archive.s3_client import ClientOptions
from archive.s3store import S3Store
from archive.verify import verify_archive
from tests.s3server import (
    FaultProxy,
    S3Env,
    aws_environment,
    build_run,
    op_name,
)

pytest_plugins = ["tests.s3server"]  # the moto server and the s3 fixture

MIB = 1 << 20
REPO = Path(__file__).resolve().parent.parent

PUBLISH = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from archive.publish import publish_run
    from archive.s3_client import ClientOptions
    from archive.s3store import S3Store

    staging, run_id, url, endpoint = sys.argv[1:5]
    options = ClientOptions(endpoint_url=endpoint)
    store = S3Store.from_url(url, client=options, multipart_threshold=5 << 20, part_size=5 << 20)
    publish_run(Path(staging), run_id, store)
    print("finished")
    """
)


def test_kill_during_upload_then_publish_pending_completes(
    s3: S3Env, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    run = build_run(tmp_path / "staging", big_payload=12 * MIB)
    warc = run.keys("warc")[0]
    parts = 0

    def hang_on_second_part(seen) -> str:  # type: ignore[no-untyped-def]
        nonlocal parts
        if op_name(seen) == "UploadPart":
            parts += 1
            if parts == 2:
                return "hang"
        return "pass"

    env = {**subprocess_env, **aws_environment(s3.endpoint, s3.secret)}
    env["PYTHONPATH"] = f"{REPO}:{env.get('PYTHONPATH', '')}"
    with FaultProxy(s3.endpoint, rule=hang_on_second_part) as proxy:
        proc = subprocess.Popen(
            [sys.executable, "-c", PUBLISH, str(run.root), run.run_id, s3.url(), proxy.endpoint],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proxy.hung.wait(60), "the publisher never reached the second part"
            proc.kill()  # SIGKILL: no cleanup of any kind runs
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        out = proc.stdout.read() if proc.stdout else ""
    assert "finished" not in out
    # Killed mid-multipart: the queue is on disk, the manifest is not in the store, a multipart upload
    # is dangling (invisible to listings), and what was published before the WARC is nothing.
    assert pending_runs(run.root) == [run.run_id]
    assert json.loads(queue_path(run.root, run.run_id).read_text("utf-8"))["entries"][0]["key"] == warc
    assert len(s3.incomplete_uploads()) == 1
    assert not [k for k in s3.keys("archive/") if "/runs/" in k]

    store = S3Store.from_url(s3.url(), multipart_threshold=5 * MIB, part_size=5 * MIB)
    (report,) = publish_pending(run.root, store)
    assert report.ok and report.resumed, report.problems()
    assert pending_runs(run.root) == []
    assert s3.incomplete_uploads() == []  # the killed upload was aborted, not left to cost storage
    stored = s3.keys("archive/")
    expected = set(run.keys()) | {f"runs/{run.run_id}/manifest.json"}
    assert set(stored) == {f"archive/{k}" for k in expected}
    for key in expected:
        assert stored[f"archive/{key}"] == (run.root / key).read_bytes()
    assert verify_archive(store).ok


def test_failed_upload_is_retried_by_the_next_run_and_local_copies_deleted_only_then(
    s3: S3Env, tmp_path: Path
) -> None:
    run = build_run(tmp_path / "staging")
    # A store that is down for JSONL uploads: the WARC goes up, then publishing stops.
    with FaultProxy(
        s3.endpoint,
        rule=lambda seen: "503" if op_name(seen) == "PutObject" and ".jsonl" in seen.path else "pass",
    ) as proxy:
        store = S3Store.from_url(s3.url(), client=ClientOptions(endpoint_url=proxy.endpoint, max_attempts=2))
        store.retry.attempts, store.retry.base_delay = 2, 0.01
        report = publish_run(run.root, run.run_id, store, delete_local=True)
        assert not report.ok and len(report.failed) == 1
        assert not report.deleted_local and all((run.root / k).is_file() for k in run.keys())
        assert [k for k in s3.keys("archive/") if k.endswith(".jsonl.gz") or "/runs/" in k] == []
    (report,) = publish_pending(run.root, S3Store.from_url(s3.url()), delete_local=True)
    assert report.ok, report.problems()
    assert run.keys("warc")[0] not in report.uploaded + report.already_present  # done before: skipped
    assert set(report.deleted_local) == {k for k in run.keys() if not k.startswith("schema/")} | {
        f"runs/{run.run_id}/manifest.json"
    }
    assert not (run.root / "warc").exists() and (run.root / "schema").is_dir()
    assert verify_archive(S3Store.from_url(s3.url())).ok

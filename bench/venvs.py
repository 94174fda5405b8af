"""The peers' own virtual environments under bench/.venvs/<name> (git-ignored), created on first use.

Nothing a peer installs touches the project's venv or dependencies. A venv is rebuilt when its
requirement list changes (a stamp file holds it). When an install fails, PeerUnavailable carries the
last lines of pip's output, for RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import REPO

VENVS = REPO / "bench" / ".venvs"
PEER_SCRIPTS = REPO / "bench" / "peer_scripts"

# Pins where the newest release does not work: fundus 0.5.7 imports a name curl_cffi 0.16 removed.
REQUIREMENTS: dict[str, list[str]] = {
    # news-please's newspaper4k needs tinysegmenter for Japanese text (its [ja] extra).
    "news-please": ["news-please==1.6.16", "tinysegmenter"],
    "fundus": ["fundus==0.5.7", "curl_cffi==0.15.0"],
    "plot": ["matplotlib"],
}


class PeerUnavailable(Exception):
    """The peer cannot run on this machine; the message says why."""


def ensure(name: str) -> Path:
    """The Python of the peer's venv, created and installed if needed."""
    requirements = REQUIREMENTS[name]
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / "bench-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if python.exists() and stamp.is_file() and stamp.read_text("utf-8") == wanted:
        return python
    VENVS.mkdir(parents=True, exist_ok=True)
    log = VENVS / f"{name}.log"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", *requirements],
    ]
    with log.open("w", encoding="utf-8") as fh:
        for step in steps:
            try:
                proc = subprocess.run(step, stdout=fh, stderr=subprocess.STDOUT, timeout=900, check=False)
            except subprocess.TimeoutExpired:
                raise PeerUnavailable(f"{name}: `{' '.join(step[-2:])}` timed out after 900 s") from None
            if proc.returncode:
                fh.flush()
                tail = [x for x in log.read_text("utf-8").splitlines() if "Location" not in x][-3:]
                raise PeerUnavailable(
                    f"{name}: install failed on Python {sys.version.split()[0]}: {' '.join(tail)}"
                )
    stamp.write_text(wanted, encoding="utf-8")
    return python


def installed_version(python: Path, dist: str) -> str:
    code = f"from importlib.metadata import version; print(version({dist!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "?"


def run_script(python: Path, script: str, *args: str, timeout: float = 1800) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    """Run bench/peer_scripts/<script> in the peer's venv, loopback only. Returns (result, refused)."""
    import json

    proc = subprocess.run(
        [str(python), str(PEER_SCRIPTS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PYTHONPATH": str(PEER_SCRIPTS), "PATH": "/usr/bin:/bin", "HOME": str(VENVS), "LANG": "C.UTF-8"},
        check=False,
    )
    refused = sorted(
        {line.split(" ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("PEER-NETGUARD")}
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PEER-RESULT "):
            return json.loads(line.removeprefix("PEER-RESULT ")), refused
    tail = " ".join(proc.stderr.strip().splitlines()[-3:])
    raise PeerUnavailable(f"{script} exited {proc.returncode}: {tail[-400:]}")

"""Session-wide test setup: no test may reach beyond 127.0.0.1."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

NETGUARD_DIR = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD_DIR))
import netguard  # noqa: E402

netguard.install()

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """Environment for CLI subprocesses: the network guard is loaded through sitecustomize."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD_DIR), env.get("PYTHONPATH", "")]))
    env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
    # boto3 must never fall back to a default AWS endpoint in tests.
    env.pop("AWS_ENDPOINT_URL", None)
    return env

"""Session-wide test setup: no test may reach beyond 127.0.0.1; fast tests first, slow ones last; the
expensive things several tests only read (the simulator, a demo archive) are built once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from crawler.simulator import Simulator

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


# Run order: unmarked tests, then `e2e` ones (real crawls), then `slow` ones (the longest end-to-end
# runs), each group in collection order, so a failure in a quick test shows within seconds and every run
# has the same order.
_RANKS = (("slow", 2), ("e2e", 1))


def _rank(item: pytest.Item) -> int:
    return next((rank for name, rank in _RANKS if item.get_closest_marker(name) is not None), 0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the collection order is kept within a group


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One simulator on 127.0.0.1 for the tests that only send it requests (its request log grows)."""
    from crawler.simulator import Simulator

    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with Simulator(log_path=log) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`newsarchive demo` run once, for the tests that only read the archive it writes (copy it to
    change it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(NETGUARD_DIR)
    root = tmp_path_factory.mktemp("demo") / "archive"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "demo", "--archive", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return root, proc

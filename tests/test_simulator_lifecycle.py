"""The outlet simulator's determinism (same seed, same bytes) and lifecycle."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.simulator import Simulator, serve
from tests.simulator_helpers import all_paths, fetch

# ---------------------------------------------------------------------------- determinism and lifecycle


def test_same_seed_same_bytes_other_seed_other_site() -> None:
    one, two, other = Simulator(), Simulator(), Simulator(seed=7)
    for outlet, path in all_paths(one):
        assert one.served_bytes(outlet, path) == two.served_bytes(outlet, path), path
    assert one.articles == two.articles
    assert [a.url for a in one.articles] != [a.url for a in other.articles]


def test_serve_starts_and_stop_is_idempotent(tmp_path: Path) -> None:
    simulator = serve(0, tmp_path / "log.jsonl", 20250321)
    try:
        ports = {urlsplit(url).port for url in simulator.base_urls.values()}
        assert len(ports) == 2 and all(
            url.startswith("http://127.0.0.1:") for url in simulator.base_urls.values()
        )
        assert fetch(simulator, "asahi", "/robots.txt")[0].status == 200
    finally:
        simulator.stop()
        simulator.stop()
    with pytest.raises(RuntimeError):
        _ = simulator.base_urls


def test_robots_override_changes_only_robots() -> None:
    rules = "User-agent: *\nDisallow: /.cgi/\n"
    custom, default = Simulator(robots_override={"asahi": rules}), Simulator()
    assert custom.served_bytes("asahi", "/robots.txt", "identity")[2] == rules.encode()
    assert custom.served_bytes("jiji", "/robots.txt") == default.served_bytes("jiji", "/robots.txt")
    for outlet, path in all_paths(default):
        if path != "/robots.txt":
            assert custom.served_bytes(outlet, path) == default.served_bytes(outlet, path), path

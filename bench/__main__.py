"""`python -m bench [--quick] [--only NAME ...]`: every benchmark, one at a time (bench/harness.py)."""

from __future__ import annotations

from bench.harness import main

if __name__ == "__main__":
    raise SystemExit(main())

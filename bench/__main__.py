"""Run every benchmark in turn; each writes its own section of bench/RESULTS.md."""

from __future__ import annotations

import sys

from bench import publish


def main() -> int:
    return publish.main([])


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmark in turn; each writes its own section of bench/RESULTS.md."""

from __future__ import annotations

import sys

from bench import body_f1, capture, extraction, publish, requests


def main() -> int:
    # One at a time: each measures CPU on a 2-core machine and must not share it.
    return (
        publish.main([]) or capture.main([]) or extraction.main([]) or requests.main([]) or body_f1.main([])
    )


if __name__ == "__main__":
    sys.exit(main())

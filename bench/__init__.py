"""Benchmarks: `make bench` (or `python -m bench`) runs them all and rewrites bench/RESULTS.md sections."""

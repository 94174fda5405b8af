"""Which path a Parquet export took: the columnar one from the twins, or the row path (tests only)."""

from __future__ import annotations

from typing import Any

import pytest

import archive.parquet_export as parquet_export


def columnar_taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """A list that gets, for each Parquet export from now on, True when it was written from the twins and
    False when write_columnar declined and the row path wrote it."""
    seen: list[bool] = []
    real = parquet_export.write_columnar

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(parquet_export, "write_columnar", spy)
    return seen

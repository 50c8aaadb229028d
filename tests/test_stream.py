"""Streamed sweep CSV (issue 12): the same text as the generic report path, in chunks."""

from __future__ import annotations

import csv
import io
import math

import pytest

import moeplan
from moeplan.cli.stream import sweep_csv_chunks, sweep_csv_columns


def _generic_csv(res) -> str:
    """The CSV as the generic path wrote it: rows() dicts, repr of finite floats."""
    cols, choice_cols = sweep_csv_columns(res)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols + choice_cols)
    for row in res.rows():
        cells = [row[c] for c in cols] + list(row["loss_by_choice"].values())
        w.writerow([repr(v) if isinstance(v, float) and math.isfinite(v) else v for v in cells])
    return buf.getvalue()


@pytest.mark.parametrize(
    "law, kw",
    [
        ("krajewski2024-moe", {}),
        ("krajewski2024-moe", {"memory": 64e9, "dense_law": "krajewski2024-dense"}),
        ("ludziejewski2025-joint", {"memory": 16e9}),
        ("krajewski2024-moe", {"granularities": [1, 8], "inference_tokens": 1e11}),
    ],
)
def test_streamed_csv_equals_generic(law, kw):
    res = moeplan.sweep(law, 1e20, 1e23, 3, **kw)  # 3 rows
    expected = _generic_csv(res)
    for chunk in (1, 2, 3, 4096):  # chunks inside (1, 2: a short last one), at and beyond the rows
        text = "".join(sweep_csv_chunks(res, chunk=chunk))
        assert text == expected
    lines = text.splitlines()
    assert len(lines) == 4  # header + one row per budget
    assert len(lines[1].split(",")) == len(lines[0].split(","))

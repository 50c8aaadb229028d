"""Streamed CSV for large results: rows written in chunks straight from the arrays.

``sweep --points 100000 --csv`` through the generic :class:`~.render.Report` built the JSON
document, the human table (a regex on every cell) and a dict per row, for one format (issue 12:
~400 MB and seconds of output). Here only the CSV is built, 4,096 rows at a time; the text is
the same as :func:`~.render.emit` writes (``repr`` of each finite float, empty cells for
missing values).
"""

from __future__ import annotations

import csv
import math
import sys

import numpy as np

from ..errors import OutputError
from .render import print_warnings

#: Rows formatted at once: memory stays flat whatever --points is.
CHUNK = 4096


def sweep_csv_columns(res) -> tuple[list[str], list[str]]:
    """The CSV header of a :class:`~moeplan.plan.results.SweepResult`: its columns (the
    choice second) and one loss column per candidate choice."""
    cols = [res.COLUMNS[0], res.choice or "granularity"] + [
        c for c in res.COLUMNS[1:] if c != res.choice
    ]
    choice_cols = [f"loss_{res.choice or 'choice'}_{c:g}" for c in res.choices]
    return cols, choice_cols


def _cells(values, part: slice, n: int) -> list[str]:
    """CSV text of one column's rows ``part``: finite numbers as ``repr(float)``, strings as
    they are, missing values (None, NaN, inf, '') empty, as ``SweepResult.rows()`` + emit."""
    count = len(range(*part.indices(n)))
    if values is None:
        return [""] * count
    a = np.asarray(values)[part]
    if a.dtype.kind in "fiub":
        a = a.astype(float)
        out = list(map(repr, a.tolist()))  # repr of a float is its shortest round-trip text
        for i in np.flatnonzero(~np.isfinite(a)).tolist():
            out[i] = ""
        return out
    out = []
    for x in a.tolist():
        if isinstance(x, str):
            out.append(_quoted(x))
        elif x is None:
            out.append("")
        else:
            v = float(x)
            out.append(repr(v) if math.isfinite(v) else "")
    return out


def _quoted(text: str) -> str:
    """A text cell as the csv module writes it (minimal quoting)."""
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def sweep_csv_chunks(res, chunk: int = CHUNK):
    """The CSV text of a sweep, header first, then ``chunk`` rows at a time."""
    import io

    cols, choice_cols = sweep_csv_columns(res)
    flops = np.asarray(res.flops, dtype=float)
    n = flops.size
    sources = []
    for c in cols:
        if c in ("budget_flops", "flops"):
            sources.append(flops)
        else:
            sources.append(res.columns.get(c))
    by_choice = np.asarray(res.loss_by_choice, dtype=float).reshape(n, -1)
    sources.extend(by_choice[:, i] for i in range(by_choice.shape[1]))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cols + choice_cols)
    yield buf.getvalue()
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        done: dict[int, list] = {}  # the same array twice (budget_flops, flops) is formatted once
        cells = [
            done[id(s)] if id(s) in done else done.setdefault(id(s), _cells(s, part, n))
            for s in sources
        ]
        # every cell is already CSV text (numbers, quoted strings): rows are joined directly
        yield "\n".join(map(",".join, zip(*cells))) + "\n"


def emit_sweep_csv(res) -> None:
    """Write a sweep's CSV to stdout in chunks, then its warnings to stderr (as emit does)."""
    try:
        for text in sweep_csv_chunks(res):
            sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (`| head`): quietly, with exit status 4
        raise OutputError("") from None
    except OSError as exc:  # stdout full (/dev/full) or gone
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    print_warnings(list(res.warnings))

"""The one renderer: a command's :class:`Report` becomes Rich tables, plain text, JSON or CSV.

Rich is imported only when a table is drawn on a terminal, so piping ``moeplan`` into
another program (or running it in CI) costs no Rich import at all.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
from dataclasses import field
from typing import Any

from .._record import dataclass
from ..errors import OutputError


@dataclass
class Table:
    """A titled table of already-formatted cells (strings)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    caption: str | None = None


@dataclass
class Report:
    """What a command produces: the JSON payload, the human view and the exit code.

    ``data`` is the JSON document (``warnings`` is added by the renderer); ``tables`` and
    ``lines`` are the human view; ``csv_columns``/``csv_rows`` hold raw values for ``--csv``.
    """

    data: dict
    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    csv_columns: list[str] | None = None
    csv_rows: list[list[Any]] | None = None
    exit_code: int = 0


def _clean(obj):
    """JSON-safe plain values: numpy scalars to Python, tuples to lists, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    try:
        value = float(obj)
    except (TypeError, ValueError):
        return str(obj)
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 2**53:
        return int(value)  # counts and sizes print as whole numbers
    return value


#: CLI.md "Version 2": every --json document says its schema version and command.
SCHEMA_VERSION = 2


#: The running command's name when no click context says it (the entry point's fast path,
#: moeplan.cli.fast, runs ``optimize`` without click).
command_name: str | None = None


def _command_name() -> str | None:
    if "click" in sys.modules:
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            return ctx.info_name
    return command_name


def to_json(data: dict) -> str:
    """The JSON text of a document (plain numbers, no NaN), with ``schema_version`` and
    ``command`` (the running command's name) first."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "command": data.get("command") or _command_name(),
        **data,
    }
    import json  # here: the human view (the default) needs no json

    return json.dumps(_clean(doc), indent=2, allow_nan=False)


def use_rich(stream=None) -> bool:
    """Rich tables only on a terminal, and never when NO_COLOR is set."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") is not None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_NUMERIC_CELL = re.compile(
    r"^[+\-~≈<>]?\d[\d,]*(\.\d*)?(e[+\-]?\d+)?\s?(%|x|[KMBTPE]|[kMGTP]?B|hours|days)?$"
    r"|^[+\-]?\.\d+$"
)


def _is_numeric(cell) -> bool:
    return bool(_NUMERIC_CELL.match(str(cell).strip()))


def numeric_columns(table: Table) -> list[bool]:
    """Columns right-aligned: every non-empty cell is one number ("1.3e19", "45%", "9.1B")."""
    out = []
    for i in range(len(table.columns)):
        cells = [row[i] for row in table.rows if str(row[i]).strip() not in ("", "-")]
        out.append(bool(cells) and all(_is_numeric(c) for c in cells))
    return out


def plain_table(table: Table) -> str:
    """A table as aligned plain text (what non-terminals and NO_COLOR get)."""
    cells = [[str(c) for c in table.columns]] + [[str(c) for c in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    right = numeric_columns(table)

    def fmt(row):
        parts = [
            cell.rjust(widths[i]) if right[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    out = [table.title] if table.title else []
    out.append(fmt(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(fmt(r) for r in cells[1:])
    if table.caption:
        out.append(table.caption)
    return "\n".join(out)


def _longest_word(text) -> int:
    return max((len(w) for w in str(text).split()), default=0)


def _column_needs(table: Table) -> list[tuple[int, int]]:
    """Per column: (natural width, narrowest width that cuts no header and no number).

    Numbers never wrap; a text column may wrap at spaces (and fold a long word in a cell,
    never in the header); the first column names the row and keeps its words whole.
    """
    right = numeric_columns(table)
    out = []
    for i, col in enumerate(table.columns):
        cells = [str(row[i]) for row in table.rows]
        natural = max([len(str(col))] + [len(c) for c in cells])
        if right[i]:
            least = max([_longest_word(col)] + [len(c) for c in cells])
        elif i == 0:
            least = max([_longest_word(col)] + [_longest_word(c) for c in cells])
        else:
            least = _longest_word(col)
        out.append((natural, least))
    return out


def min_table_width(table: Table) -> int:
    """The narrowest a table can be drawn (compact padding) without cutting a header name or
    a number: below this it is printed as ``header: value`` lines."""
    return sum(least for _, least in _column_needs(table)) + 2 * len(table.columns)


def fit_widths(table: Table, width: int) -> list[int] | None:
    """Column widths that draw ``table`` within ``width`` characters with compact padding,
    narrowing only the text columns (never below a header word); None if impossible."""
    needs = _column_needs(table)
    widths = [natural for natural, _ in needs]
    excess = sum(widths) + 2 * len(widths) - width
    while excess > 0:
        # take one character at a time from the widest column that can still give one
        slack = [
            (w - least, i)
            for i, ((_, least), w) in enumerate(zip(needs, widths, strict=True))
            if w > least
        ]
        if not slack:
            return None
        _, i = max((widths[i], i) for _, i in slack)
        widths[i] -= 1
        excess -= 1
    return widths


def split_table(table: Table, width: int) -> list[Table] | None:
    """A table too wide for ``width`` as several narrower ones, each repeating the first
    column (which names the row); None if even one column beside the first does not fit."""
    needs = _column_needs(table)

    def least(cols):
        return sum(needs[j][1] for j in cols) + 2 * len(cols)

    groups, current = [], [0]
    for i in range(1, len(table.columns)):
        if least(current + [i]) <= width:
            current.append(i)
            continue
        if len(current) == 1 or least([0, i]) > width:
            return None
        groups.append(current)
        current = [0, i]
    groups.append(current)
    parts = []
    for k, cols in enumerate(groups):
        title = table.title if k == 0 else (f"{table.title} (continued)" if table.title else "")
        parts.append(
            Table(
                title,
                [table.columns[j] for j in cols],
                [[row[j] for j in cols] for row in table.rows],
                caption=table.caption if k == len(groups) - 1 else None,
            )
        )
    return parts


def stacked_table(table: Table) -> str:
    """A table as ``header: value`` lines, one block per row: for terminals too narrow for
    columns (``COLUMNS=20``); nothing is cut, so a verdict or a failed check is never lost."""
    out = [table.title] if table.title else []
    for row in table.rows:
        out.append("")
        for col, cell in zip(table.columns, row, strict=False):
            label = str(col).strip()
            out.append(f"{label}: {cell}" if label else str(cell))
    if table.caption:
        out.extend(["", table.caption])
    return "\n".join(out)


def _rich_print(report: Report) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table as RichTable

    console = Console()
    width = console.width
    tables = []
    for t in report.tables:
        natural = sum(n for n, _ in _column_needs(t)) + 3 * len(t.columns) + 1
        if natural > width and fit_widths(t, width) is None:
            # too wide: the columns in groups, or (narrower still) header: value lines
            tables.extend(split_table(t, width) or [t])
        else:
            tables.append(t)
    for t in tables:
        natural = sum(n for n, _ in _column_needs(t)) + 3 * len(t.columns) + 1
        widths = None if natural <= width else fit_widths(t, width)
        if natural > width and widths is None:
            # too narrow to draw the columns without cutting headers or numbers: plain lines
            sys.stdout.write(stacked_table(t) + "\n\n")
            continue
        compact = widths is not None  # one space of padding; text wraps, headers whole
        # user data (file names, run names) may hold "[...]": escaped, never read as markup
        rt = RichTable(
            title=escape(t.title) if t.title else t.title,
            caption=escape(t.caption) if t.caption else t.caption,
            box=box.SIMPLE_HEAVY,
            title_justify="left",
            title_style="bold",
            padding=(0, 1, 0, 0) if compact else (0, 1),
            pad_edge=not compact,
        )
        right = numeric_columns(t)
        for i, col in enumerate(t.columns):
            rt.add_column(
                escape(str(col)),
                justify="right" if right[i] else "left",
                style="cyan" if i == 0 else None,
                no_wrap=not compact and i == 0,
                width=widths[i] if compact else None,
                overflow="fold",
            )
        for row in t.rows:
            rt.add_row(*[escape(str(c)) for c in row])
        console.print(rt)
    if report.lines and width < 20:
        sys.stdout.write("\n".join(report.lines) + "\n")
        return
    for line in report.lines:
        console.print(line, highlight=False, markup=False)


def print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        try:
            print(f"warning: {w}", file=sys.stderr)
        except (OSError, ValueError):  # stderr closed: the result itself was printed
            return


def emit(report: Report, fmt: str = "human") -> int:
    """Print a report in the chosen format and return its exit code.

    ``fmt`` is ``human`` (Rich on a terminal, plain text otherwise), ``json`` or ``csv``.
    Warnings always go to stderr; with JSON they are also in the document's ``warnings``.
    """
    try:
        if fmt == "json":
            payload = dict(report.data)
            payload["warnings"] = list(report.warnings)
            sys.stdout.write(to_json(payload) + "\n")
        elif fmt == "csv":
            buf = io.StringIO()
            import csv

            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(report.csv_columns or [])
            for row in report.csv_rows or []:
                writer.writerow([_csv_cell(v) for v in row])
            sys.stdout.write(buf.getvalue())
        elif use_rich():
            _rich_print(report)
        else:
            blocks = [plain_table(t) for t in report.tables]
            text = "\n\n".join(blocks)
            if report.lines:
                text = (text + "\n\n" if text else "") + "\n".join(report.lines)
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left early (`| head`): quietly, with exit status 4
        raise OutputError("") from None
    except OSError as exc:  # stdout full (/dev/full) or gone
        raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None
    # after the output, where a person reading a terminal sees them last
    print_warnings(report.warnings)
    return report.exit_code


def _csv_cell(v):
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ""
    return v

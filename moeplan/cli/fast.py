"""The entry point's typer-free fast path (issue 12: start-up time).

``moeplan optimize --flops 1e22`` spends more time importing typer and click (~40 ms) than
planning. This module parses ``optimize``'s options from a table generated from the Typer
app (:mod:`moeplan.cli._fast_tables`, ``python -m moeplan.cli.generate``), converts the values
with the same converters (:mod:`moeplan.cli.convert`) and calls the same body
(:func:`moeplan.cli.plan_views.run_optimize`) with the values the Typer command would pass.
``moeplan --help`` (and ``moeplan`` alone) print the help text the app printed when the table
was generated, when the help would be formatted at the same width. A table is used only
while the SHA-256 of the files it was made from match (an edit without regenerating is slower,
never wrong).

Anything else returns to the caller, which runs the Typer app: a help option, an option the
table does not know or marks unsupported, a value a converter refuses, an option given twice,
a positional argument, ``--``. So every message and exit status of a mistake is the Typer
app's own. tests/test_fast_path.py runs a catalogue of command lines both ways.
"""

from __future__ import annotations

import os
import sys

from . import _fast_tables as tables
from . import guarded

#: click formats help at min(terminal columns, 80) - 2: the cached help holds for >= 80.
HELP_MIN_COLUMNS = 80


def _terminal_columns() -> int:
    """The columns click's help formatter sees (``shutil.get_terminal_size``'s rule, without
    importing shutil)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


def sha256_of(name: str) -> str | None:
    """SHA-256 of a file of moeplan/cli/ (None if it cannot be read), without hashlib (which
    loads OpenSSL): CPython's built-in SHA-256 gives the same digest."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # Python <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # Python >= 3.12
        except ImportError:
            from hashlib import sha256
    try:
        with open(os.path.join(os.path.dirname(__file__), name), "rb") as fh:
            return sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _fresh(sources: dict) -> bool:
    """Whether the files a table was generated from are unchanged (else the Typer app)."""
    return all(sha256_of(name) == digest for name, digest in sources.items())


def run_help(argv: list[str]) -> None:
    """``moeplan --help`` / ``-h`` (stdout, exit 0) or ``moeplan`` alone (stderr, exit 2)
    from the cached text; returns if the text would be formatted at another width, or the
    files it was made from changed."""
    if _terminal_columns() < HELP_MIN_COLUMNS or not _fresh(tables.HELP_SOURCES):
        return
    if argv:

        def call():
            sys.stdout.write(tables.HELP)

    else:

        def call():
            sys.stderr.write(tables.HELP_NO_ARGS)
            sys.exit(2)

    guarded("moeplan", call)


def parse(spec: dict | None, defaults: dict, argv: list[str]) -> dict | None:
    """The values of a command's parameters from its options in ``argv`` (the words after the
    command's name), as the Typer command receives them; None where the Typer app must
    decide (see the module's docstring)."""
    if spec is None:
        return None
    from .convert import KINDS, BadValue

    values: dict = {}
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if not word.startswith("--") or word == "--":
            return None
        name, eq, attached = word.partition("=")
        entry = spec.get(name)
        if entry is None:  # unknown, a help option, or one the table marks unsupported
            return None
        param, what, kind, arguments, multiple = entry
        if what == "flag":
            if eq or param in values:
                return None
            values[param] = kind  # the flag's value (True, or False for a --no- form)
            continue
        value: object
        if eq:
            value = attached
        else:
            if i >= len(argv) or argv[i].startswith("-"):
                return None  # a missing value, or one click might read differently
            value = argv[i]
            i += 1
        if kind is not None:
            try:
                value = KINDS[kind](**arguments)(value)
            except BadValue:
                return None
        if multiple:
            values.setdefault(param, []).append(value)
        elif param in values:
            return None
        else:
            values[param] = value
    return {**defaults, **values}


def run_optimize(argv: list[str]) -> None:
    """``moeplan optimize`` with ``argv`` its options: runs and exits, or returns if the
    Typer app must take the command line."""
    if not _fresh(tables.OPTIMIZE_SOURCES):
        return
    values = parse(tables.OPTIMIZE, tables.OPTIMIZE_DEFAULTS, argv)
    if values is None:
        return
    from . import render
    from .plan_views import run_optimize as body

    render.command_name = "optimize"  # what the JSON's "command" says (click's info_name)
    try:
        guarded("moeplan", lambda: body(**values))
    finally:
        render.command_name = None

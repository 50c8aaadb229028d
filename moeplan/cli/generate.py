"""Regenerate moeplan/cli/_fast_tables.py (the entry point's fast path) from the Typer app.

    python -m moeplan.cli.generate

Run it after changing ``optimize``'s options or any help text of ``moeplan --help``;
tests/test_fast_path.py fails until you do. The Typer app stays the one definition: this
reads its options (names, flags, converters, repetition) and the defaults it passes, and
records the help it prints.
"""

from __future__ import annotations

import contextlib
import io
import os
import pprint
from pathlib import Path

TARGET = Path(__file__).resolve().with_name("_fast_tables.py")


def _entries(param) -> list[tuple[str, tuple | None]]:
    """(flag, table entry) for each flag of one click parameter; entry None: unsupported."""
    import click

    from .common import _Converted

    flags = list(param.opts) + list(param.secondary_opts)
    plain = (
        isinstance(param, click.Option)
        and not param.envvar
        and param.callback is None
        and not param.is_eager
        and not param.prompt
        and not param.required
        and not param.count
        and param.nargs == 1
        and param.expose_value
    )
    if plain and param.is_flag and isinstance(param.type, click.types.BoolParamType):
        if param.multiple or not isinstance(param.flag_value, bool):
            return [(f, None) for f in flags]
        return [(f, (param.name, "flag", param.flag_value, {}, False)) for f in param.opts] + [
            (f, (param.name, "flag", not param.flag_value, {}, False)) for f in param.secondary_opts
        ]
    if plain and not param.is_flag:
        if isinstance(param.type, _Converted):
            kind, arguments = param.type.converter.kind, param.type.converter.arguments()
        elif param.type is click.STRING:
            kind, arguments = None, {}
        else:
            return [(f, None) for f in flags]
        return [(f, (param.name, "value", kind, arguments, bool(param.multiple))) for f in flags]
    return [(f, None) for f in flags]


def optimize_table() -> tuple[dict | None, dict]:
    """``optimize``'s options as :func:`moeplan.cli.fast.parse` reads them, and the values the
    Typer command passes to its body when no option is given."""
    import click
    import typer.main

    from . import cmd_plan
    from .typer_app import build_app

    command = typer.main.get_command(build_app(["optimize"])).commands["optimize"]  # type: ignore[attr-defined]
    if any(not isinstance(p, click.Option) for p in command.params):
        return None, {}  # positional arguments: the fast path does not parse them
    spec: dict = {}
    for param in command.params:
        spec.update(_entries(param))
    passed: dict = {}

    def spy(**values):
        passed.update(values)
        return 0

    real = cmd_plan.run_optimize
    cmd_plan.run_optimize = spy  # type: ignore[assignment]
    try:
        command.main([], prog_name="optimize", standalone_mode=False)
    finally:
        cmd_plan.run_optimize = real  # type: ignore[assignment]
    return spec, passed


def help_texts() -> tuple[str, str]:
    """What the Typer app prints for ``moeplan --help`` (stdout) and ``moeplan`` alone
    (stderr) at the width of an 80-column terminal or a pipe."""
    from . import run

    out = []
    for argv in (["--help"], []):
        stdout, stderr = io.StringIO(), io.StringIO()
        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "80"
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                run(argv, fast=False)
        except SystemExit:
            pass
        finally:
            if saved is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = saved
        out.append(stdout.getvalue() if argv else stderr.getvalue())
    return out[0], out[1]


#: The files (in moeplan/cli/) each table is made from: the fast path uses a table only while
#: their SHA-256 are the ones recorded (an edit without regenerating falls back to Typer).
OPTIMIZE_FILES = ("cmd_plan.py", "common.py", "convert.py", "plan_views.py")


def help_files() -> tuple[str, ...]:
    from . import COMMAND_MODULES

    return ("__init__.py", "typer_app.py", *sorted({f"{m}.py" for m in COMMAND_MODULES.values()}))


def digests(names) -> dict:
    from .fast import sha256_of

    return {name: sha256_of(name) for name in names}


def module_text() -> str:
    spec, defaults = optimize_table()
    help_text, no_args = help_texts()
    return (
        '"""Tables of the entry point\'s typer-free fast path (moeplan/cli/fast.py).\n\n'
        "Generated from the Typer app by `python -m moeplan.cli.generate`: do not edit.\n"
        'tests/test_fast_path.py fails while they differ from what the app says.\n"""\n\n'
        "#: `moeplan --help` (stdout) at 78 columns, the width for a pipe or a terminal of 80+.\n"
        f"HELP = {help_text!r}\n\n"
        "#: `moeplan` alone (stderr, exit 2), same width.\n"
        f"HELP_NO_ARGS = {no_args!r}\n\n"
        "#: SHA-256 of the files the help is made from.\n"
        f"HELP_SOURCES = {pprint.pformat(digests(help_files()), width=100)}\n\n"
        "#: optimize's flags: (parameter, 'flag' or 'value', flag value or converter kind,\n"
        "#: converter arguments, repeatable); None: the Typer app parses it.\n"
        f"OPTIMIZE = {pprint.pformat(spec, width=100, sort_dicts=False)}\n\n"
        "#: The values the Typer command passes for options not given.\n"
        f"OPTIMIZE_DEFAULTS = {pprint.pformat(defaults, width=100, sort_dicts=False)}\n\n"
        "#: SHA-256 of the files the options are made from.\n"
        f"OPTIMIZE_SOURCES = {pprint.pformat(digests(OPTIMIZE_FILES), width=100)}\n"
    )


if __name__ == "__main__":
    TARGET.write_text(module_text(), encoding="utf-8")
    print(f"wrote {TARGET}")

"""The ``moeplan`` command line: a thin Typer layer over the core.

Each ``cmd_*`` module registers its commands on :data:`app`. User mistakes
(:class:`~moeplan.errors.MoeplanError` and click usage errors) become one line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

import typer
import click
from typer.core import TyperGroup

from .. import __version__
from ..errors import MoeplanError


class MoeplanGroup(TyperGroup):
    """Runs the command in non-standalone mode and reports user errors on one line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             windows_expand_args=True, **extra):
        prog = prog_name or "moeplan"
        debug = os.environ.get("MOEPLAN_DEBUG") not in (None, "", "0")
        try:
            rv = super().main(args=args, prog_name=prog, complete_var=complete_var,
                              standalone_mode=False, windows_expand_args=windows_expand_args,
                              **extra)
        except MoeplanError as exc:
            if debug:
                raise
            _error_line(prog, str(exc))
            sys.exit(2)
        except click.exceptions.NoArgsIsHelpError as exc:  # `moeplan` alone: show help
            print(exc.ctx.get_help() if exc.ctx else "", file=sys.stderr)
            sys.exit(2)
        except click.exceptions.UsageError as exc:
            cmd = exc.ctx.command_path if exc.ctx is not None else prog
            hint = f" (see '{cmd} --help')"
            _error_line(cmd, exc.format_message() + hint)
            sys.exit(2)
        except click.exceptions.ClickException as exc:  # e.g. a file that cannot be opened
            _error_line(prog, exc.format_message())
            sys.exit(2)
        except click.exceptions.Abort:
            print("Aborted.", file=sys.stderr)
            sys.exit(130)
        except BrokenPipeError:  # `moeplan sweep ... | head`
            sys.stderr.close()
            sys.exit(0)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        sys.exit(0)


def _error_line(prog: str, message: str) -> None:
    text = " ".join(message.split())  # always one line
    sentences = []
    for sentence in text.replace("? ", "?\n").replace(". ", ".\n").split("\n"):
        if sentence not in sentences:  # click and typer may both add "Did you mean ...?"
            sentences.append(sentence)
    text = " ".join(sentences)
    print(f"{prog}: error: {text}", file=sys.stderr)


def _version(value: bool) -> None:
    if value:
        print(f"moeplan {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=MoeplanGroup,
    name="moeplan",
    help="Plan Mixture-of-Experts training compute with the fine-grained MoE scaling laws "
         "(Krajewski et al. 2024).\n\nExample: moeplan optimize --flops 1e22",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Plan Mixture-of-Experts training compute with fine-grained MoE scaling laws."""


def _register() -> None:
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()

"""The Typer app: every command with its options, help and click's parsing and errors.

:mod:`moeplan.cli` (the entry point) imports this module only when its typer-free fast
path does not handle the command line (issue 12: typer and click cost ~40 ms of start-up).
"""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from .. import __version__
from . import COMMAND_MODULES, error_line, guarded


class MoeplanGroup(TyperGroup):
    """Runs the command in non-standalone mode and reports user errors on one line."""

    def main(
        self,
        args=None,
        prog_name=None,
        complete_var=None,
        standalone_mode=True,
        windows_expand_args=True,
        **extra,
    ):
        prog = prog_name or "moeplan"
        argv = sys.argv[1:] if args is None else list(args)

        def call():
            if not argv:  # `moeplan` alone: the help, on stderr, exit 2 (click's convention)
                _help_on_stderr(self, prog)
                sys.exit(2)
            try:
                return TyperGroup.main(
                    self,
                    args=argv,
                    prog_name=prog,
                    complete_var=complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
            except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command
                _help_on_stderr(exc.ctx.command if exc.ctx else self, prog)
                sys.exit(2)
            except click.exceptions.UsageError as exc:
                cmd = exc.ctx.command_path if exc.ctx is not None else prog
                hint = f" (see '{cmd} --help')"
                error_line(cmd, exc.format_message() + hint)
                sys.exit(2)
            except click.exceptions.ClickException as exc:  # e.g. a file that cannot be opened
                error_line(prog, exc.format_message())
                sys.exit(2)
            except click.exceptions.Abort:
                print("Aborted.", file=sys.stderr)
                sys.exit(130)

        guarded(prog, call)


def _help_on_stderr(command, prog: str) -> None:
    import contextlib

    ctx = click.Context(command, info_name=prog)
    with contextlib.redirect_stdout(sys.stderr):  # Typer's Rich help prints to stdout
        text = command.get_help(ctx)
        if text:
            print(text)


def _version(value: bool) -> None:
    if value:
        print(f"moeplan {__version__}")
        raise typer.Exit()


def build_app(names=None) -> typer.Typer:
    """The Typer app with the named commands (all of them by default)."""
    import importlib

    application = typer.Typer(
        cls=MoeplanGroup,
        name="moeplan",
        help="Plan Mixture-of-Experts training compute with the fine-grained MoE scaling laws "
        "(Krajewski et al. 2024).\n\nExample: moeplan optimize --flops 1e22\n\n"
        "Exit codes: 0 success, 1 check found a violation, 2 bad input, 3 fit did not "
        "converge, 4 the output could not be written.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # click's plain help: Typer's Rich panels cost ~56 ms of rich imports per --help
        # (issue 12: --help within 2x of importing numpy); the text is the same
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    for name in COMMAND_MODULES if names is None else names:
        module = importlib.import_module(f"moeplan.cli.{COMMAND_MODULES[name]}")
        function, options = module.COMMANDS[name]
        application.command(name, **options)(function)
    return application


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Plan Mixture-of-Experts training compute with fine-grained MoE scaling laws."""

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
            _error_line(prog, flag_message(exc))
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


#: Library parameters whose flag is not ``--`` + the name with dashes.
_FLAGS = {"flops_from": "--from", "flops_to": "--to", "expansion_rate": "--expansion",
          "granularities": "--granularity", "n_alternatives": "--alternatives"}


def flag_message(exc: MoeplanError) -> str:
    """The message with the parameter it names (``exc.param``) shown as its CLI flag."""
    msg, param = str(exc), getattr(exc, "param", None)
    if not param:
        return msg
    flag = _FLAGS.get(param, "--" + param.replace("_", "-"))
    if msg.startswith(flag):
        return msg
    if msg.startswith(param):
        return flag + msg[len(param):]
    return f"{flag}: {msg}"


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


#: Every command and the module that defines it, in the order `moeplan --help` lists them.
#: Knowing the module without importing it lets `moeplan optimize` build just that command
#: (tests/test_cli_framework.py checks this table against the modules' COMMANDS).
COMMAND_MODULES = {
    "optimize": "cmd_plan",
    "compare": "cmd_plan",
    "sweep": "cmd_plan",
    "loss": "cmd_basic",
    "flops": "cmd_basic",
    "check": "cmd_check",
    "inspect": "cmd_check",
    "fit": "cmd_fit",
    "lr": "cmd_lr",
    "laws": "cmd_basic",
}


def build_app(names=None) -> typer.Typer:
    """The Typer app with the named commands (all of them by default)."""
    import importlib

    application = typer.Typer(
        cls=MoeplanGroup,
        name="moeplan",
        help="Plan Mixture-of-Experts training compute with the fine-grained MoE scaling laws "
             "(Krajewski et al. 2024).\n\nExample: moeplan optimize --flops 1e22",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    application.callback()(_root)
    for name in COMMAND_MODULES if names is None else names:
        module = importlib.import_module(f"{__name__}.{COMMAND_MODULES[name]}")
        function, options = module.COMMANDS[name]
        application.command(name, **options)(function)
    return application


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Plan Mixture-of-Experts training compute with fine-grained MoE scaling laws."""


_FULL_APP = None


def __getattr__(name):
    # `from moeplan.cli import app` gives the full app, built on first use.
    global _FULL_APP
    if name == "app":
        if _FULL_APP is None:
            _FULL_APP = build_app()
        return _FULL_APP
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point.

    Building every command costs start-up time (Typer inspects each signature), so when the
    first word names a command only that command is built; anything else (``--help``,
    ``--version``, a typo) gets the full app with its listing and suggestions.
    """
    args = sys.argv[1:]
    first = args[0] if args else None
    if first in COMMAND_MODULES:
        build_app([first])(prog_name="moeplan")
    else:
        build_app()(prog_name="moeplan")

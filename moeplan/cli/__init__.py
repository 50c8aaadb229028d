"""The ``moeplan`` command line: a thin Typer layer over the core.

Each ``cmd_*`` module registers its commands on :data:`app`. User mistakes
(:class:`~moeplan.errors.MoeplanError` and click usage errors) become one line on stderr and
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings

import click
import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import MoeplanError, OutputError

#: Exit status when the output could not be written (stdout closed or full, a reader that
#: closed early, a disk full under --out): the work may be done but nobody got the result.
#: Never 1, which `check` reserves for a violated limit.
EXIT_OUTPUT_ERROR = 4
#: Every exit status and what it means (README's command reference is generated from this).
EXIT_CODES = {
    0: "success",
    1: "`check` ran and found a violation",
    2: "bad usage or bad input (one line on stderr)",
    3: "`fit` did not converge",
    EXIT_OUTPUT_ERROR: "the output could not be written (stdout closed or full, a reader that "
    "left early, a full disk under --out or --plot)",
}
#: Longest word echoed back in an error line; longer values are shortened (a 10,000-digit
#: --flops is not printed back in full).
_MAX_WORD = 200


#: errno values of a failed write to stdout: full disk or quota, gone pipe, closed descriptor.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EPIPE, errno.EBADF, errno.EIO, errno.EDQUOT, errno.EFBIG}


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
        debug = os.environ.get("MOEPLAN_DEBUG") not in (None, "", "0")
        if sys.stdout is None:  # `moeplan ... >&-`: nowhere to print the result
            _error_line(prog, "cannot write the output: standard output is closed")
            sys.exit(EXIT_OUTPUT_ERROR)
        _tolerant_streams()
        argv = sys.argv[1:] if args is None else list(args)
        if not argv:  # `moeplan` alone: the help, on stderr, exit 2 (click's convention)
            _help_on_stderr(self, prog)
            sys.exit(2)
        try:
            with warnings.catch_warnings():
                if not debug:
                    # numpy's overflow/invalid warnings are handled by the code (results are
                    # checked for finiteness); they must not reach stderr nor, under
                    # PYTHONWARNINGS=error, become tracebacks
                    warnings.simplefilter("ignore", RuntimeWarning)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    warnings.simplefilter("ignore", PendingDeprecationWarning)
                rv = super().main(
                    args=argv,
                    prog_name=prog,
                    complete_var=complete_var,
                    standalone_mode=False,
                    windows_expand_args=windows_expand_args,
                    **extra,
                )
            _flush_stdout()
        except OutputError as exc:
            _output_failed(prog, str(exc) or None)
        except BrokenPipeError:  # `moeplan sweep ... | head`: the reader left early
            _output_failed(prog, None)
        except MoeplanError as exc:
            if debug:
                raise
            _error_line(prog, flag_message(exc))
            sys.exit(2)
        except click.exceptions.NoArgsIsHelpError as exc:  # a group without its command
            _help_on_stderr(exc.ctx.command if exc.ctx else self, prog)
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
        except OSError as exc:
            # a write to stdout that failed inside a command (file reads are FileFormatError)
            if exc.errno not in _OUTPUT_ERRNOS or debug:
                raise
            _output_failed(prog, f"cannot write the output: {exc.strerror or exc}")
        except ValueError as exc:
            # Python's limit on integer digits (sys.get_int_max_str_digits) hit by a huge
            # number anywhere (JSON config, YAML file): a user's input, not a moeplan bug
            if "integer string conversion" not in str(exc) or debug:
                raise
            _error_line(
                prog,
                "a number has more digits than Python converts "
                f"({sys.get_int_max_str_digits():,}); give numbers in plain or "
                "e notation, e.g. 1e22",
            )
            sys.exit(2)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
        sys.exit(0)


def _tolerant_streams() -> None:
    """Never crash on a character the terminal's encoding lacks (LC_ALL=C, latin-1)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding not in ("utf8", "utf_8") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):  # a detached or closed stream
                pass


def _help_on_stderr(command, prog: str) -> None:
    import contextlib

    ctx = click.Context(command, info_name=prog)
    with contextlib.redirect_stdout(sys.stderr):  # Typer's Rich help prints to stdout
        text = command.get_help(ctx)
        if text:
            print(text)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputError("") from None
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"cannot write the output: {getattr(exc, 'strerror', None) or exc}"
        ) from None


def _output_failed(prog: str, message: str | None) -> None:
    """Leave with EXIT_OUTPUT_ERROR; stdout is pointed at /dev/null so that the interpreter's
    final flush cannot fail again (and turn the exit status into 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    if message is not None:
        try:
            _error_line(prog, message)
        except OSError:
            pass
    sys.exit(EXIT_OUTPUT_ERROR)


def _shorten(word: str) -> str:
    if len(word) <= _MAX_WORD:
        return word
    return f"{word[:100]}…{word[-40:]} ({len(word):,} characters)"


#: Library parameters whose flag is not ``--`` + the name with dashes.
_FLAGS = {
    "flops_from": "--from",
    "flops_to": "--to",
    "expansion_rate": "--expansion",
    "granularities": "--granularity",
    "n_alternatives": "--alternatives",
}


def flag_message(exc: MoeplanError) -> str:
    """The message with the parameter it names (``exc.param``) shown as its CLI flag."""
    msg, param = str(exc), getattr(exc, "param", None)
    if not param:
        return msg
    flag = _FLAGS.get(param, "--" + param.replace("_", "-"))
    if msg.startswith(flag):
        return msg
    if msg.startswith(param):
        return flag + msg[len(param) :]
    return f"{flag}: {msg}"


def _error_line(prog: str, message: str) -> None:
    text = " ".join(_shorten(w) for w in message.split())  # always one line, no huge words
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
    "calibrate": "cmd_hw",
    "profiles": "cmd_hw",
}


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
        module = importlib.import_module(f"{__name__}.{COMMAND_MODULES[name]}")
        function, options = module.COMMANDS[name]
        application.command(name, **options)(function)
    return application


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
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


#: Variables through which a user chooses numpy's BLAS threads; any of them set wins.
BLAS_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _one_blas_thread() -> None:
    """Load numpy with one OpenBLAS thread unless the user chose a number.

    The planner's numpy work is on small vectors; OpenBLAS otherwise starts a thread per core
    at load (~55 ms of a ~135 ms start on a 2-core machine) for nothing. OpenBLAS reads the
    setting once, when numpy loads, so it is set only around that import and removed again:
    child processes (and torch under ``calibrate``) see the user's environment unchanged.
    """
    if "numpy" in sys.modules or any(os.environ.get(v) for v in BLAS_THREAD_VARS):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        os.environ.pop("OPENBLAS_NUM_THREADS", None)


def main() -> None:
    """Console-script entry point.

    Building every command costs start-up time (Typer inspects each signature), so when the
    first word names a command only that command is built; anything else (``--help``,
    ``--version``, a typo) gets the full app with its listing and suggestions.
    """
    args = sys.argv[1:]
    first = args[0] if args else None
    if first != "--version":
        _one_blas_thread()
    if first in COMMAND_MODULES:
        build_app([first])(prog_name="moeplan")
    elif args == ["--version"]:  # no command needed (nor numpy)
        build_app([])(prog_name="moeplan")
    else:
        build_app()(prog_name="moeplan")

"""The ``moeplan`` command line: a thin Typer layer over the core.

Each ``cmd_*`` module registers its commands on :data:`app` (built in
:mod:`moeplan.cli.typer_app`). User mistakes (:class:`~moeplan.errors.MoeplanError` and click usage
errors) become one line on stderr and exit code 2; anything else is a bug and keeps its
traceback.

This module imports neither typer nor click: the entry point (:func:`main`, :func:`run`)
answers ``moeplan optimize ...`` and ``moeplan --help`` without them when it can
(:mod:`moeplan.cli.fast`) and hands everything else to the Typer app.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings
from typing import NoReturn

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


def guarded(prog: str, call) -> NoReturn:
    """Run ``call()`` (a command) and leave with its exit status.

    What the Typer app and the fast path share: the output checks, warnings kept off stderr,
    a user's mistake (:class:`~moeplan.errors.MoeplanError`) as one line and exit code 2, an
    output that cannot be written as exit code 4. An integer returned by ``call`` is the
    exit status.
    """
    debug = os.environ.get("MOEPLAN_DEBUG") not in (None, "", "0")
    if sys.stdout is None:  # `moeplan ... >&-`: nowhere to print the result
        error_line(prog, "cannot write the output: standard output is closed")
        sys.exit(EXIT_OUTPUT_ERROR)
    _tolerant_streams()
    rv = None
    try:
        with warnings.catch_warnings():
            if not debug:
                # numpy's overflow/invalid warnings are handled by the code (results are
                # checked for finiteness); they must not reach stderr nor, under
                # PYTHONWARNINGS=error, become tracebacks
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
            rv = call()
        _flush_stdout()
    except KeyboardInterrupt:  # as Typer's app ends a Ctrl-C: quietly, exit status 130
        sys.exit(130)
    except EOFError:  # as the Typer app: a new line and "Aborted." on stderr, exit status 130
        print(file=sys.stderr)
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except OutputError as exc:
        _output_failed(prog, flag_message(exc) or None)
    except BrokenPipeError:  # `moeplan sweep ... | head`: the reader left early
        _output_failed(prog, None)
    except MoeplanError as exc:
        if debug:
            raise
        error_line(prog, flag_message(exc))
        sys.exit(2)
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
        error_line(
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
            error_line(prog, message)
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
    "fixed": "--fix",
    "form": "--law-form",
    "n_samples": "--bootstrap",
    "fraction": "--holdout",
    "columns": "--column",
    "as_family": "--as",
}


def _flag(param: str) -> str:
    return _FLAGS.get(param, "--" + param.replace("_", "-"))


def flag_message(exc: MoeplanError, with_param: bool = True) -> str:
    """The message with the parameter it is about (``exc.param``) and the ones it mentions
    (``exc.mentions``) shown as their CLI flags; ``with_param=False`` leaves ``param`` out (an
    error about a file's content, where it names a key of the file, not a flag)."""
    msg, param = str(exc), getattr(exc, "param", None) if with_param else None
    for name in getattr(exc, "mentions", ()):
        import re  # the error path only

        msg = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", _flag(name), msg)
    if not param:
        return msg
    flag = _flag(param)
    if msg.startswith(flag):
        return msg
    if msg.startswith(param):
        return flag + msg[len(param) :]
    return f"{flag}: {msg}"


def error_line(prog: str, message: str) -> None:
    text = " ".join(_shorten(w) for w in message.split())  # always one line, no huge words
    sentences = []
    for sentence in text.replace("? ", "?\n").replace(". ", ".\n").split("\n"):
        if sentence not in sentences:  # click and typer may both add "Did you mean ...?"
            sentences.append(sentence)
    text = " ".join(sentences)
    print(f"{prog}: error: {text}", file=sys.stderr)


#: Every command and the module that defines it, in the order `moeplan --help` lists them.
#: Knowing the module without importing it lets `moeplan optimize` build just that command
#: (tests/test_docs.py checks this table against the modules' COMMANDS).
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


def __getattr__(name):
    # `from moeplan.cli import app` gives the full app, built on first use; `build_app` and
    # `MoeplanGroup` live in moeplan.cli.typer_app (typer), imported only when asked for.
    global _FULL_APP
    if name == "app":
        if _FULL_APP is None:
            from .typer_app import build_app

            _FULL_APP = build_app()
        return _FULL_APP
    if name in ("build_app", "MoeplanGroup"):
        from . import typer_app as _app

        return getattr(_app, name)
    raise AttributeError(name)


_FULL_APP = None


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
    """Console-script entry point (``moeplan``, ``python -m moeplan``): :func:`run` on
    ``sys.argv[1:]``."""
    run(sys.argv[1:])


def run(argv: list[str], *, fast: bool = True) -> NoReturn:
    """Run the command line ``argv`` (without the program name) and leave with its exit status
    (always raises :class:`SystemExit`), exactly as the ``moeplan`` command does.

    ``moeplan --help`` and ``moeplan optimize ...`` with options the fast path knows
    (:mod:`moeplan.cli.fast`) run without typer or click; anything else (other commands, a
    help, an unknown option or a bad value, shell completion) goes to the Typer app, which
    gives the same output, messages and exit codes. ``fast=False`` always takes the Typer app
    (tests compare the two). Building every command costs start-up time (Typer inspects each
    signature), so when the first word names a command only that command is built; anything
    else (``--help``, ``--version``, a typo) gets the full app with its listing and
    suggestions.
    """
    argv = list(argv)
    first = argv[0] if argv else None
    # click answers shell completion when this variable is set: leave it to the Typer app
    fast = fast and not os.environ.get("_MOEPLAN_COMPLETE")
    if fast and (not argv or argv in (["--help"], ["-h"])):
        from .fast import run_help

        run_help(argv)  # returns only if the cached help does not apply (terminal width)
    if first != "--version":
        _one_blas_thread()
    if fast and first == "optimize":
        from .fast import run_optimize

        run_optimize(argv[1:])  # returns only if the options need the Typer app
    from .typer_app import build_app

    if first in COMMAND_MODULES:
        build_app([first])(args=argv, prog_name="moeplan")
    elif argv == ["--version"]:  # no command needed (nor numpy)
        build_app([])(args=argv, prog_name="moeplan")
    else:
        build_app()(args=argv, prog_name="moeplan")
    sys.exit(0)  # not reached: the app always exits

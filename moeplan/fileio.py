"""Writing output files without losing anything (issue 17, items 1-3).

Every command that writes a file checks the path with :func:`check_output_path` *before* it
starts the work (a missing folder or an output that is one of the inputs costs nothing), and
writes with :func:`atomic_write`: the bytes go to a temporary file in the same folder, which
replaces the target with ``os.replace`` only once it is complete. On a full disk, an error, or
SIGINT/SIGTERM the temporary file is removed and the old target is left as it was.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Union

from .errors import InputError, OutputError

Writer = Callable[[object], None]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output_path(path, inputs: Iterable = (), param: str = "out") -> Path:
    """``path`` as a :class:`Path` if a file can be written there and it is not an input.

    Parameters
    ----------
    path : str or path
        The output file.
    inputs : iterable of str or path
        Files the command reads; writing over one of them would lose it.
    param : str
        The argument the path was given as, named by the message (the CLI shows its flag).

    Raises
    ------
    InputError
        If the path is a directory, its folder does not exist or cannot be written, or it is
        the same file as one of ``inputs`` (also through a link).
    """
    p = Path(os.fspath(path))
    shown = str(p)
    if not shown or shown.endswith(os.sep):
        raise InputError(f"{param} {shown!r}: give a file name", param=param)
    if p.is_dir():
        raise InputError(f"{param} {shown!r} is a directory; give a file name", param=param)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{param} {shown!r}: folder {str(folder)!r} does not exist", param=param)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{param} {shown!r}: folder {str(folder)!r} is not writable", param=param)
    for source in inputs:
        if source is None:
            continue
        if _same_file(os.fspath(p), os.fspath(source)):
            raise InputError(
                f"{param} {shown!r} is the input file {os.fspath(source)!r}; "
                f"writing it would destroy the input; give another file name",
                param=param,
            )
    return p


class _Interrupted(BaseException):
    """SIGTERM during a write, turned into an exception so the temporary file is removed."""


def atomic_write(
    path, data: Union[str, bytes, Writer], *, param: str = "out", binary: bool | None = None
) -> str:
    """Write ``data`` to ``path`` atomically: all of it, or nothing (the old file stays).

    Parameters
    ----------
    path : str or path
        The target file.
    data : str, bytes or callable
        Text (written as UTF-8), bytes, or a function that writes to the open binary file
        object it is given (e.g. ``lambda fh: fig.savefig(fh, format="png")``).
    param : str
        The argument the path was given as, named by the message (the CLI shows its flag).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    OutputError
        If the file cannot be written (full disk, permissions); the target is untouched.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(
            f"{param} {target!r} cannot be written: {exc.strerror or exc}", param=param
        ) from None
    installed = threading.current_thread() is threading.main_thread()
    previous = signal.SIG_DFL
    if installed:

        def _on_term(signum, frame):
            raise _Interrupted(signum)

        previous = signal.signal(signal.SIGTERM, _on_term)
        if previous is None:  # set outside Python: restore the default
            previous = signal.SIG_DFL
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                if callable(data):
                    data(fh)
                elif isinstance(data, (bytes, bytearray)):
                    fh.write(data)
                else:
                    fh.write(str(data).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise OutputError(
            f"{param} {target!r} cannot be written: {exc.strerror or exc}; nothing was changed",
            param=param,
        ) from None
    except _Interrupted:
        signal.signal(signal.SIGTERM, previous)
        installed = False
        os.kill(os.getpid(), signal.SIGTERM)  # die by the signal, as the caller expects
        raise SystemExit(143) from None
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous)
    return target

"""The one family of errors that means "the user asked for something wrong".

The CLI turns exactly these into one line on stderr and exit code 2. Anything else
that escapes is a bug in moeplan and keeps its traceback.

The core speaks in parameters, the CLI in flags: an error about one argument names it in
``param`` (``InputError("flops must be positive, got -1", param="flops")``) and the CLI shows
the matching flag (``--flops``). Other arguments a message names (a hint such as "or fix some
coefficients with the fixed argument") are listed in ``mentions``; the CLI shows those words as
their flags too ("... with the --fix argument").
"""

from __future__ import annotations


class MoeplanError(Exception):
    """A user mistake: bad number, bad file, value out of the law's domain.

    The message is shown to the user as is, on one line, so it should say what is
    wrong and what would be right. ``param`` names the library argument it is about, if one;
    ``mentions`` the other arguments the message names, as words of its text.
    """

    def __init__(self, message: str = "", param: str | None = None, mentions: tuple = ()):
        super().__init__(message)
        self.param = param
        self.mentions = tuple(mentions)


class InputError(MoeplanError):
    """A value given on the command line or through the API is not acceptable."""


class FileFormatError(MoeplanError):
    """A file (law YAML, proposal, runs, config.json) cannot be read or is invalid."""


class InfeasibleError(MoeplanError):
    """Constraints that no model satisfies (e.g. memory below the smallest model)."""


class OutputError(MoeplanError):
    """An output could not be written (stdout closed or full, disk full): exit code 4.

    Not a user mistake in the command line, and never a ``check`` verdict (exit 1): the work
    was done but its result did not reach the user.
    """

    exit_code = 4

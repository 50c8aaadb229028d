"""Option values as the command line takes them (``1e22``, ``70B``, ``80GB``, ``1,2,4,8``),
without click: the one definition of each conversion and of its error message.

:mod:`moeplan.cli.common` wraps these in click parameter types for the Typer app, and the
typer-free fast path (:mod:`moeplan.cli.fast`) calls them directly, so both parse a value the
same way. A converter raises :class:`BadValue` with the message click shows (after the
option's name).
"""

from __future__ import annotations

from .. import domain
from ..errors import MoeplanError
from ..units import parse_memory, parse_number, parse_number_list, shorten


class BadValue(ValueError):
    """An option value the converter refuses; the message is what the user is told."""


class Number:
    """A human number on the command line: ``1e22``, ``70B``, ``1.4T``, ``16k``."""

    kind = "number"

    def __init__(
        self,
        positive: bool = True,
        integer: bool = False,
        allow_zero: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ):
        self.positive = positive
        self.integer = integer
        self.allow_zero = allow_zero
        self.minimum = minimum
        self.maximum = maximum

    def arguments(self) -> dict:
        """The constructor's arguments (what the generated fast-path table records)."""
        return {
            "positive": self.positive,
            "integer": self.integer,
            "allow_zero": self.allow_zero,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    def __call__(self, value) -> float | int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            v = float(value)
        else:
            try:
                v = parse_number(value, what="value")
            except MoeplanError:
                raise BadValue(
                    f"{shorten(value)} is not a number; use e.g. 1e22, 70B, 1.4T or 16k"
                ) from None
        if self.positive and (v < 0 or (v == 0 and not self.allow_zero)):
            raise BadValue(
                f"{shorten(value)} must be {'zero or ' if self.allow_zero else ''}positive"
            )
        if self.minimum is not None and v < self.minimum:
            upto = "" if self.maximum is None else f" to {self.maximum:g}"
            raise BadValue(
                f"{shorten(value)} is below {self.minimum:g}; give a value from "
                f"{self.minimum:g}{upto}"
            )
        if self.maximum is not None and v > self.maximum:
            raise BadValue(
                f"{shorten(value)} is above {self.maximum:g}; give a value "
                + ("" if self.minimum is None else f"from {self.minimum:g} ")
                + f"up to {self.maximum:g}"
            )
        if self.integer:
            if v != int(v):
                raise BadValue(f"{shorten(value)} must be a whole number")
            if v > domain.MAX_EXACT_INT:  # past 2**53 a float no longer holds every whole number
                raise BadValue(
                    f"{shorten(value)} is too large; give a whole number up to "
                    f"{domain.MAX_EXACT_INT:.4g}"
                )
            return int(v)
        return v


class Memory:
    """A memory size: ``80GB``, ``640GiB``, ``1.5TB`` (bytes)."""

    kind = "memory"

    def arguments(self) -> dict:
        return {}

    def __call__(self, value) -> float:
        try:
            return parse_memory(value)
        except MoeplanError:
            raise BadValue(
                f"{shorten(value)} is not a memory size; use e.g. 80GB, 640GiB or 1.5TB"
            ) from None


class NumberList:
    """A comma-separated list of positive human numbers, e.g. ``1,2,4,8``."""

    kind = "list"

    def arguments(self) -> dict:
        return {}

    def __call__(self, value) -> list:
        if isinstance(value, list):
            return value
        try:
            values = parse_number_list(value)
        except MoeplanError:
            raise BadValue(f"{shorten(value)} is not a list of numbers; use e.g. 1,2,4,8") from None
        if any(v <= 0 for v in values):
            raise BadValue(f"{shorten(value)}: every value must be positive")
        return values


#: Converter classes by the ``kind`` the generated fast-path table names.
KINDS = {cls.kind: cls for cls in (Number, Memory, NumberList)}


def flatten(values) -> list | None:
    """A repeatable list option (``--granularity 1,2 --granularity 8``) as one flat list."""
    if not values:
        return None
    out = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def output_format(json_flag: bool = False, csv_flag: bool = False) -> str:
    if json_flag and csv_flag:
        raise MoeplanError("--json and --csv exclude each other; choose one")
    return "json" if json_flag else "csv" if csv_flag else "human"

"""Human numbers: ``1e22``, ``70B``, ``1.4T``, ``16k``; memory sizes ``80GB``, ``640GiB``.

One grammar for every number moeplan reads (command line, proposals, runs, law files)::

    number   := [+-] mantissa [exponent] [suffix]
    mantissa := digits ["." [digits]] | "." digits       (ASCII 0-9 only; no "_" or ",")
    exponent := ("e" | "E") [+-] digits
    suffix   := K M B G T P E (counts)  |  memory unit (sizes)

Counts use decimal suffixes (K=1e3, M=1e6, B=G=1e9, T=1e12, P=1e15, E=1e18), in either
case except exa, which must be an uppercase ``E`` (``1e`` is a truncated exponent) -- for
memory sizes too (``80E`` is 80 exabytes, ``80e`` is refused).
Memory sizes accept decimal (kB, MB, GB, TB, PB) and binary (KiB, MiB, GiB, TiB, PiB) units
and the count suffixes; a bare number is bytes.
"""

from __future__ import annotations

import math
import numbers
import re

from .errors import InputError

COUNT_SUFFIXES = {
    "K": 1e3,
    "M": 1e6,
    "B": 1e9,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}

MEMORY_UNITS = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "PB": 10**15,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "PIB": 2**50,
}

_MAX_TEXT = 64
_NUMBER_HINT = "use a number such as 1e22, 70B, 1.4T or 16k"
# ASCII digits only: "\d" would also take Arabic-Indic or full-width digits
_NUMBER_RE = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def shorten(text, limit: int = _MAX_TEXT) -> str:
    """``repr(text)``, cut in the middle past ``limit`` characters (errors echo input back)."""
    try:
        shown = repr(text)
    except ValueError:  # an int past Python's 4,300-digit limit on str()
        return f"<a number of about {int(text.bit_length() * 0.30103):,} digits>"
    if len(shown) <= limit:
        return shown
    return f"{shown[: limit // 2]}…{shown[-12:]} ({len(shown):,} characters)"


def _plain_float(text: str) -> float | None:
    if not _NUMBER_RE.match(text):
        return None
    return float(text)


def _as_float(value, what: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond 1.8e308
        raise InputError(
            f"{what}: {shorten(value)} is too large; moeplan's numbers stop at 1.8e308"
        ) from None


def parse_number(text: str | float | int, what: str = "value") -> float:
    """Parse a human number such as ``1e22``, ``70B``, ``1.4T`` or ``16k``.

    Parameters
    ----------
    text : str or number
        The text to parse. Numbers are passed through (after the finiteness check).
    what : str
        Name of the quantity, used in the error message.

    Returns
    -------
    float
        The value in base units (no suffix). Always finite.

    Raises
    ------
    InputError
        If the text is not a number, or is NaN or infinite.
    """
    if isinstance(text, bool) or not isinstance(text, (str, numbers.Real)):
        raise InputError(
            f"{what}: expected a number or text such as '70B', got "
            f"{type(text).__name__}; {_NUMBER_HINT}"
        )
    if isinstance(text, numbers.Real):
        value = _as_float(text, what)
    else:
        raw = text.strip()
        if not raw or len(raw) > _MAX_TEXT:
            raise InputError(f"{what}: {shorten(raw)} is not a number; {_NUMBER_HINT}")
        value = _plain_float(raw)
        if value is None:
            suffix = raw[-1].upper()
            # a lowercase trailing "e" is a truncated exponent ("1e"), not exa
            is_suffix = suffix in COUNT_SUFFIXES and raw[-1] != "e"
            mantissa = _plain_float(raw[:-1].strip()) if is_suffix else None
            if mantissa is None:
                raise InputError(f"{what}: {raw!r} is not a number; {_NUMBER_HINT}")
            value = mantissa * COUNT_SUFFIXES[suffix]
    if not math.isfinite(value):
        raise InputError(f"{what}: {shorten(text)} is not a finite number; {_NUMBER_HINT}")
    return value


def parse_positive(text: str | float | int, what: str = "value") -> float:
    """Parse a human number and require it to be strictly positive."""
    value = parse_number(text, what)
    if value <= 0:
        raise InputError(f"{what}: must be positive, got {text!r}")
    return value


def parse_positive_int(text: str | float | int, what: str = "value") -> int:
    """Parse a human number and require a whole number >= 1 (``16k`` is allowed)."""
    value = parse_positive(text, what)
    if value != math.floor(value) or value > 2**62:
        raise InputError(f"{what}: must be a whole number, got {text!r}")
    return int(value)


def parse_memory(text: str | float | int, what: str = "memory") -> float:
    """Parse a memory size such as ``80GB``, ``640GiB`` or ``1.5TB`` into bytes.

    A bare number is bytes; count suffixes (``80G``) are read as decimal bytes.

    Raises
    ------
    InputError
        If the text is not a size, or the size is not positive.
    """
    hint = "use a size such as 80GB, 640GiB or 1.5TB"
    if isinstance(text, bool) or not isinstance(text, (str, numbers.Real)):
        raise InputError(f"{what}: expected a size such as '80GB', got {type(text).__name__}")
    if isinstance(text, numbers.Real):
        value = _as_float(text, what)
    else:
        raw = text.strip()
        m = re.match(r"^([0-9._eE+-]+?)\s*([A-Za-z]*)$", raw) if len(raw) <= _MAX_TEXT else None
        if not m:
            raise InputError(f"{what}: {shorten(raw)} is not a memory size; {hint}")
        mantissa = _plain_float(m.group(1))
        unit = m.group(2).upper()
        if mantissa is None:
            raise InputError(f"{what}: {raw!r} is not a memory size; {hint}")
        if m.group(2) == "e":  # as for counts: a truncated exponent, not exa
            raise InputError(
                f"{what}: {raw!r} ends in a lowercase e (an unfinished exponent); "
                f"write {m.group(1)}E for exabytes or give the exponent"
            )
        if unit == "":
            value = mantissa
        elif unit in MEMORY_UNITS:
            value = mantissa * MEMORY_UNITS[unit]
        elif unit in COUNT_SUFFIXES:
            value = mantissa * COUNT_SUFFIXES[unit]
        else:
            raise InputError(f"{what}: unknown unit {m.group(2)!r} in {raw!r}; {hint}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{what}: must be a positive, finite size, got {shorten(text)}; {hint}")
    return value


def parse_number_list(text: str, what: str = "value") -> list[float]:
    """Parse a comma-separated list of human numbers, e.g. ``1,2,4,8``."""
    if not isinstance(text, str):
        raise InputError(f"{what}: expected text such as '1,2,4,8', got {type(text).__name__}")
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise InputError(f"{what}: expected a comma-separated list such as 1,2,4,8")
    return [parse_number(p, what) for p in parts]


def format_count(value: float, digits: int = 3) -> str:
    """Format a count with a decimal suffix: 201326592 -> ``201M``, 1.4e12 -> ``1.4T``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise InputError(f"format_count: expected a number, got {shorten(value)}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise InputError(
            f"format_count: digits must be a whole number from 1 to 17, got {shorten(digits)}"
        )
    if value is None or not math.isfinite(value):
        return str(value)
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 1e21:  # past exa a suffix stops helping: 4.89e115, not 4.89e+97E
        return sign + format_sci(v, digits)
    # the unit is chosen after rounding: 999.7e9 at 3 digits is 1T, not "1e+03B"
    v = float(f"{v:.{digits}g}")
    if v >= 1e21:
        return sign + format_sci(v, digits)
    for suffix, scale in (
        ("E", 1e18),
        ("P", 1e15),
        ("T", 1e12),
        ("B", 1e9),
        ("M", 1e6),
        ("K", 1e3),
    ):
        if v >= scale:
            return f"{sign}{v / scale:.{digits}g}{suffix}"
    return f"{sign}{v:.{digits}g}"


def format_sci(value: float, digits: int = 4) -> str:
    """Format in scientific notation, e.g. 1.3254e+19 -> ``1.325e19``."""
    if value is None or not math.isfinite(value):
        return str(value)
    mant, exp = f"{value:.{digits - 1}e}".split("e")
    return f"{mant}e{int(exp)}"


def format_bytes(value: float) -> str:
    """Format a byte count in decimal units (GB), the unit GPU spec sheets use."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"

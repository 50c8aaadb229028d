"""The domain moeplan plans in: one limit per kind of quantity, checked where it enters the core.

A value outside these limits is a user mistake (:class:`~moeplan.errors.InputError`, exit code
2 on the command line), not a number to compute with: past them the formulas either overflow
double precision (``d_model³·E·G·c_r·D`` at 1e300 is ``inf``) or describe no model that could be
built or trained (an expansion rate below 1 has fewer experts than each token visits; a budget
that cannot give the smallest model one token). The limits are generous: each is many orders of
magnitude beyond anything trained to date, so a real plan never meets one.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

from .errors import InputError

#: Largest FLOPs budget: 1e14 times the largest training runs to date (~1e26 FLOPs).
MAX_FLOPS = 1e40
#: Largest count of parameters or tokens (training, inference, KV cache), and vocabulary size.
MAX_COUNT = 1e30
#: Largest memory size, bytes.
MAX_BYTES = 1e30
#: Expansion rate E and granularity G: at least 1 (n_experts = E·G >= top-k = G, and top-k >= 1);
#: at most a million (the joint law's --experts limit too).
MIN_EXPERTS = 1.0
MAX_EXPERTS = 1e6
#: FLOPs per parameter per token (c_f, c_r): 6 and 14 in the paper, "6 to 20" for the router.
FLOPS_PER_PARAM = (1e-3, 1e3)
#: Aspect ratio d_model / n_blocks (64 in the paper; real models 32 to 256).
ASPECT_RATIO = (1.0, 1e4)
#: Bytes per parameter (2 for bf16; 0.125 would be 1-bit weights).
BYTES_PER_PARAM = (1e-3, 1e3)
#: Largest whole number accepted where a count must be exact (d_model, n_blocks, vocabulary):
#: float64 holds every integer up to 2**53.
MAX_EXACT_INT = 2**53


def _shown(value) -> str:
    from .units import shorten

    return shorten(value)


def _g(v: float) -> str:
    return f"{v:.6g}"


def _exact(v: float) -> str:
    """The value as given, never rounded onto a limit: 1000001 is not "1e+06"."""
    if math.isfinite(v) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v) if math.isfinite(v) else str(v)


def in_range(
    value,
    what: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hint: str = "",
    param: str | None = None,
) -> float:
    """``value`` as a float if ``lo <= value <= hi`` (``lo < value`` with ``lo_open``).

    Raises
    ------
    InputError
        Naming the quantity, the allowed range and the value given, plus ``hint`` if any.
    """
    if isinstance(value, (str, bytes, bool)) or value is None:  # "1e3" is for parse_number
        raise InputError(f"{what} must be a number, got {_shown(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be a number, got {_shown(value)}", param=param) from None
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v <= hi
    if not ok:
        if lo is not None and hi is not None:
            span = (
                f"above {_g(lo)} and at most {_g(hi)}" if lo_open else f"from {_g(lo)} to {_g(hi)}"
            )
        elif lo is not None:
            span = f"above {_g(lo)}" if lo_open else f"at least {_g(lo)}"
        else:
            span = f"at most {_g(hi)}"
        shown = _exact(v)
        raise InputError(
            f"{what} must be {span}, got {shown}" + (f"; {hint}" if hint else ""), param=param
        )
    return v


def positive(value, what: str, allow_none: bool = True, param: str | None = None) -> float | None:
    """``value`` as a positive, finite float; ``None`` passes through when ``allow_none``."""
    if value is None:
        if allow_none:
            return None
        raise InputError(f"{what} is required", param=param)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be a number, got {_shown(value)}", param=param) from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(
            f"{what} must be a positive, finite number, got {_shown(value)}", param=param
        )
    return v


def flops(value, what: str = "budget", param: str | None = None) -> float:
    """A FLOPs budget: positive and at most :data:`MAX_FLOPS`."""
    return in_range(
        value, what, 0.0, MAX_FLOPS, lo_open=True, hint="give FLOPs such as 1e22", param=param
    )


def count(
    value,
    what: str,
    *,
    allow_zero: bool = False,
    minimum: float | None = None,
    param: str | None = None,
) -> float:
    """A count (parameters, tokens): positive (or zero) and at most :data:`MAX_COUNT`."""
    if minimum is not None:
        return in_range(value, what, minimum, MAX_COUNT, param=param)
    return in_range(value, what, 0.0, MAX_COUNT, lo_open=not allow_zero, param=param)


def experts(value, what: str, param: str | None = None) -> float:
    """An expansion rate E or granularity G: from 1 to :data:`MAX_EXPERTS`."""
    return in_range(value, what, MIN_EXPERTS, MAX_EXPERTS, param=param)


def flops_per_param(value, what: str, allow_zero: bool = False) -> float:
    """c_f (positive) or c_r (zero allowed): at most 1000 FLOPs per parameter per token."""
    lo, hi = FLOPS_PER_PARAM
    return in_range(value, what, 0.0 if allow_zero else lo, hi)


_NEEDS = {
    "size": "a positive, finite number",
    "experts": f"a number from 1 to {MAX_EXPERTS:g}",
    "c_f": "a positive number (FLOPs per parameter per token)",
    "c_r": "zero or a positive number (FLOPs per router parameter per token)",
}


#: Whether :func:`checked_array` validates (see :func:`unchecked`).
_CHECKED = contextvars.ContextVar("moeplan_checked", default=True)


@contextlib.contextmanager
def unchecked():
    """Skip :func:`checked_array`'s checks inside: for the planner's vectorised grids, which
    mark infeasible cells with ``inf``/``nan`` and have validated their own inputs. A public
    caller's ``d_model = inf`` is still refused."""
    token = _CHECKED.set(False)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def checked_array(value, name: str, kind: str = "size"):
    """``value`` as a float array after checking every element for its kind.

    ``size``: positive and finite (d_model, n_blocks, tokens, params, FLOPs, vocabulary);
    ``experts``: E or G, from 1 to :data:`MAX_EXPERTS`; ``c_f``: positive FLOPs per
    parameter; ``c_r``: zero or positive. Text, booleans and None are refused, not parsed:
    ``"70B"`` is for :func:`moeplan.units.parse_number`.

    Raises
    ------
    InputError
        Naming the parameter, what it must be and the value given.
    """
    import numpy as np  # here: domain is imported by modules that need no numpy

    if not _CHECKED.get():
        return np.asarray(value, dtype=float)
    need = _NEEDS[kind]
    if value is None or isinstance(value, (str, bytes, bool)):
        raise InputError(f"{name} must be {need}, got {_shown(value)}")
    if isinstance(value, (int, float)):
        # one number (most calls): the same checks without numpy's reductions (~10x faster)
        try:
            f = float(value)
        except OverflowError:  # an int past 1e308
            raise InputError(f"{name} must be {need}, got {_shown(value)}") from None
        if kind == "experts":
            ok = MIN_EXPERTS <= f <= MAX_EXPERTS
        elif kind == "c_r":
            ok = math.isfinite(f) and f >= 0
        else:
            ok = math.isfinite(f) and f > 0
        if not ok:
            raise InputError(f"{name} must be {need}, got {_exact(f)}")
        return np.asarray(f, dtype=float)
    try:
        v = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):  # text, objects, an int past 1e308
        raise InputError(f"{name} must be {need}, got {_shown(value)}") from None
    if kind == "experts":
        ok = (v >= MIN_EXPERTS) & (v <= MAX_EXPERTS)
    elif kind == "c_r":
        ok = np.isfinite(v) & (v >= 0)
    else:
        ok = np.isfinite(v) & (v > 0)
    if not np.all(ok):
        bad = v[~ok].flat[0] if v.ndim else v
        raise InputError(f"{name} must be {need}, got {_exact(float(bad))}")
    return v


def loss_arguments(params, tokens, granularity=1.0, n_experts=1.0):
    """The arguments of ``Law.loss`` checked (vectorised), as float arrays.

    For the laws to call before evaluating: ``law.loss("70B", 1e10)``, ``law.loss(-1, 1e10)``
    or ``granularity=0`` raise :class:`InputError` naming the parameter instead of returning
    NaN or inf.

    Returns
    -------
    tuple of ndarray
        ``(params, tokens, granularity, n_experts)``.
    """
    return (
        checked_array(params, "params"),
        checked_array(tokens, "tokens"),
        checked_array(granularity, "granularity"),  # the laws take any G > 0, E > 0
        checked_array(n_experts, "n_experts"),
    )

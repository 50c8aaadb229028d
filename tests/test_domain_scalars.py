"""moeplan.domain.checked_array checks one Python number without numpy's reductions (issue 12:
the planner calls it hundreds of times per plan); the answer must be the array path's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.domain import MAX_EXPERTS, checked_array, unchecked
from moeplan.errors import InputError

KINDS = ["size", "experts", "c_f", "c_r"]
SPECIAL = [0, -0.0, 1, 0.5, -1, 1e308, 10**400, math.inf, -math.inf, math.nan, MAX_EXPERTS, 1e-320]


def _outcome(value, kind):
    try:
        return ("ok", float(np.ravel(checked_array(value, "x", kind))[0]))
    except InputError as exc:
        return ("error", str(exc))


def _reference(value, kind):
    """The same check through the array path (a one-element numpy array of the value)."""
    try:
        arr = np.array([value], dtype=float)
    except OverflowError:
        return ("error", None)  # the message shows the int as given; compared below
    out = _outcome(arr, kind)
    return out if out[0] == "error" else ("ok", out[1])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", SPECIAL, ids=repr)
def test_special_numbers(value, kind):
    got, ref = _outcome(value, kind), _reference(value, kind)
    assert got[0] == ref[0]
    if ref[1] is not None:
        if got[0] == "ok":
            assert got[1] == ref[1] or (math.isnan(got[1]) and math.isnan(ref[1]))
        else:
            assert got[1] == ref[1]  # the same message, naming the same value


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**20)))
def test_any_number(value):
    for kind in KINDS:
        assert _outcome(value, kind) == _reference(value, kind)


def test_returns_a_float_array_and_unchecked_still_passes_through():
    v = checked_array(3, "x")
    assert isinstance(v, np.ndarray) and v.dtype == float and v.shape == () and v == 3.0
    with unchecked():
        assert math.isinf(float(checked_array(math.inf, "x")))

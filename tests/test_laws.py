"""The loss laws against SPEC.md §2 (coefficients restated here from SPEC, not read from YAML)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import SPEC_SETS, dense_loss, moe_loss

from moeplan import load_law


def spec_moe_loss(k, N, D, G):
    return moe_loss(N, D, G, k)


def spec_dense_loss(k, N, D):
    return dense_loss(N, D, k)


@pytest.mark.parametrize("name", sorted(SPEC_SETS))
def test_shipped_coefficients_are_specs(name):
    law = load_law(name)
    assert law.coefficients == pytest.approx(SPEC_SETS[name], rel=0, abs=0)


@pytest.mark.parametrize("name", sorted(SPEC_SETS))
@pytest.mark.parametrize(
    "N, D, G", [(1.29e8, 1.6e10, 1), (8.657e9, 1e10, 8), (3.7e9, 1.3e11, 16), (1e12, 1e13, 64)]
)
def test_loss_matches_spec_formula(name, N, D, G):
    k = SPEC_SETS[name]
    law = load_law(name)
    if "g" in k:
        expected = spec_moe_loss(k, N, D, G)
        got = float(law.loss(N, D, granularity=G))
    else:
        expected = spec_dense_loss(k, N, D)
        got = float(law.loss(N, D))
    assert got == pytest.approx(expected, rel=1e-13)
    irr, p, d = (float(t) for t in law.terms(N, D, granularity=G))
    assert irr + p + d == pytest.approx(got, rel=1e-14)
    assert irr == k["c"]


def test_hand_computed_value():
    # L(N=1e9, D=1e11, G=8) for the main MoE set, each power evaluated with math.exp/log.
    p = (2.1 * math.exp(-0.58 * math.log(8)) + 18.1) * math.exp(-0.115 * math.log(1e9))
    d = 30.8 * math.exp(-0.147 * math.log(1e11))
    assert float(load_law().loss(1e9, 1e11, granularity=8)) == pytest.approx(
        0.47 + p + d, rel=1e-13
    )
    assert 0.47 + p + d == pytest.approx(2.9418, abs=1e-4)


moe_names = st.sampled_from(
    ["krajewski2024-moe", "krajewski2024-moe-robust", "krajewski2024-moe-e16"]
)
Ns = st.floats(1e6, 1e14)
Ds = st.floats(1e8, 1e15)
Gs = st.floats(0.5, 512)


@given(moe_names, Ns, Ds, Gs, st.floats(1.01, 100))
def test_loss_falls_as_n_d_g_grow(name, N, D, G, f):
    law = load_law(name)
    base = float(law.loss(N, D, granularity=G))
    assert float(law.loss(N * f, D, granularity=G)) < base
    assert float(law.loss(N, D * f, granularity=G)) < base
    assert float(law.loss(N, D, granularity=G * f)) < base
    assert base > law.floor


def test_vectorised_over_arrays():
    law = load_law()
    N = np.logspace(8, 12, 5)
    D = np.logspace(10, 13, 5)
    G = np.array([[1.0], [8.0], [64.0]])
    L = law.loss(N, D, granularity=G)
    assert L.shape == (3, 5)
    k = SPEC_SETS["krajewski2024-moe"]
    for i, g in enumerate((1.0, 8.0, 64.0)):
        np.testing.assert_allclose(L[i], spec_moe_loss(k, N, D, g), rtol=1e-13)


def test_range_warnings():
    law = load_law()
    assert law.range_warnings(params=1e9, tokens=5e10, granularity=8) == []
    w = law.range_warnings(params=1e12, tokens=5e10, granularity=64)
    assert len(w) == 2 and "extrapolation" in w[0] and "granularity" in w[1]


def test_unpublished_low_end_gives_no_warning_below():
    joint = load_law("ludziejewski2025-joint")
    assert joint.fitted_range["params"] == (0.0, 2.7e9)
    assert joint.range_warnings(params=1e3) == []
    (w,) = joint.range_warnings(params=5.4e9)
    assert "active parameters (with embeddings)" in w and "up to 2.7e+09" in w


def test_a_loaded_law_cannot_be_edited_by_a_caller():
    law = load_law("krajewski2024-moe")
    with pytest.raises(TypeError):
        law.coefficients["a"] = 99.0
    with pytest.raises(TypeError):
        law.fitted_range["params"] = (1.0, 2.0)
    assert load_law("krajewski2024-moe").coefficients["a"] == 18.1
    assert law.choice == "granularity"
    assert load_law("krajewski2024-dense").choice is None
    assert load_law("ludziejewski2025-joint").choice == "n_experts"

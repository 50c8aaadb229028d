"""The continuous compute-optimal solver (moeplan.optimize) against independent references.

Every expected number is computed here from SPEC.md's formulas (brute-force grids, the
Chinchilla closed form), never taken from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan import load_law
from moeplan.coefficients import law_from_mapping
from moeplan.errors import InfeasibleError, InputError
from moeplan.optimize import (GRANULARITIES_DEFAULT, Constraints, compute_optimal_loss,
                              flops_to_reach, frontier, optimize)

# SPEC.md §2, Table 1
MOE = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)
DENSE = dict(a=16.3, alpha=0.126, b=26.7, beta=0.127, c=0.47)
POWERS = [2.0**i for i in range(9)]


def spec_loss(d_model, budget, G, E=64.0, r=64.0, c_f=6.0, c_r=14.0, k=MOE):
    """SPEC.md §1-3: N = d²(8E+4)n, F = (12 d² c_f + d E G c_r) D n, n = d/r."""
    n = d_model / r
    N = d_model**2 * (8 * E + 4) * n
    D = budget / ((12 * d_model**2 * c_f + d_model * E * G * c_r) * n)
    return k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]


def brute_force(budget, G, **kw):
    """Dense grid over ln d_model, refined three times around the best point."""
    lo, hi = math.log(1e-4), math.log(4e6)
    best = None
    for _ in range(4):
        x = np.linspace(lo, hi, 20001)
        loss = spec_loss(np.exp(x), budget, G, **kw)
        j = int(np.argmin(loss))
        assert 0 < j < len(x) - 1, "grid optimum on the edge"
        step = x[1] - x[0]
        lo, hi = x[j] - 2 * step, x[j] + 2 * step
        best = (float(loss[j]), float(np.exp(x[j])))
    return best


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


@pytest.fixture(scope="module")
def dense():
    return load_law("krajewski2024-dense")


@pytest.mark.parametrize("budget", [1e17, 1e20, 1e22, 1e25])
def test_matches_brute_force_grid(moe, budget):
    expected = min(brute_force(budget, G)[0] for G in POWERS)
    got = compute_optimal_loss(moe, budget)
    assert isinstance(got, float)
    assert abs(got - expected) / expected <= 1e-9


@pytest.mark.parametrize("G,c_r,E", [(1.0, 14.0, 64.0), (64.0, 20.0, 64.0), (8.0, 6.0, 16.0),
                                     (256.0, 14.0, 64.0)])
def test_single_granularity_matches_brute_force(moe, G, c_r, E):
    budget = 3e21
    expected, _ = brute_force(budget, G, c_r=c_r, E=E)
    got = compute_optimal_loss(moe, budget, granularities=[G], c_r=c_r, expansion_rate=E)
    assert abs(got - expected) / expected <= 1e-9


def test_optimum_spends_the_budget_and_sits_at_the_grid_minimum(moe):
    budgets = np.array([1e18, 1e21, 1e24])
    fr = frontier(moe, budgets)
    d, n, D, G = fr.d_model, fr.n_blocks, fr.tokens, fr.granularity
    spent = (12 * d**2 * 6 + d * 64 * G * 14) * D * n
    np.testing.assert_allclose(spent, budgets, rtol=1e-9)
    np.testing.assert_allclose(d / n, 64.0, rtol=1e-12)
    np.testing.assert_allclose(fr.n_total, d**2 * (8 * 64 + 4) * n, rtol=1e-12)
    np.testing.assert_allclose(fr.n_active, 12 * d**2 * n, rtol=1e-12)
    for i, budget in enumerate(budgets):
        _, d_grid = brute_force(budget, float(G[i]))
        assert abs(d[i] / d_grid - 1) < 1e-3  # the loss is flat; the width agrees well


def test_closed_form_without_router(moe):
    """c_r = 0: the Chinchilla closed form with a -> g/G^γ + a and N = (8E+4) d³/r."""
    k = MOE
    for G in (1.0, 8.0, 64.0):
        for budget in (1e19, 1e23):
            A = k["a"] + k["g"] / G ** k["gamma"]
            al, be = k["alpha"], k["beta"]
            # minimise A N^-α + b D^-β with F = 6·N_act·D = 6·12/(8E+4)·N·D
            c_eff = 6.0 * 12.0 / (8 * 64 + 4)
            N = (al * A / (be * k["b"])) ** (1 / (al + be)) * (budget / c_eff) ** (be / (al + be))
            D = budget / (c_eff * N)
            expected = k["c"] + A / N**al + k["b"] / D**be
            got = compute_optimal_loss(moe, budget, granularities=[G], c_r=0.0)
            assert abs(got - expected) / expected <= 1e-12


def test_dense_law_is_the_chinchilla_optimum(dense):
    k = DENSE
    al, be = k["alpha"], k["beta"]
    for budget in (1e18, 1e20, 1e24):
        N = (al * k["a"] / (be * k["b"])) ** (1 / (al + be)) * (budget / 6) ** (be / (al + be))
        D = budget / (6 * N)
        expected = k["c"] + k["a"] / N**al + k["b"] / D**be
        assert abs(compute_optimal_loss(dense, budget) - expected) / expected <= 1e-12
        # and the dense loss is minimal over N: a 1% change either way is worse
        for f in (0.99, 1.01):
            other = k["c"] + k["a"] / (N * f) ** al + k["b"] / (D / f) ** be
            assert other > expected


def test_vectorised_over_budgets(moe):
    budgets = np.logspace(18, 25, 7)
    many = compute_optimal_loss(moe, budgets)
    assert many.shape == (7,)
    for b, v in zip(budgets, many):
        assert v == pytest.approx(compute_optimal_loss(moe, float(b)), rel=1e-14)
    grid = compute_optimal_loss(moe, budgets.reshape(7, 1) * np.ones((1, 3)))
    assert grid.shape == (7, 3)


def test_flops_to_reach_inverts_compute_optimal_loss(moe, dense):
    budgets = np.logspace(17, 26, 10)
    for law in (moe, dense):
        losses = compute_optimal_loss(law, budgets)
        back = flops_to_reach(law, losses)
        np.testing.assert_allclose(back, budgets, rtol=1e-9)
    one = flops_to_reach(moe, compute_optimal_loss(moe, 1e21, granularities=[4]),
                         granularities=[4])
    assert one == pytest.approx(1e21, rel=1e-9)


def test_compute_multipliers_against_independent_grid(moe, dense):
    """SPEC §4: FLOPs the dense (and G = 1) optimum needs for the optimal MoE's loss / budget.

    The MoE loss comes from the brute-force grid; the dense FLOPs from inverting the
    Chinchilla closed form by bisection, here, independently of the code."""
    budget = 1e20
    target = min(brute_force(budget, G)[0] for G in POWERS)
    k = DENSE
    al, be = k["alpha"], k["beta"]

    def dense_opt_loss(F):
        N = (al * k["a"] / (be * k["b"])) ** (1 / (al + be)) * (F / 6) ** (be / (al + be))
        return k["c"] + k["a"] / N**al + k["b"] / (F / (6 * N)) ** be

    lo, hi = math.log(budget), math.log(budget * 1e4)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if dense_opt_loss(math.exp(mid)) > target else (lo, mid)
    expected_dense = math.exp(lo) / budget
    got_dense = flops_to_reach(dense, compute_optimal_loss(moe, budget)) / budget
    assert got_dense == pytest.approx(expected_dense, rel=1e-7)
    # the paper reports "about 20x" at 1e20 FLOPs and a factor that grows with the budget
    assert 15 < got_dense < 30
    later = flops_to_reach(dense, compute_optimal_loss(moe, 1e24)) / 1e24
    assert later > got_dense
    # G = 1 needs more FLOPs than the optimal G, and less than dense
    lo, hi = math.log(budget), math.log(budget * 100)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if brute_force(math.exp(mid), 1.0)[0] > target else (lo, mid)
        if hi - lo < 1e-7:
            break
    got_g1 = flops_to_reach(moe, compute_optimal_loss(moe, budget), granularities=[1]) / budget
    assert got_g1 == pytest.approx(math.exp(lo) / budget, rel=1e-6)
    assert 1 < got_g1 < got_dense


def test_bad_budgets_and_targets(moe):
    for bad in (0.0, -1e20, float("nan"), float("inf")):
        with pytest.raises(InputError, match="budget"):
            compute_optimal_loss(moe, bad)
    with pytest.raises(InputError, match="granularity"):
        compute_optimal_loss(moe, 1e20, granularities=[0])
    with pytest.raises(InputError, match="granularity"):
        compute_optimal_loss(moe, 1e20, granularities=[-2, 4])
    with pytest.raises(InfeasibleError, match="floor"):
        flops_to_reach(moe, 0.47)
    with pytest.raises(InfeasibleError, match="floor"):
        flops_to_reach(moe, [2.0, 0.3])
    with pytest.raises(InputError, match="not yet supported"):
        compute_optimal_loss(load_law("ludziejewski2025-joint"), 1e20)


@settings(max_examples=40, deadline=None)
@given(log_f=st.floats(15.0, 28.0), ratio=st.floats(1.01, 100.0))
def test_more_compute_never_hurts(moe, log_f, ratio):
    lo = compute_optimal_loss(moe, 10.0**log_f)
    hi = compute_optimal_loss(moe, 10.0**log_f * ratio)
    assert hi < lo
    assert hi > MOE["c"]


@settings(max_examples=40, deadline=None)
@given(log_f=st.floats(16.0, 27.0), G=st.sampled_from(POWERS),
       factor=st.floats(0.5, 2.0).filter(lambda f: abs(f - 1) > 1e-3))
def test_optimum_beats_any_other_width(moe, log_f, G, factor):
    budget = 10.0**log_f
    best = compute_optimal_loss(moe, budget, granularities=[G])
    fr = frontier(moe, budget, granularities=[G])
    other = spec_loss(float(fr.d_model) * factor, budget, G)
    assert other > best
    assert float(fr.loss) == pytest.approx(spec_loss(float(fr.d_model), budget, G), rel=1e-12)


def test_default_granularities_are_powers_of_two():
    assert list(GRANULARITIES_DEFAULT) == POWERS

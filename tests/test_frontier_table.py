"""The frontier's root table (issue 12): many budgets × granularities answered by interpolating
one exactly solved function of one variable instead of a Newton iteration per problem.

Each result is checked two ways: against the Newton path the table replaces (the same
frontier with the table switched off), and against SPEC.md's formulas written out here: the
loss is the law's at (N, D, G), the budget is spent, and dL/d(ln d_model) = 0, the
stationarity condition, holds to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import spec_loss

from moeplan import load_law
from moeplan.coefficients import law_from_mapping
from moeplan.plan import solve
from moeplan.plan.limits import Limits

MOE_LAWS = ("krajewski2024-moe", "krajewski2024-moe-e16", "krajewski2024-moe-robust")
FIELDS = ("granularity", "d_model", "n_blocks", "n_total", "n_active", "tokens", "loss")


@pytest.fixture
def table_calls(monkeypatch):
    """Counts the frontiers the table answered (not declined)."""
    calls = []
    original = solve._table_optimum

    def spy(*args):
        out = original(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(solve, "_table_optimum", spy)
    return calls


def newton_frontier(*args, **kw):
    """The frontier with the table switched off (every problem solved by Newton)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(solve, "_TABLE_MIN_PROBLEMS", math.inf)
        return solve.frontier(*args, **kw)


def assert_same(fr, ref, rtol=1e-13):
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fr, name), getattr(ref, name), rtol=rtol, err_msg=name)
    np.testing.assert_allclose(fr.loss_per_granularity, ref.loss_per_granularity, rtol=1e-14)


def assert_optimal(fr, k, E, cf, cr, r):
    """SPEC.md §1-§3 at the frontier's (d, n, D, G): the loss, the budget, and L'(ln d) = 0."""
    d, n, D, G = fr.d_model, fr.n_blocks, fr.tokens, fr.granularity
    N = (8.0 * E + 4.0) * d * d * n
    np.testing.assert_allclose(d / n, r, rtol=1e-14)
    np.testing.assert_allclose(fr.n_total, N, rtol=1e-13)
    np.testing.assert_allclose((12.0 * d * d * cf + d * E * G * cr) * D * n, fr.flops, rtol=1e-13)
    np.testing.assert_allclose(fr.loss, spec_loss(N, D, G, k), rtol=1e-14)
    # d/dx of (g/G^γ + a)·N^−α + b·D^−β with N ∝ e^{3x}, D ∝ 1/(e^{2x}(12c_f e^x + k))
    P = (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"]
    Q = k["b"] / D ** k["beta"]
    s = 12.0 * cf * d / (12.0 * cf * d + E * G * cr)
    slope = -3.0 * k["alpha"] * P + k["beta"] * (2.0 + s) * Q
    assert np.max(np.abs(slope) / (3.0 * k["alpha"] * P)) < 1e-12


@pytest.mark.parametrize("name", MOE_LAWS)
def test_table_equals_newton_and_spec_on_the_shipped_laws(table_calls, name):
    law = load_law(name)
    budgets = np.logspace(15, 30, 2_000)  # x 9 granularities: past _TABLE_MIN_PROBLEMS
    fr = solve.frontier(law, budgets)
    assert table_calls == [True]
    assert_same(fr, newton_frontier(law, budgets))
    assert_optimal(fr, law.coefficients, law.expansion_rate, law.c_f, law.c_r, law.aspect_ratio)


coefficient = st.floats(0.05, 1e3)
exponent = st.floats(0.02, 0.7)


@settings(max_examples=20, deadline=None)
@given(
    alpha=exponent,
    beta=exponent,
    a=coefficient,
    b=coefficient,
    g=st.floats(0.01, 1e2),
    gamma=st.floats(0.01, 1.5),
    E=st.sampled_from([1.0, 8.0, 64.0, 1e4]),
    cf=st.sampled_from([0.5, 6.0, 1e2]),
    cr=st.sampled_from([1e-3, 14.0, 1e3]),
    r=st.sampled_from([8.0, 64.0, 512.0]),
    lo=st.floats(15.0, 28.0),
)
def test_table_equals_newton_and_spec_for_any_law(alpha, beta, a, b, g, gamma, E, cf, cr, r, lo):
    k = dict(a=a, alpha=alpha, b=b, beta=beta, g=g, gamma=gamma, c=0.5)
    law = law_from_mapping({"name": "drawn", "form": "fine_grained_moe", "coefficients": k})
    budgets = np.logspace(lo, lo + 2.0, 1_000)
    kw = dict(
        granularities=[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 1e6],
        expansion_rate=E,
        aspect_ratio=r,
        c_f=cf,
        c_r=cr,
    )
    fr = solve.frontier(law, budgets, **kw)
    setup = solve.resolve(law, E, r, cf, cr)
    assert solve._table_optimum(setup, np.log(budgets), kw["granularities"]) is not None
    assert_same(fr, newton_frontier(law, budgets, **kw), rtol=1e-12)
    assert_optimal(fr, k, E, cf, cr, r)


def test_table_keeps_the_budgets_shape(table_calls):
    law = load_law("krajewski2024-moe")
    budgets = np.logspace(18, 25, 2_400).reshape(40, 60)
    fr = solve.frontier(law, budgets)
    assert table_calls == [True]
    assert fr.d_model.shape == fr.tokens.shape == fr.loss.shape == (40, 60)
    assert fr.loss_per_granularity.shape == (40, 60, 9)
    flat = solve.frontier(law, budgets.ravel())
    np.testing.assert_array_equal(fr.loss.ravel(), flat.loss)


def test_coarse_cells_are_refined_by_the_edge_check(monkeypatch):
    """Cells 16x too wide fail the edge check; the table halves them until it passes."""
    monkeypatch.setattr(solve, "_TABLE_CELL_SHIFT", 3)
    first = 2.0 ** (math.floor(math.log2(3 * 0.115 + 2 * 0.147)) - 3)
    j0, dw, zc, bc = solve._root_table(0.115, 0.147, -5.0, 8.0)
    assert dw < first
    law = load_law("krajewski2024-moe")
    budgets = np.logspace(15, 30, 2_000)
    assert_same(solve.frontier(law, budgets), newton_frontier(law, budgets))


@pytest.mark.parametrize("setting", [("_TABLE_TOL", 0.0), ("_TABLE_MAX_CELLS", 10)])
def test_a_declined_table_leaves_the_problems_to_newton(monkeypatch, table_calls, setting):
    monkeypatch.setattr(solve, *setting)
    law = load_law("krajewski2024-moe")
    budgets = np.logspace(15, 30, 2_000)
    fr = solve.frontier(law, budgets)
    assert table_calls == [False]
    assert_same(fr, newton_frontier(law, budgets), rtol=0.0)


@pytest.mark.parametrize(
    "kw",
    [
        {"c_r": 0.0},  # no router: the closed form, no table needed
        {"constraints": Limits(memory=1e10)},
        {"constraints": Limits(max_tokens=1e12)},
        {"constraints": Limits(inference_tokens=1e12)},
        {"granularities": [1.0]},  # too few problems
    ],
)
def test_the_table_answers_only_unconstrained_frontiers_with_a_router(table_calls, kw):
    law = load_law("krajewski2024-moe")
    budgets = np.logspace(18, 25, 1_000 if kw.get("granularities") else 2_000)
    solve.frontier(law, budgets, **kw)
    assert table_calls == []

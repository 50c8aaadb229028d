"""The joint law's vectorised frontier after issue 12's speed-up: the closed-form optimum without
inference tokens, Cardano's formula for the cubic counts, the binding limits as small codes.

Checked against SPEC.md §7 written out in tests/reference.py (the Chinchilla closed form at
fixed E, the law, N_act and the memory of the architecture) and against the Newton iteration
the closed form replaces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import ASPECT, JOINT, VOCAB, joint_chinchilla_optimum, joint_loss, reduction

from moeplan import load_law
from moeplan.plan import experts
from moeplan.plan.limits import Limits

LAW = load_law("ludziejewski2025-joint")
EXPERTS = (1, 2, 4, 8, 16, 32, 256)


def n_act_of(d):
    """SPEC.md §7: N_act = 2·d·V + 13·n_blocks·d², n_blocks = d/64."""
    return 2.0 * d * VOCAB + 13.0 * d**3 / ASPECT


def test_unconstrained_frontier_is_the_closed_form():
    budgets = np.logspace(19, 30, 2_000)
    fr = experts.joint_frontier(LAW, budgets, EXPERTS)
    assert fr.feasible.all() and (fr.binding_code == 0).all()
    for j, e in enumerate(EXPERTS):
        N, D = joint_chinchilla_optimum(e, budgets)
        np.testing.assert_allclose(fr.n_active_with_embedding[:, j], N, rtol=1e-12)
        np.testing.assert_allclose(fr.tokens[:, j], D, rtol=1e-12)
        np.testing.assert_allclose(fr.loss[:, j], joint_loss(N, D, e), rtol=1e-14)
    np.testing.assert_allclose(n_act_of(fr.d_model), fr.n_active_with_embedding, rtol=1e-14)
    np.testing.assert_array_equal(fr.unconstrained_loss, fr.loss)


def test_closed_form_equals_the_newton_root():
    """Without inference tokens the sign test of dL/du is linear: its root, clipped to the
    bracket, is what the bracketed Newton iteration finds."""
    budgets = np.logspace(6, 30, 500)  # small budgets: the one-block model binds, or none fits
    ex = np.asarray(EXPERTS, float)
    m, mu, n, nu = (np.array([reduction(e)[i] for e in EXPERTS]) for i in range(4))
    lo = np.full((budgets.size, ex.size), math.log(n_act_of(ASPECT)))
    hi = np.broadcast_to(np.log(budgets / 6.0)[:, None], lo.shape)
    hi = np.where(hi > lo, hi, lo + 1.0)
    u = experts._root_slope(lo, hi, budgets[:, None], 0.0, 6.0, m, mu, n, nu)
    fr = experts.joint_frontier(LAW, budgets, EXPERTS)
    ok = fr.feasible
    assert ok.any() and not ok.all()
    np.testing.assert_allclose(fr.n_active_with_embedding[ok], np.exp(u[ok]), rtol=1e-13)
    smallest = fr.binding == "smallest_model"
    assert smallest.any()
    np.testing.assert_array_equal(fr.d_model[smallest], ASPECT)
    e = np.broadcast_to(ex, fr.loss.shape)
    ref = np.vectorize(joint_loss)(fr.n_active_with_embedding[ok], fr.tokens[ok], e[ok])
    np.testing.assert_allclose(fr.loss[ok], ref, rtol=1e-14)


def test_memory_cap_and_binding_labels():
    memory = 16e9
    budgets = np.logspace(19, 25, 400)
    fr = experts.joint_frontier(LAW, budgets, EXPERTS, Limits(memory=memory))
    capped = fr.binding == "memory"
    assert capped.any() and (~capped & fr.feasible).any()
    assert fr.binding.dtype.kind == "U"
    np.testing.assert_array_equal(
        fr.binding, np.array(experts.BINDINGS)[fr.binding_code].astype(fr.binding.dtype)
    )
    e = np.broadcast_to(np.asarray(EXPERTS, float), fr.loss.shape)
    d = fr.d_model
    # SPEC.md §7 memory: (2·d·V + (4 + 9E)·n_blocks·d²)·2 bytes, n_blocks = d/64
    weights = 2.0 * (2.0 * d * VOCAB + (4.0 + 9.0 * e) * d**3 / ASPECT)
    np.testing.assert_allclose(weights[capped], memory, rtol=1e-14)
    assert np.all(weights[~capped & fr.feasible] < memory)
    N, D = fr.n_active_with_embedding, fr.tokens
    np.testing.assert_allclose(N[capped], n_act_of(d[capped]), rtol=1e-14)
    np.testing.assert_allclose(6.0 * N * D, np.broadcast_to(budgets[:, None], N.shape), rtol=1e-14)
    ref = np.vectorize(joint_loss)(N, D, e)
    np.testing.assert_allclose(fr.loss, ref, rtol=1e-14)
    # the cap costs loss: the capped optimum is worse than the unconstrained one
    assert np.all(fr.loss[capped] > fr.unconstrained_loss[capped])


def test_inference_tokens_keep_the_newton_path():
    budgets = np.logspace(21, 25, 50)
    fr = experts.joint_frontier(LAW, budgets, (1, 8), Limits(inference_tokens=1e12))
    N, D = fr.n_active_with_embedding, fr.tokens
    spent = 6.0 * N * D + 2.0 * N * 1e12
    np.testing.assert_allclose(spent, np.broadcast_to(budgets[:, None], N.shape), rtol=1e-13)
    # dL/du = 0 with D = F/(6N) − D_inf/3: m·μ·N^μ = n·ν·D^(ν−1)·(D + D_inf/3)
    for j, e in enumerate((1, 8)):
        m, mu, n, nu = reduction(e)
        lhs = m * mu * N[:, j] ** mu
        rhs = n * nu * D[:, j] ** (nu - 1.0) * (D[:, j] + 1e12 / 3.0)
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(1e-3, 1e3),
    b=st.one_of(st.just(0.0), st.floats(1e-3, 1e6)),
    c=st.one_of(st.just(0.0), st.floats(1e-3, 1e7)),
    rhs=st.floats(1e-3, 1e30),
)
def test_cubic_root(a, b, c, rhs):
    d = float(experts._cubic_root(a, b, c, rhs))
    above = float(experts._cubic_root(a, b, c, rhs, from_above=True))
    f = ((a * above + b) * above + c) * above
    assert 0 < d <= above and f >= rhs  # the limits' inverses: a limit met exactly fits
    assert f == pytest.approx(rhs, rel=4e-15)
    assert d == pytest.approx(above, rel=1e-15)
    # the exact root by bisection in floats, written here
    lo, hi = 0.0, max(rhs / a, 1.0) ** (1.0 / 3.0) * 2.0 + rhs
    for _ in range(2_000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if ((a * mid + b) * mid + c) * mid < rhs:
            lo = mid
        else:
            hi = mid
    assert above == pytest.approx(hi, rel=4e-15)


def test_cubic_root_keeps_shapes_and_scalars():
    rhs = np.logspace(3, 20, 12).reshape(3, 4)
    d = experts.d_model_for_active(rhs)
    assert d.shape == (3, 4)
    np.testing.assert_allclose(n_act_of(d), rhs, rtol=1e-15)
    one = experts.d_model_for_active(1e9)
    assert np.ndim(one) == 0 and n_act_of(float(one)) == pytest.approx(1e9, rel=1e-15)
    assert JOINT["c"] == LAW.coefficients["c"]

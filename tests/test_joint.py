"""The Joint MoE law core (moeplan.plan.experts) against SPEC.md §7, computed independently here.

Every expected number below comes from SPEC §7's formulas written out again in this file with
plain Python floats and integers (or from the paper's values quoted in SPEC), never from the
code under test.
"""

from __future__ import annotations

import json
import math
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import ASPECT as R  # noqa: E402,F401
from reference import JOINT as K
from reference import VOCAB as V
from reference import e_hat, reduction  # noqa: E402
from reference import joint_chinchilla_optimum as chinchilla_optimum
from reference import joint_loss as ref_loss  # noqa: E402
from reference import joint_n_act as n_act_int
from reference import joint_n_total as n_total_int  # noqa: E402

from moeplan import compare, load_law, optimize, sweep
from moeplan.errors import InfeasibleError, InputError
from moeplan.laws import joint_chinchilla_coefficients, joint_e_hat
from moeplan.laws.joint import learning_rate, learning_rate_advice
from moeplan.plan import Limits
from moeplan.plan.experts import (
    DEFAULT_EXPERTS,
    flops_to_reach_joint,
    joint_frontier,
    memory_bytes,
    parse_experts,
    rule_of_thumb_check,
)

LAW = "ludziejewski2025-joint"


def optimize_joint(law, flops, experts=None, **limits):
    return optimize(law, flops, experts=experts, **limits)


def compare_joint(law, flops, experts=None, **limits):
    return compare(law, flops, experts=experts, **limits)


def sweep_joint(law, flops_from, flops_to, points=25, experts=None, **limits):
    return sweep(law, flops_from, flops_to, points, experts=experts, **limits)


def fits(n_blocks, e, memory, kv_tokens, bpp):
    d = R * n_blocks
    elements = Fraction(n_total_int(n_blocks, e)) + 2 * Fraction(kv_tokens) * n_blocks * d
    return elements * Fraction(bpp) <= Fraction(memory)


# ---- the law pieces in moeplan.laws ----------------------------------------------------------


def test_coefficient_set_matches_spec():
    law = load_law(LAW)
    assert law.form == "joint_moe"
    assert law.coefficients == K
    assert law.vocab_size == V and law.aspect_ratio == R and law.c_f == 6


def test_e_hat_transform():
    assert joint_e_hat(1, K["e_start"], K["e_max"]) == pytest.approx(K["e_start"], rel=1e-14)
    es = np.array([1, 2, 3, 4, 8, 16, 32, 64, 1e3, 1e9])
    got = joint_e_hat(es, K["e_start"], K["e_max"])
    assert got == pytest.approx([e_hat(float(e)) for e in es], rel=1e-14)
    assert np.all(np.diff(got) > 0)  # grows with E ...
    assert got[-1] == pytest.approx(K["e_max"], rel=1e-6)  # ... and saturates at E_max


def test_e1_reduction_spec_values():
    m, mu, n, nu = (float(x) for x in joint_chinchilla_coefficients(1, **K))
    # SPEC §7: "the rounded coefficients above give m ≈ 30.40, μ ≈ −0.1818, n ≈ 53.84, ν ≈ −0.1964"
    assert m == pytest.approx(30.40, abs=0.005)
    assert mu == pytest.approx(-0.1818, abs=0.00005)
    assert n == pytest.approx(53.84, abs=0.005)
    assert nu == pytest.approx(-0.1964, abs=0.00005)
    # and the paper's own table (unrounded coefficients) within the rounding of the inputs
    assert m == pytest.approx(30.364, rel=2e-3) and n == pytest.approx(53.98, rel=5e-3)
    assert mu == pytest.approx(-0.1817, abs=2e-4) and nu == pytest.approx(-0.1965, abs=2e-4)


@pytest.mark.parametrize("e", [1, 2, 4, 8, 16, 32])
def test_reduction_and_loss_per_e(e):
    got = [float(x) for x in joint_chinchilla_coefficients(e, **K)]
    assert got == pytest.approx(list(reduction(float(e))), rel=1e-13)
    law = load_law(LAW)
    assert float(law.loss(1e9, 3e10, n_experts=e)) == pytest.approx(
        ref_loss(1e9, 3e10, e), rel=1e-13
    )


# ---- architecture ---------------------------------------------------------------------------


def test_counts_and_memory_formulas():
    cfg = optimize_joint(LAW, 1e21, experts=[8]).recommended
    k = int(cfg.n_blocks)
    d = R * k
    assert cfg.d_model == d
    assert cfg.n_embedding == 2 * d * V
    assert cfg.n_active == 13 * k * d * d
    assert cfg.n_total == (4 + 9 * 8) * k * d * d
    assert cfg.n_active_with_embedding == n_act_int(k)
    assert cfg.n_total_with_embedding == n_total_int(k, 8)
    assert cfg.memory_bytes == 2 * n_total_int(k, 8)
    d_ = cfg.to_dict()
    assert (d_["granularity"], d_["top_k"], d_["router_flops"]) == (1, 1, 0)
    assert d_["expansion_rate"] == d_["n_experts"] == 8
    assert d_["d_expert"] == 3 * d and d_["n_heads"] == d / 64
    # memory with a KV cache: (N_total + 2·T·n_blocks·d_model)·bytes
    assert float(memory_bytes(1024, 8, kv_tokens=1000, bytes_per_param=2)) == pytest.approx(
        2 * (n_total_int(16, 8) + 2 * 1000 * 16 * 1024), rel=1e-15
    )


# ---- the solver -----------------------------------------------------------------------------


@pytest.mark.parametrize("e", [1, 2, 8, 32])
def test_compute_optimal_matches_closed_form(e):
    budgets = np.logspace(18, 25, 15)
    fr = joint_frontier(LAW, budgets, [e])
    for i, F in enumerate(budgets):
        N, D = chinchilla_optimum(e, F)
        assert fr.n_active_with_embedding[i, 0] == pytest.approx(N, rel=1e-11)
        assert fr.tokens[i, 0] == pytest.approx(D, rel=1e-11)
        assert fr.loss[i, 0] == pytest.approx(ref_loss(N, D, e), rel=1e-14)
        assert fr.binding[i, 0] == ""
        # d_model solves N_act(d) = N exactly
        d = fr.d_model[i, 0]
        assert 2 * d * V + 13 * d**3 / R == pytest.approx(N, rel=1e-13)


def test_inference_aware_against_dense_grid():
    F, d_inf = 1e21, 5e11
    fr = joint_frontier(LAW, F, [1, 8], Limits(inference_tokens=d_inf))
    for j, e in enumerate([1, 8]):
        m, mu, nn, nu = reduction(e)
        lo, hi = math.log(1e7), math.log(F / (6 + 2 * d_inf))
        for _ in range(3):  # a dense grid, then two finer grids around its best point
            u = np.linspace(lo, hi, 100_001)
            n = np.exp(u)
            D = (F - 2 * n * d_inf) / (6 * n)
            grid = m * n**mu + nn * D**nu + K["c"]
            i = int(np.argmin(grid))
            lo, hi = u[max(i - 2, 0)], u[min(i + 2, u.size - 1)]
        assert fr.loss[0, j] <= grid[i] * (1 + 1e-15)
        assert fr.loss[0, j] == pytest.approx(grid[i], rel=1e-12)
        assert fr.n_active_with_embedding[0, j] == pytest.approx(n[i], rel=1e-4)
        N = fr.n_active_with_embedding[0, j]
        # the budget is spent: training plus inference FLOPs
        assert 6 * N * fr.tokens[0, j] + 2 * N * d_inf == pytest.approx(F, rel=1e-12)


def test_memory_binds_exactly_in_continuous_solution():
    cons = Limits(memory=8e9, kv_tokens=2e5)
    fr = joint_frontier(LAW, [1e21], [1, 4, 16], cons)
    for j, e in enumerate([1, 4, 16]):
        assert fr.binding[0, j] == "memory"
        d = fr.d_model[0, j]
        used = 2 * (2 * d * V + (4 + 9 * e) * d**3 / R + 2 * 2e5 * d * d / R)
        assert used == pytest.approx(8e9, rel=1e-12)
        assert fr.loss[0, j] > fr.unconstrained_loss[0, j]


def test_max_total_params_counts_non_embedding_parameters():
    """max_total_params caps n_total without embeddings, as for every law."""
    plan = optimize_joint(LAW, 1e21, experts=[4], max_total_params=1e9)
    rec = plan.recommended
    assert rec.binding_constraint == "max_total_params"
    k = int(rec.n_blocks)

    def body(k):
        return n_total_int(k, 4) - 2 * R * k * V

    assert body(k) <= 1e9 < body(k + 1)
    assert rec.n_total == body(k)
    assert plan.problem == "model-memory"


def brute_force_best(F, e, memory=None, kv=0.0, bpp=2.0, d_inf=0.0):
    best = None
    for k in range(1, 400):
        if memory is not None and not fits(k, e, memory, kv, bpp):
            break
        n = n_act_int(k)
        D = (F - 2 * n * d_inf) / (6 * n)
        if D < 1:
            break
        loss = ref_loss(n, D, e)
        if best is None or loss < best[0]:
            best = (loss, k, D)
    return best


@pytest.mark.parametrize(
    "memory, kv, d_inf",
    [(None, 0.0, 0.0), (8e9, 0.0, 0.0), (80e9, 1e6, 0.0), (16e9, 0.0, 2e11), (3e9, 5e4, 1e10)],
)
def test_recommended_is_best_whole_model(memory, kv, d_inf):
    F = 3e20
    plan = optimize_joint(LAW, F, memory=memory, kv_tokens=kv, inference_tokens=d_inf)
    results = {e: brute_force_best(F, e, memory, kv, 2.0, d_inf) for e in DEFAULT_EXPERTS}
    e_best = min(results, key=lambda e: results[e][0])
    loss, k, D = results[e_best]
    rec = plan.recommended
    assert (rec.n_experts, rec.n_blocks, rec.d_model) == (e_best, k, R * k)
    assert rec.loss == pytest.approx(loss, rel=1e-13)
    assert rec.tokens == pytest.approx(D, rel=1e-13)
    assert rec.flops + rec.inference_flops == pytest.approx(F, rel=1e-13)
    for cand in plan.candidates:  # each per-E row is that E's best whole model too
        assert cand.realized.n_blocks == results[cand.choice][1]
        assert cand.realized.loss >= cand.continuous.loss - 1e-12
    if memory is not None:
        assert fits(int(rec.n_blocks), e_best, memory, kv, 2.0)
    assert plan.continuous.loss <= rec.loss + 1e-12


@settings(max_examples=40)
@given(
    memory=st.floats(2e7, 1e12),
    kv=st.sampled_from([0.0, 1e3, 3.3e5, 1e7]),
    bpp=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    log_f=st.floats(18, 25),
    experts=st.lists(st.integers(1, 64), min_size=1, max_size=4),
)
def test_recommended_respects_memory_exactly(memory, kv, bpp, log_f, experts):
    try:
        plan = optimize_joint(
            LAW, 10.0**log_f, experts=experts, memory=memory, kv_tokens=kv, bytes_per_param=bpp
        )
    except InfeasibleError:
        # only when even one block at the smallest E does not fit
        assert not fits(1, min(experts), memory, kv, bpp)
        return
    rec = plan.recommended
    k, e = int(rec.n_blocks), int(rec.n_experts)
    assert rec.n_blocks == k and rec.d_model == R * k
    assert fits(k, e, memory, kv, bpp)
    if rec.binding_constraint == "memory":
        assert not fits(k + 1, e, memory, kv, bpp)
    for cand in plan.candidates:
        if cand.realized is not None:
            assert fits(int(cand.realized.n_blocks), cand.choice, memory, kv, bpp)
        if cand.continuous is not None:
            assert cand.continuous.loss >= cand.unconstrained_loss - 1e-12
            assert cand.continuous.memory_bytes <= memory * (1 + 1e-12)


@settings(max_examples=30)
@given(log_f=st.floats(17, 26), e=st.sampled_from([1, 2, 8, 32]))
def test_optimum_loss_falls_with_budget(log_f, e):
    fr = joint_frontier(LAW, [10.0**log_f, 10.0 ** (log_f + 0.1)], [e], Limits(memory=1e10))
    assert fr.loss[1, 0] < fr.loss[0, 0]


def test_vectorised_equals_scalar():
    budgets = np.logspace(19, 24, 7)
    cons = Limits(memory=2e10, kv_tokens=1e4, inference_tokens=1e10)
    fr = joint_frontier(LAW, budgets, None, cons)
    assert fr.loss.shape == (7, len(DEFAULT_EXPERTS))
    for i, F in enumerate(budgets):
        one = joint_frontier(LAW, F, None, cons)
        np.testing.assert_array_equal(one.loss[0], fr.loss[i])


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "experts", [[2.5], [0], [-1], [float("nan")], [], [True], ["x"], [1, 2, 3.5]]
)
def test_bad_experts(experts):
    with pytest.raises(InputError, match="experts") as exc:
        optimize_joint(LAW, 1e21, experts=experts)
    assert exc.value.param == "experts"


def test_parse_experts_dedupes_and_sorts():
    assert parse_experts([8, 2.0, 2, 1]) == (1, 2, 8)
    assert parse_experts(None) == (1, 2, 4, 8, 16, 32)


def test_memory_below_smallest_model():
    smallest = 2 * n_total_int(1, 1)  # bf16, d_model 64, one block, dense
    with pytest.raises(InfeasibleError, match="smallest possible model") as exc:
        optimize_joint(LAW, 1e21, memory=smallest - 1)
    # the advice is exact: a rounded figure (1.297e+07) would be short of 12,972,288
    assert f"allow at least {smallest:,} bytes" in str(exc.value)
    plan = optimize_joint(LAW, 1e21, memory=smallest)  # exactly enough: fits
    assert plan.recommended.n_blocks == 1 and plan.recommended.n_experts == 1
    assert plan.recommended.memory_bytes == smallest
    assert any("cannot fit" in w for w in plan.warnings)  # E > 1 left out
    assert [c.feasible for c in plan.candidates].count(True) == 1


def test_max_total_params_below_smallest_model():
    with pytest.raises(InfeasibleError, match="max_total_params") as exc:
        optimize_joint(LAW, 1e21, max_total_params=5e4)  # one block of d_model 64: 53,248
    assert exc.value.param == "max_total_params"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(flops=3e7), "too small"),
        (dict(flops=1e20, inference_tokens=1e13), "inference"),
        (dict(flops=-1.0), "flops"),
        (dict(flops=float("inf")), "flops"),
        (dict(flops=1e21, memory=0), "memory"),
        (dict(flops=1e21, kv_tokens=-5), "kv_tokens"),
        (dict(flops=1e21, bytes_per_param=0), "bytes_per_param"),
    ],
)
def test_bad_numbers(kwargs, match):
    """Core errors name the parameter (``param``), never a CLI flag."""
    with pytest.raises((InputError, InfeasibleError)) as exc:
        optimize_joint(LAW, **kwargs)
    assert exc.value.param == match or match in str(exc.value)
    assert "--" not in str(exc.value)


def test_other_law_forms_refused():
    from moeplan.plan import experts

    with pytest.raises(InputError, match="joint_moe"):
        experts.optimize("krajewski2024-moe", 1e21)
    with pytest.raises(InputError, match="granularities does not apply"):
        optimize_joint(LAW, 1e21, granularities=[8])


def test_extrapolation_warnings():
    plan = optimize_joint(LAW, 1e23, experts=[1, 64])
    text = " ".join(plan.warnings)
    assert "64" in text and "outside the range" in text
    assert "extrapolation" in text  # the optimum is far above 2.7B active parameters


# ---- learning rate, inverse question, compare, rule of thumb, sweep -------------------------


def test_learning_rate_rule():
    for n, e in [(1e8, 1), (1.2e9, 8), (3e7, 32)]:
        expect = math.exp(8.39 - 0.81 * math.log(n) - 0.25 * math.log(e))
        assert learning_rate(n, e) == pytest.approx(expect, rel=1e-14)
    assert learning_rate_advice(1e9, 8).warnings == ()
    assert len(learning_rate_advice(5e9, 64).warnings) == 2
    with pytest.raises(InputError):
        learning_rate(0, 1)
    with pytest.raises(InputError):
        learning_rate(1e9, 0.5)
    rec = optimize_joint(LAW, 1e20).recommended
    assert rec.learning_rate == pytest.approx(
        math.exp(8.39 - 0.81 * math.log(rec.n_active) - 0.25 * math.log(rec.n_experts)), rel=1e-14
    )


@pytest.mark.parametrize("memory", [None, 1.6e10])
def test_flops_to_reach_round_trip(memory):
    cons = Limits(memory=memory)
    for F in (3e19, 1e22):
        loss = float(joint_frontier(LAW, F, [1], cons).loss[0, 0])
        assert flops_to_reach_joint(LAW, loss, 1, cons) == pytest.approx(F, rel=1e-9)


@pytest.mark.parametrize("e", [1, 8])
def test_flops_to_reach_matches_the_closed_form(e):
    """No limit: at the optimum n·D^ν = (μ/ν)·m·N^μ, so L − c = m·N^μ·(1 + μ/ν); solve for N,
    then D, and F = 6·N·D (SPEC §7), independently of the solver the round trip uses."""
    m, mu, n, nu = reduction(e)
    for target in (3.0, 2.4):
        N = ((target - K["c"]) / (m * (1 + mu / nu))) ** (1 / mu)
        D = ((mu / nu) * m * N**mu / n) ** (1 / nu)
        assert flops_to_reach_joint(LAW, target, e) == pytest.approx(6 * N * D, rel=1e-9)


def test_flops_to_reach_unreachable_under_memory():
    cons = Limits(memory=1e9)
    d = float(joint_frontier(LAW, 1e30, [1], cons).d_model[0, 0])
    floor = ref_loss(2 * d * V + 13 * d**3 / R, 1e300, 1)  # infinite data, capped model
    assert flops_to_reach_joint(LAW, floor - 1e-3, 1, cons) == math.inf
    assert math.isfinite(flops_to_reach_joint(LAW, floor + 1e-2, 1, cons))


def test_rule_of_thumb_independently():
    F = 1e21
    check = rule_of_thumb_check(LAW, F)
    N_dense, D_dense = chinchilla_optimum(1, F)
    dense_loss = ref_loss(N_dense, D_dense, 1)
    assert check.dense_loss == pytest.approx(dense_loss, rel=1e-12)
    for row in check.rows:
        e = row["n_experts"]
        # same total parameter count (with embeddings): (4+9E)/64·d³ + 2V·d = N_dense
        roots = np.roots([(4 + 9 * e) / R, 0.0, 2.0 * V, -N_dense])
        d = max(r.real for r in roots if abs(r.imag) < 1e-6 and r.real > 0)
        n_act = 2 * d * V + 13 * d**3 / R
        loss = ref_loss(n_act, e * D_dense, e)
        assert row["loss"] == pytest.approx(loss, rel=1e-10)
        assert row["beats_dense"] == (loss < dense_loss)
    assert [r["n_experts"] for r in check.rows] == [2, 4, 8]
    assert check.holds == all(r["beats_dense"] for r in check.rows)


def test_compare_dense_vs_moe():
    cmp = compare_joint(LAW, [1e20, 1e22], memory=16e9)
    for row in cmp.rows:
        dense_plan = optimize_joint(LAW, row.budget_flops, experts=[1], memory=16e9)
        same = ("d_model", "n_blocks", "n_experts", "tokens", "loss")
        assert [getattr(row.dense, k) for k in same] == [
            getattr(dense_plan.recommended, k) for k in same
        ]
        moe_plan = optimize_joint(LAW, row.budget_flops, experts=[2, 4, 8, 16, 32], memory=16e9)
        assert [getattr(row.moe_opt, k) for k in same] == [
            getattr(moe_plan.recommended, k) for k in same
        ]
        mult = flops_to_reach_joint(LAW, moe_plan.continuous.loss, 1, Limits(memory=16e9))
        assert row.dense_compute_multiplier == pytest.approx(mult / row.budget_flops, rel=1e-12)
        assert (row.dense_compute_multiplier > 1) == (
            moe_plan.continuous.loss < dense_plan.continuous.loss
        )
    d = cmp.to_dict()
    assert set(d["rows"][0]) >= {
        "budget_flops",
        "dense",
        "moe_g1",
        "moe_opt",
        "dense_compute_multiplier",
        "g1_compute_multiplier",
    }
    assert {"n_params", "tokens", "loss"} <= set(d["rows"][0]["dense"])
    with pytest.raises(InputError, match="E >= 2"):
        compare_joint(LAW, 1e21, experts=[1])


def test_sweep_memory_optimal_experts():
    sw = sweep_joint(LAW, 1e19, 1e24, 11, memory=16e9)
    best = sw.n_experts
    assert best[0] == 32 and best[-1] == 1  # MoE wins small budgets, dense wins big ones
    assert np.all(np.diff(best) <= 0)  # fewer experts as the budget grows
    assert np.all(sw.unconstrained_choice == 32)
    plan = optimize_joint(LAW, sw.flops[5], memory=16e9)
    assert sw.rows()[5]["loss"] == pytest.approx(plan.continuous.loss, rel=1e-13)
    assert sw.rows()[5]["n_experts"] == plan.continuous.n_experts
    json.dumps(sw.to_dict())  # plain values only
    with pytest.raises(InputError, match="flops_to"):
        sweep_joint(LAW, 1e22, 1e20, 5)
    with pytest.raises(InputError, match="points"):
        sweep_joint(LAW, 1e20, 1e22, 1)
    with pytest.raises(InfeasibleError):
        sweep_joint(LAW, 1e20, 1e22, 5, memory=1e6)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from moeplan.plot import frontier_figure, save_figure

    # the joint frontier drawn to a PNG: test_cli_joint::test_sweep_with_plot_and_csv (the same
    # frontier_figure and save_figure through `sweep --plot`); here the library's refusal
    sw = sweep_joint(LAW, 1e19, 1e23, 3, memory=16e9)
    with pytest.raises(InputError, match=".png"):
        save_figure(frontier_figure(sw), tmp_path / "joint.txt")
    assert not (tmp_path / "joint.txt").exists()


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    from moeplan.errors import MoeplanError
    from moeplan.plot import frontier_figure

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    sw = sweep_joint(LAW, 1e19, 1e23, 3)
    with pytest.raises(MoeplanError, match=r"moeplan\[plot\]"):
        frontier_figure(sw)
    assert not (tmp_path / "joint.png").exists()


def test_public_frontier_is_vectorised_for_the_joint_law():
    """moeplan.frontier(law, budgets): arrays, the best E's closed-form optimum per budget."""
    from moeplan import frontier

    budgets = np.logspace(19, 23, 5)
    fr = frontier(LAW, budgets)
    assert fr.loss.shape == budgets.shape and fr.loss_per_choice.shape == (5, 6)
    for i, F in enumerate(budgets):
        best = min((ref_loss(*chinchilla_optimum(e, F), e), e) for e in DEFAULT_EXPERTS)
        assert fr.loss[i] == pytest.approx(best[0], rel=1e-12)
        assert fr.choice[i] == best[1] and fr.granularity[i] == 1
        d = fr.d_model[i]
        assert fr.n_active[i] == pytest.approx(13 * d**3 / R, rel=1e-12)  # no embeddings
    capped = frontier(LAW, budgets, memory=16e9)
    assert np.all(capped.loss >= fr.loss - 1e-12)

"""Numerical robustness (issue 7, item 3): 1e15 to 1e30 FLOPs, extreme E, G, c_f, c_r and
coefficients, every shipped law. No overflow, NaN or silent nonsense: numpy RuntimeWarnings are
errors under the suite's ``filterwarnings = error``, so an overflow anywhere fails a test.

Invariants, each checked against SPEC.md's formulas written out here (not the code under test):
the optimal loss falls as the budget grows; the optimum spends the budget; FLOPs parts add up;
realizable configurations respect every constraint given (memory, max_total_params,
max_granularity, max_tokens). A refusal is never taken on trust: inputs inside the domain must
plan, and every refusal's claim (too few tokens, an unbuildable memory limit, a loss at the
floor) is checked here by brute force or by SPEC.md's formulas. tests/test_optimize.py covers 1e15-1e28 at the paper's settings;
this file covers the extremes of the domain (moeplan.domain) and the constraints together.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from reference import MOE, assert_refusal_is_true, brute_force_optimum, spec_loss

from moeplan import compare, domain, load_law, optimize, sweep
from moeplan.accounting import flops_breakdown
from moeplan.coefficients import law_from_mapping, shipped_law_names
from moeplan.errors import InfeasibleError, MoeplanError
from moeplan.plan.solve import compute_optimal_loss, frontier

SOME = settings(max_examples=25, deadline=None)

log_budget = st.floats(15.0, 30.0)  # log10 FLOPs: the range
expansion = st.sampled_from([1.0, 2.0, 8.0, 64.0, 1024.0, 1e6])
granularity = st.sampled_from([1.0, 2.0, 16.0, 256.0, 4096.0, 1e6])
c_f = st.sampled_from([1e-3, 0.5, 6.0, 20.0, 1e3])
c_r = st.sampled_from([0.0, 1e-3, 6.0, 14.0, 20.0, 1e3])


def spec_flops(d, n, D, E, G, cf, cr):
    """SPEC.md §3: F = (12·d²·c_f + d·E·G·c_r)·D·n."""
    return (12.0 * d * d * cf + d * E * G * cr) * D * n


def finite(*values):
    return all(v is not None and math.isfinite(v) for v in values)


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


# --------------------------------------------------------------------------- the continuous optimum


@SOME
@given(lf=log_budget, E=expansion, G=granularity, cf=c_f, cr=c_r, ratio=st.floats(1.5, 1e3))
def test_extremes_finite_and_loss_falls_with_budget(moe, lf, E, G, cf, cr, ratio):
    assume(lf + math.log10(ratio) <= 30.5)
    F = 10.0**lf
    # every input here is inside moeplan.domain: it must plan (no refusal, crash or warning)
    lo = frontier(moe, F, [G], expansion_rate=E, c_f=cf, c_r=cr)
    hi = frontier(moe, F * ratio, [G], expansion_rate=E, c_f=cf, c_r=cr)
    for fr in (lo, hi):
        assert finite(float(fr.loss), float(fr.d_model), float(fr.tokens), float(fr.n_total))
        assert float(fr.loss) > moe.floor
        # the optimum spends the budget (SPEC.md §3 formula, router included)
        spent = spec_flops(float(fr.d_model), float(fr.n_blocks), float(fr.tokens), E, G, cf, cr)
        assert spent == pytest.approx(float(fr.flops), rel=1e-9)
        # and its loss is the law's at (N, D, G)
        k = moe.coefficients
        assert float(fr.loss) == pytest.approx(
            spec_loss(float(fr.n_total), float(fr.tokens), G, k), rel=1e-12
        )
    assert float(hi.loss) < float(lo.loss)


@pytest.mark.parametrize(
    "name", [n for n in shipped_law_names() if load_law(n).form != "joint_moe"]
)
def test_every_law_from_1e15_to_1e30(name):
    law = load_law(name)
    budgets = np.logspace(15, 30, 16)
    losses = compute_optimal_loss(law, budgets)
    assert np.all(np.isfinite(losses)) and np.all(np.diff(losses) < 0)
    assert np.all(losses > law.floor)
    fr = frontier(law, budgets)
    e = 1.0 if law.form == "chinchilla" else law.expansion_rate
    cr = 0.0 if law.form == "chinchilla" else law.c_r
    spent = spec_flops(fr.d_model, fr.n_blocks, fr.tokens, e, fr.granularity, law.c_f, cr)
    if law.params_meaning == "total_with_embedding":
        # the Chinchilla sets' N counts the embeddings (one tied 32,000 x d_model matrix), and
        # their FLOPs are c_f·N·D with that N (issue 10 item 11)
        spent = spent + law.c_f * 32_000 * fr.d_model * fr.tokens
    np.testing.assert_allclose(spent, budgets, rtol=1e-9)


@pytest.mark.parametrize("budget", [1e15, 1e20, 1e25, 1e30])
def test_compare_and_sweep_finite_across_the_range(moe, budget):
    res = compare(moe, budget)
    row = res.rows[0]
    assert finite(
        row.dense_compute_multiplier,
        row.g1_compute_multiplier,
        row.moe_opt.loss,
        row.moe_g1.loss,
        row.dense.loss,
    )
    assert row.g1_compute_multiplier >= 1.0 - 1e-9  # G = 1 is among the optimum's candidates
    sw = sweep(moe, budget, budget * 10, 3)
    for r in sw.rows():
        values = [v for k, v in r.items() if k != "loss_by_choice"]
        values += list(r["loss_by_choice"].values())
        assert all(v is None or math.isfinite(v) for v in values)
    assert np.all(np.diff(sw.loss) < 0)


def test_joint_law_from_1e15_to_1e30():
    law = load_law("ludziejewski2025-joint")
    last = math.inf
    for budget in np.logspace(15, 30, 6):
        plan = optimize(law, float(budget))
        rec = plan.recommended
        assert finite(rec.loss, rec.tokens, rec.n_total_with_embedding)
        assert rec.loss < last
        last = rec.loss


COEFFS = MOE


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from(sorted(COEFFS)),
    scale=st.sampled_from([1e-30, 1e-6, 1e-3, 0.1, 10.0, 1e3, 1e6, 1e30]),
    lf=st.sampled_from([15.0, 22.0, 30.0]),
)
def test_extreme_coefficients_give_a_plan_or_a_true_message(key, scale, lf):
    value = COEFFS[key] * scale
    k = dict(COEFFS, **{key: value})
    mapping = {"name": "extreme", "form": "fine_grained_moe", "coefficients": k}
    # the law-file domain (README "Limits"): exponents alpha, beta from 0.001 to 10, gamma above
    # 0 and at most 10, scales a, b, g, c at most 1e30
    lo, hi = {"alpha": (1e-3, 10.0), "beta": (1e-3, 10.0), "gamma": (0.0, 10.0)}.get(
        key, (0.0, 1e30)
    )
    if not lo <= value <= hi:
        with pytest.raises(MoeplanError, match=rf"coefficients\.{key} must be"):
            law_from_mapping(mapping)
        event("law refused")
        return
    law = law_from_mapping(mapping)
    assert law.coefficients[key] == value
    for what, call in (
        ("optimize", lambda: optimize(law, 10.0**lf)),
        ("compare", lambda: compare(law, 10.0**lf)),
        ("sweep", lambda: sweep(law, 10.0**lf / 10, 10.0**lf, 2)),
    ):
        try:
            res = call()
        except MoeplanError as exc:
            event(f"{what} refused: {assert_refusal_is_true(exc, k)}")
            continue
        event(f"{what} planned")
        doc = res.to_dict()
        _assert_no_nan(doc)
        if what == "optimize":
            rec = res.recommended
            assert rec.loss == pytest.approx(
                spec_loss(rec.n_total, rec.tokens, rec.granularity, k), rel=1e-12
            )
            assert rec.tokens >= 1.0


def test_paper_coefficients_always_plan():
    # the control for the test above: the paper's own law plans at every budget it is given
    law = law_from_mapping({"name": "paper", "form": "fine_grained_moe", "coefficients": COEFFS})
    for lf in (15.0, 22.0, 30.0):
        best, _ = brute_force_optimum(COEFFS, 10.0**lf)
        res = optimize(law, 10.0**lf)
        assert res.continuous.loss == pytest.approx(best, rel=1e-6)
        compare(law, 10.0**lf)
        sweep(law, 10.0**lf / 10, 10.0**lf, 2)


def _assert_no_nan(obj, path="doc"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _assert_no_nan(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _assert_no_nan(v, f"{path}[{i}]")
    elif isinstance(obj, float):
        assert not math.isnan(obj), path


# --------------------------------------------------------------------------- FLOPs accounting


@SOME
@given(
    d=st.integers(1, 2**40),
    n=st.integers(1, 2**20),
    D=st.floats(1.0, domain.MAX_COUNT),
    E=st.floats(1.0, domain.MAX_EXPERTS),
    G=st.floats(1.0, domain.MAX_EXPERTS),
    cf=c_f,
    cr=c_r,
)
def test_flops_parts_add_up_at_extreme_sizes(d, n, D, E, G, cf, cr):
    try:
        fb = flops_breakdown(d, n, D, E, G, cf, cr)
    except MoeplanError as exc:  # a total beyond a double is refused, not inf
        event("overflow refused")
        assert "overflow" in str(exc)
        assert (
            not math.isfinite(spec_flops(float(d), float(n), D, E, G, cf, cr))
            or spec_flops(float(d), float(n), D, E, G, cf, cr) > 1e300
        )
        return
    assert fb.attention_flops + fb.expert_flops + fb.router_flops == pytest.approx(
        fb.flops, rel=1e-12
    )
    assert fb.flops == pytest.approx(spec_flops(d, n, D, E, G, cf, cr), rel=1e-12)
    assert fb.n_active == pytest.approx(12.0 * d * d * n, rel=1e-15)
    assert fb.n_total == pytest.approx(d * d * (8.0 * E + 4.0) * n, rel=1e-12)
    assert 0.0 <= fb.router_share <= 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(expansion_rate=0.5),
        dict(expansion_rate=1e7),
        dict(granularity=0.5),
        dict(granularity=1e7),
        dict(c_f=1e4),
        dict(c_r=1e4),
        dict(c_f=1e-4),
    ],
)
def test_accounting_domain(kwargs):
    args = dict(d_model=1024, n_blocks=16, tokens=1e10)
    args.update(kwargs)
    with pytest.raises(MoeplanError):
        flops_breakdown(**args)


# --------------------------------------------------------------------------- realizable configs

constraint_sets = st.fixed_dictionaries(
    {
        "memory": st.one_of(st.none(), st.floats(1e8, 1e14)),
        "max_total_params": st.one_of(st.none(), st.floats(1e7, 1e13)),
        "max_granularity": st.one_of(st.none(), st.sampled_from([1.0, 4.0, 16.0, 100.0])),
        "max_tokens": st.one_of(st.none(), st.floats(1e8, 1e14)),
        "kv_tokens": st.sampled_from([0.0, 1e4, 1e6]),
        "bytes_per_param": st.sampled_from([0.5, 2.0, 4.0]),
        "vocab_size": st.sampled_from([None, 32000, 256000]),
    }
)


@settings(max_examples=30, deadline=None)
@given(lf=st.floats(17.0, 30.0), cons=constraint_sets)
def test_realizable_configs_respect_every_constraint(moe, lf, cons):
    F = 10.0**lf
    E = moe.expansion_rate
    try:
        res = optimize(moe, F, **cons)
    except InfeasibleError as exc:
        # the refusals here: a memory limit below the smallest model (d_model 128 with the
        # GPU-friendly default --multiple-of 128, 2 blocks by the shape rule, G = 1), or limits
        # below it otherwise (max_total_params), checked with the formulas
        event("infeasible")
        assert "\n" not in str(exc), str(exc)

        def memory_of(d, n):
            w = d * d * (8 * E + 4) * n + d * E * n
            if cons["vocab_size"]:
                w += 2 * cons["vocab_size"] * d
            return (w + 2 * cons["kv_tokens"] * n * d) * cons["bytes_per_param"]

        if "smallest model" in str(exc):
            assert cons["memory"] is not None and memory_of(128.0, 2.0) > cons["memory"]
        else:
            assert "no realizable configuration" in str(exc), str(exc)
            assert (cons["memory"] is not None and memory_of(128.0, 2.0) > cons["memory"]) or (
                cons["max_total_params"] is not None
                and 128.0**2 * (8 * E + 4) * 2 > cons["max_total_params"]
            ), str(exc)
        return
    event("planned")
    assert res.realizable, "a plan without realizable configurations must say why"
    for cfg in res.realizable:
        d, n, G, D = cfg.d_model, cfg.n_blocks, cfg.granularity, cfg.tokens
        assert d == int(d) and n == int(n) and G == int(G) and cfg.n_experts == int(cfg.n_experts)
        assert (4 * d / G) % 64 == 0 and d % 128 == 0  # GPU-friendly: d_expert, d_model
        assert finite(cfg.loss, cfg.tokens, cfg.flops) and D >= 1.0
        # memory: weights + router [+ embeddings] + KV cache, SPEC.md §1 and CLI.md
        weights = d * d * (8 * E + 4) * n + d * E * G * n
        if cons["vocab_size"]:
            weights += 2 * cons["vocab_size"] * d
        memory = (weights + 2 * cons["kv_tokens"] * n * d) * cons["bytes_per_param"]
        assert memory == pytest.approx(cfg.memory_bytes, rel=1e-12)
        if cons["memory"] is not None:
            assert memory <= cons["memory"] * (1 + 1e-12)
        if cons["max_total_params"] is not None:
            assert d * d * (8 * E + 4) * n <= cons["max_total_params"] * (1 + 1e-12)
        if cons["max_granularity"] is not None:
            assert G <= cons["max_granularity"]
        if cons["max_tokens"] is not None:
            assert D <= cons["max_tokens"] * (1 + 1e-12)
        # FLOPs: the budget is spent unless the data runs out first
        spent = spec_flops(d, n, D, E, G, moe.c_f, moe.c_r)
        assert spent == pytest.approx(cfg.flops, rel=1e-9)
        assert spent <= F * (1 + 1e-9)
        if cons["max_tokens"] is None or D < cons["max_tokens"] * (1 - 1e-9):
            assert spent == pytest.approx(F, rel=1e-9)
        assert cfg.loss == pytest.approx(
            spec_loss(d * d * (8 * E + 4) * n, D, G, moe.coefficients), rel=1e-12
        )


@SOME
@given(
    lf=st.floats(15.0, 30.0),
    E=st.sampled_from([1.0, 8.0, 64.0, 1024.0]),
    G=st.sampled_from([1.0, 2.0, 8.0, 64.0]),
)
def test_realizable_spends_the_budget_at_extremes(moe, lf, E, G):
    F = 10.0**lf
    res = optimize(moe, F, granularities=[G], expansion_rate=E)  # no constraint: always plans
    rec = res.recommended
    assert rec is not None and finite(rec.loss, rec.flops, rec.tokens)
    assert spec_flops(rec.d_model, rec.n_blocks, rec.tokens, E, G, 6.0, 14.0) == pytest.approx(
        F, rel=1e-9
    )


@pytest.mark.parametrize("budget", [1e15, 1e30, 1e40])
def test_budget_edges(moe, budget):
    res = optimize(moe, budget)
    assert finite(res.recommended.loss, res.recommended.tokens)
    with pytest.raises(MoeplanError, match="at most 1e\\+40"):
        optimize(moe, 1.0001e40)


def test_least_budget_is_the_smallest_model_on_one_token(moe):
    # SPEC.md §3 for the smallest shape on one token, G = 1, E = 64: d_model 128 x 2 blocks
    # (the GPU-friendly default multiple; 2 = 128/64 blocks by the shape rule), and
    # d_model 64 x 1 block with --multiple-of 64
    for multiple, blocks in ((128, 2.0), (64, 1.0)):
        least = spec_flops(float(multiple), blocks, 1.0, 64.0, 1.0, 6.0, 14.0)
        res = optimize(moe, least * 1.0001, multiple_of=multiple)
        assert res.recommended.tokens >= 1.0
        with pytest.raises(InfeasibleError, match="smallest model"):
            optimize(moe, least * 0.999, multiple_of=multiple)

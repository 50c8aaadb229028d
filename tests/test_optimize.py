"""The continuous compute-optimal solver (moeplan.plan) against independent references.

Every expected number is computed here from SPEC.md's formulas (brute-force grids, the
Chinchilla closed form), never taken from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import CONFIG_KEYS, DENSE, MOE, chinchilla_params
from reference import moe_loss as spec_moe_loss  # noqa: E402

from moeplan import load_law, optimize
from moeplan.coefficients import law_from_mapping
from moeplan.errors import InfeasibleError, InputError
from moeplan.plan.solve import GRANULARITIES_DEFAULT, compute_optimal_loss, flops_to_reach, frontier

POWERS = [2.0**i for i in range(9)]


def spec_loss(d_model, budget, G, E=64.0, r=64.0, c_f=6.0, c_r=14.0, k=MOE):
    """SPEC.md §1-3: N = d²(8E+4)n, F = (12 d² c_f + d E G c_r) D n, n = d/r."""
    n = d_model / r
    N = d_model**2 * (8 * E + 4) * n
    D = budget / ((12 * d_model**2 * c_f + d_model * E * G * c_r) * n)
    return spec_moe_loss(N, D, G, k)


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


@pytest.mark.parametrize(
    "G,c_r,E", [(1.0, 14.0, 64.0), (64.0, 20.0, 64.0), (8.0, 6.0, 16.0), (256.0, 14.0, 64.0)]
)
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
            N = chinchilla_params(budget, k, c_eff, a=A)
            D = budget / (c_eff * N)
            expected = k["c"] + A / N**al + k["b"] / D**be
            got = compute_optimal_loss(moe, budget, granularities=[G], c_r=0.0)
            assert abs(got - expected) / expected <= 1e-12


def test_dense_law_is_the_chinchilla_optimum(dense):
    k = DENSE
    al, be = k["alpha"], k["beta"]
    for budget in (1e18, 1e20, 1e24):
        N = chinchilla_params(budget, k)
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
    one = flops_to_reach(moe, compute_optimal_loss(moe, 1e21, granularities=[4]), granularities=[4])
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
        N = chinchilla_params(F, k)
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
    with pytest.raises(InputError, match="joint MoE law"):
        compute_optimal_loss(load_law("ludziejewski2025-joint"), 1e20)


@settings(max_examples=40, deadline=None)
@given(log_f=st.floats(15.0, 28.0), ratio=st.floats(1.01, 100.0))
def test_more_compute_never_hurts(moe, log_f, ratio):
    lo = compute_optimal_loss(moe, 10.0**log_f)
    hi = compute_optimal_loss(moe, 10.0**log_f * ratio)
    assert hi < lo
    assert hi > MOE["c"]


@settings(max_examples=40, deadline=None)
@given(
    log_f=st.floats(16.0, 27.0),
    G=st.sampled_from(POWERS),
    factor=st.floats(0.5, 2.0).filter(lambda f: abs(f - 1) > 1e-3),
)
def test_optimum_beats_any_other_width(moe, log_f, G, factor):
    budget = 10.0**log_f
    best = compute_optimal_loss(moe, budget, granularities=[G])
    fr = frontier(moe, budget, granularities=[G])
    other = spec_loss(float(fr.d_model) * factor, budget, G)
    assert other > best
    assert float(fr.loss) == pytest.approx(spec_loss(float(fr.d_model), budget, G), rel=1e-12)


def test_default_granularities_are_powers_of_two():
    assert list(GRANULARITIES_DEFAULT) == POWERS


# --------------------------------------------------------------------------------------------
# optimize(): constraints, inference, inverse questions, bootstrap (independent brute force)
# --------------------------------------------------------------------------------------------


def grid_min(loss_fn, lo=math.log(1e-4), hi=math.log(4e6), rounds=4, n=20001):
    """Brute force: minimum of loss_fn(d_model) over a refined grid of ln d_model (inf allowed
    for infeasible widths). Converges to kinks and bounds too."""
    best = (math.inf, math.nan)
    for _ in range(rounds):
        x = np.linspace(lo, hi, n)
        with np.errstate(all="ignore"):
            loss = loss_fn(np.exp(x))
        loss = np.where(np.isfinite(loss), loss, np.inf)
        j = int(np.argmin(loss))
        if not math.isfinite(loss[j]):
            return best
        lo, hi = x[max(j - 2, 0)], x[min(j + 2, n - 1)]
        best = (float(loss[j]), float(np.exp(x[j])))
    return best


def moe_loss(d, G, N_fn_tokens, k=MOE):
    """Loss of the fine-grained law with N = d²(8E+4)n and the tokens given by N_fn_tokens."""
    n = d / 64.0
    N = d * d * (8 * 64 + 4) * n
    D = N_fn_tokens(d, n)
    with np.errstate(all="ignore"):
        out = (
            k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]
        )
    return np.where(D > 0, out, np.inf)


def test_memory_constraint_matches_brute_force(moe):
    F, M, T = 1e23, 160e9, 2e5  # 160 GB, KV cache of 200k tokens, bf16

    def per_g(G):
        def fn(d):
            n = d / 64.0
            mem = ((8 * 64 + 4) * d * d * n + d * 64 * G * n + 2 * T * n * d) * 2.0
            D = F / ((12 * d * d * 6 + d * 64 * G * 14) * n)
            return np.where(mem <= M, moe_loss(d, G, lambda d, n: D), np.inf)

        return grid_min(fn)[0]

    expected = min(per_g(G) for G in POWERS)
    res = optimize(moe, F, memory=M, kv_tokens=T)
    assert abs(res.continuous.loss - expected) / expected <= 1e-9
    assert res.continuous.memory_bytes <= M * (1 + 1e-9)
    assert res.continuous.memory_bytes == pytest.approx(M, rel=1e-9)  # it binds
    mem = res.constraints[0]
    assert mem.name == "memory" and mem.binding and mem.loss_cost > 0
    assert mem.loss_cost == pytest.approx(
        res.continuous.loss - compute_optimal_loss(moe, F), rel=1e-9
    )
    assert res.recommended.memory_bytes <= M
    assert any("memory" in w and "binds" in w for w in res.warnings)


def test_max_tokens_leaves_budget_unspent_when_data_runs_out(moe):
    F, Dmax, Nmax = 1e22, 5e10, 2e10

    def per_g(G):
        def fn(d):
            n = d / 64.0
            N = d * d * (8 * 64 + 4) * n
            D = np.minimum(F / ((12 * d * d * 6 + d * 64 * G * 14) * n), Dmax)
            return np.where(N <= Nmax, moe_loss(d, G, lambda d, n: D), np.inf)

        return grid_min(fn)[0]

    expected = min(per_g(G) for G in POWERS)
    res = optimize(moe, F, max_tokens=Dmax, max_total_params=Nmax)
    c = res.continuous
    assert abs(c.loss - expected) / expected <= 1e-9
    assert c.tokens == pytest.approx(Dmax, rel=1e-12)
    assert c.n_total == pytest.approx(Nmax, rel=1e-9)
    assert c.flops < F
    assert any("unspent" in w for w in res.warnings)
    assert res.recommended.tokens <= Dmax * (1 + 1e-12)
    assert res.recommended.n_total <= Nmax


def test_max_tokens_alone_raises_the_model_size(moe):
    F, Dmax = 1e22, 5e10
    free = optimize(moe, F)
    capped = optimize(moe, F, max_tokens=Dmax)
    assert free.continuous.tokens > Dmax
    assert capped.continuous.tokens == pytest.approx(Dmax, rel=1e-9)
    spent = capped.continuous.flops
    assert spent == pytest.approx(F, rel=1e-9)  # a bigger model still spends the budget
    assert capped.continuous.n_total > free.continuous.n_total
    assert capped.continuous.loss > free.continuous.loss


def test_inference_tokens_share_the_budget(moe):
    F, Dinf = 1e22, 2e13

    def per_g(G):
        def fn(d):
            n = d / 64.0
            inference = Dinf * (2 * 12 * d * d * n + 3 / 7 * 14 * d * 64 * G * n)
            D = (F - inference) / ((12 * d * d * 6 + d * 64 * G * 14) * n)
            return moe_loss(d, G, lambda d, n: D)

        return grid_min(fn, hi=math.log(1e5))[0]

    expected = min(per_g(G) for G in POWERS)
    res = optimize(moe, F, inference_tokens=Dinf)
    c = res.continuous
    assert abs(c.loss - expected) / expected <= 1e-9
    assert c.flops + c.inference_flops == pytest.approx(F, rel=1e-9)
    assert c.inference_flops == pytest.approx(
        Dinf * (2 * c.n_active + 6 * c.router_params), rel=1e-12
    )
    free = optimize(moe, F).continuous
    assert c.n_active < free.n_active  # serving many tokens favours a smaller model
    rec = res.recommended
    assert rec.flops + rec.inference_flops == pytest.approx(F, rel=1e-12)


def test_fixed_model_size(moe):
    F, N = 1e21, 1e10
    res = optimize(moe, F, params=N)
    d = (N * 64 / (8 * 64 + 4)) ** (1 / 3)
    losses = {
        G: float(
            moe_loss(np.array(d), G, lambda d_, n: F / ((12 * d_ * d_ * 6 + d_ * 64 * G * 14) * n))
        )
        for G in POWERS
    }
    best_g = min(losses, key=losses.get)
    assert res.continuous.granularity == best_g
    assert res.continuous.n_total == pytest.approx(N, rel=1e-12)
    assert res.continuous.loss == pytest.approx(losses[best_g], rel=1e-12)
    assert abs(res.recommended.n_total / N - 1) <= 0.05
    assert res.recommended.flops == pytest.approx(F, rel=1e-12)


def test_target_loss_gives_the_least_budget(moe):
    res = optimize(moe, target_loss=2.2)
    assert res.continuous.loss == pytest.approx(2.2, rel=1e-9)
    assert res.budget_flops == pytest.approx(flops_to_reach(moe, 2.2), rel=1e-12)
    assert compute_optimal_loss(moe, res.budget_flops * (1 - 1e-6)) > 2.2
    # with a memory limit the target needs more compute, and the plan reaches it
    M = 40e9
    lim = optimize(moe, target_loss=2.2, memory=M)
    assert lim.budget_flops > res.budget_flops
    assert lim.unconstrained_flops == pytest.approx(res.budget_flops, rel=1e-12)
    assert lim.continuous.loss == pytest.approx(2.2, rel=1e-9)
    assert lim.continuous.memory_bytes <= M * (1 + 1e-9)
    slightly_less = optimize(moe, lim.budget_flops * (1 - 1e-6), memory=M)
    assert slightly_less.continuous.loss > 2.2


def test_unreachable_targets_and_constraints(moe):
    with pytest.raises(InfeasibleError, match="floor"):
        optimize(moe, target_loss=0.47)
    # a 1 GB model can never get to 1.5
    with pytest.raises(InfeasibleError, match="cannot be reached"):
        optimize(moe, target_loss=1.5, memory=1e9)
    with pytest.raises(InfeasibleError, match="smallest model"):
        optimize(moe, 1e22, memory=1e6)
    with pytest.raises(InfeasibleError, match="max granularity"):
        optimize(moe, 1e22, max_granularity=0.5)
    with pytest.raises(InputError, match="not both"):
        optimize(moe, 1e22, target_loss=2.0)
    with pytest.raises(InputError, match="budget"):
        optimize(moe, float("nan"))
    with pytest.raises(InfeasibleError, match="inference"):
        optimize(moe, 1e18, inference_tokens=1e15, params=1e10)


def test_max_granularity_binds_and_costs(moe):
    F = 1e24
    res = optimize(moe, F, max_granularity=8)
    assert res.continuous.granularity == 8
    assert set(res.excluded_granularities) == {16.0, 32.0, 64.0, 128.0, 256.0}
    rep = res.constraints[0]
    assert rep.binding
    expected = brute_force(F, 8.0)[0] - min(brute_force(F, G)[0] for G in POWERS)
    assert rep.loss_cost == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_real_valued_granularity_against_a_grid(moe):
    F = 1e21
    res = optimize(moe, F)
    lo, hi = 0.0, math.log(256.0)
    best = (math.inf, None)
    for _ in range(3):
        lg = np.linspace(lo, hi, 41)
        losses = [brute_force(F, float(math.exp(v)))[0] for v in lg]
        j = int(np.argmin(losses))
        best = (losses[j], float(math.exp(lg[j])))
        lo, hi = lg[max(j - 1, 0)], lg[min(j + 1, 40)]
    assert res.best_real_granularity_loss <= best[0] * (1 + 1e-12)
    assert res.best_real_granularity_loss >= best[0] * (1 - 1e-7)
    assert res.best_real_granularity == pytest.approx(best[1], rel=0.01)
    assert res.best_real_granularity_loss <= res.continuous.loss


def test_dense_law_plans_a_dense_model(dense):
    F = 1e21
    res = optimize(dense, F)
    k = DENSE
    N = chinchilla_params(F, k)
    c = res.continuous
    assert c.n_total == pytest.approx(N, rel=1e-9)
    assert c.n_active == pytest.approx(N, rel=1e-9)
    assert c.tokens == pytest.approx(F / (6 * N), rel=1e-9)
    assert c.router_flops == 0 and c.n_experts == 1 and c.top_k == 1
    r = res.recommended
    assert r.router_params == 0 and r.flops == pytest.approx(F, rel=1e-12)
    assert r.d_model % 64 == 0
    with pytest.raises(InputError, match="dense"):
        optimize(dense, F, granularities=[8])


def _law_with_bootstrap(samples):
    mapping = {
        "name": "boot-test",
        "form": "fine_grained_moe",
        "coefficients": dict(MOE),
        "flops": {"c_f": 6, "c_r": 14, "expansion_rate": 64, "aspect_ratio": 64},
        "bootstrap": {k: [s[k] for s in samples] for k in MOE},
    }
    return law_from_mapping(mapping, source="test")


def test_bootstrap_ranges_solve_every_sample():
    rng = np.random.default_rng(20240211)
    samples = []
    for _ in range(7):
        s = {k: v * float(rng.uniform(0.97, 1.03)) for k, v in MOE.items()}
        samples.append(s)
    law = _law_with_bootstrap(samples)
    F = 1e21
    res = optimize(law, F)
    b = res.bootstrap
    assert b is not None and b.samples == 7 and b.percentiles == (10, 50, 90)
    # independent: brute force each sample's optimum
    Ns, Ds, Gs = [], [], []
    for s in samples:
        best = None
        for G in POWERS:
            loss, d = grid_min(
                lambda d_, G=G: moe_loss(
                    d_, G, lambda d2, n: F / ((12 * d2 * d2 * 6 + d2 * 64 * G * 14) * n), k=s
                )
            )
            if best is None or loss < best[0]:
                best = (loss, d, G)
        _, d, G = best
        n = d / 64
        Ns.append(d * d * (8 * 64 + 4) * n)
        Ds.append(F / ((12 * d * d * 6 + d * 64 * G * 14) * n))
        Gs.append(G)
    np.testing.assert_allclose(b.n_total, np.percentile(Ns, [10, 50, 90]), rtol=1e-3)
    np.testing.assert_allclose(b.tokens, np.percentile(Ds, [10, 50, 90]), rtol=1e-3)
    np.testing.assert_allclose(b.granularity, np.percentile(Gs, [10, 50, 90]), rtol=1e-12)
    # the law without samples has no ranges
    assert optimize(load_law("krajewski2024-moe"), F).bootstrap is None


def test_c_r_zero_frontier_has_no_router(moe):
    fr = frontier(moe, [1e20, 1e22], c_r=0.0)
    assert np.all(fr.router_flops == 0)
    assert np.all(fr.granularity == 256)  # with free routing, the finest G always wins


def test_optimize_result_to_dict_has_contract_keys(moe):
    d = optimize(moe, 1e22, vocab_size=50257).to_dict()
    for key in ("budget_flops", "law", "recommended", "continuous", "candidates", "warnings"):
        assert key in d
    need = CONFIG_KEYS | {"n_embedding", "n_active_with_embedding", "n_total_with_embedding"}
    for cfg in [d["recommended"], d["continuous"]] + d["candidates"]:
        assert need <= set(cfg)
    assert "best_real_granularity" in d["continuous"]
    rec = d["recommended"]
    assert rec["n_embedding"] == 2 * 50257 * rec["d_model"]
    assert rec["n_total_with_embedding"] == rec["n_total"] + rec["n_embedding"]


# --------------------------------------------------------------------------------------------
# The one bracketing root search (plan.solve.zoom_root): bisection for the bands' least
# budget, a 255-fold grid for the joint law's, 32-fold for the time-optimal fixed point.


@settings(max_examples=60, deadline=None)
@given(
    root=st.floats(-50.0, 150.0),
    points=st.sampled_from([1, 2, 31, 254]),
    rounds=st.integers(1, 8),
)
def test_zoom_root_brackets_the_turn(root, points, rounds):
    from moeplan.plan.solve import zoom_root

    lo, hi = -60.0, 160.0
    a, b = zoom_root(lambda x: x > root, np.array([lo, lo]), hi, points, rounds)
    assert np.all(a <= root) and np.all(root <= b)
    # each round narrows the bracket (points + 1)-fold, to rounding
    assert np.all(b - a <= (hi - lo) / (points + 1) ** rounds * (1 + 1e-9) + 1e-12)


def test_zoom_root_never_turning_closes_on_the_end():
    from moeplan.plan.solve import zoom_root

    never = zoom_root(lambda x: np.zeros(x.shape, bool), 0.0, 1.0, 3, 20)
    always = zoom_root(lambda x: np.ones(x.shape, bool), 0.0, 1.0, 3, 20)
    assert never[1] == 1.0 and never[0] > 1.0 - 1e-11
    assert always[0] == 0.0 and always[1] < 1e-11

"""The fitting core (moeplan.fit) against SPEC.md §2/§5, computed independently here.

The reference for the real data is tests/data/chinchilla_exhaustive.json: an exhaustive
4,500-start search (benchmarks/exhaustive_chinchilla.py) frozen with its provenance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from moeplan import fit as fitmod
from moeplan.cli import flag_message
from moeplan.coefficients import law_from_mapping, law_to_mapping
from moeplan.errors import InputError
from moeplan.fit import (
    bootstrap_fit,
    coefficients_to_theta,
    compute_optimal,
    fit_law,
    fitted_law_mapping,
    holdout_fit,
    optimum_table,
    theta_to_coefficients,
)
from moeplan.runs import Runs

from conftest import data_path

FROZEN = Path(__file__).parent / "data" / "chinchilla_exhaustive.json"
from reference import BESIROGLU  # noqa: E402
from reference import MOE as PAPER_MOE  # noqa: E402

# -- independent reference formulas (SPEC.md §2, §5) ------------------------------------------


def moe_law(n, d, g, a, alpha, b, beta, g_coef, gamma, c):
    return c + (g_coef / g**gamma + a) / n**alpha + b / d**beta


def dense_law(n, d, a, alpha, b, beta, c):
    return c + a / n**alpha + b / d**beta


def huber(r, delta):
    r = np.asarray(r, dtype=float)
    return np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))


def chinchilla_objective(k, runs, delta=1e-3):
    """Besiroglu et al.'s objective: sum of Huber(LSE(a − α log N, b − β log D, e) − log L)."""
    z = np.stack(
        [
            math.log(k["a"]) - k["alpha"] * np.log(runs.params),
            math.log(k["b"]) - k["beta"] * np.log(runs.tokens),
            np.full(len(runs), math.log(k["c"])),
        ]
    )
    pred = np.log(np.sum(np.exp(z), axis=0))
    return float(np.sum(huber(pred - np.log(runs.loss), delta)))


def make_runs(loss, n, d, g=None):
    return Runs(
        params=np.asarray(n, float),
        tokens=np.asarray(d, float),
        loss=np.asarray(loss, float),
        granularity=None if g is None else np.asarray(g, float),
        labels=tuple(f"row {i + 1}" for i in range(len(n))),
        source="synthetic",
    )


def moe_grid_runs(coeffs=PAPER_MOE, noise=0.0, rng=None):
    n, d, g = (
        np.array(v, dtype=float).ravel()
        for v in np.meshgrid(
            [1.29e8, 4e8, 1.2e9, 3.7e9], [1.6e10, 4.5e10, 1.3e11], [1, 2, 4, 8, 16], indexing="ij"
        )
    )
    k = dict(coeffs)
    loss = moe_law(n, d, g, k["a"], k["alpha"], k["b"], k["beta"], k["g"], k["gamma"], k["c"])
    if noise:
        loss = loss * np.exp(rng.normal(0.0, noise, loss.shape))
    return make_runs(loss, n, d, g)


# -- the real-data requirement ---------------------------------------------------------------


def test_frozen_reference_has_provenance():
    ref = json.loads(FROZEN.read_text())
    for key in ("script", "date", "grid", "objective", "coefficients", "data", "versions"):
        assert key in ref
    assert ref["n_starts"] == 4500 == math.prod(len(v) for v in ref["grid"].values())
    assert ref["data"]["n_runs"] == 240 and ref["data"]["dropped_highest_loss"] == 5


def test_chinchilla_fit_reaches_the_exhaustive_search(chinchilla, chinchilla_fit):
    ref = json.loads(FROZEN.read_text())
    res = chinchilla_fit
    assert res.success, res.message
    assert res.n_runs == 240
    # objective no higher than the 4,500-start search (a relative 1e-12 for rounding)
    assert res.objective <= ref["objective"] * (1 + 1e-12)
    # and the objective is what SPEC §5 says it is, recomputed independently
    assert chinchilla_objective(res.coefficients, chinchilla) == pytest.approx(
        res.objective, rel=1e-10
    )
    for k, v in ref["coefficients"].items():
        assert res.coefficients[k] == pytest.approx(v, rel=1e-5), k


def test_frozen_optimum_against_an_independent_scipy_minimisation():
    """The frozen reference came from moeplan's own objective and optimiser; here a plain scipy
    implementation (csv module, scipy.special.logsumexp and huber, scipy.optimize.minimize with
    numerical gradients) is evaluated at the reported optimum and minimised from elsewhere.

    Measured: the objectives agree to 3e-15; BFGS then Nelder-Mead from Besiroglu et al.'s
    published point and from (log a, alpha, log b, beta, log c) = (5, 0.5, 5, 0.5, 0.5) reach
    the frozen objective to 5e-15, with theta within 1e-7.
    """
    import csv

    from scipy.optimize import minimize
    from scipy.special import huber as scipy_huber
    from scipy.special import logsumexp

    with open(data_path("chinchilla", "svg_extracted_data.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    n = np.array([float(r["Model Size"]) for r in rows])
    f = np.array([float(r["Training FLOP"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    keep = np.sort(np.argsort(loss, kind="stable")[: len(loss) - 5])  # drop the 5 highest
    n, f, loss = n[keep], f[keep], loss[keep]
    d = f / (6.0 * n)

    def objective(t):
        log_a, alpha, log_b, beta, log_c = t
        pred = logsumexp(
            [log_a - alpha * np.log(n), log_b - beta * np.log(d), np.full_like(n, log_c)], axis=0
        )
        return float(np.sum(scipy_huber(1e-3, pred - np.log(loss))))

    ref = json.loads(FROZEN.read_text())
    th = ref["theta"]
    frozen = np.array([th["log_a"], th["alpha"], th["log_b"], th["beta"], th["log_c"]])
    assert len(loss) == ref["data"]["n_runs"] == 240
    assert objective(frozen) == pytest.approx(ref["objective"], rel=1e-12)
    for start in (
        [
            math.log(BESIROGLU["a"]),
            BESIROGLU["alpha"],
            math.log(BESIROGLU["b"]),
            BESIROGLU["beta"],
            math.log(BESIROGLU["c"]),
        ],
        [5.0, 0.5, 5.0, 0.5, 0.5],
    ):
        res = minimize(objective, np.array(start), method="BFGS")
        res = minimize(
            objective,
            res.x,
            method="Nelder-Mead",
            options=dict(xatol=1e-10, fatol=1e-14, maxiter=20_000),
        )
        # no lower objective anywhere it looked, and the same optimum
        assert res.fun >= ref["objective"] * (1 - 1e-9)
        assert res.fun == pytest.approx(ref["objective"], rel=1e-9)
        np.testing.assert_allclose(res.x, frozen, atol=1e-5)


def test_chinchilla_fit_is_close_to_besiroglu_et_al(chinchilla, chinchilla_fit):
    """Our optimum vs the published A=482.01, α=0.3478, B=2085.43, β=0.3658, E=1.8172.

    Measured: a 477.8 (−0.9%), α 0.3473, b 2143 (+2.8%), β 0.3672, c 1.8172. The published
    point has a slightly higher objective under the same definition, so ours is the better
    optimum of that objective (their values are rounded and came from their own optimiser runs).
    """
    k = chinchilla_fit.coefficients
    assert k["alpha"] == pytest.approx(BESIROGLU["alpha"], abs=0.002)
    assert k["beta"] == pytest.approx(BESIROGLU["beta"], abs=0.002)
    assert k["c"] == pytest.approx(BESIROGLU["c"], abs=0.002)
    assert k["a"] == pytest.approx(BESIROGLU["a"], rel=0.02)
    assert k["b"] == pytest.approx(BESIROGLU["b"], rel=0.05)
    assert chinchilla_fit.objective <= chinchilla_objective(BESIROGLU, chinchilla)


def test_rmse_r2_and_worst_runs_independently(chinchilla, chinchilla_fit):
    k = chinchilla_fit.coefficients
    pred = dense_law(chinchilla.params, chinchilla.tokens, **k)
    err = pred - chinchilla.loss
    assert chinchilla_fit.rmse == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-10)
    r2 = 1 - np.sum(err**2) / np.sum((chinchilla.loss - chinchilla.loss.mean()) ** 2)
    assert chinchilla_fit.r2 == pytest.approx(r2, rel=1e-10)
    worst = chinchilla_fit.worst_runs
    assert len(worst) == 5
    assert abs(worst[0].residual) == pytest.approx(np.max(np.abs(err)), rel=1e-10)
    assert [abs(w.residual) for w in worst] == sorted(
        (abs(w.residual) for w in worst), reverse=True
    )


# -- analytic gradients ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form, delta, wd, weighted",
    [
        ("dense", 1e-3, 0.0, False),
        ("dense", 0.1, 5e-4, True),
        ("moe", 1e-3, 0.0, False),
        ("moe", 0.1, 5e-4, True),
        ("moe", 1e-2, 0.0, True),
    ],
)
def test_analytic_gradient_matches_finite_differences(form, delta, wd, weighted):
    rng = np.random.default_rng(7)
    runs = moe_grid_runs(noise=0.02, rng=rng)
    weights = rng.integers(0, 4, len(runs)) if weighted else None
    problem = fitmod._Problem(runs, form, delta, wd, weights=weights)
    for _ in range(5):
        theta = coefficients_to_theta(
            PAPER_MOE
            if form == "moe"
            else {k: PAPER_MOE[k] for k in ("a", "alpha", "b", "beta", "c")},
            form,
        )
        theta = theta + rng.normal(0, 0.3, theta.shape)
        f, grad = problem.value_grad_full(theta)
        assert f == pytest.approx(problem.objective(theta), rel=1e-12)
        h = 1e-6
        for j in range(theta.size):
            e = np.zeros_like(theta)
            e[j] = h
            fd = (problem.value_grad_full(theta + e)[0] - problem.value_grad_full(theta - e)[0]) / (
                2 * h
            )
            assert grad[j] == pytest.approx(fd, rel=1e-5, abs=1e-10 * max(1.0, abs(f))), j


def test_objective_matches_the_independent_definition():
    rng = np.random.default_rng(3)
    runs = moe_grid_runs(noise=0.01, rng=rng)
    runs = make_runs(runs.loss, runs.params, runs.tokens)
    problem = fitmod._Problem(runs, "dense", 1e-3, 0.0)
    k = dict(a=300.0, alpha=0.3, b=900.0, beta=0.33, c=1.7)
    assert problem.objective(coefficients_to_theta(k, "dense")) == pytest.approx(
        chinchilla_objective(k, runs), rel=1e-12
    )


# -- recovering known coefficients -----------------------------------------------------------


def test_noiseless_moe_runs_recover_the_paper_coefficients():
    res = fit_law(moe_grid_runs(), "moe", n_starts=4)
    assert res.success, res.message
    for k, v in PAPER_MOE.items():
        assert res.coefficients[k] == pytest.approx(v, rel=1e-5), k
    assert res.rmse < 1e-7 and res.r2 == pytest.approx(1.0, abs=1e-12)


def test_noiseless_dense_runs_recover_the_coefficients():
    k = dict(a=406.4, alpha=0.34, b=410.7, beta=0.28, c=1.69)
    n, d = (
        v.ravel() for v in np.meshgrid(np.geomspace(7e7, 1.6e10, 6), np.geomspace(5e9, 5e11, 5))
    )
    res = fit_law(make_runs(dense_law(n, d, **k), n, d), "dense")
    assert res.success
    for name, v in k.items():
        assert res.coefficients[name] == pytest.approx(v, rel=1e-5), name


def test_fixed_coefficients_stay_fixed_and_single_granularity_needs_them():
    runs = moe_grid_runs()
    one_g = runs.subset(runs.granularity == 8)
    with pytest.raises(InputError, match="one granularity value.*fixed gamma") as info:
        fit_law(one_g, "moe")
    # the library names its arguments; the command line shows them as flags
    assert "--" not in str(info.value)
    assert "(e.g. --fix gamma=0.58 and g=2.1), or fit with --law-form dense" in flag_message(
        info.value
    )
    with pytest.raises(InputError, match="cannot identify a, g separately"):
        fit_law(one_g, "moe", fixed={"gamma": 0.58})
    res = fit_law(one_g, "moe", fixed={"gamma": 0.58, "g": 2.1}, n_starts=3)
    assert res.success
    assert res.coefficients["gamma"] == 0.58
    assert res.coefficients["g"] == pytest.approx(2.1, rel=1e-15)
    assert res.coefficients["a"] == pytest.approx(18.1, rel=1e-5)
    assert res.fixed == {"g": pytest.approx(2.1), "gamma": 0.58}
    two_g = runs.subset((runs.granularity == 2) | (runs.granularity == 8))
    res = fit_law(two_g, "moe", fixed={"gamma": 0.58}, n_starts=3)
    assert res.coefficients["g"] == pytest.approx(2.1, rel=1e-4)


@pytest.mark.parametrize(
    "fixed, needle",
    [
        ({"zeta": 1.0}, "not a coefficient"),
        ({"a": -1.0}, "positive"),
        ({"alpha": -0.1}, "between"),
    ],
)
def test_bad_fixed_values(fixed, needle):
    with pytest.raises(InputError, match=needle):
        fit_law(moe_grid_runs(), "moe", fixed=fixed)


def test_too_few_runs_and_constant_inputs():
    runs = moe_grid_runs()
    with pytest.raises(InputError, match="6 runs for 7 free coefficients; give at least 8"):
        fit_law(runs.subset(np.arange(6)), "moe")
    flat = make_runs(runs.loss, np.full(len(runs), 1e9), runs.tokens, runs.granularity)
    with pytest.raises(InputError, match="same params"):
        fit_law(flat, "moe")
    with pytest.raises(InputError, match="no granularity"):
        fit_law(make_runs(runs.loss, runs.params, runs.tokens), "moe")
    with pytest.raises(InputError, match="^huber_delta 0: must be above 0") as info:
        fit_law(runs, "moe", huber_delta=0.0)
    assert flag_message(info.value).startswith("--huber-delta 0: must be above 0")
    with pytest.raises(InputError, match="give at least 8 runs .or fix some with the fixed ar"):
        fit_law(runs.subset(np.arange(6)), "moe")
    with pytest.raises(InputError, match="^fraction 1.5: give a fraction") as info:
        holdout_fit(runs, 1.5)
    assert flag_message(info.value).startswith("--holdout 1.5: give a fraction")
    with pytest.raises(InputError, match="objective"):
        fit_law(runs, "moe", objective="ols")


def test_paper_objective_uses_its_delta_and_weight_decay():
    rng = np.random.default_rng(11)
    runs = moe_grid_runs(noise=0.005, rng=rng)
    res = fit_law(runs, "moe", objective="paper", n_starts=3)
    assert (res.huber_delta, res.weight_decay) == (0.1, 5e-4)
    theta = coefficients_to_theta(res.coefficients, "moe")
    k = res.coefficients
    pred = np.log(
        moe_law(
            runs.params,
            runs.tokens,
            runs.granularity,
            k["a"],
            k["alpha"],
            k["b"],
            k["beta"],
            k["g"],
            k["gamma"],
            k["c"],
        )
    )
    expected = np.sum(huber(pred - np.log(runs.loss), 0.1)) + 5e-4 * np.sum(theta**2)
    assert res.objective == pytest.approx(expected, rel=1e-9)


def test_non_convergence_is_data_not_an_exception(monkeypatch):
    monkeypatch.setitem(fitmod.LBFGS_OPTIONS, "maxiter", 1)
    res = fit_law(moe_grid_runs(), "moe", n_starts=2)
    assert res.success is False
    assert res.message.startswith("did not converge")
    assert res.to_dict()["success"] is False


# -- uncertainty -----------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_ordered(chinchilla, chinchilla_fit):
    a = bootstrap_fit(chinchilla, chinchilla_fit, 20, np.random.default_rng(5), seed=5)
    b = bootstrap_fit(chinchilla, chinchilla_fit, 20, np.random.default_rng(5), seed=5)
    assert a.n_samples == 20 and a.n_failed == 0
    for k in ("a", "alpha", "b", "beta", "c"):
        np.testing.assert_array_equal(a.samples[k], b.samples[k])
        p = a.percentiles[k]
        assert p["p10"] <= p["p50"] <= p["p90"]
        assert p["p50"] == pytest.approx(np.percentile(a.samples[k], 50), rel=1e-12)
        assert p["p10"] <= chinchilla_fit.coefficients[k] * 1.3
    # the full-data exponent sits inside the bootstrap's 10-90% range
    assert (
        a.percentiles["alpha"]["p10"]
        < chinchilla_fit.coefficients["alpha"]
        < a.percentiles["alpha"]["p90"]
    )


def test_bootstrap_of_noiseless_runs_returns_the_truth():
    runs = moe_grid_runs()
    res = fit_law(runs, "moe", n_starts=2)
    boot = bootstrap_fit(runs, res, 5, np.random.default_rng(0))
    for k, v in PAPER_MOE.items():
        np.testing.assert_allclose(boot.samples[k], v, rtol=1e-4)
    with pytest.raises(InputError, match="between 1 and"):
        bootstrap_fit(runs, res, 0, np.random.default_rng(0))


def test_holdout_validates_on_the_lowest_loss_runs(chinchilla):
    hold = holdout_fit(chinchilla, 0.2, "dense")
    assert hold.n_validation == 48 and hold.n_train == 192
    order = np.argsort(chinchilla.loss)
    val = chinchilla.subset(np.sort(order[:48]))
    pred = dense_law(val.params, val.tokens, **hold.fit.coefficients)
    assert hold.validation_rmse == pytest.approx(
        np.sqrt(np.mean((pred - val.loss) ** 2)), rel=1e-10
    )
    assert hold.fit.n_runs == 192 and hold.fit.success
    with pytest.raises(InputError, match="between 0 and 1"):
        holdout_fit(chinchilla, 1.0, "dense")


# -- compute-optimal allocation ----------------------------------------------------------------


def test_dense_compute_optimum_against_brute_force():
    k = dict(a=482.01, alpha=0.3478, b=2085.43, beta=0.3658, c=1.8172)
    for budget in (1e20, 1e23):
        out = compute_optimal("dense", k, [budget])
        n = np.geomspace(1e7, 1e13, 200_001)
        loss = dense_law(n, budget / (6 * n), **k)
        best = n[np.argmin(loss)]
        assert out["params"][0] == pytest.approx(best, rel=2e-4)
        assert out["params"][0] * out["tokens"][0] * 6 == pytest.approx(budget, rel=1e-12)
    samples = {key: np.array([v, v]) for key, v in k.items()}
    both = compute_optimal("dense", samples, [1e20, 1e23])
    assert both["params"].shape == (2, 2)


def test_moe_compute_optimum_spends_the_budget_and_beats_neighbours():
    """N, D, G from the planner: FLOPs per SPEC §3 equal the budget; no nearby d_model is better."""
    k = PAPER_MOE
    E, cf, cr, r = 64.0, 6.0, 14.0, 64.0
    out = compute_optimal("moe", k, [1e21], expansion_rate=E, c_f=cf, c_r=cr, aspect_ratio=r)
    N, D, G = out["params"][0], out["tokens"][0], out["granularity"][0]
    d_model = (N * r / (8 * E + 4)) ** (1 / 3)  # N = d²(8E+4)·n_blocks, d = r·n_blocks
    n_blocks = d_model / r
    flops = (12 * d_model**2 * cf + d_model * E * G * cr) * D * n_blocks
    assert flops == pytest.approx(1e21, rel=1e-9)

    def loss_at(d, g):
        nb = d / r
        tokens = 1e21 / ((12 * d**2 * cf + d * E * g * cr) * nb)
        return moe_law(
            d**2 * (8 * E + 4) * nb,
            tokens,
            g,
            k["a"],
            k["alpha"],
            k["b"],
            k["beta"],
            k["g"],
            k["gamma"],
            k["c"],
        )

    best = loss_at(d_model, G)
    for d in np.geomspace(d_model / 3, d_model * 3, 301):
        for g in (G / 2, G, 2 * G):
            assert loss_at(d, g) >= best - 1e-12


def test_optimum_table_with_percentiles(chinchilla, chinchilla_fit):
    boot = bootstrap_fit(chinchilla, chinchilla_fit, 20, np.random.default_rng(1))
    rows = optimum_table("dense", chinchilla_fit.coefficients, [1e21, 1e24], boot)
    assert [r["flops"] for r in rows] == [1e21, 1e24]
    for row in rows:
        for key in ("params", "tokens"):
            e = row[key]
            assert e["p10"] <= e["p50"] <= e["p90"]
        assert "granularity" not in row
    point = compute_optimal("dense", chinchilla_fit.coefficients, [1e21])
    assert rows[0]["params"]["value"] == pytest.approx(point["params"][0], rel=1e-12)


# -- writing a law ---------------------------------------------------------------------------


def test_parameter_vector_round_trip():
    theta = coefficients_to_theta(PAPER_MOE, "moe")
    assert theta_to_coefficients(theta, "moe") == pytest.approx(PAPER_MOE, rel=1e-14)
    many = theta_to_coefficients(np.stack([theta, theta]), "moe")
    assert many["gamma"].shape == (2,)


positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)
exponent = st.floats(min_value=1e-3, max_value=3.0, allow_nan=False)


@settings(max_examples=40)
@given(
    a=positive,
    alpha=exponent,
    b=positive,
    beta=exponent,
    g=positive,
    gamma=exponent,
    c=positive,
    k=st.integers(min_value=0, max_value=5),
    moe=st.booleans(),
)
def test_fitted_law_round_trips_through_yaml(a, alpha, b, beta, g, gamma, c, k, moe):
    # only laws whose optimum a double can hold (law files refuse the others, issue 17):
    # |log10(alpha*a / (beta*b))| / (alpha + beta) below 250 decades
    for scale in (a, a + g):
        assume(abs(math.log10(alpha * scale / (beta * b))) / (alpha + beta) < 249)
    form = "moe" if moe else "dense"
    coeffs = dict(a=a, alpha=alpha, b=b, beta=beta, g=g, gamma=gamma, c=c)
    coeffs = {name: coeffs[name] for name in fitmod.COEFFICIENTS[form]}
    runs = moe_grid_runs()
    result = fitmod.FitResult(
        form=form,
        coefficients=coeffs,
        theta=coefficients_to_theta(coeffs, form),
        success=True,
        message="",
        n_evaluations=1,
        n_starts=1,
        objective=0.0,
        rmse=0.0,
        r2=1.0,
        n_runs=len(runs),
        huber_delta=1e-3,
        weight_decay=0.0,
        objective_name="chinchilla",
        fixed={},
        at_bound=(),
        worst_runs=(),
        predicted=runs.loss,
        projected_gradient=0.0,
    )
    boot = None
    if k:
        samples = {name: np.full(k, v) * np.linspace(0.9, 1.1, k) for name, v in coeffs.items()}
        boot = fitmod.BootstrapResult(
            n_samples=k, n_failed=0, seed=0, samples=samples, percentiles={}
        )
    mapping = fitted_law_mapping(
        result, runs, "mine", bootstrap=boot, provenance={"tool": "test", "n_runs": len(runs)}
    )
    law = law_from_mapping(mapping)
    text = yaml.safe_dump(law_to_mapping(law), sort_keys=False, default_flow_style=None)
    again = law_from_mapping(yaml.safe_load(text))
    assert again.coefficients == law.coefficients == pytest.approx(coeffs, rel=0)
    assert again.form == fitmod.LAW_FORMS[form]
    assert again.fitted_range["params"] == (runs.params.min(), runs.params.max())
    if k:
        assert len(again.bootstrap["alpha"]) == k
        assert again.bootstrap["alpha"] == pytest.approx(tuple(boot.samples["alpha"]), rel=0)
    else:
        assert again.bootstrap is None
    assert again.provenance == {"tool": "test", "n_runs": len(runs)}
    if moe:
        assert again.expansion_rate == 64.0 and again.c_r == 14.0
        assert float(again.loss(1e9, 1e10, granularity=8)) == pytest.approx(
            moe_law(1e9, 1e10, 8, a, alpha, b, beta, g, gamma, c), rel=1e-12
        )
    else:
        assert again.c_r == 0.0 and again.params_meaning == "non_embedding"


# -- architecture ------------------------------------------------------------------------------

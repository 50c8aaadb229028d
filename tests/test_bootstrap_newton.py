"""The bootstrap's batched Newton refits (moeplan.fit.newton_refit) against the L-BFGS-B path.

Every resample is refitted twice from the same seeded draws: by the batched damped Newton
iteration and by L-BFGS-B (the path it replaced, still the fallback). The objectives are
recomputed here from SPEC.md §5's definition (weighted Huber on log-loss residuals plus weight
decay), not taken from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan import fit as fitmod
from moeplan.fit import bootstrap_fit, fit_law
from moeplan.runs import Runs

PAPER_MOE = {
    "a": 18.1,
    "alpha": 0.115,
    "b": 30.8,
    "beta": 0.147,
    "g": 2.1,
    "gamma": 0.58,
    "c": 0.47,
}


def huber(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def objective(coefficients, runs, weights, delta, weight_decay, form):
    """SPEC §5: Σ w·huber(log L̂ − log L) + weight_decay·|θ|², θ = (log a, α, log b, β[, log g,
    γ], log c), the law written out term by term (no log-sum-exp helper)."""
    k = coefficients
    n, d = runs.params, runs.tokens
    if form == "dense":
        pred = k["c"] + k["a"] / n ** k["alpha"] + k["b"] / d ** k["beta"]
        theta = [math.log(k["a"]), k["alpha"], math.log(k["b"]), k["beta"], math.log(k["c"])]
    else:
        g = runs.granularity
        pred = (
            k["c"] + (k["g"] / g ** k["gamma"] + k["a"]) / n ** k["alpha"] + k["b"] / d ** k["beta"]
        )
        theta = [
            math.log(k["a"]),
            k["alpha"],
            math.log(k["b"]),
            k["beta"],
            math.log(k["g"]),
            k["gamma"],
            math.log(k["c"]),
        ]
    r = np.log(pred) - np.log(runs.loss)
    return float(np.sum(weights * huber(r, delta)) + weight_decay * np.sum(np.square(theta)))


def draws(rng, n, count):
    """Resamples as the bootstrap draws them: multinomial counts, one resample at a time."""
    return np.stack([rng.multinomial(n, np.full(n, 1.0 / n)) for _ in range(count)])


def lbfgsb(problem, theta0, weights):
    """The L-BFGS-B path, one resample at a time (what bootstrap_fit did before)."""
    out = []
    for w in weights:
        problem.set_weights(w)
        out.append(fitmod.local_minimize(problem, theta0, restarts=1))
    problem.set_weights(None)
    return out


def moe_runs(seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    n, d, g = (
        np.array(v, dtype=float).ravel()
        for v in np.meshgrid(
            [1.29e8, 4e8, 1.2e9, 3.7e9], [1.6e10, 4.5e10, 1.3e11], [1, 2, 4, 8, 16], indexing="ij"
        )
    )
    k = PAPER_MOE
    loss = (
        k["c"] + (k["g"] / g ** k["gamma"] + k["a"]) / n ** k["alpha"] + k["b"] / d ** k["beta"]
    ) * np.exp(rng.normal(0.0, noise, n.shape))
    return Runs(
        params=n,
        tokens=d,
        loss=loss,
        granularity=g,
        labels=tuple(f"row {i + 1}" for i in range(n.size)),
        source="synthetic",
    )


def compare(runs, fitted, weights):
    """Newton and L-BFGS-B on the same resamples; both objectives recomputed independently."""
    form = fitted.form
    problem = fitmod._Problem(
        runs,
        form,
        fitted.huber_delta,
        fitted.weight_decay,
        fitmod._fixed_indices(fitted.fixed, form),
    )
    newton = fitmod.newton_refit(problem, fitted.theta, weights)
    reference = lbfgsb(problem, fitted.theta, weights)
    assert all(r.success for r in reference)
    mine = np.array(
        [
            objective(
                fitmod.theta_to_coefficients(t, form),
                runs,
                w,
                fitted.huber_delta,
                fitted.weight_decay,
                form,
            )
            for t, w in zip(newton.theta, weights, strict=True)
        ]
    )
    theirs = np.array(
        [
            objective(
                fitmod.theta_to_coefficients(r.theta, form),
                runs,
                w,
                fitted.huber_delta,
                fitted.weight_decay,
                form,
            )
            for r, w in zip(reference, weights, strict=True)
        ]
    )
    # the objective the code reports is the one SPEC §5 defines
    np.testing.assert_allclose(newton.objective, mine, rtol=1e-11)
    return newton, reference, mine, theirs


def test_chinchilla_resamples_match_lbfgsb(chinchilla, chinchilla_fit):
    weights = draws(np.random.default_rng(7), len(chinchilla), 20)
    newton, _reference, mine, theirs = compare(chinchilla, chinchilla_fit, weights)
    assert newton.converged.all()
    rel = (mine - theirs) / theirs
    # never worse than L-BFGS-B, and the same minimum to 1e-10 relative (L-BFGS-B stops on a
    # flat valley's floor a little early at times; Newton then sits lower, never higher)
    assert rel.max() <= 1e-10, rel.max()
    assert np.median(np.abs(rel)) <= 1e-10
    assert np.mean(np.abs(rel) <= 1e-10) >= 0.9
    # the fixed parameters (none here) and the bounds are respected
    for t in newton.theta:
        assert 0.0 <= t[1] <= 10.0 and 0.0 <= t[3] <= 10.0


@pytest.mark.parametrize(
    "options, noise, settled",
    [  # settled: how many of the 8 resamples Newton must settle (half, or all)
        ({}, 0.001, 4),
        ({"objective": "paper"}, 0.01, 8),  # δ = 0.1 with weight decay
        ({"objective": "paper"}, 0.001, 8),
        ({"fixed": {"gamma": 0.58}}, 0.001, 4),
        ({"fixed": {"c": 0.47, "alpha": 0.115}}, 0.001, 8),
    ],
    ids=["chinchilla", "paper", "paper-quiet", "fixed-gamma", "fixed-c-alpha"],
)
def test_moe_resamples_match_lbfgsb(options, noise, settled):
    runs = moe_runs(noise=noise)
    fitted = fit_law(runs, "moe", n_starts=3, **options)
    assert fitted.success
    weights = draws(np.random.default_rng(3), len(runs), 8)
    newton, _, mine, theirs = compare(runs, fitted, weights)
    assert newton.converged.sum() >= settled
    rel = ((mine - theirs) / theirs)[newton.converged]
    assert rel.max() <= 1e-10, rel.max()
    assert np.median(np.abs(rel)) <= 1e-10
    # fixed coefficients keep their values in every refit
    for name, value in fitted.fixed.items():
        got = fitmod.theta_to_coefficients(newton.theta, "moe")[name]
        np.testing.assert_allclose(got, value, rtol=1e-15)


def test_noisy_moe_runs_under_a_tiny_huber_threshold_fall_back_to_lbfgsb():
    # residuals far outside δ = 1e-3: the objective is nearly piecewise linear and Newton
    # crawls; every unsettled resample is refitted by L-BFGS-B, counted, and the samples are
    # the L-BFGS-B path's
    runs = moe_runs(noise=0.01)
    fitted = fit_law(runs, "moe", n_starts=1)  # the refits start from it, good or not
    a = bootstrap_fit(runs, fitted, 4, np.random.default_rng(1))
    b = bootstrap_fit(runs, fitted, 4, np.random.default_rng(1), method="lbfgsb")
    assert a.n_fallback >= 1 and a.n_failed == b.n_failed
    newton_rows = 4 - a.n_fallback
    for name, values in b.samples.items():
        if newton_rows == 0:
            np.testing.assert_array_equal(a.samples[name], values)
        else:
            np.testing.assert_allclose(a.samples[name], values, rtol=1e-2)


def test_bootstrap_percentiles_equal_the_lbfgsb_path(chinchilla, chinchilla_fit):
    # the two paths on the same 20 resamples (the comparison, not the statistics, is tested)
    a = bootstrap_fit(chinchilla, chinchilla_fit, 20, np.random.default_rng(11))
    b = bootstrap_fit(chinchilla, chinchilla_fit, 20, np.random.default_rng(11), method="lbfgsb")
    assert a.n_failed == b.n_failed == 0 and a.n_fallback == 0
    for name in a.percentiles:
        for q in ("p10", "p50", "p90"):
            # four significant digits
            assert a.percentiles[name][q] == pytest.approx(b.percentiles[name][q], rel=5e-5)


def test_a_resample_newton_leaves_unsettled_is_refitted_by_lbfgsb(
    chinchilla, chinchilla_fit, monkeypatch
):
    reference = bootstrap_fit(
        chinchilla, chinchilla_fit, 6, np.random.default_rng(2), method="lbfgsb"
    )
    monkeypatch.setattr(fitmod, "NEWTON_MAX_ITERATIONS", 0)  # no step: none settles
    fallback = bootstrap_fit(chinchilla, chinchilla_fit, 6, np.random.default_rng(2))
    assert fallback.n_fallback == 6 and fallback.n_failed == 0
    for name, values in reference.samples.items():
        np.testing.assert_array_equal(fallback.samples[name], values)


def test_a_collapsed_term_falls_back_and_matches_lbfgsb():
    # loss that rises with D: the law's data term b/D^beta can only fall, so the fit makes it
    # vanish (b/D^beta ~ 1e-27); the Hessian is singular along it and Newton cannot settle
    rng = np.random.default_rng(4)
    n = np.exp(rng.uniform(np.log(1e8), np.log(1e10), 40))
    d = np.exp(rng.uniform(np.log(1e10), np.log(1e12), 40))
    loss = (1.5 + 300.0 / n**0.3 + 0.05 * (d / 1e10) ** 0.2) * np.exp(rng.normal(0, 0.003, 40))
    runs = Runs(
        params=n,
        tokens=d,
        loss=loss,
        granularity=None,
        labels=tuple(f"row {i + 1}" for i in range(40)),
        source="synthetic",
    )
    fitted = fit_law(runs, "dense", n_starts=3)
    k = fitted.coefficients
    assert k["b"] / d.min() ** k["beta"] < 1e-6 * loss.min()
    a = bootstrap_fit(runs, fitted, 5, np.random.default_rng(0))
    b = bootstrap_fit(runs, fitted, 5, np.random.default_rng(0), method="lbfgsb")
    assert a.n_fallback == 5
    assert a.n_failed == b.n_failed
    for name, values in b.samples.items():
        np.testing.assert_array_equal(a.samples[name], values)


def test_blocks_stay_within_the_cell_budget(chinchilla, chinchilla_fit, monkeypatch):
    seen = []
    real = fitmod.newton_refit

    def spy(problem, theta0, weights, **kw):
        seen.append(np.asarray(weights).shape)
        return real(problem, theta0, weights, **kw)

    monkeypatch.setattr(fitmod, "newton_refit", spy)
    monkeypatch.setattr(fitmod, "BOOTSTRAP_CELLS", 1000)
    progress = []
    bootstrap_fit(
        chinchilla,
        chinchilla_fit,
        10,
        np.random.default_rng(0),
        progress=lambda done, total: progress.append((done, total)),
    )
    assert [s[0] for s in seen] == [4, 4, 2]  # 1000 // 240 runs = 4 resamples a block
    assert all(s[1] == len(chinchilla) for s in seen)
    assert progress == [(k, 10) for k in range(1, 11)]


def test_unknown_method_is_an_input_error(chinchilla, chinchilla_fit):
    from moeplan.errors import InputError

    with pytest.raises(InputError, match="newton or lbfgsb"):
        bootstrap_fit(chinchilla, chinchilla_fit, 2, np.random.default_rng(0), method="bfgs")


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_newton_never_ends_above_lbfgsb_or_its_start(seed):
    # three noisy data sets (each fitted once, cached); the resample weights vary with the seed
    runs = moe_runs(seed=seed % 3, noise=0.02)
    fitted = _moe_fit(seed % 3)
    weights = draws(np.random.default_rng(seed), len(runs), 3)
    problem = fitmod._Problem(runs, "moe", fitted.huber_delta, fitted.weight_decay, {})
    newton = fitmod.newton_refit(problem, fitted.theta, weights)
    reference = lbfgsb(problem, fitted.theta, weights)
    k0 = fitted.coefficients
    for i, w in enumerate(weights):
        start = objective(k0, runs, w, fitted.huber_delta, 0.0, "moe")
        mine = objective(
            fitmod.theta_to_coefficients(newton.theta[i], "moe"),
            runs,
            w,
            fitted.huber_delta,
            0.0,
            "moe",
        )
        assert mine <= start * (1 + 1e-12)
        if newton.converged[i] and reference[i].success:
            assert mine <= reference[i].objective * (1 + 1e-10)


_FITS: dict = {}


def _moe_fit(seed):
    if seed not in _FITS:
        _FITS[seed] = fit_law(moe_runs(seed=seed, noise=0.02), "moe", n_starts=2)
    return _FITS[seed]

"""Issue 10, items 6 and 11 (fit side): `fit` says when a coefficient collapsed or the fit is poor,
reports the real-valued optimal G next to the power of two, and writes what N means."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from scipy.optimize import minimize_scalar

from moeplan import fit as fitmod
from moeplan.cli import app
from moeplan.coefficients import load_law
from moeplan.runs import Runs

from conftest import data_path

DENSE = dict(a=16.3, alpha=0.126, b=26.7, beta=0.127, c=0.47)
PAPER_MOE = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)


def _dense_runs(c, noise, seed, spike_at=None, n=30):
    rng = np.random.default_rng(seed)
    params = np.exp(rng.uniform(math.log(1e7), math.log(1e9), n))
    tokens = np.exp(rng.uniform(math.log(1e9), math.log(1e11), n))
    k = dict(DENSE, c=c)
    loss = (k["c"] + k["a"] / params ** k["alpha"] + k["b"] / tokens ** k["beta"]) * (
        1 + noise * rng.standard_normal(n)
    )
    if spike_at is not None:
        loss[spike_at] = 15.0
    return Runs(
        params=params,
        tokens=tokens,
        loss=loss,
        granularity=None,
        labels=tuple(f"row {i + 1}" for i in range(n)),
        source="synthetic",
    )


def _csv(path, runs):
    lines = ["params,tokens,loss"] + [
        f"{float(p)!r},{float(t)!r},{float(v)!r}"
        for p, t, v in zip(runs.params, runs.tokens, runs.loss)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_collapsed_irreducible_loss_is_named():
    runs = _dense_runs(c=0.0, noise=0.002, seed=1)
    result = fitmod.fit_law(runs, "dense", n_starts=2)
    assert result.coefficients["c"] < 1e-6  # the collapse the issue saw (c = 1e-9)
    assert "c" not in result.at_bound  # ... which the box-bound check missed
    warnings = fitmod.quality_warnings(result, runs)
    assert len(warnings) == 1 and warnings[0].startswith("c = ") and "lower bound" in warnings[0]


def test_loss_spike_gives_a_poor_fit_warning_naming_the_run(runner, tmp_path):
    runs = _dense_runs(c=0.47, noise=0.003, seed=0, spike_at=5)
    r = runner.invoke(
        app,
        [
            "fit",
            str(_csv(tmp_path / "spike.csv", runs)),
            "--law-form",
            "dense",
            "--starts",
            "2",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    warnings = json.loads(r.stdout)["warnings"]
    poor = [w for w in warnings if w.startswith("R^2")]
    assert poor and "fit is poor" in poor[0] and "row 6" in poor[0]
    assert poor[0] in r.stderr


def test_a_good_fit_has_no_quality_warning():
    rng = np.random.default_rng(5)
    params = np.geomspace(1e7, 1e10, 8).repeat(6)
    tokens = np.tile(np.geomspace(1e9, 1e12, 6), 8)
    k = DENSE
    loss = (k["c"] + k["a"] / params ** k["alpha"] + k["b"] / tokens ** k["beta"]) * (
        1 + 0.0005 * rng.standard_normal(params.size)
    )
    runs = Runs(
        params=params,
        tokens=tokens,
        loss=loss,
        granularity=None,
        labels=tuple(str(i) for i in range(params.size)),
    )
    result = fitmod.fit_law(runs, "dense", n_starts=2)
    assert result.r2 > 0.99
    assert fitmod.quality_warnings(result, runs) == []


# -- real-valued optimal G ------------------------------------------------------------------


def _reference_best_g(k, flops, e=64.0, c_f=6.0, c_r=14.0, r=64.0):
    """Independent of moeplan.optimize: for each G on a fine log grid, minimise the loss over
    ln d_model with the FLOPs spent exactly (SPEC §1, §3, §4); return the best G."""

    def best_loss(g):
        def loss(x):
            d = math.exp(x)
            nb = d / r
            n_total = d * d * (8 * e + 4) * nb
            per_token = (12 * d * d * c_f + d * e * g * c_r) * nb
            tokens = flops / per_token
            return (
                k["c"]
                + (k["g"] / g ** k["gamma"] + k["a"]) / n_total ** k["alpha"]
                + k["b"] / tokens ** k["beta"]
            )

        return minimize_scalar(
            loss, bounds=(math.log(64), math.log(1e6)), method="bounded", options={"xatol": 1e-10}
        ).fun

    # steps of 0.92% in G: the best grid point is within 0.46% of the optimum (tests ask 1%)
    grid = np.exp(np.linspace(0, math.log(256), 601))
    losses = [best_loss(g) for g in grid]
    return float(grid[int(np.argmin(losses))])


@pytest.mark.parametrize("flops", [1e21, 1e23])
def test_real_valued_optimal_g_matches_an_independent_search(flops):
    g = float(np.ravel(fitmod.real_optimal_granularity(PAPER_MOE, [flops]))[0])
    assert g == pytest.approx(_reference_best_g(PAPER_MOE, flops), rel=0.01)
    assert not math.log2(g).is_integer()


def test_bootstrap_spread_of_the_real_valued_g_is_reported():
    # samples whose power-of-two optimum is the same 16 at 1e21, but whose real optimum moves
    gammas = np.array([0.50, 0.58, 0.66])
    samples = {k: np.full(3, v) for k, v in PAPER_MOE.items()}
    samples["gamma"] = gammas
    boot = fitmod.BootstrapResult(n_samples=3, n_failed=0, seed=0, samples=samples, percentiles={})
    rows = fitmod.optimum_table("moe", PAPER_MOE, [1e21], boot)
    g, real = rows[0]["granularity"], rows[0]["granularity_real"]
    assert g["p10"] == g["p90"] == 16
    assert real["p10"] < real["p90"] and real["p90"] / real["p10"] > 1.05
    # each sample's real optimum against the independent reference
    per_sample = fitmod.real_optimal_granularity(samples, [1e21])
    for i, gamma in enumerate(gammas):
        ref = _reference_best_g(dict(PAPER_MOE, gamma=gamma), 1e21)
        assert per_sample[i, 0] == pytest.approx(ref, rel=0.01)


def test_fit_table_shows_the_real_valued_g(runner, tmp_path):
    rng = np.random.default_rng(3)
    lines = ["params,tokens,granularity,loss"]
    for n in (1.29e8, 4e8, 1.2e9, 3.7e9):
        for d in (1.6e10, 4.5e10, 1.3e11):
            for g in (1, 2, 4, 8, 16):
                k = PAPER_MOE
                loss = (
                    k["c"]
                    + (k["g"] / g ** k["gamma"] + k["a"]) / n ** k["alpha"]
                    + k["b"] / d ** k["beta"]
                ) * (1 + 0.005 * rng.standard_normal())
                lines.append(f"{n!r},{d!r},{g},{loss!r}")
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    r = runner.invoke(app, ["fit", str(path), "--at-flops", "1e21", "--starts", "2", "--json"])
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)["compute_optimal"][0]
    assert set(row) >= {"granularity", "granularity_real"}
    assert 1 <= row["granularity_real"]["value"] <= 256
    r = runner.invoke(app, ["fit", str(path), "--at-flops", "1e21", "--starts", "1"])
    assert "G (real)" in r.stdout


# -- item 11: what N means in the written law ----------------------------------------------


def test_fit_out_on_the_chinchilla_data_counts_embeddings(runner, tmp_path):
    csv = data_path("chinchilla", "svg_extracted_data.csv")
    out = tmp_path / "chin.yaml"
    r = runner.invoke(
        app,
        [
            "fit",
            str(csv),
            "--law-form",
            "dense",
            "--column",
            "params=Model Size",
            "--column",
            "flops=Training FLOP",
            "--drop-highest",
            "5",
            "--starts",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(out.read_text())["variables"]["params"] == "total_with_embedding"
    assert load_law(str(out)).params_meaning == "total_with_embedding"


def test_fit_out_on_own_dense_runs_keeps_non_embedding(runner, tmp_path):
    runs = _dense_runs(c=0.47, noise=0.002, seed=4)
    out = tmp_path / "mine.yaml"
    r = runner.invoke(
        app,
        [
            "fit",
            str(_csv(tmp_path / "r.csv", runs)),
            "--law-form",
            "dense",
            "--starts",
            "2",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(out.read_text())["variables"]["params"] == "non_embedding"


def test_params_meaning_for():
    assert fitmod.params_meaning_for("dense", {"params": "Model Size"}) == "total_with_embedding"
    assert fitmod.params_meaning_for("dense", {"params": " model size "}) == "total_with_embedding"
    assert fitmod.params_meaning_for("dense", {}) == "non_embedding"
    assert fitmod.params_meaning_for("moe", {"params": "Model Size"}) == "total_non_embedding"

"""Precision bands (SPEC.md §8, issue 10 item 13) against references computed here by hand
from the published coefficients and their rounding (tests/reference.py), never by the code
under test."""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pytest
from reference import DENSE, MOE, dense_flops_to_reach, moe_loss

from moeplan import compare, load_law, optimize
from moeplan.cli import app

#: half a unit in the last printed digit of SPEC.md §2's Table 1 values
MOE_HALF = dict(a=0.05, alpha=0.0005, b=0.05, beta=0.0005, g=0.05, gamma=0.005, c=0.005)


def corners(k, half):
    names = list(half)
    for signs in itertools.product((-1, 1), repeat=len(names)):
        yield dict(k, **{n: k[n] + s * half[n] for n, s in zip(names, signs)})


def brute_optimal_loss(F, k, Gs=(1, 2, 4, 8, 16, 32, 64, 128, 256), E=64, r=64, c_f=6, c_r=14):
    """SPEC §1-4 by grid search: N = d²(8E+4)n, F = (12d²c_f + dEGc_r)·D·n, n = d/r."""
    best = math.inf
    for G in Gs:
        lo, hi = math.log(10.0), math.log(1e6)
        for _ in range(5):
            x = np.linspace(lo, hi, 801)
            d = np.exp(x)
            n = d / r
            N = d**2 * (8 * E + 4) * n
            D = F / ((12 * d**2 * c_f + d * E * G * c_r) * n)
            L = moe_loss(N, D, G, k)
            i = int(np.argmin(L))
            best = min(best, float(L[i]))
            step = x[1] - x[0]
            lo, hi = x[max(i - 2, 0)], x[min(i + 2, x.size - 1)]
            if step < 1e-9:
                break
    return best


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


@pytest.fixture(scope="module")
def cmp_1e20_1e25(moe):
    return compare(moe, [1e20, 1e25])


def test_dense_multiplier_band_contains_spec_spread(cmp_1e20_1e25):
    """SPEC §8: moving the dense law's alpha or beta by ±0.0005 moves the 1e25 dense
    multiplier between about 25x and 40x; the band (every coefficient of both laws within its
    rounding) must contain that spread."""
    row = cmp_1e20_1e25.rows[1]
    target = row.moe_opt.loss
    by_hand = [
        dense_flops_to_reach(
            target, dict(DENSE, alpha=DENSE["alpha"] + da, beta=DENSE["beta"] + db)
        )
        / 1e25
        for da in (-5e-4, 0, 5e-4)
        for db in (-5e-4, 0, 5e-4)
    ]
    assert 22 < min(by_hand) < 28 and 36 < max(by_hand) < 44  # SPEC's "about 25x to 40x"
    lo, hi = row.dense_compute_multiplier_range
    assert lo <= min(by_hand) and hi >= max(by_hand)
    assert lo < row.dense_compute_multiplier < hi
    assert hi / lo < 10  # a band, not everything


def test_optimal_loss_band_is_the_corner_extremes(cmp_1e20_1e25):
    """The optimal loss is monotone in each coefficient, so its band is set by two corners:
    every coefficient at the end that raises (or lowers) the loss."""
    up = {"a": 1, "alpha": -1, "b": 1, "beta": -1, "g": 1, "gamma": -1, "c": 1}
    for F, row in zip((1e20, 1e25), cmp_1e20_1e25.rows):
        high = dict(MOE, **{n: MOE[n] + s * MOE_HALF[n] for n, s in up.items()})
        low = dict(MOE, **{n: MOE[n] - s * MOE_HALF[n] for n, s in up.items()})
        lo, hi = row.moe_opt.loss_range
        assert lo == pytest.approx(brute_optimal_loss(F, low), abs=2e-6)
        assert hi == pytest.approx(brute_optimal_loss(F, high), abs=2e-6)
        assert lo < row.moe_opt.loss < hi
        for cfg in (row.moe_g1, row.dense):
            assert cfg.loss_range[0] < cfg.loss < cfg.loss_range[1]
        g_lo, g_hi = row.g1_compute_multiplier_range
        assert g_lo < row.g1_compute_multiplier < g_hi


def test_recommended_loss_band_over_all_corners(moe):
    res = optimize(moe, 1e21)
    rec = res.recommended
    losses = [moe_loss(rec.n_total, rec.tokens, rec.granularity, k) for k in corners(MOE, MOE_HALF)]
    lo, hi = rec.loss_range
    assert lo == pytest.approx(min(losses), rel=1e-9)
    assert hi == pytest.approx(max(losses), rel=1e-9)
    b = res.bands
    assert b.samples > 128 and b.source == "rounding"
    assert b.loss[0] <= res.continuous.loss <= b.loss[1]
    assert b.n_total[0] < res.continuous.n_total < b.n_total[1]
    assert b.tokens[0] < res.continuous.tokens < b.tokens[1]
    assert b.granularity[0] <= res.continuous.granularity <= b.granularity[1]


def test_dense_law_gets_bands_too():
    res = optimize(load_law("krajewski2024-dense"), 1e20)
    lo, hi = res.recommended.loss_range
    d = res.recommended
    losses = [
        DENSE["c"]
        + s_c * 0.005
        + (DENSE["a"] + s_a * 0.05) / d.n_total ** (DENSE["alpha"] + s_al * 5e-4)
        + (DENSE["b"] + s_b * 0.05) / d.tokens ** (DENSE["beta"] + s_be * 5e-4)
        for s_c, s_a, s_al, s_b, s_be in itertools.product((-1, 1), repeat=5)
    ]
    assert lo == pytest.approx(min(losses), rel=1e-9) and hi == pytest.approx(max(losses), rel=1e-9)


def test_cli_compare_prints_bands_and_names_rows(runner):
    r = runner.invoke(app, ["compare", "--flops", "1e20", "--flops", "1e25"])
    assert r.exit_code == 0, r.output
    out = r.output
    # "21.3x (13–36x)": every multiplier but the optimum's own 1x carries a band
    assert len(re.findall(r"\d+(\.\d+)?x \([0-9.]+–[0-9.]+x\)", out)) == 4
    assert len(re.findall(r"\d\.\d{4} \(\d\.\d\d–\d\.\d\d\)", out)) == 6
    for name in ("the dense baseline", "MoE with G = 1", "the optimal MoE (G = 64)"):
        assert f"at 1e25 FLOPs, {name}" in out
    j = json.loads(runner.invoke(app, ["compare", "--flops", "1e25", "--json"]).stdout)
    row = j["rows"][0]
    for key, point in (
        ("dense_compute_multiplier_range", "dense_compute_multiplier"),
        ("g1_compute_multiplier_range", "g1_compute_multiplier"),
    ):
        lo, hi = row[key]
        assert lo < row[point] < hi
    for cfg in ("dense", "moe_g1", "moe_opt"):
        lo, hi = row[cfg]["loss_range"]
        assert lo < row[cfg]["loss"] < hi


def test_no_precision_no_band(tmp_path):
    from moeplan.coefficients import law_from_mapping, law_to_mapping

    m = law_to_mapping(load_law("krajewski2024-moe"))
    m.pop("precision", None)
    m["name"] = "no-precision"
    res = optimize(law_from_mapping(m), 1e21)
    assert res.bands is None and res.recommended.loss_range is None


def test_bootstrap_samples_replace_the_rounding():
    """A law fitted with --bootstrap: its samples (and the point), not the rounding box."""
    from moeplan.coefficients import law_from_mapping, law_to_mapping

    m = law_to_mapping(load_law("krajewski2024-moe"))
    samples = [dict(MOE, a=a, c=c) for a, c in ((17.0, 0.44), (19.0, 0.50), (18.5, 0.47))]
    m["bootstrap"] = {k: [s[k] for s in samples] for k in MOE}
    m["name"] = "with-bootstrap"
    law = law_from_mapping(m)
    res = optimize(law, 1e21)
    rec = res.recommended
    losses = [moe_loss(rec.n_total, rec.tokens, rec.granularity, k) for k in samples + [MOE]]
    assert rec.loss_range == pytest.approx((min(losses), max(losses)), rel=1e-12)
    assert res.bands.source == "bootstrap" and res.bands.samples == 4


def test_joint_law_configurations_carry_their_loss_band():
    """The joint law (SPEC §7): each whole model's loss over every corner of its published
    rounding (half a unit in the fourth decimal), by hand with tests/reference.py."""
    from reference import JOINT, reduction

    half = dict(a=0.005, b=0.005, **{k: 5e-5 for k in JOINT if k not in ("a", "b")})
    res = optimize(load_law("ludziejewski2025-joint"), 1e21)
    for cfg in (res.recommended, res.candidates[-1].realized):
        n_act, D, E = cfg.n_active_with_embedding, cfg.tokens, cfg.n_experts
        losses = []
        for k in corners(JOINT, half):
            m, mu, n, nu = reduction(E, k)
            losses.append(m * n_act**mu + n * D**nu + k["c"])
        lo, hi = cfg.loss_range
        assert lo == pytest.approx(min(losses), rel=1e-9)
        assert hi == pytest.approx(max(losses), rel=1e-9)
        assert lo < cfg.loss < hi


def test_sweep_rows_carry_the_same_bands_as_compare(moe, cmp_1e20_1e25):
    from moeplan import sweep

    res = sweep(moe, 1e20, 1e25, points=3)
    rows = res.rows()
    for row, c in zip((rows[0], rows[-1]), cmp_1e20_1e25.rows):
        assert [row["loss_low"], row["loss_high"]] == pytest.approx(list(c.moe_opt.loss_range))
        assert [
            row["dense_compute_multiplier_low"],
            row["dense_compute_multiplier_high"],
        ] == pytest.approx(list(c.dense_compute_multiplier_range))
        assert (
            row["g1_compute_multiplier_low"]
            < row["g1_compute_multiplier"]
            < row["g1_compute_multiplier_high"]
        )

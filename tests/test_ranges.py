"""Extrapolation warnings at any factor, on every row and every sweep point (issue 10 items
7-9). The fitted ranges are the shipped YAMLs' (SPEC.md §2), written here as literals."""

from __future__ import annotations

import re

import numpy as np
import pytest

from moeplan import compare, load_law, optimize, sweep

MOE_N = (1.29e8, 3.7e9)  # krajewski2024-moe, the E = 64 runs
MOE_D = (1.6e10, 1.3e11)
MOE_G = (1.0, 16.0)
DENSE_N = (3.0e6, 8.5e7)  # krajewski2024-dense, Table 4


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


def _factor(text: str, what: str) -> float:
    m = re.search(re.escape(what) + r" [0-9.e+]+ is ([0-9.e+]+)x (above|below)", text)
    assert m, text
    return float(m.group(1))


def test_any_factor_is_flagged(moe):
    # 1.1x above the largest run: below the old 2x threshold, still an extrapolation
    w = moe.range_warnings(params=1.1 * MOE_N[1], tokens=MOE_D[0] * 2, granularity=8)
    assert len(w) == 1 and "1.1x above" in w[0]
    assert moe.range_warnings(params=MOE_N[1], tokens=MOE_D[1], granularity=MOE_G[1]) == []
    w = moe.range_warnings(params=1e9, tokens=MOE_D[0] / 1.05)
    assert len(w) == 1 and "1.05x below" in w[0]


def test_optimize_1e22_warns_about_g32_and_tokens(moe):
    res = optimize(moe, 1e22)
    rec = res.recommended
    text = "\n".join(res.warnings)
    assert rec.granularity == 32
    assert _factor(text, "granularity") == pytest.approx(32 / MOE_G[1], rel=1e-3)
    # the message prints 3 significant digits: 1.34 for 1.3367 is within half a unit (0.4%)
    assert _factor(text, "tokens") == pytest.approx(rec.tokens / MOE_D[1], rel=4e-3)
    assert rec.tokens / MOE_D[1] > 1.2  # ~166B tokens vs 130B


@pytest.mark.parametrize("E", [16, 1024])
def test_expansion_rate_other_than_fitted_is_flagged(moe, E):
    text = "\n".join(optimize(moe, 1e21, expansion_rate=E).warnings)
    assert "expansion rate E" in text
    assert f"{max(E, 64) / min(E, 64):g}x" in text
    assert "expansion rate" not in "\n".join(optimize(moe, 1e21).warnings)


def test_compare_and_sweep_flag_expansion_rate_once(moe):
    res = compare(moe, [1e20, 1e21], expansion_rate=512)
    hits = [w for w in res.warnings if "expansion rate E = 512" in w]
    assert len(hits) == 1 and "8x above" in hits[0]
    res = sweep(moe, 1e20, 1e21, points=5, expansion_rate=512)
    assert sum("expansion rate E = 512" in w for w in res.warnings) == 1


def test_compare_names_every_extrapolating_row(moe):
    res = compare(moe, [1e25])
    row = res.rows[0]
    dense = [w for w in res.warnings if "dense baseline" in w]
    # 199B dense parameters, 8.4T tokens: thousands of times beyond the dense runs
    assert any(
        _factor(w, "parameters") == pytest.approx(row.dense.n_total / DENSE_N[1], rel=2e-3)
        for w in dense
    )
    assert any("tokens" in w for w in dense)
    assert any("MoE with G = 1" in w for w in res.warnings)
    assert any("optimal MoE (G = 64)" in w and "granularity 64" in w for w in res.warnings)
    assert all(w.startswith("at 1e25 FLOPs") for w in res.warnings)


def test_sweep_checks_every_point(moe):
    res = sweep(moe, 1e19, 1e24, points=25)
    tokens = np.asarray(res.columns["tokens"])
    G = np.asarray(res.columns["granularity"])
    above = [
        w for w in res.warnings if w.startswith("optimal MoE") and "tokens" in w and "above" in w
    ]
    assert len(above) == 1
    assert f"at {int(np.sum(tokens > MOE_D[1]))} of 25 budgets" in above[0]
    g_warn = [w for w in res.warnings if w.startswith("optimal MoE") and "granularity" in w]
    assert len(g_warn) == 1 and f"at {int(np.sum(G > MOE_G[1]))} of 25 budgets" in g_warn[0]
    assert _factor(g_warn[0], "granularity") == pytest.approx(G.max() / MOE_G[1])
    # one warning per variable and side, not one per point
    assert len(res.warnings) <= 12

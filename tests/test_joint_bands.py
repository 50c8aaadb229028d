"""The joint law's dense compute multiplier carries its band within the published rounding
(SPEC §8), like the fine-grained law's. References: SPEC §7's fixed-E Chinchilla form typed in
tests/reference.py, and the dense FLOPs to reach a loss found by scipy's brentq on ln F."""

from __future__ import annotations

import math

import pytest
from scipy.optimize import brentq

from moeplan import compare, load_law
from tests.reference import JOINT, e_hat

EXPERTS = (2, 4, 8, 16, 32)
PRECISION = dict(
    a=0.005,
    alpha=5e-5,
    delta=5e-5,
    gamma=5e-5,
    b=0.005,
    beta=5e-5,
    omega=5e-5,
    zeta=5e-5,
    e_start=5e-5,
    e_max=5e-5,
    c=5e-5,
)  # half a unit in the fourth decimal of the paper's Table 1


def _optimal_loss(k, e, flops):
    eh = e_hat(e, k)
    m, mu = k["a"] * eh ** k["delta"], k["alpha"] + k["gamma"] * math.log(eh)
    n, nu = k["b"] * eh ** k["omega"], k["beta"] + k["zeta"] * math.log(eh)
    N = ((n * nu) / (m * mu) * (flops / 6.0) ** nu) ** (1.0 / (mu + nu))
    return k["c"] + m * N**mu + n * (flops / (6.0 * N)) ** nu


def _multiplier(k, flops):
    target = min(_optimal_loss(k, e, flops) for e in EXPERTS)
    lnf = brentq(lambda x: _optimal_loss(k, 1, math.exp(x)) - target, math.log(flops), 200.0)
    return math.exp(lnf) / flops


@pytest.mark.parametrize("flops", [1e21, 1e23])
def test_band_holds_the_point_and_each_rounding_step(flops):
    law = load_law("ludziejewski2025-joint")
    row = compare(law, flops, experts=EXPERTS).rows[0]
    lo, hi = row.dense_compute_multiplier_range
    point = _multiplier(JOINT, flops)
    assert row.dense_compute_multiplier == pytest.approx(point, rel=2e-3)
    assert lo < point < hi
    # every coefficient moved by its published half-unit, one at a time, stays in the band
    for name, h in PRECISION.items():
        for sign in (-1.0, 1.0):
            k = dict(JOINT, **{name: JOINT[name] + sign * h})
            assert lo * (1 - 1e-9) <= _multiplier(k, flops) <= hi * (1 + 1e-9), (name, sign)
    # and the band is no wider than the whole box's extremes can make it: a few percent here
    assert 1.0 < lo and hi / lo < 1.2


def test_no_band_under_limits_and_the_table_prints_it(runner):
    from moeplan.cli import app

    law = load_law("ludziejewski2025-joint")
    row = compare(law, 1e21, experts=EXPERTS, memory=16e9).rows[0]
    assert row.dense_compute_multiplier_range is None
    res = runner.invoke(app, ["compare", "--flops", "1e21", "--law", "ludziejewski2025-joint"])
    assert res.exit_code == 0, res.output
    assert "x (3.1–3.3x)" in res.output

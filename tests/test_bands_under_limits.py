"""Compute multipliers under limits carry their band within the published rounding (SPEC §8).

The band is found by a vectorised bisection over every coefficient sample at once
(moeplan.plan.bands.flops_to_reach_under_limits). Checked against the planner's scalar search
(compare's point multiplier, moeplan.plan.granular._budget_for_target) run on laws whose
coefficients sit at corners of the rounding box, written out as YAML files by hand: each such
law's multiplier must fall inside the published law's band.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moeplan import compare, load_law

ROOT = Path(__file__).resolve().parents[1] / "coefficients"
MEMORY = 80e9


def _perturbed(tmp_path, shipped: str, **delta) -> str:
    text = (ROOT / f"{shipped}.yaml").read_text()
    law = load_law(shipped)
    lines = []
    for line in text.splitlines():
        key = line.strip().split(":")[0]
        if line.startswith("  ") and key in delta and line.strip().startswith(f"{key}:"):
            value = float(law.coefficients[key]) + delta[key]
            line = f"  {key}: {value!r}"
        lines.append(line)
    name = "-".join(f"{k}{'+' if v > 0 else '-'}" for k, v in delta.items())
    out = tmp_path / f"{shipped}-{name}.yaml"
    out.write_text("\n".join(lines).replace(f"name: {shipped}", f"name: {shipped}-{name}") + "\n")
    return str(out)


@pytest.fixture(scope="module")
def banded():
    law = load_law("krajewski2024-moe")
    return compare(law, 1e21, memory=MEMORY).rows[0]


def test_bands_exist_and_hold_the_point(banded):
    for value, rng in (
        (banded.dense_compute_multiplier, banded.dense_compute_multiplier_range),
        (banded.g1_compute_multiplier, banded.g1_compute_multiplier_range),
    ):
        assert rng is not None and value is not None
        lo, hi = rng
        assert 1.0 < lo < value < hi


@pytest.mark.parametrize("da, db", [(-0.0005, -0.0005), (0.0005, 0.0005), (0.0005, -0.0005)])
def test_dense_corner_laws_fall_inside_the_band(tmp_path, banded, da, db):
    dense = _perturbed(tmp_path, "krajewski2024-dense", alpha=da, beta=db)
    row = compare(load_law("krajewski2024-moe"), 1e21, memory=MEMORY, dense_law=dense).rows[0]
    lo, hi = banded.dense_compute_multiplier_range
    assert lo * (1 - 1e-6) <= row.dense_compute_multiplier <= hi * (1 + 1e-6)


def test_moe_corner_law_falls_inside_the_g1_band(tmp_path, banded):
    sign = 1.0
    h = 0.0005 * sign
    moe = _perturbed(tmp_path, "krajewski2024-moe", alpha=h, beta=-h, gamma=0.005 * sign)
    row = compare(load_law(moe), 1e21, memory=MEMORY, dense_law="krajewski2024-dense").rows[0]
    lo, hi = banded.g1_compute_multiplier_range
    assert lo * (1 - 1e-6) <= row.g1_compute_multiplier <= hi * (1 + 1e-6)


def test_a_tight_memory_limit_can_favour_dense_and_the_band_says_so():
    # 0.5 GB: the MoE's experts must shrink so far that dense needs fewer FLOPs (x < 1)
    row = compare(load_law("krajewski2024-moe"), 1e21, memory=0.5e9).rows[0]
    lo, hi = row.dense_compute_multiplier_range
    assert lo < row.dense_compute_multiplier < hi < 1.0


def test_point_multiplier_under_a_memory_limit_against_the_closed_form(banded):
    """At 1e21 FLOPs and 80 GB the dense model that matches the MoE is not memory-bound (about
    9B parameters, 18 GB), so its FLOPs are Chinchilla's closed form at the MoE's (memory-
    bound) loss: the vectorised search under limits must land on it."""
    from tests.reference import dense_flops_to_reach

    target = banded.moe_opt.loss  # the continuous MoE optimum under the limit
    expected = dense_flops_to_reach(target) / 1e21
    assert banded.dense_compute_multiplier == pytest.approx(expected, rel=1e-9)

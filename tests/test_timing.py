"""The time model on measured hardware (SPEC.md §10), with the test fixture profile.

Expected values are written from the fixture's numbers and SPEC.md's FLOP counts by hand
(log-linear interpolation: the geometric mean at a log midpoint), never from the code.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.errors import InputError
from moeplan.profiles import load_profile
from moeplan.timing import TimeModel, a2a_seconds_per_token, step_time

FIXTURE = str(Path(__file__).parent / "data" / "profile_fixture.yaml")


@pytest.fixture(scope="module")
def profile():
    return load_profile(FIXTURE)


@pytest.fixture(scope="module")
def model(profile):
    return TimeModel(profile)


def test_every_measured_expert_point_is_reproduced_exactly(model, profile):
    points = profile.ok("expert")
    assert len(points) == 15  # one of the 16 is an OOM
    for r in points:
        rate, extrap = model.expert_tflops(r["d_model"], r["d_expert"], r["expansion_rate"])
        assert float(rate) == pytest.approx(r["tflops"], rel=1e-12)
        assert not bool(extrap)


def test_log_midpoints_are_geometric_means(model):
    # E = 8, d_model 1024: d_expert 1024 -> 450, 256 -> 346; midpoint in log is d_expert 512
    rate, extrap = model.expert_tflops(1024, 512, 8)
    assert float(rate) == pytest.approx(math.sqrt(450 * 346), rel=1e-12)
    assert not extrap
    # across d_model at fixed d_expert 1024: 1024 -> 450 (G 4), 4096 -> 557 (G 16)
    rate, extrap = model.expert_tflops(2048, 1024, 8)
    assert float(rate) == pytest.approx(math.sqrt(450 * 557), rel=1e-12)
    assert not extrap
    # across expansion rate: E 16 is a third of the way from 8 to 64 in log
    rate, extrap = model.expert_tflops(1024, 4096, 16)
    assert float(rate) == pytest.approx(568 ** (2 / 3) * 500 ** (1 / 3), rel=1e-12)
    assert not extrap


@pytest.mark.parametrize(
    "d_model, d_expert, expansion_rate, edge",
    [
        (512, 1024, 8, 450),  # d_model below the grid: d_model 1024's value
        (1024, 32, 8, 119),  # d_expert below the row: its smallest measured d_expert
        (1024, 8192, 8, 568),  # d_expert above the row
        (16384, 1024, 8, 557),  # d_model above the grid
        (1024, 4096, 128, 500),  # expansion rate above the grid
        (1024, 4096, 4, 568),  # expansion rate below the grid
    ],
)
def test_outside_the_grid_is_flagged_and_held_at_the_edge(
    model, d_model, d_expert, expansion_rate, edge
):
    rate, extrap = model.expert_tflops(d_model, d_expert, expansion_rate)
    assert bool(extrap)
    assert float(rate) == pytest.approx(edge, rel=1e-12)


def test_a_failed_point_narrows_its_row_and_is_flagged(model):
    # E = 64, d_model 4096, d_expert 16384 ran out of memory: that row ends at 4096 (560)
    rate, extrap = model.expert_tflops(4096, 16384, 64)
    assert bool(extrap)
    assert float(rate) == pytest.approx(560, rel=1e-12)
    rate, extrap = model.expert_tflops(4096, 4096, 64)
    assert not bool(extrap) and float(rate) == pytest.approx(560, rel=1e-12)


@given(st.sampled_from([(8, 1024), (8, 4096), (64, 1024), (64, 4096)]), st.floats(0.0, 1.0))
def test_monotone_between_neighbouring_grid_points(model, profile, row, t):
    expansion_rate, d_model = row
    pts = sorted(
        (r["d_expert"], r["tflops"])
        for r in profile.ok("expert", expansion_rate=expansion_rate, d_model=d_model)
    )
    for (de0, r0), (de1, r1) in itertools.pairwise(pts):
        de = math.exp(math.log(de0) + t * (math.log(de1) - math.log(de0)))
        rate, extrap = model.expert_tflops(d_model, de, expansion_rate)
        assert min(r0, r1) * (1 - 1e-12) <= float(rate) <= max(r0, r1) * (1 + 1e-12)
        assert not bool(extrap)


@given(st.floats(1024.0, 4096.0))
def test_monotone_across_d_model(model, d_model):
    # d_expert 1024 is measured at both d_model 1024 (450) and 4096 (557) for E = 8
    rate, extrap = model.expert_tflops(d_model, 1024, 8)
    assert 450 * (1 - 1e-12) <= float(rate) <= 557 * (1 + 1e-12)
    assert not bool(extrap)


def test_step_time_sums_flops_over_measured_rates():
    # d_model 1024, 16 blocks, G = 4 (d_expert 1024, top_k 4), E = 8 (32 experts), s 4096, V 65536
    t = step_time(load_profile(FIXTURE), 1024, 16, 1024, 4, 32, seq_len=4096, vocab=65536)
    experts = 6 * 16 * 4 * 2 * 1024 * 1024 / 450e12
    proj = 6 * 16 * 4 * 1024**2 / 600e12
    attention = 12 * 16 * 4096 * 1024 / 400e12
    router = 14 * 16 * 1024 * 32 / 40e12
    head = 6 * 1024 * 65536 / 600e12
    assert float(t.parts["experts"]) == pytest.approx(experts, rel=1e-12)
    assert float(t.parts["router"]) == pytest.approx(router, rel=1e-12)
    assert float(t.seconds_per_token) == pytest.approx(
        experts + proj + attention + router + head, rel=1e-12
    )
    assert not bool(t.extrapolated)
    assert t.communication_model is None


def test_dense_model_uses_the_dense_ffn_rate_and_no_router():
    t = step_time(load_profile(FIXTURE), 4096, 64, 16384, 1, 1, seq_len=4096, vocab=65536)
    assert float(t.parts["experts"]) == pytest.approx(6 * 64 * 2 * 4096 * 16384 / 710e12, rel=1e-12)
    assert float(t.parts["router"]) == 0.0


def test_vectorised_equals_one_by_one(model):
    d = np.array([1024, 2048, 4096, 8192])
    de = np.array([1024, 256, 4096, 512])
    k = 4 * d // de
    ne = 8 * k
    nb = d // 64
    many = model.step_time(d, nb, de, k, ne, 4096, 50257)
    for i in range(len(d)):
        one = model.step_time(d[i], nb[i], de[i], k[i], ne[i], 4096, 50257)
        assert many.seconds_per_token[i] == pytest.approx(float(one.seconds_per_token), rel=1e-12)
        assert bool(many.extrapolated[i]) == bool(one.extrapolated)
    assert list(many.extrapolated) == [False, False, False, True]  # d_model 8192 is off-grid


def test_narrow_experts_cost_more_time_at_equal_flops(model):
    # the point of issue 16: at equal active FLOPs, G = 64 is slower than G = 1 on the fixture
    g1 = model.step_time(1024, 16, 4096, 1, 8, 4096, 50257)
    g64 = model.step_time(1024, 16, 64, 64, 512, 4096, 50257)
    assert float(g1.flops_per_token["experts"]) == float(g64.flops_per_token["experts"])
    assert float(g64.parts["experts"]) / float(g1.parts["experts"]) == pytest.approx(568 / 119)


def test_all_to_all_model_is_off_by_default_and_adds_bytes_over_bandwidth(model):
    bw = 50e9
    expected = 4 * 16 * 4 * 1024 * 2 / bw  # 4 transfers x blocks x top_k x d_model x bf16
    assert float(a2a_seconds_per_token(1024, 16, 4, bw)) == pytest.approx(expected, rel=1e-12)
    base = model.step_time(1024, 16, 1024, 4, 32, 4096, 50257)
    with_a2a = model.step_time(1024, 16, 1024, 4, 32, 4096, 50257, a2a_bandwidth=bw)
    assert float(with_a2a.seconds_per_token - base.seconds_per_token) == pytest.approx(
        expected, rel=1e-9
    )
    assert float(a2a_seconds_per_token(1024, 16, 4, bw, remote_fraction=0.5)) == pytest.approx(
        expected / 2, rel=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"d_model": -1}, "d_model"),
        ({"n_blocks": 0}, "n_blocks"),
        ({"d_expert": float("nan")}, "d_expert"),
        ({"n_experts": 2, "top_k": 4}, "n_experts"),
    ],
)
def test_bad_candidates_are_input_errors(model, kwargs, word):
    args = {
        "d_model": 1024,
        "n_blocks": 16,
        "d_expert": 1024,
        "top_k": 4,
        "n_experts": 32,
        "seq_len": 4096,
        "vocab": 50257,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=word):
        model.step_time(**args)


def test_bad_bandwidth_is_an_input_error():
    with pytest.raises(InputError, match="bandwidth"):
        a2a_seconds_per_token(1024, 16, 4, 0.0)

"""Parameter and FLOPs accounting against SPEC.md §1 and §3, written out independently here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.accounting import (
    active_params,
    d_expert,
    dense_flops,
    embedding_params,
    flops_breakdown,
    moe_flops,
    n_experts,
    router_params,
    tokens_for_flops,
    total_params,
)
from moeplan.errors import InputError


def test_spec_worked_check_exactly():
    # SPEC.md §3: d_model = 1024, n_blocks = 16, E = 64, G = 8, D = 1e10.
    fb = flops_breakdown(1024, 16, 1e10, expansion_rate=64, granularity=8)
    assert fb.n_active == 201_326_592
    assert fb.n_total == 8_657_043_456
    dense_part = fb.attention_flops + fb.expert_flops
    assert dense_part == pytest.approx(1.2080e19, rel=5e-5)  # SPEC gives 5 significant digits
    assert fb.router_flops == pytest.approx(1.1744e18, rel=5e-5)
    assert fb.flops == pytest.approx(1.3254e19, rel=5e-5)
    # and exactly, from the formula F = (12 d^2 c_f + d E G c_r) D n with integers
    exact = (12 * 1024**2 * 6 + 1024 * 64 * 8 * 14) * 10**10 * 16
    assert fb.flops == exact
    assert fb.router_params == 1024 * 64 * 8 * 16
    assert (fb.n_experts, fb.top_k, fb.d_expert) == (512, 8, 512)


def test_formulas_match_spec_definitions():
    d, n, E, G = 2048.0, 24.0, 64.0, 16.0
    assert active_params(d, n) == 12 * d**2 * n
    assert total_params(d, n, E) == d**2 * (8 * E + 4) * n
    assert router_params(d, n, E, G) == d * E * G * n
    assert n_experts(E, G) == 1024
    assert d_expert(d, G) == 512
    assert embedding_params(d, 50_000) == 2 * 50_000 * d
    assert embedding_params(d, 50_000, tied=True) == 50_000 * d
    assert dense_flops(1e9, 2e10) == 6 * 1e9 * 2e10
    # total params at E = 1 equals the dense count 12 d^2 n
    assert total_params(d, n, 1) == active_params(d, n)


def test_vectorised_broadcasting():
    d = np.array([512.0, 1024.0, 2048.0])
    f = moe_flops(d, d / 64, 1e10, 64, np.array([[1.0], [8.0]]))
    assert f.shape == (2, 3)
    for i, g in enumerate((1.0, 8.0)):
        for j, dm in enumerate(d):
            expected = (12 * dm**2 * 6 + dm * 64 * g * 14) * 1e10 * dm / 64
            assert f[i, j] == pytest.approx(expected, rel=1e-14)


sizes = st.integers(min_value=1, max_value=2**15)
positive = st.floats(min_value=1e3, max_value=1e14, allow_nan=False)
granularities = st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 256])


@given(sizes, st.integers(1, 256), positive, st.floats(1, 256), granularities, st.floats(0, 30))
def test_parts_add_up_and_linear_in_tokens(d, n, D, E, G, c_r):
    fb = flops_breakdown(d, n, D, E, G, 6.0, c_r)
    assert fb.attention_flops + fb.expert_flops + fb.router_flops == pytest.approx(
        fb.flops, rel=1e-12
    )
    fb2 = flops_breakdown(d, n, 3 * D, E, G, 6.0, c_r)
    assert fb2.flops == pytest.approx(3 * fb.flops, rel=1e-12)
    assert fb.flops == pytest.approx(float(moe_flops(d, n, D, E, G, 6.0, c_r)), rel=1e-12)
    # the non-router part is 6 * N_act * D
    assert fb.attention_flops + fb.expert_flops == pytest.approx(6 * fb.n_active * D, rel=1e-12)
    # tokens_for_flops inverts moe_flops
    assert float(tokens_for_flops(fb.flops, d, n, E, G, 6.0, c_r)) == pytest.approx(D, rel=1e-12)


@given(sizes, st.integers(1, 128), granularities)
def test_router_grows_linearly_with_granularity(d, n, G):
    r1 = flops_breakdown(d, n, 1e9, 64, G).router_flops
    r2 = flops_breakdown(d, n, 1e9, 64, 2 * G).router_flops
    assert r2 == pytest.approx(2 * r1, rel=1e-12)
    # the active count does not depend on G
    assert flops_breakdown(d, n, 1e9, 64, G).n_active == flops_breakdown(d, n, 1e9, 64, 1).n_active


def test_embeddings_reported_when_vocab_known():
    fb = flops_breakdown(4096, 32, 1e12, 8, 2, vocab_size=32000)
    assert fb.n_embedding == 2 * 32000 * 4096
    assert fb.n_total_with_embedding == fb.n_total + fb.n_embedding
    assert fb.n_active_with_embedding == fb.n_active + fb.n_embedding
    assert "n_embedding" not in flops_breakdown(4096, 32, 1e12, 8, 2).to_dict()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(d_model=0),
        dict(n_blocks=-1),
        dict(tokens=float("nan")),
        dict(granularity=0),
        dict(c_r=-1),
    ],
)
def test_bad_values_are_user_errors(kwargs):
    args = dict(d_model=1024, n_blocks=16, tokens=1e10, expansion_rate=64, granularity=8)
    c_r = kwargs.pop("c_r", 14.0)
    args.update(kwargs)
    with pytest.raises(InputError):
        flops_breakdown(**args, c_r=c_r)

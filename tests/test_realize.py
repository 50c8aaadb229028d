"""Realizable architectures (moeplan.plan.realize via optimize): whole numbers, exact budgets, and
the best one found by an independent exhaustive enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan import load_law, optimize
from moeplan.errors import InfeasibleError
from moeplan.hardware import ACCELERATORS, get_accelerator, training_time

MOE = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)
POWERS = [2.0**i for i in range(9)]


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


def spec_loss(N, D, G, k=MOE):
    return k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]


def enumerate_rule_shapes(budget, n_max=400, E=64.0, c_f=6.0, c_r=14.0):
    """Every d_model = 64·n_blocks (the default shape rule, exactly), every power-of-two G,
    GPU-friendly (d_model a multiple of 128, d_expert = 4·d_model/G a multiple of 64): the
    least loss with tokens spending the budget."""
    n = np.arange(1, n_max + 1, dtype=float)
    d = 64.0 * n
    best = (math.inf, None)
    for G in POWERS:
        ok = (d % 128 == 0) & ((4 * d / G) % 64 == 0)
        N = d * d * (8 * E + 4) * n
        D = budget / ((12 * d * d * c_f + d * E * G * c_r) * n)
        loss = np.where(ok, spec_loss(N, D, G), np.inf)
        j = int(np.argmin(loss))
        if loss[j] < best[0]:
            best = (float(loss[j]), (G, float(d[j]), float(n[j])))
    return best


def check_whole(cfg, E=64, multiple=128, tp=1):
    """The GPU-friendly rules, written out: d_model a multiple of ``multiple``, heads of 128
    (64 below d_model 2048) divisible by tp, d_expert a multiple of 64."""
    assert cfg.realizable
    assert cfg.d_model % multiple == 0 and cfg.d_model % 64 == 0
    assert cfg.n_blocks == int(cfg.n_blocks) and cfg.n_blocks >= 1
    assert cfg.top_k == cfg.granularity == int(cfg.granularity)
    assert cfg.n_experts == cfg.granularity * E
    assert cfg.d_expert == 4 * cfg.d_model / cfg.granularity == int(cfg.d_expert)
    assert cfg.head_dim == (64 if cfg.d_model < 2048 else 128)
    assert cfg.n_heads * cfg.head_dim == cfg.d_model and cfg.n_heads % tp == 0
    assert cfg.d_expert % 64 == 0


@pytest.mark.parametrize("budget", [3e18, 1e20, 1e22, 1e24])
def test_recommended_is_the_best_rule_shape(moe, budget):
    res = optimize(moe, budget)
    rec = res.recommended
    check_whole(rec)
    expected, (G, d, n) = enumerate_rule_shapes(budget)
    assert rec.loss == pytest.approx(expected, rel=1e-12)
    assert (rec.granularity, rec.d_model, rec.n_blocks) == (G, d, n)
    # tokens recomputed so the FLOPs (SPEC §3) equal the budget
    flops = (
        (12 * rec.d_model**2 * 6 + rec.d_model * 64 * rec.granularity * 14)
        * rec.tokens
        * rec.n_blocks
    )
    assert flops == pytest.approx(budget, rel=1e-12)
    assert rec.flops == pytest.approx(budget, rel=1e-12)
    assert rec.n_total == rec.d_model**2 * (8 * 64 + 4) * rec.n_blocks
    assert rec.n_active == 12 * rec.d_model**2 * rec.n_blocks
    assert rec.loss == pytest.approx(spec_loss(rec.n_total, rec.tokens, rec.granularity), rel=1e-12)
    # the rounding penalty is measured against the continuous optimum, and it is small
    assert rec.loss_penalty == pytest.approx(rec.loss - res.continuous.loss, abs=1e-15)
    assert 0 <= rec.loss_penalty < 2e-3


def test_alternatives_are_ranked_and_distinct(moe):
    res = optimize(moe, 1e22, n_alternatives=6)
    assert len(res.realizable) == 6
    losses = [c.loss for c in res.realizable]
    assert losses == sorted(losses)
    shapes = {(c.granularity, c.d_model, c.n_blocks) for c in res.realizable}
    assert len(shapes) == 6
    for c in res.realizable:
        check_whole(c)
        assert abs(c.d_model / c.n_blocks - 64) <= 64 / c.n_blocks  # nearest whole n_blocks
    assert res.recommended is res.realizable[0]


def test_shape_tolerance_and_multiple_of(moe):
    res = optimize(moe, 1e22, shape_tolerance=1.25, multiple_of=256)
    for c in res.realizable:
        check_whole(c, multiple=256)
        assert 64 / 1.25 - 1e-9 <= c.d_model / c.n_blocks <= 64 * 1.25 + 1e-9
    # wider shapes spend less on routing for the same N: the law rewards them
    assert res.recommended.loss <= optimize(moe, 1e22).recommended.loss + 1e-12
    res = optimize(moe, 1e22, multiple_of=96)  # lcm with the 64-wide head: 192
    for c in res.realizable:
        assert c.d_model % 192 == 0


def test_memory_limit_holds_for_realizable_configs(moe):
    M = 80e9
    res = optimize(moe, 1e22, memory=M, kv_tokens=1e5, vocab_size=32000)
    for c in res.realizable:
        check_whole(c)
        weights = c.n_total + c.router_params + 2 * 32000 * c.d_model
        mem = (weights + 2 * 1e5 * c.n_blocks * c.d_model) * 2
        assert c.memory_bytes == pytest.approx(mem, rel=1e-12)
        assert mem <= M
        assert c.n_embedding == 2 * 32000 * c.d_model


def test_memory_below_the_smallest_model(moe):
    # d_model 64, one block, G = 1, E = 64: 516·64² weights + 64·64 router, 2 bytes each
    need = (516 * 64 * 64 + 64 * 64) * 2
    with pytest.raises(InfeasibleError, match="smallest model") as exc:
        optimize(moe, 1e20, memory=need * 0.99, multiple_of=64)
    assert f"allow at least {need:,} bytes" in str(exc.value)  # exact, not a rounded 4.24 MB
    res = optimize(moe, 1e20, memory=need * 1.01, granularities=[1], multiple_of=64)
    assert res.recommended.d_model == 64 and res.recommended.n_blocks == 1


def test_non_integer_granularity_has_no_realizable_config(moe):
    res = optimize(moe, 1e21, granularities=[1.5, 2.5])
    assert res.recommended is None and res.realizable == ()
    assert any("whole-number" in w for w in res.warnings)
    assert res.continuous.granularity in (1.5, 2.5)


def test_fixed_size_uses_a_shape_close_to_it(moe):
    for N in (2e9, 7e10):
        res = optimize(moe, 1e21, params=N)
        assert abs(res.recommended.n_total / N - 1) <= 0.05
        check_whole(res.recommended)
    # small models have coarse shapes (d_model steps of 64): the nearest is 320 x 6, +5.7%
    res = optimize(moe, 1e21, params=3e8, multiple_of=64)
    assert (res.recommended.d_model, res.recommended.n_blocks) == (320, 6)
    assert any("5.7% off" in w for w in res.warnings)


@settings(max_examples=25, deadline=None)
@given(log_f=st.floats(18.0, 25.0))
def test_realizable_always_spends_the_budget(moe, log_f):
    budget = 10.0**log_f
    res = optimize(moe, budget, n_alternatives=3)
    for c in res.realizable:
        check_whole(c)
        spent = (
            (12 * c.d_model**2 * 6 + c.d_model * 64 * c.granularity * 14) * c.tokens * c.n_blocks
        )
        assert spent == pytest.approx(budget, rel=1e-12)
        assert c.loss >= res.continuous.loss - 1e-12  # the rule shape cannot beat the optimum


def test_training_time_from_the_spec_sheets():
    # dense bf16 peaks from the vendors' spec sheets (the numbers the brief lists)
    assert {k: a.peak_flops for k, a in ACCELERATORS.items()} == {
        "a100": 312e12,
        "h100": 989e12,
        "h200": 989e12,
        "b200": 2.25e15,
        "mi300x": 1307e12,
    }
    for a in ACCELERATORS.values():
        assert a.source.startswith(("NVIDIA", "AMD")) and "https://" in a.source
    t = training_time(1e22, "H100", mfu=0.4, n_gpus=1024)
    hours = 1e22 / (989e12 * 0.4) / 3600
    assert t.gpu_hours == pytest.approx(hours, rel=1e-12)
    assert t.days == pytest.approx(hours / 1024 / 24, rel=1e-12)
    with pytest.raises(Exception, match="unknown GPU"):
        get_accelerator("tpu-v5")
    with pytest.raises(Exception, match="MFU"):
        training_time(1e22, "h100", mfu=1.5)


def test_expensive_rounding_suggests_a_wider_shape_band(moe):
    res = optimize(moe, 1e17, memory=400e6)
    (hint,) = [w for w in res.warnings if "whole-number shape costs" in w]
    wide = optimize(moe, 1e17, memory=400e6, shape_tolerance=1.25).recommended
    assert f"finds {wide.d_model:.0f} x {wide.n_blocks:.0f}" in hint
    assert f"at loss {wide.loss:.4f}" in hint
    assert wide.loss < res.recommended.loss


def test_target_loss_realizable_reaches_it_with_least_flops(moe):
    target = 2.3
    res = optimize(moe, target_loss=target)
    rec = res.recommended
    check_whole(rec)
    assert rec.loss == pytest.approx(target, rel=1e-12)
    assert rec.flops >= res.budget_flops * (1 - 1e-12)
    # independent: every rule shape, tokens from the law solved for the target, least FLOPs
    best = (math.inf, None)
    for G in POWERS:
        n = np.arange(1, 400, dtype=float)
        d = 64 * n
        N = d * d * 516 * n
        gap = target - MOE["c"] - (MOE["g"] / G ** MOE["gamma"] + MOE["a"]) / N ** MOE["alpha"]
        with np.errstate(invalid="ignore", divide="ignore"):
            D = np.where(
                gap > 0, (MOE["b"] / np.where(gap > 0, gap, 1)) ** (1 / MOE["beta"]), np.inf
            )
        F = (12 * d * d * 6 + d * 64 * G * 14) * D * n
        F = np.where((d % 128 == 0) & ((4 * d / G) % 64 == 0), F, np.inf)
        j = int(np.argmin(F))
        if F[j] < best[0]:
            best = (float(F[j]), (G, float(d[j])))
    assert rec.flops == pytest.approx(best[0], rel=1e-12)
    assert (rec.granularity, rec.d_model) == best[1]

"""Training memory, parallel layout and executed FLOPs (moeplan.training), budget from hardware."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.errors import InputError
from moeplan.hardware import ACCELERATORS, budget_from_hardware
from moeplan.shapes import Shape
from moeplan.training import (
    Layout,
    activation_bytes_per_layer,
    candidate_layouts,
    executed_flops,
    memory_for_layout,
    stage_blocks,
    static_bytes,
    training_memory,
)


def moe_shape(d=2048, n=32, g=8, e=64, head=128):
    return Shape(
        d_model=d,
        n_blocks=n,
        n_heads=d // head,
        head_dim=head,
        d_expert=4 * d // g,
        n_experts=g * e,
        top_k=g,
    )


# ------------------------------------------------------------------ EleutherAI cookbook, dense

# EleutherAI/cookbook calc/calc_transformer_mem.py (commit c2af7dbe), run as
#   python calc_transformer_mem.py --num-gpus 8 -tp 1 -pp 1 -z 1 --bytes-per-grad-ele 2
# with its defaults: hidden 6144, 64 heads, 44 layers, sequence 2048, vocab 51200, micro-batch 1,
# MLP 4x with 2 linears, MHA. Worked by hand from its formulas:
#   params = 2*51200*6144 (embeddings) + 6144*2048 (positional) + 8*6144*44 + 2*6144 (norms)
#            + 4*44*6144^2 (attention) + 8*44*6144^2 (MLP)                    = 20,575,236,096
#   per-GPU model memory = 2 bytes x params                                   = 41,150,472,192
#   per-GPU gradient memory (2 bytes, ZeRO-1 does not shard gradients)        = 41,150,472,192
#   per-GPU optimizer memory = 12 x params / 8 GPUs (ZeRO-1)                  = 30,862,854,144
#   activations, no checkpointing: s*b*h*L*(16*2 + 2 + (2*2 + 1)*a*s/h)       = 77,879,836,672
#   activations, --checkpoint-activations: s*b*h*L*(16*2 + 2)                 = 18,824,036,352
# (The cookbook also adds a 1 GB ZeRO all-gather bucket, which moeplan does not model.)
COOKBOOK_PARAMS = 20_575_236_096


def test_dense_static_memory_matches_the_cookbook():
    w, g, o = static_bytes(COOKBOOK_PARAMS, 0, tp=1, ep=1, dp=8)
    assert w == 41_150_472_192
    assert g == 41_150_472_192
    assert o == pytest.approx(30_862_854_144, rel=1e-15)


def test_dense_activations_match_the_cookbook():
    none = 44 * activation_bytes_per_layer(2048, 1, 6144, 64, tp=1, recompute="none")
    sel = 44 * activation_bytes_per_layer(2048, 1, 6144, 64, tp=1, recompute="selective")
    assert none == pytest.approx(77_879_836_672, rel=1e-12)
    assert sel == pytest.approx(18_824_036_352, rel=1e-15)


# ------------------------------------------------------------------ the static part, SPEC §9


@given(
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.sampled_from([1, 2, 4, 8, 16]),
    ep=st.sampled_from([1, 2, 4, 8, 16]),
    k=st.integers(1, 8),
)
def test_static_part_against_the_spec_formula(tp, pp, ep, k):
    """SPEC §9 written out: dense/(TP·PP) + expert/(EP·PP), ZeRO-1 over DP and DP/EP."""
    shape = moe_shape(d=2048, n=32, g=8, e=64)
    dp = ep * k
    lay = Layout(tp=tp, pp=pp, ep=ep, dp=dp)
    mem, stage = memory_for_layout(shape, lay, vocab_size=0)
    d, n, ne, de = 2048, 32, 512, 1024
    dense = n * (4 * d * d + d * ne + 2 * d) + (d if pp == 1 else 0)  # final norm on 'only'
    expert = n * ne * 2 * d * de
    weights = 2 * dense / (tp * pp) + 2 * expert / (ep * pp)
    optimizer = 12 * dense / (tp * pp * dp) + 12 * expert / (ep * pp * (dp // ep))
    assert stage == ("only" if pp == 1 else "first")
    assert mem.weights == pytest.approx(weights, rel=1e-12)
    assert mem.gradients == pytest.approx(weights, rel=1e-12)
    assert mem.optimizer == pytest.approx(optimizer, rel=1e-12)
    # selective recomputation, s = 4096, b = 1; the first stage holds pp micro-batches
    per_layer = 4096 * 2048 * (34 + 2 * 8) / tp
    assert mem.activations == pytest.approx(per_layer * (n / pp) * pp, rel=1e-12)
    assert mem.total == pytest.approx(2 * weights + optimizer + mem.activations, rel=1e-12)


def test_embeddings_sit_on_the_first_and_last_stage():
    shape = moe_shape(d=1024, n=8, g=4, e=8, head=64)
    v = 50_257
    only, _ = memory_for_layout(shape, Layout(1, 1, 1, 1), vocab_size=v)
    base, _ = memory_for_layout(shape, Layout(1, 1, 1, 1), vocab_size=0)
    assert only.weights - base.weights == pytest.approx(2 * 2 * v * 1024)  # embedding + head
    first, stage = memory_for_layout(shape, Layout(1, 2, 1, 1), vocab_size=v)
    assert stage == "first"  # 2 micro-batches in flight outweigh the norm
    first0, _ = memory_for_layout(shape, Layout(1, 2, 1, 1), vocab_size=0)
    assert first.weights - first0.weights == pytest.approx(2 * v * 1024)


def test_uneven_pipeline_stages():
    assert stage_blocks(10, 4) == (3, 2)
    assert stage_blocks(32, 4) == (8, 8)
    assert stage_blocks(7, 1) == (7, 7)


def test_activation_recompute_and_moe_terms_by_hand():
    # s 4096, b 2, h 4096, 32 heads, tp 4, top-8: no recomputation adds 5*a*s/h = 160
    s, b, h = 4096, 2, 4096
    assert activation_bytes_per_layer(s, b, h, 32, 4, "none", 8) == s * b * h * (34 + 160 + 16) / 4
    assert activation_bytes_per_layer(s, b, h, 32, 4, "selective", 0) == s * b * h * 34 / 4
    with pytest.raises(InputError, match="recompute"):
        activation_bytes_per_layer(s, b, h, 32, 4, "full")


# ------------------------------------------------------------------ layout choice


def test_small_model_needs_no_model_parallelism():
    shape = moe_shape(d=512, n=8, g=4, e=8, head=64)
    tm = training_memory(shape, "h100", 8)
    assert tm.fits and tm.reason is None
    assert (tm.layout.tp, tm.layout.pp, tm.layout.ep, tm.layout.dp) == (1, 1, 1, 8)
    assert tm.gpu_memory_bytes == 80e9
    d = tm.to_dict()
    assert set(d["layout"]) == {"tp", "pp", "ep", "dp", "zero"}
    assert set(d["per_gpu_bytes"]) == {"weights", "gradients", "optimizer", "activations", "total"}
    assert d["fits"] is True and d["layout"]["zero"] == 1


@given(
    d=st.sampled_from([1024, 2048, 4096]),
    n=st.sampled_from([8, 16, 24, 48]),
    g=st.sampled_from([1, 4, 8, 16]),
    e=st.sampled_from([8, 64]),
    gpus=st.sampled_from([8, 16, 64, 96, 256, 1024]),
    gpu=st.sampled_from(sorted(ACCELERATORS)),
)
def test_layout_is_valid_and_the_least_that_fits(d, n, g, e, gpus, gpu):
    shape = moe_shape(d=d, n=n, g=g, e=e)
    tm = training_memory(shape, gpu, gpus)
    lay = tm.layout
    assert lay.tp * lay.pp * lay.dp == gpus
    assert lay.dp % lay.ep == 0 and shape.n_experts % lay.ep == 0
    assert shape.n_heads % lay.tp == 0 and lay.tp <= 8 and lay.pp <= n
    total = tm.per_gpu_bytes.total
    assert tm.fits == (total <= ACCELERATORS[gpu].memory_bytes)
    order = candidate_layouts(shape, gpus)
    before = order[: order.index(lay)]
    if tm.fits:
        # nothing earlier in the order of preference fits
        assert all(memory_for_layout(shape, x)[0].total > tm.gpu_memory_bytes for x in before)
    else:
        assert "no layout" in tm.reason
        assert all(memory_for_layout(shape, x)[0].total >= total for x in order)


def test_a_model_too_large_says_why():
    shape = moe_shape(d=8192, n=128, g=32, e=64)  # 4.4T parameters
    tm = training_memory(shape, "h100", 64)
    assert not tm.fits
    assert "no layout of 64 x h100 fits" in tm.reason and "80.0 GB" in tm.reason
    with pytest.raises(InputError, match="gpus"):
        training_memory(shape, "h100", 0)
    with pytest.raises(InputError, match="unknown GPU"):
        training_memory(shape, "tpu", 8)


def test_once_a_layout_fits_more_gpus_keep_it_fitting():
    shape = moe_shape(d=4096, n=64, g=16, e=64)
    fits = [training_memory(shape, "h200", w).fits for w in (64, 128, 256, 512)]
    assert fits == sorted(fits) and fits[-1]  # 512 x 141 GB hold this 554B model


# ------------------------------------------------------------------ executed FLOPs (SPEC §10)


def test_executed_flops_by_hand():
    ex = executed_flops(1024, 16, 1e10, 64, 8)
    # SPEC §3 worked check: 1.2080e19 + 1.1744e18
    assert ex.law_flops == pytest.approx(1.3254e19, rel=1e-4)
    assert ex.attention_flops == pytest.approx(12 * 16 * 4096 * 1024 * 1e10, rel=1e-15)
    assert ex.head_flops == pytest.approx(6 * 1024 * 50_257 * 1e10, rel=1e-15)
    assert ex.flops == pytest.approx(ex.law_flops + ex.attention_flops + ex.head_flops, rel=1e-15)
    d = ex.to_dict()
    assert {"flops", "law_flops", "attention_flops", "head_flops"} <= set(d)
    short = executed_flops(1024, 16, 1e10, 64, 8, seq_len=1024, vocab_size=32_000)
    assert short.attention_flops == pytest.approx(ex.attention_flops / 4)


@given(
    d=st.floats(64, 1e5),
    n=st.floats(1, 500),
    tokens=st.floats(1, 1e15),
    g=st.sampled_from([1.0, 8.0, 64.0]),
)
def test_executed_flops_exceed_law_flops(d, n, tokens, g):
    ex = executed_flops(d, n, tokens, 64, g)
    assert ex.flops > ex.law_flops > 0
    assert math.isclose(ex.flops, ex.law_flops + ex.attention_flops + ex.head_flops, rel_tol=1e-12)


def test_executed_flops_vectorised_and_validated():
    ex = executed_flops([1024, 2048], 16, 1e10, 64, 8)
    assert ex.flops.shape == (2,)
    with pytest.raises(InputError, match="tokens"):
        executed_flops(1024, 16, 0, 64, 8)
    with pytest.raises(InputError, match="seq_len"):
        executed_flops(1024, 16, 1e10, 64, 8, seq_len=0)


# ------------------------------------------------------------------ budget from hardware


def test_budget_from_gpus_and_days_by_hand():
    b = budget_from_hardware("h100", 1024, days=30, mfu=0.4)
    assert b.flops == pytest.approx(1024 * 989e12 * 0.4 * 30 * 86_400, rel=1e-15)
    assert b.gpu_hours == 1024 * 30 * 24
    h = budget_from_hardware("h100", 1024, gpu_hours=1024 * 30 * 24, mfu=0.4)
    assert h.flops == pytest.approx(b.flops, rel=1e-15) and h.days == pytest.approx(30)
    assert "86,400" in b.description


def test_budget_from_hardware_validation():
    for kwargs, match in (
        ({"days": 1, "gpu_hours": 1}, "exactly one"),
        ({}, "exactly one"),
        ({"days": 0}, "days"),
        ({"days": 1, "mfu": 1.5}, "mfu"),
        ({"gpu_hours": float("inf")}, "gpu_hours"),
    ):
        with pytest.raises(InputError, match=match):
            budget_from_hardware("h100", 8, **kwargs)
    with pytest.raises(InputError, match="gpus"):
        budget_from_hardware("h100", 2.5, days=1)


def test_accelerator_memory_table():
    mem = {k: a.memory_bytes for k, a in ACCELERATORS.items()}
    assert mem == {"a100": 80e9, "h100": 80e9, "h200": 141e9, "b200": 192e9, "mi300x": 192e9}
    assert all("http" in a.memory_source for a in ACCELERATORS.values())


# ------------------------------------------------------------------ the planner's constraint


@given(
    g=st.sampled_from([1, 4, 16]),
    e=st.sampled_from([8, 64]),
    gpus=st.sampled_from([8, 32, 256]),
    recompute=st.sampled_from(["selective", "none"]),
)
def test_min_bytes_equals_the_least_layout_of_a_buildable_shape(g, e, gpus, recompute):
    from moeplan.training import min_bytes_per_gpu

    shape = moe_shape(d=4096, n=64, g=g, e=e)  # 32 heads, 64 blocks: every tp, pp
    least = min(
        memory_for_layout(shape, lay, recompute=recompute)[0].total
        for lay in candidate_layouts(shape, gpus)
    )
    got = min_bytes_per_gpu(4096, 64, e, g, gpus, recompute=recompute)
    assert got == pytest.approx(least, rel=1e-12)


def test_min_bytes_grows_with_the_model_and_is_vectorised():
    import numpy as np

    from moeplan.training import min_bytes_per_gpu

    d = np.arange(512.0, 8192.0, 128.0)
    m = min_bytes_per_gpu(d, d / 64, 64, 16, 1024)
    assert m.shape == d.shape and np.all(np.diff(m) > 0)
    # bounds written out: the GPUs together hold at least 16 bytes per parameter (one bf16
    # weight and gradient, the fp32 state sharded), so the busiest holds at least the average;
    # and the plain data-parallel layout (tp = pp = ep = 1) is one of the layouts
    n = d / 64
    params = d * d * (8 * 64 + 4) * n + d * 1024 * n + 2 * d * n + d + 2 * 50_257 * d
    assert np.all(m >= 16 * params / 1024 * (1 - 1e-12))
    plain_dp = 4 * params + 12 * params / 1024 + 4096 * d * (34 + 2 * 16) * n
    assert np.all(m <= plain_dp * (1 + 1e-12))


# ------------------------------------------------------------------ a plan on GPUs


def test_plan_on_1024_h100_for_30_days_fits_and_spends_the_time():
    """The issue's 'done when': a buildable architecture, a layout that fits, executed FLOPs
    and time, and an export that round-trips."""
    from moeplan import load_law
    from moeplan.export import hf_config
    from moeplan.hf import count_config
    from moeplan.shapes import ShapeRules, best_shape
    from moeplan.training import plan_training

    law = load_law("krajewski2024-moe")
    plan = plan_training(law, "h100", 1024, days=30)
    s = plan.choice.best.shape
    assert ShapeRules(tp=8).violations(s) == []
    assert plan.memory.fits and plan.memory.per_gpu_bytes.total <= 80e9
    hw = 1024 * 989e12 * 0.4 * 30 * 86_400
    assert plan.executed.flops == pytest.approx(hw, rel=1e-6)
    assert plan.time.days == pytest.approx(30, rel=1e-6)
    assert plan.executed.law_flops == pytest.approx(plan.budget_flops, rel=1e-9)
    assert plan.executed.flops > plan.budget_flops
    # the loss-optimal shape for that budget does not fit: the plan is memory-bound
    unconstrained = best_shape(law, plan.budget_flops, rules=ShapeRules(tp=8)).best.shape
    assert not training_memory(unconstrained, "h100", 1024).fits
    assert plan.memory_bound and any("memory limits" in w for w in plan.warnings)
    model = count_config(hf_config(s).config)
    assert model.n_total == pytest.approx(s.n_total, rel=0.02)
    d = plan.to_dict()
    assert {"flops", "law_flops", "gpu_hours", "days"} <= set(d["training_time"])
    assert d["training_memory"]["fits"] is True


def test_plan_from_flops_keeps_the_law_budget():
    from moeplan import load_law
    from moeplan.training import plan_training

    plan = plan_training(load_law("krajewski2024-moe"), "h100", 8, flops=1e20)
    assert plan.budget_flops == 1e20 and plan.hardware_budget is None
    assert plan.executed.law_flops == pytest.approx(1e20, rel=1e-12)
    assert plan.memory.fits and not plan.memory_bound
    with pytest.raises(InputError, match="not both"):
        plan_training(load_law("krajewski2024-moe"), "h100", 8, flops=1e20, days=1)

"""Time-optimal plans that a team can train: the width is capped where training memory (mixed-
precision Adam, ZeRO-1, the least model-parallel layout) no longer fits the budget's GPUs.

Independent checks: ZeRO-1 shards the fp32 Adam state (12 bytes per parameter) over every GPU
at best, so a model of N parameters needs at least 12·N / gpus bytes per GPU whatever the layout
(Rajbhandari et al. 2020); a plan above that bound cannot train, one far below it is not held
back by memory. Which shapes fit is moeplan.training.training_memory's (tested on its own in
tests/test_training.py against the EleutherAI cookbook and SPEC §9 by hand).
"""

from __future__ import annotations

import functools
import json

import pytest

from moeplan.cli import app
from moeplan.coefficients import load_law
from moeplan.plan import timeopt
from moeplan.plan.timeopt import optimize_time
from moeplan.shapes import Shape
from moeplan.training import training_memory

H200_BYTES = 141e9  # NVIDIA H200 datasheet, the catalogue's memory per GPU


@functools.lru_cache(maxsize=1)
def _h200():
    """The shipped profile read once (the name re-parses the YAML, ~0.1 s, on every call); the
    name itself goes through the CLI test here and test_profiles."""
    from moeplan.profiles import load_profile

    return load_profile("h200")


@pytest.fixture(scope="module")
def law():
    return load_law("krajewski2024-moe")


@pytest.fixture(scope="module")
def bound(law):
    return optimize_time(law, _h200(), choices=[1, 4, 16], gpus=64, days=10)


@pytest.fixture(scope="module")
def free(law):
    """The same GPU time with no memory limit (a budget in GPU-hours names no GPU count)."""
    return optimize_time(law, _h200(), choices=[1, 4, 16], gpu_hours=64 * 10 * 24)


def test_the_unconstrained_time_optimum_cannot_train_on_64_gpus(free):
    n_total = free.recommended.config.n_total
    assert 12.0 * n_total / 64 > H200_BYTES  # its Adam state alone is above 141 GB per GPU
    assert free.training_memory is None and not free.memory_bound


def test_memory_caps_the_plan_and_it_trains(bound, free):
    cfg = bound.recommended.config
    assert bound.memory_bound
    assert 12.0 * cfg.n_total / 64 < H200_BYTES
    tm = bound.training_memory
    assert tm is not None and tm.fits and tm.n_gpus == 64
    assert tm.per_gpu_bytes.total <= tm.gpu_memory_bytes == H200_BYTES
    lay = tm.layout
    assert lay.tp * lay.pp * lay.dp == 64 and lay.dp % lay.ep == 0
    # the limit costs loss: never below the unconstrained optimum of the same GPU time
    assert cfg.loss > free.recommended.config.loss
    assert cfg.d_model < free.recommended.config.d_model
    # the warning gives both models
    w = next(w for w in bound.warnings if w.startswith("training memory binds"))
    assert f"{free.continuous.config.d_model:.0f}" in w and f"{cfg.d_model:.0f}" in w


def test_the_plan_is_the_widest_whole_model_that_fits(bound):
    """One more block (d_model + 64 at aspect ratio 64) no longer fits any layout."""
    cfg = bound.recommended.config
    g = int(cfg.granularity)
    for n in (int(cfg.n_blocks), int(cfg.n_blocks) + 1):
        d = 64 * n
        shape = Shape(
            d_model=d,
            n_blocks=n,
            n_heads=d // 128,
            head_dim=128,
            d_expert=4 * d // g,
            n_experts=g * 64,
            top_k=g,
        )
        fits = training_memory(shape, "h200", 64).fits
        assert fits == (n == cfg.n_blocks), n


def test_time_optimal_is_never_worse_than_flop_optimal_under_the_same_cap(bound):
    # both plans are capped at what fits: the time-optimal width minimises the same loss
    for c in bound.candidates:
        assert c.time_optimal.config.loss <= c.flops_optimal.config.loss + 1e-12
    assert bound.continuous.config.loss <= bound.flops_optimal.config.loss + 1e-12


def test_enough_gpus_leave_the_plan_unchanged(law, free):
    # the same GPU time on 1,280 GPUs (0.5 days): memory does not bind, the plan is the free one
    many = optimize_time(law, _h200(), choices=[1, 4, 16], gpus=1280, days=0.5)
    assert not many.memory_bound and many.training_memory.fits
    assert many.recommended.config.loss == pytest.approx(free.recommended.config.loss, rel=1e-12)
    assert many.recommended.config.d_model == free.recommended.config.d_model


def test_joint_law_is_capped_too():
    res = optimize_time("ludziejewski2025-joint", _h200(), gpus=8, days=3)
    assert res.memory_bound and res.training_memory.fits
    # E top-1 SwiGLU experts of 9·d² parameters: Adam state alone fits 8 GPUs
    assert 12.0 * res.recommended.config.n_total / 8 < H200_BYTES


def test_no_width_fits_is_a_user_error(law, monkeypatch):
    from moeplan.errors import InputError

    monkeypatch.setattr(timeopt, "_gpu_memory_bytes", lambda prof: 1e6)  # a 1 MB GPU
    with pytest.raises(InputError) as e:
        optimize_time(law, _h200(), choices=[4], gpus=8, days=1)
    assert e.value.param == "gpus" and "fits 8 x" in str(e.value)


def test_cli_prints_and_reports_the_memory(runner):
    res = runner.invoke(
        app, ["optimize", "--profile", "h200", "--gpus", "64", "--days", "10", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["memory_bound"] is True
    assert doc["training_memory"]["fits"] is True
    assert doc["training_memory"]["n_gpus"] == 64
    res = runner.invoke(app, ["optimize", "--profile", "h200", "--gpus", "64", "--days", "10"])
    assert res.exit_code == 0
    assert "Training memory per GPU" in res.output and "fits" in res.output
    assert "training memory binds" in res.output


def test_sweep_marks_each_row_and_warns_once(law):
    from moeplan.plan.timeopt import sweep_time

    res = sweep_time(law, _h200(), 8, 1, 100, points=3, choices=[4])
    rows = res.rows()
    assert [r["memory_bound"] for r in rows] == [True, True, True]
    memory_lines = [w for w in res.warnings if "training memory binds" in w]
    assert len(memory_lines) == 1 and "3 of 3 budgets" in memory_lines[0]
    # each row is the single-budget plan (capped alike)
    one = optimize_time(law, _h200(), choices=[4], gpus=8, days=100)
    assert rows[-1]["loss"] == pytest.approx(one.recommended.config.loss, rel=1e-12)

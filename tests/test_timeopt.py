"""Planning by GPU time on the measured H200 profile (issue 16): ``plan.timeopt`` and
``optimize --profile``.

The reference is a brute force written here: the profile's raw numbers (read with yaml, not
through moeplan), our own log-linear interpolation, the law's formula written out from
SPEC.md, and a dense grid over d_model. No torch, no GPU.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from moeplan.cli import app
from moeplan.coefficients import load_law
from moeplan.plan.timeopt import optimize_time

H200 = Path(__file__).resolve().parents[1] / "moeplan" / "hardware_profiles" / "h200.yaml"
#: 8 GPUs x 30 days: budgets around 1e21 law-FLOPs; 64 x 10 days: about 1e22.
#: The search itself: a budget in GPU-hours (8 GPUs x 30 days) does not cap the width by
#: training memory (no GPU count), so the time-optimal width is the unconstrained one.
SMALL = dict(gpu_hours=8 * 30 * 24)
#: 64 GPUs x 10 days of GPU time on 512 GPUs (1.25 days): enough GPUs that training memory
#: does not bind (64 GPUs cannot hold the 1.2T-parameter time-optimal model in training:
#: tests/test_timeopt_memory.py).
BIG = dict(gpus=512, days=1.25)


# ---------------------------------------------------------------- independent time model


@functools.lru_cache(maxsize=1)
def _raw():
    raw = yaml.safe_load(H200.read_text())
    raw["_experts"] = [
        (p["expansion_rate"], p["d_model"], p["d_expert"], p["tflops"])
        for p in raw["expert"]
        if p["status"] == "ok"
    ]
    raw["_router"] = [
        (p["expansion_rate"], p["d_model"], 4.0 * p["d_model"] / p["top_k"], p["tflops"])
        for p in raw["router"]
        if p["status"] == "ok"
    ]
    return raw


def _lerp_log(x, xs, ys):
    """log-log piecewise-linear, clamped at the ends."""
    order = np.argsort(xs)
    xs, ys = np.log(np.asarray(xs, float)[order]), np.log(np.asarray(ys, float)[order])
    return float(np.exp(np.interp(math.log(x), xs, ys)))


def _rate_3d(points, e, d, de):
    """points: (expansion_rate, d_model, d_expert, tflops); lines in log de, then log d,
    then log e (the documented order)."""
    by_e = {}
    for pe, pd, pde, t in points:
        by_e.setdefault(pe, {}).setdefault(pd, []).append((pde, t))
    per_e = []
    for pe in sorted(by_e):
        rows = by_e[pe]
        ds = sorted(rows)
        vals = [_lerp_log(de, [p[0] for p in rows[r]], [p[1] for p in rows[r]]) for r in ds]
        per_e.append((pe, _lerp_log(d, ds, vals)))
    return _lerp_log(e, [p[0] for p in per_e], [p[1] for p in per_e])


def _seconds_per_token(raw, d, G, E=64.0, r=64.0, seq=4096, vocab=50257, c_r=14.0):
    nb, k, de, ne = d / r, G, 4.0 * d / G, E * G
    experts, router = raw["_experts"], raw["_router"]

    def dense(part):
        pts = [p for p in raw["dense"] if p["part"] == part and p["status"] == "ok"]
        return _lerp_log(d, [p["d_model"] for p in pts], [p["tflops"] for p in pts])

    attn = _lerp_log(
        d, [p["d_model"] for p in raw["attention"]], [p["tflops"] for p in raw["attention"]]
    )
    parts = [
        (6 * nb * k * 2 * d * de, _rate_3d(experts, E, d, de)),
        (6 * nb * 4 * d * d, dense("attention_proj")),
        (12 * nb * seq * d, attn),
        (c_r * nb * d * ne, _rate_3d(router, E, d, de)),
        (6 * d * vocab, dense("head")),
    ]
    return sum(f / (t * 1e12) for f, t in parts)


def _loss(law, d, D, G, E=64.0, r=64.0):
    k = law.coefficients
    N = (8 * E + 4) * d**3 / r
    return k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]


@functools.lru_cache(maxsize=1)
def _h200():
    """The shipped profile read once: the library calls take the object (parsing the YAML is
    ~0.1 s a call); the name's resolution is what the CLI tests below and test_profiles use."""
    from moeplan.profiles import load_profile

    return load_profile("h200")


@pytest.fixture(scope="module")
def law():
    return load_law("krajewski2024-moe")


@pytest.fixture(scope="module")
def small(law):
    return optimize_time(law, _h200(), choices=[1, 4, 16], **SMALL)


@pytest.fixture(scope="module")
def big(law):
    return optimize_time(law, _h200(), **BIG)


# ---------------------------------------------------------------- the brute force


def test_time_optimal_width_matches_an_independent_brute_force(law, small):
    raw = _raw()
    S = SMALL["gpu_hours"] * 3600.0
    assert small.budget.gpu_seconds == pytest.approx(S, rel=1e-15)
    for cand in small.candidates:
        G = cand.choice

        # the rates are piecewise power laws with kinks at the measured shapes (powers of
        # two here): the optimum may sit on a kink, so the grid holds them all
        def losses_on(ds):
            return [_loss(law, d, S / _seconds_per_token(raw, d, G), G) for d in ds]

        ds = np.union1d(
            np.exp(np.linspace(math.log(1024), math.log(8192), 120)), 2.0 ** np.arange(10, 14)
        )
        losses = losses_on(ds)
        i = int(np.argmin(losses))
        assert 0 < i < len(ds) - 1, "the brute-force optimum must be inside the grid"
        # then a fine grid between the neighbours (with the kink there, if any)
        ds = np.union1d(np.exp(np.linspace(math.log(ds[i - 1]), math.log(ds[i + 1]), 201)), [ds[i]])
        losses = losses_on(ds)
        i = int(np.argmin(losses))
        t = cand.time_optimal
        # same optimum: loss to 1e-6 (the fine grid step is 0.02% in d_model)
        assert t.config.loss == pytest.approx(losses[i], rel=1e-6)
        assert t.config.d_model == pytest.approx(ds[i], rel=3e-3)
        # its time per token and tokens are the profile's, by our own interpolation
        assert t.seconds_per_token == pytest.approx(
            _seconds_per_token(raw, t.config.d_model, G), rel=1e-9
        )
        assert t.config.tokens == pytest.approx(S / t.seconds_per_token, rel=1e-12)
        # no grid point beats it
        assert t.config.loss <= min(losses) * (1 + 1e-12)


def test_flops_optimal_plan_spends_the_same_time_at_its_own_speed(law, small):
    raw = _raw()
    S = SMALL["gpu_hours"] * 3600.0
    for cand in small.candidates:
        f = cand.flops_optimal
        G, d = cand.choice, f.config.d_model
        t = _seconds_per_token(raw, d, G)
        assert f.config.tokens * t == pytest.approx(S, rel=1e-9)
        # it is the law's FLOP-optimal width for the FLOPs it executes: nudging d either way
        # at those FLOPs does not lower the loss
        F = f.config.flops
        T = F / f.config.tokens
        for nudge in (0.99, 1.01):
            d2 = d * nudge
            T2 = T * nudge**3 * (12 * 6 * d2 + 64 * G * 14) / (12 * 6 * d + 64 * G * 14) / nudge
            assert _loss(law, d2, F / T2, G) >= f.config.loss - 1e-12
        # and the time-optimal width is at least as good in the same time
        assert cand.time_optimal.config.loss <= f.config.loss + 1e-12


def test_equal_time_granularity_is_at_most_the_flop_optimal_one(big):
    # measured on the shipped H200 profile, 64 GPUs x 10 days (about 1e22 FLOPs):
    # time-optimal G = 4 (loss 1.945), FLOP-optimal G = 32 (1.03e22 FLOPs, loss 2.012 in the
    # same time)
    rec, fo = big.recommended, big.flops_optimal
    assert 5e21 < fo.budget_flops < 5e22
    assert rec.choice <= fo.choice
    assert rec.choice < fo.choice  # strictly, on this profile: narrow experts are slow
    assert rec.config.loss < big.loss_at_same_time
    assert big.loss_at_same_time == fo.config.loss
    # the per-G table: the time-optimal loss never above the FLOP-optimal loss at that G
    for c in big.candidates:
        assert c.time_optimal.config.loss <= c.flops_optimal.config.loss + 1e-12
    # efficiency falls with G at the time-optimal shapes (measured: 601 -> 63 TFLOP/s)
    eff = {c.choice: c.time_optimal.tflops for c in big.candidates}
    assert eff[1] > eff[16] > eff[64] > eff[256]


def test_recommended_is_a_whole_model_next_to_the_continuous_optimum(big):
    rec, cont = big.recommended, big.continuous
    assert rec.config.realizable and rec.config.n_blocks == int(rec.config.n_blocks)
    assert rec.config.d_model == 64 * rec.config.n_blocks
    assert abs(rec.config.d_model - cont.config.d_model) <= 64
    assert rec.config.loss >= cont.config.loss - 1e-9


def test_a2a_model_adds_its_bytes_over_bandwidth(law):
    bw = 50e9
    base = optimize_time(law, _h200(), choices=[8], gpu_hours=20_000)
    comm = optimize_time(law, _h200(), choices=[8], gpu_hours=20_000, a2a_bandwidth=bw)
    c = comm.candidates[0].time_optimal
    d, nb = c.config.d_model, c.config.n_blocks
    assert c.communication_seconds_per_token == pytest.approx(4 * nb * 8 * d * 2 / bw, rel=1e-12)
    # slower tokens: fewer tokens and a worse loss than without the model
    assert comm.recommended.config.loss > base.recommended.config.loss
    assert any("model" in w and "not a measurement" in w for w in comm.warnings)
    assert any("not measured" in w for w in base.warnings)


def test_joint_and_dense_laws_plan_by_time():
    joint = optimize_time("ludziejewski2025-joint", _h200(), **SMALL)
    assert joint.choice == "n_experts" and joint.recommended.config.top_k == 1
    assert {c.choice for c in joint.candidates} == {1, 2, 4, 8, 16, 32}
    dense = optimize_time("krajewski2024-dense", _h200(), **SMALL)
    assert dense.choice is None and len(dense.candidates) == 1
    assert dense.recommended.config.loss > 0


# ---------------------------------------------------------------- CLI


def test_cli_json_keys(runner):
    res = runner.invoke(
        app,
        [
            "optimize",
            "--profile",
            "h200",
            "--gpus",
            "8",
            "--days",
            "30",
            "--granularity",
            "1,8",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["command"] == "optimize" and doc["objective"] == "time"
    for key in (
        "recommended",
        "continuous",
        "flops_optimal",
        "candidates",
        "budget",
        "profile",
        "warnings",
        "budget_flops",
        "communication",
    ):
        assert key in doc
    assert doc["flops_optimal"]["loss_at_same_time"] == doc["flops_optimal"]["loss"]
    assert doc["budget"]["gpu_hours"] == 8 * 30 * 24
    assert doc["profile"]["name"] == "h200"
    for key in (
        "seconds_per_token",
        "achieved_tflops",
        "efficiency",
        "granularity",
        "d_model",
        "tokens",
        "loss",
        "profile_extrapolated",
    ):
        assert key in doc["recommended"]
    assert [c["choice"] for c in doc["candidates"]] and len(doc["candidates"]) == 2
    assert doc["communication"] == "not measured"


def test_cli_table_shows_both_losses_and_efficiency(runner):
    res = runner.invoke(
        app,
        [
            "optimize",
            "--profile",
            "h200",
            "--gpu-hours",
            "50000",
            "--granularity",
            "1,16",
            "--a2a-bandwidth",
            "100",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "FLOP-opt loss" in res.stdout and "time-opt loss" in res.stdout
    assert "MODEL" in res.stdout and "TFLOP/s" in res.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--profile", "nope", "--gpus", "8", "--days", "1"], "unknown profile"),
        (["--profile", "h200"], "--gpus N --days T"),
        (["--profile", "h200", "--days", "3"], "--gpus"),
        (["--profile", "h200", "--gpus", "8", "--days", "1", "--gpu-hours", "5"], "exactly one"),
        (["--profile", "h200", "--gpus", "8", "--days", "1", "--flops", "1e22"], "--flops"),
        (["--flops", "1e22", "--days", "3"], "--profile"),
        (["--flops", "1e22", "--a2a-bandwidth", "50"], "--profile"),
        (["--profile", "h200", "--gpus", "8", "--days", "1", "--experts", "4"], "experts"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(runner, args, words):
    res = runner.invoke(app, ["optimize"] + args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert words in res.output


# ---------------------------------------------------------------- compare and sweep by time


def test_sweep_by_time_rows_match_single_plans(law):
    from moeplan.plan.timeopt import sweep_time

    res = sweep_time(law, _h200(), 8, 3, 30, points=2, choices=[1, 4, 16])
    rows = res.rows()
    assert [r["days"] for r in rows] == [3, 30]
    # the vectorised search over budgets gives the single-budget plan exactly (memory-capped
    # alike: 8 GPUs)
    small = optimize_time(law, _h200(), choices=[1, 4, 16], gpus=8, days=30)
    last = rows[-1]
    assert last["loss"] == pytest.approx(small.recommended.config.loss, rel=1e-12)
    assert last["choice"] == small.recommended.choice
    assert last["loss_at_same_time"] == pytest.approx(small.loss_at_same_time, rel=1e-12)
    # more time, lower loss
    assert rows[1]["loss"] < rows[0]["loss"]


def test_cli_sweep_and_compare_by_time(runner):
    res = runner.invoke(
        app,
        [
            "sweep",
            "--profile",
            "h200",
            "--gpus",
            "8",
            "--from-days",
            "1",
            "--to-days",
            "100",
            "--points",
            "2",
            "--granularity",
            "1,8",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["command"] == "sweep" and doc["objective"] == "time"
    assert [r["days"] for r in doc["rows"]] == [1, 100]
    for key in (
        "choice",
        "loss",
        "loss_at_same_time",
        "flops_optimal_choice",
        "gpu_hours",
        "achieved_tflops",
        "loss_by_choice",
    ):
        assert key in doc["rows"][0]
    res = runner.invoke(
        app,
        [
            "compare",
            "--profile",
            "h200",
            "--gpus",  # 8 GPUs x 30 days of GPU time on enough GPUs that memory does not bind
            "240",
            "--days",
            "1",
            "--granularity",
            "1,8",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["rows"][0]
    for key in ("dense", "moe_g1", "moe_opt", "moe_flops_optimal", "loss_gain_vs_dense"):
        assert key in row
    assert row["moe_opt"]["loss"] <= row["moe_g1"]["loss"] + 1e-12
    assert row["moe_opt"]["loss"] <= row["moe_flops_optimal"]["loss"] + 1e-12
    res = runner.invoke(
        app,
        ["compare", "--profile", "h200", "--gpu-hours", "5000", "--granularity", "8", "--csv"],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith("gpu_hours,days,model")


@pytest.mark.parametrize(
    "args, words",
    [
        (["sweep", "--profile", "h200", "--gpus", "8"], "--from-days"),
        (
            ["sweep", "--profile", "h200", "--gpus", "8", "--from-days", "10", "--to-days", "1"],
            "shorter time first",
        ),
        (["sweep", "--from", "1e20", "--to", "1e22", "--from-days", "1"], "--profile"),
        (["sweep"], "--from F1 --to F2"),
        (["compare", "--profile", "h200"], "--days"),
        (["compare", "--profile", "h200", "--days", "3"], "--gpus"),
        (["compare", "--flops", "1e22", "--days", "3"], "--profile"),
        (["compare"], "--flops"),
    ],
)
def test_cli_sweep_compare_bad_input(runner, args, words):
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert words in res.output


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=4, deadline=None)
@given(
    hours=st.floats(1e3, 1e6),
    g=st.sampled_from([1.0, 2.0, 8.0, 32.0, 128.0]),
    factor=st.floats(0.5, 2.0),
)
def test_no_other_width_beats_the_time_optimal_one(law, hours, g, factor):
    res = optimize_time(law, _h200(), gpu_hours=hours, choices=[g])
    t = res.continuous
    raw = _raw()
    S = hours * 3600.0
    d = t.config.d_model * factor
    if d >= 64:  # one block at least
        assert t.config.loss <= _loss(law, d, S / _seconds_per_token(raw, d, g), g) + 1e-12
    assert t.config.loss <= res.loss_at_same_time + 1e-12
    assert res.recommended.config.loss >= t.config.loss - 1e-12


def test_warnings_memory_law_range_and_profile_grid(law):
    # 8 x 30 days at G = 4: the time-optimal ~694B parameters cannot train on 8 GPUs
    res = optimize_time(law, _h200(), choices=[4], gpus=8, days=30)
    assert res.memory_bound
    assert any("training memory binds" in w and "8 x NVIDIA H200" in w for w in res.warnings)
    # the same GPU-hours without a number of GPUs: nothing to compare the memory with, said
    res = optimize_time(law, _h200(), choices=[4], gpu_hours=8 * 30 * 24)
    assert res.budget.gpus is None and res.budget.days is None
    assert res.training_memory is None and not res.memory_bound
    assert any("training memory is not checked" in w for w in res.warnings)
    # a tiny budget: the law extrapolates and the shape is below the profile's grid
    tiny = optimize_time(law, _h200(), choices=[4], gpu_hours=0.01)
    assert tiny.recommended.extrapolated and tiny.recommended.config.d_model < 1024
    assert any("below the range krajewski2024-moe was fitted on" in w for w in tiny.warnings)
    assert any("outside the profile's measured grid" in w for w in tiny.warnings)


@pytest.mark.parametrize(
    "command",
    [
        ["optimize", "--gpus", "8", "--days", "3"],
        ["compare", "--gpus", "8", "--days", "3"],
        ["sweep", "--gpus", "8", "--from-days", "1", "--to-days", "3"],
    ],
)
def test_cli_other_laws_choice_is_refused_by_time(runner, command):
    res = runner.invoke(
        app,
        command + ["--profile", "h200", "--law", "ludziejewski2025-joint", "--granularity", "4"],
    )
    assert res.exit_code == 2 and "--granularity does not apply" in res.output, res.output
    res = runner.invoke(app, command + ["--profile", "h200", "--experts", "4"])
    assert res.exit_code == 2 and "--experts does not apply" in res.output, res.output


def test_time_optimal_plan_carries_its_loss_band_over_the_rounding_corners():
    # the loss is monotone in every coefficient at fixed N, D, G (N, D > 1, G >= 1), so its range
    # over the published rounding box is spanned by the box's corners, written out here
    import itertools

    from reference import moe_loss

    law = load_law("krajewski2024-moe")
    cfg = optimize_time(law, _h200(), choices=[1, 4, 16], **SMALL).recommended.config
    names = ("a", "alpha", "b", "beta", "g", "gamma", "c")
    ends = [
        (law.coefficients[k] - law.precision[k], law.coefficients[k] + law.precision[k])
        for k in names
    ]
    corners = [
        moe_loss(cfg.n_total, cfg.tokens, cfg.granularity, dict(zip(names, v)))
        for v in itertools.product(*ends)
    ]
    lo, hi = cfg.loss_range
    assert lo == pytest.approx(min(corners), rel=1e-12)
    assert hi == pytest.approx(max(corners), rel=1e-12)
    assert lo < cfg.loss < hi

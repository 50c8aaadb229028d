"""``optimize --profile``: the time-optimal plan on a measured profile (issue 16), rendered."""

from __future__ import annotations

import math

from ..errors import InputError
from ..units import format_count, format_sci
from .render import Report, Table

#: Options of the FLOPs planner that the time planner does not take (flag -> value given).
_NOT_WITH_PROFILE = (
    "--flops",
    "--target-loss",
    "--params",
    "--memory",
    "--kv-tokens",
    "--inference-tokens",
    "--max-total-params",
    "--max-tokens",
    "--gpu",
    "--mfu",
    "--vocab-size",
    "--max-granularity",
    "--shape-tolerance",
    "--tied-embeddings",
    "--plot",
    "--dense-law",
    "--from",
    "--to",
    "--tp",
    "--micro-batch",
    "--hf-config",
)


def refuse_without_profile(
    given: dict,
    what: str = "plan by GPU time on a measured profile, e.g. --profile h200 --gpus 8 --days 30",
) -> None:
    """The first of the GPU-time options ``given`` (flag -> value) that is set without
    --profile, as a user error saying what it is for (``what``)."""
    for flag, value in given.items():
        if value is not None:
            raise InputError(f"{flag} goes with --profile NAME ({what})")


def refuse_with_profile(given: dict) -> None:
    """The first FLOPs-planner option given together with --profile, as a user error."""
    for flag in _NOT_WITH_PROFILE:
        if given.get(flag) not in (None, 0, 0.0, False):
            raise InputError(
                f"{flag} does not go with --profile: --profile plans by GPU time "
                f"(--gpus N --days T, or --gpu-hours H); drop {flag} or --profile"
            )


def choices_for(law, granularity, experts):
    """The candidate list for the law's choice; the other law's flag is a user error."""
    joint = law.choice == "n_experts"
    for flag, value, ok in (
        ("--granularity", granularity, not joint),
        ("--experts", experts, joint),
    ):
        if value and not ok:
            raise InputError(
                f"{flag} does not apply to {law.name}: it plans {law.choice or 'a dense model'}"
            )
    return experts if joint else granularity


def _f(x, spec=".4f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def _shape(cfg) -> str:
    if cfg.realizable:
        return f"{cfg.d_model:.0f} x {cfg.n_blocks:.0f}"
    return f"{cfg.d_model:.0f} x {cfg.n_blocks:.1f}"


def _eff(plan) -> str:
    if plan.efficiency is None:
        return f"{plan.tflops:.0f}"
    return f"{plan.tflops:.0f} ({plan.efficiency:.0%})"


def render_time_plan(res) -> Report:
    """Tables and summary of a :class:`~moeplan.plan.timeopt.TimeOptimizeResult`."""
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    sym = {"granularity": "G", "n_experts": "E"}.get(res.choice, "-")
    rec, fo = res.recommended, res.flops_optimal
    cfg = rec.config
    head = (
        f"{res.law}; {res.budget.description} on profile {res.profile['name']} "
        f"({res.profile['gpu']})"
    )
    rows = []
    if res.choice == "granularity":
        rows += [
            ["granularity G / top-k", f"{cfg.granularity:g} / {cfg.top_k:g}"],
            ["expansion rate E / n_experts", f"{cfg.expansion_rate:g} / {cfg.n_experts:g}"],
        ]
    elif res.choice == "n_experts":
        rows.append(["experts E / top-k", f"{cfg.n_experts:g} / {cfg.top_k:g}"])
    rows += [
        ["d_model x n_blocks", _shape(cfg)],
        ["d_expert" if res.choice else "d_ff", f"{cfg.d_expert:g}"],
        [
            "n_active / n_total (non-embedding)",
            f"{format_count(cfg.n_active)} / {format_count(cfg.n_total)}",
        ],
        ["tokens", f"{format_count(cfg.tokens)} ({cfg.tokens:.4g})"],
        ["time per token (one GPU)", f"{rec.seconds_per_token:.4g} s"],
        ["achieved TFLOP/s per GPU (of peak)", _eff(rec)],
        ["training FLOPs (the law's count)", format_sci(rec.budget_flops)],
        [
            "predicted loss (within rounding)" if cfg.loss_range else "predicted loss",
            f"{cfg.loss:.4f}"
            + (f" ({cfg.loss_range[0]:.2f}–{cfg.loss_range[1]:.2f})" if cfg.loss_range else ""),
        ],
        [
            f"FLOP-optimal plan ({sym} = {fo.choice:g}, d_model {fo.config.d_model:.0f})"
            if res.choice
            else f"FLOP-optimal plan (d_model {fo.config.d_model:.0f})",
            f"loss {fo.config.loss:.4f} in the same GPU time "
            f"({format_sci(fo.budget_flops)} FLOPs at {fo.tflops:.0f} TFLOP/s)",
        ],
    ]
    if rec.communication_seconds_per_token is not None:
        rows.append(
            [
                "all-to-all (MODEL, --a2a-bandwidth)",
                f"{rec.communication_seconds_per_token:.4g} s per token",
            ]
        )
    tables = [Table(f"Time-optimal configuration ({head})", ["", "value"], rows)]
    if res.training_memory is not None:
        from .plan_views import _memory_table

        tables.append(_memory_table(res.training_memory))
    if res.choice is not None:
        c_rows = []
        for c in res.candidates:
            t, f = c.time_optimal, c.flops_optimal
            c_rows.append(
                [
                    f"{c.choice:g}",
                    _f(f.config.loss),
                    f"{f.config.d_model:.0f}",
                    _eff(t),
                    f"{t.config.d_model:.0f}",
                    format_count(t.config.tokens),
                    _f(t.config.loss),
                    "yes" if t.extrapolated else "no",
                ]
            )
        tables.append(
            Table(
                f"Per {sym}: FLOP-optimal vs time-optimal width, both trained for the same GPU time",
                [
                    sym,
                    "FLOP-opt loss",
                    "FLOP-opt d_model",
                    "TFLOP/s (of peak)",
                    "time-opt d_model",
                    "tokens",
                    "time-opt loss",
                    "extrapolated",
                ],
                c_rows,
                caption="FLOP-opt: the paper's width for the FLOPs this G executes in the time at "
                "its measured speed; TFLOP/s: measured speed of the time-optimal model "
                "(all parts, one GPU); extrapolated: shape outside the profile's grid"
                + (
                    f"; widths at most what trains on {res.budget.gpus} GPUs"
                    if res.training_memory is not None
                    else ""
                ),
            )
        )
    summary = (
        f"Train {format_count(cfg.n_total)} total / {format_count(cfg.n_active)} active parameters"
    )
    if res.choice == "granularity":
        summary += f" (G = {cfg.granularity:g})"
    elif res.choice == "n_experts":
        summary += f" (E = {cfg.n_experts:g})"
    summary += (
        f" on {format_count(cfg.tokens)} tokens: predicted loss {cfg.loss:.4f}; the "
        f"FLOP-optimal plan reaches {fo.config.loss:.4f} in the same time."
    )
    return Report(data=data, tables=tables, lines=[summary], warnings=warnings)


def time_budgets_for_compare(gpus, days, gpu_hours):
    """Budgets of ``compare --profile``: one per --days (with --gpus) or per --gpu-hours."""
    from ..plan.timeopt import time_budget

    if not days and not gpu_hours:
        raise InputError(
            "--profile compares by GPU time: give --gpus N and --days T (repeat "
            "--days for several budgets) or --gpu-hours H"
        )
    if days and gpu_hours:
        raise InputError("give --days (with --gpus) or --gpu-hours, not both")
    if days and gpus is None:
        raise InputError("--days goes with --gpus N (the budget is N GPUs x T days)")
    if days:
        return [time_budget(gpus, t) for t in days]
    return [time_budget(gpus, gpu_hours=h) for h in gpu_hours]


def render_time_compare(res) -> Report:
    """``compare --profile``: one row per model and budget, all for the same GPU time."""
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    sym = {"granularity": "G", "n_experts": "E"}.get(res.choice, "-")
    rows, csv_rows, lines = [], [], []
    for r in res.rows:
        b = r.budget.description
        models = [
            ("dense", f"dense ({res.dense_law})", r.dense),
            ("moe_g1", f"MoE, {sym} = 1", r.moe_choice1),
            ("moe_opt", f"MoE, time-optimal {sym}", r.moe_opt),
            ("moe_flops_optimal", f"MoE, FLOP-optimal {sym}", r.moe_flops_optimal),
        ]
        for key, label, p in models:
            if p is None:
                continue
            c = p.config
            choice = "-" if res.choice is None or key == "dense" else f"{p.choice:g}"
            rows.append(
                [
                    b,
                    label,
                    choice,
                    _shape(c),
                    format_count(c.n_total),
                    format_count(c.tokens),
                    _eff(p),
                    _f(c.loss),
                ]
            )
            csv_rows.append(
                [
                    r.budget.gpu_hours,
                    r.budget.days,
                    key,
                    None if key == "dense" else p.choice,
                    c.d_model,
                    c.n_blocks,
                    c.n_total,
                    c.n_active,
                    c.tokens,
                    p.tflops,
                    c.loss,
                ]
            )
        gain = r.moe_flops_optimal.config.loss - r.moe_opt.config.loss
        lines.append(
            f"{b}: the time-optimal MoE ({sym} = {r.moe_opt.choice:g}) reaches "
            f"{r.moe_opt.config.loss:.4f}, {gain:.4f} below the FLOP-optimal "
            f"{sym} = {r.moe_flops_optimal.choice:g} in the same time."
        )
    table = Table(
        f"Models for the same GPU time ({res.law}; profile {res.profile['name']}, "
        f"{res.profile['gpu']})",
        [
            "budget",
            "model",
            sym,
            "d_model x n_blocks",
            "n_total",
            "tokens",
            "TFLOP/s (of peak)",
            "loss",
        ],
        rows,
        caption="each model trained for the budget's GPU time at its measured speed "
        "(one GPU's throughput; communication between GPUs not counted "
        "unless --a2a-bandwidth)",
    )
    return Report(
        data=data,
        tables=[table],
        lines=lines,
        warnings=warnings,
        csv_columns=[
            "gpu_hours",
            "days",
            "model",
            res.choice or "granularity",
            "d_model",
            "n_blocks",
            "n_total",
            "n_active",
            "tokens",
            "achieved_tflops",
            "loss",
        ],
        csv_rows=csv_rows,
    )


def render_time_sweep(res) -> Report:
    """``sweep --profile``: the time-optimal plan per wall-clock budget."""
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    sym = {"granularity": "G", "n_experts": "E"}.get(res.choice, "-")
    rows, csv_rows = [], []
    cols = list(res.COLUMNS)
    for row in res.rows():
        rows.append(
            [
                f"{row['days']:.3g}",
                f"{row['gpu_hours']:,.0f}",
                "-" if res.choice is None else f"{row['choice']:g}",
                f"{row['d_model']:.0f} x {row['n_blocks']:.0f}",
                format_count(row["n_total"]),
                format_count(row["tokens"]),
                format_sci(row["flops"]),
                f"{row['achieved_tflops']:.0f}",
                _f(row["loss"]),
                "-" if res.choice is None else f"{row['flops_optimal_choice']:g}",
                _f(row["loss_at_same_time"]),
                "yes" if row["profile_extrapolated"] else "no",
            ]
        )
        csv_rows.append([row[c] for c in cols])
    gpus = res.results[0].budget.gpus
    table = Table(
        f"Time-optimal frontier ({res.law}; {gpus} GPUs, profile "
        f"{res.profile['name']}, {res.profile['gpu']})",
        [
            "days",
            "GPU-hours",
            sym,
            "d_model x n_blocks",
            "n_total",
            "tokens",
            "FLOPs",
            "TFLOP/s",
            "loss",
            f"FLOP-opt {sym}",
            "its loss",
            "extrapolated",
        ],
        rows,
        caption="its loss: the FLOP-optimal plan trained for the same GPU time at its "
        "measured speed",
    )
    return Report(data=data, tables=[table], warnings=warnings, csv_columns=cols, csv_rows=csv_rows)

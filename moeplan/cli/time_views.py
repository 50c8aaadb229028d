"""``optimize --profile``: the time-optimal plan on a measured profile (issue 16), rendered."""

from __future__ import annotations

import math

from ..errors import InputError
from ..units import format_count, format_sci
from .render import Report, Table

#: Options of the FLOPs planner that the time planner does not take (flag -> value given).
_NOT_WITH_PROFILE = ("--flops", "--target-loss", "--params", "--memory", "--kv-tokens",
                     "--inference-tokens", "--max-total-params", "--max-tokens", "--gpu",
                     "--mfu", "--vocab-size", "--max-granularity", "--shape-tolerance")


def refuse_without_profile(days, gpu_hours, a2a_bandwidth) -> None:
    """--days, --gpu-hours and --a2a-bandwidth plan by time: they need --profile."""
    for flag, value in (("--days", days), ("--gpu-hours", gpu_hours),
                        ("--a2a-bandwidth", a2a_bandwidth)):
        if value is not None:
            raise InputError(f"{flag} goes with --profile NAME (plan by GPU time on a measured "
                             f"profile, e.g. --profile h200 --gpus 8 --days 30)")


def refuse_with_profile(given: dict) -> None:
    """The first FLOPs-planner option given together with --profile, as a user error."""
    for flag in _NOT_WITH_PROFILE:
        if given.get(flag) not in (None, 0, 0.0, False):
            raise InputError(f"{flag} does not go with --profile: --profile plans by GPU time "
                             f"(--gpus N --days T, or --gpu-hours H); drop {flag} or --profile")


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
    head = (f"{res.law}; {res.budget.description} on profile {res.profile['name']} "
            f"({res.profile['gpu']})")
    rows = []
    if res.choice == "granularity":
        rows += [["granularity G / top-k", f"{cfg.granularity:g} / {cfg.top_k:g}"],
                 ["expansion rate E / n_experts", f"{cfg.expansion_rate:g} / {cfg.n_experts:g}"]]
    elif res.choice == "n_experts":
        rows.append(["experts E / top-k", f"{cfg.n_experts:g} / {cfg.top_k:g}"])
    rows += [
        ["d_model x n_blocks", _shape(cfg)],
        ["d_expert" if res.choice else "d_ff", f"{cfg.d_expert:g}"],
        ["n_active / n_total (non-embedding)",
         f"{format_count(cfg.n_active)} / {format_count(cfg.n_total)}"],
        ["tokens", f"{format_count(cfg.tokens)} ({cfg.tokens:.4g})"],
        ["time per token (one GPU)", f"{rec.seconds_per_token:.4g} s"],
        ["achieved TFLOP/s per GPU (of peak)", _eff(rec)],
        ["training FLOPs (the law's count)", format_sci(rec.budget_flops)],
        ["predicted loss", f"{cfg.loss:.4f}"],
        [f"FLOP-optimal plan ({sym} = {fo.choice:g}, d_model {fo.config.d_model:.0f})"
         if res.choice else f"FLOP-optimal plan (d_model {fo.config.d_model:.0f})",
         f"loss {fo.config.loss:.4f} in the same GPU time "
         f"({format_sci(fo.budget_flops)} FLOPs at {fo.tflops:.0f} TFLOP/s)"],
    ]
    if rec.communication_seconds_per_token is not None:
        rows.append(["all-to-all (MODEL, --a2a-bandwidth)",
                     f"{rec.communication_seconds_per_token:.4g} s per token"])
    tables = [Table(f"Time-optimal configuration ({head})", ["", "value"], rows)]
    if res.choice is not None:
        c_rows = []
        for c in res.candidates:
            t, f = c.time_optimal, c.flops_optimal
            c_rows.append([f"{c.choice:g}", _f(f.config.loss), f"{f.config.d_model:.0f}",
                           _eff(t), f"{t.config.d_model:.0f}", format_count(t.config.tokens),
                           _f(t.config.loss), "yes" if t.extrapolated else "no"])
        tables.append(Table(
            f"Per {sym}: FLOP-optimal vs time-optimal width, both trained for the same GPU time",
            [sym, "FLOP-opt loss", "FLOP-opt d_model", "TFLOP/s (of peak)", "time-opt d_model",
             "tokens", "time-opt loss", "extrapolated"], c_rows,
            caption="FLOP-opt: the paper's width for the FLOPs this G executes in the time at "
                    "its measured speed; TFLOP/s: measured speed of the time-optimal model "
                    "(all parts, one GPU); extrapolated: shape outside the profile's grid"))
    summary = (f"Train {format_count(cfg.n_total)} total / {format_count(cfg.n_active)} active "
               f"parameters")
    if res.choice == "granularity":
        summary += f" (G = {cfg.granularity:g})"
    elif res.choice == "n_experts":
        summary += f" (E = {cfg.n_experts:g})"
    summary += (f" on {format_count(cfg.tokens)} tokens: predicted loss {cfg.loss:.4f}; the "
                f"FLOP-optimal plan reaches {fo.config.loss:.4f} in the same time.")
    return Report(data=data, tables=tables, lines=[summary], warnings=warnings)

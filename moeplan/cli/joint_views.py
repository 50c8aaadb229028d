"""Reports for the Joint MoE law (ludziejewski2025-joint): plans, comparisons, sweeps, LR.

Each ``joint_*_report`` function takes the same arguments as the core function it wraps
(:mod:`moeplan.joint`) and returns a :class:`~moeplan.cli.render.Report`, so a command needs
one line, e.g.::

    finish(joint_optimize_report(law, flops, memory=memory, kv_tokens=kv_tokens,
                                 bytes_per_param=bpp, inference_tokens=inf, experts=experts,
                                 max_total_params=max_total), fmt)

``*_from_result`` variants render an already computed core result.
"""

from __future__ import annotations

import math

from ..joint import (
    LR_FORMULA,
    LR_SOURCE,
    JointComparison,
    JointConfig,
    JointPlan,
    JointSweep,
    compare_joint,
    learning_rate_advice,
    optimize_joint,
    sweep_joint,
)
from ..units import format_bytes, format_count, format_sci
from .render import Report, Table

_BINDING_TEXT = {None: "none", "": "none", "memory": "memory limit",
                 "max_total_params": "parameter limit", "smallest_model": "smallest model"}


_BINDING_SHORT = {None: "-", "": "-", "memory": "memory", "max_total_params": "params",
                  "smallest_model": "min size"}


def _binding(label) -> str:
    return _BINDING_TEXT.get(label, str(label))


def _binding_short(label) -> str:
    """Narrow form for table columns (80-column terminals)."""
    return _BINDING_SHORT.get(label, str(label))


def _loss(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _count(x) -> str:
    return "-" if x is None else format_count(x)


def _shape(cfg: JointConfig, sep: str = " x ") -> str:
    if cfg.realizable:
        return f"{cfg.d_model:.0f}{sep}{cfg.n_blocks:.0f}"
    return f"{cfg.d_model:.1f}{sep}{cfg.n_blocks:.2f}"


# --------------------------------------------------------------------------------------------
# optimize
# --------------------------------------------------------------------------------------------

def config_rows(cfg: JointConfig, limit: float | None = None) -> list[list[str]]:
    """Key/value rows describing one configuration (for a two-column table)."""
    mem = format_bytes(cfg.memory_bytes)
    if cfg.kv_cache_bytes:
        mem += f" (KV cache {format_bytes(cfg.kv_cache_bytes)})"
    if limit is not None:
        mem += f" of {format_bytes(limit)}"
    rows = [
        ["experts E / top-k", f"{cfg.n_experts:g} / 1"],
        ["d_model x n_blocks", _shape(cfg)],
        ["heads (dim 64) / d_expert", f"{cfg.d_model / 64:.4g} / {3 * cfg.d_model:.6g}"],
        ["n_active: non-embedding / with embedding",
         f"{format_count(cfg.n_active)} / {format_count(cfg.n_active_with_embedding)}"],
        ["n_total: non-embedding / with embedding",
         f"{format_count(cfg.n_total)} / {format_count(cfg.n_total_with_embedding)}"],
        ["n_embedding (V x d_model, input + head)", format_count(cfg.n_embedding)],
        [f"memory ({cfg.bytes_per_param:g} bytes/param)", mem],
        ["tokens", format_count(cfg.tokens)],
        ["tokens per active param (non-emb.)", f"{cfg.tokens / cfg.n_active:.3g}"],
        ["training FLOPs (6 N_act D)", format_sci(cfg.flops)],
    ]
    if cfg.inference_tokens:
        rows.append(["inference FLOPs (2 N_act D_inf)", format_sci(cfg.inference_flops)])
    rows += [
        ["predicted loss", f"{cfg.loss:.4f}"],
        ["binding constraint", _binding(cfg.binding_constraint)],
        ["learning rate (Ludziejewski et al. 2025)", f"{cfg.learning_rate:.3g}"],
    ]
    return rows


CANDIDATE_CSV_COLUMNS = [
    "n_experts", "feasible", "d_model", "n_blocks", "n_active", "n_total",
    "n_active_with_embedding", "n_total_with_embedding", "n_embedding", "tokens", "flops",
    "inference_flops", "memory_bytes", "loss", "continuous_loss", "unconstrained_loss",
    "constraint_cost", "binding_constraint", "learning_rate",
]


def joint_optimize_report_from_result(plan: JointPlan) -> Report:
    """The ``optimize`` report of a :class:`~moeplan.joint.JointPlan`."""
    rec, cons = plan.recommended, plan.constraints
    title = (f"Recommended: E = {rec.n_experts:g} experts ({plan.law}; {plan.problem}; "
             f"{format_sci(plan.budget_flops)} FLOPs; {cons.description})")
    t1 = Table(title, ["", "value"], config_rows(rec, cons.memory))
    rows = []
    for c in plan.candidates:
        if not c.feasible or c.realizable is None:
            rows.append([str(c.n_experts), "-", "-", "-", "-", "-", "-", "no fit", "-"])
            continue
        r = c.realizable
        cost = c.constraint_cost
        rows.append([
            str(c.n_experts), _shape(r, "x"), format_count(r.n_active_with_embedding),
            format_count(r.n_total_with_embedding), format_count(r.tokens),
            format_bytes(r.memory_bytes), _loss(r.loss),
            _binding_short(c.continuous.binding_constraint),
            "-" if cost is None or cost < 5e-4 else f"+{cost:.3f}",
        ])
    t2 = Table("Best model for each number of experts (best first)",
               ["E", "shape", "N_act", "N_total", "tokens", "memory", "loss", "binds", "cost"],
               rows,
               caption=f"shape: d_model x n_blocks; N_act, N_total with embeddings; cost: loss "
                       f"the limit costs at that E. "
                       f"Continuous optimum: E = {plan.continuous.n_experts:g}, d_model "
                       f"{plan.continuous.d_model:.1f}, loss {plan.continuous.loss:.4f}. "
                       f"Learning rate: {LR_FORMULA} ({LR_SOURCE}).")
    csv_rows = []
    for c in plan.candidates:
        d = c.to_dict()
        csv_rows.append([d.get(k) for k in CANDIDATE_CSV_COLUMNS])
    return Report(data=plan.to_dict(), tables=[t1, t2], warnings=list(plan.warnings),
                  csv_columns=CANDIDATE_CSV_COLUMNS, csv_rows=csv_rows)


def joint_optimize_report(law, flops, *, experts=None, memory=None, kv_tokens=0.0,
                          bytes_per_param=2.0, inference_tokens=0.0,
                          max_total_params=None) -> Report:
    """``moeplan optimize --law ludziejewski2025-joint``: plan and render in one call.

    Arguments as :func:`moeplan.joint.optimize_joint` (``None`` for the CLI's unset options).
    """
    plan = optimize_joint(law, flops, experts=experts, memory=memory,
                          kv_tokens=kv_tokens or 0.0,
                          bytes_per_param=2.0 if bytes_per_param is None else bytes_per_param,
                          inference_tokens=inference_tokens or 0.0,
                          max_total_params=max_total_params)
    return joint_optimize_report_from_result(plan)


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------

def _mult(x) -> str:
    return "unreachable" if x is None else f"{x:.3g}x"


def joint_compare_report_from_result(cmp: JointComparison) -> Report:
    """The ``compare`` report of a :class:`~moeplan.joint.JointComparison`."""
    rows, lines, csv_rows = [], [], []
    for r in cmp.rows:
        d, m, rt = r.dense, r.moe_opt, r.rule_of_thumb
        rows.append([format_sci(r.budget_flops, 3), _shape(d, "x"), _loss(d.loss),
                     f"{m.n_experts:g}", _shape(m, "x"), _loss(m.loss), f"{r.loss_gain:+.4f}",
                     _mult(r.dense_compute_multiplier)])
        if r.loss_gain > 0:
            verdict = (f"at {format_sci(r.budget_flops)} FLOPs the best MoE (E = "
                       f"{m.n_experts:g}) beats dense by {r.loss_gain:.4f} nats")
            if r.dense_compute_multiplier is None:
                verdict += "; no dense model within the limit reaches it"
            else:
                verdict += (f"; dense needs {r.dense_compute_multiplier:.3g}x the FLOPs to "
                            f"match it")
        else:
            verdict = (f"at {format_sci(r.budget_flops)} FLOPs dense wins under this limit "
                       f"(by {-r.loss_gain:.4f} nats over E = {m.n_experts:g})")
        lines.append(verdict + ".")
        gains = ", ".join(f"E = {x['n_experts']}: {x['loss_gain']:+.4f}" for x in rt.rows)
        lines.append(f"  rule of thumb {'holds' if rt.holds else 'FAILS'}: against the "
                     f"compute-optimal dense model (no limit, loss {rt.dense_loss:.4f}) the MoE "
                     f"of the same total size on E times the tokens gains {gains}.")
        csv_rows.append([r.budget_flops, d.d_model, d.n_blocks, d.n_total_with_embedding,
                         d.tokens, d.loss, m.n_experts, m.d_model, m.n_blocks,
                         m.n_total_with_embedding, m.tokens, m.loss, r.loss_gain,
                         r.dense_compute_multiplier, rt.holds])
    if cmp.rows:
        lines.append(f"Rule of thumb (Ludziejewski et al. 2025): "
                     f"{cmp.rows[0].rule_of_thumb.statement}.")
    title = (f"Dense (E = 1) vs the best MoE ({cmp.law}; {cmp.constraints.problem}; "
             f"{cmp.constraints.description})")
    table = Table(title, ["budget", "dense", "loss", "E", "MoE", "loss", "gain", "FLOPs x"],
                  rows,
                  caption="dense, MoE: d_model x n_blocks; gain: dense loss minus MoE loss; "
                          "FLOPs x: the FLOPs dense needs to match the MoE (same limit) over "
                          "the budget")
    cols = ["budget_flops", "dense_d_model", "dense_n_blocks", "dense_n_total_with_embedding",
            "dense_tokens", "dense_loss", "moe_n_experts", "moe_d_model", "moe_n_blocks",
            "moe_n_total_with_embedding", "moe_tokens", "moe_loss", "loss_gain",
            "dense_compute_multiplier", "rule_of_thumb_holds"]
    return Report(data=cmp.to_dict(), tables=[table], lines=lines, warnings=list(cmp.warnings),
                  csv_columns=cols, csv_rows=csv_rows)


def joint_compare_report(law, flops, *, experts=None, memory=None, kv_tokens=0.0,
                         bytes_per_param=2.0, inference_tokens=0.0,
                         max_total_params=None) -> Report:
    """``moeplan compare --law ludziejewski2025-joint``: one budget or a list of budgets."""
    cmp = compare_joint(law, flops, experts=experts, memory=memory, kv_tokens=kv_tokens or 0.0,
                        bytes_per_param=2.0 if bytes_per_param is None else bytes_per_param,
                        inference_tokens=inference_tokens or 0.0,
                        max_total_params=max_total_params)
    return joint_compare_report_from_result(cmp)


# --------------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------------

def joint_sweep_report_from_result(sweep: JointSweep, plot=None) -> Report:
    """The ``sweep`` report of a :class:`~moeplan.joint.JointSweep` (and its plot, if asked)."""
    rows_data = sweep.rows()
    experts = [int(e) for e in sweep.experts]
    rows, csv_rows = [], []
    for row in rows_data:
        feasible = row["feasible"]
        rows.append([
            format_sci(row["budget_flops"]),
            str(row["n_experts"]) if feasible else "-",
            _loss(row["loss"]) if feasible else "-",
            f"{row['d_model']:.0f}" if feasible else "-",
            _count(row.get("n_active_with_embedding")),
            _count(row.get("tokens")),
            _binding_short(row.get("binding_constraint")) if feasible else "-",
            _loss(row.get("dense_loss")),
            "-" if row["unconstrained_n_experts"] is None else str(row["unconstrained_n_experts"]),
        ])
        csv_rows.append([row["budget_flops"], row["n_experts"], row["loss"],
                         row.get("d_model"), row.get("n_active_with_embedding"),
                         row.get("tokens"), row.get("binding_constraint"),
                         row.get("dense_loss"), row["unconstrained_n_experts"]]
                        + [row["loss_by_experts"][str(e)] for e in experts])
    title = (f"Memory-optimal number of experts ({sweep.law}; {sweep.constraints.problem}; "
             f"{sweep.constraints.description})")
    table = Table(title, ["budget", "E", "loss", "d_model", "N_act", "tokens", "binds", "dense",
                          "E free"], rows,
                  caption="E: the best number of experts under the limit (continuous optima); "
                          "dense: the loss of E = 1 under the same limit; E free: the best E "
                          "without the limit; N_act with embeddings")
    data = sweep.to_dict()
    lines = []
    if plot is not None:
        from ..plot_joint import plot_joint_sweep

        path = plot_joint_sweep(sweep, plot)
        data["plot"] = str(path)
        lines.append(f"Plot written to {path}")  # as the fine-grained sweep says
    cols = ["budget_flops", "n_experts", "loss", "d_model", "n_active_with_embedding", "tokens",
            "binding_constraint", "dense_loss", "unconstrained_n_experts"] + [
        f"loss_e{e}" for e in experts]
    return Report(data=data, tables=[table], lines=lines, warnings=list(sweep.warnings),
                  csv_columns=cols, csv_rows=csv_rows)


def joint_sweep_report(law, flops_from, flops_to, points=25, *, experts=None, memory=None,
                       kv_tokens=0.0, bytes_per_param=2.0, inference_tokens=0.0,
                       max_total_params=None, plot=None) -> Report:
    """``moeplan sweep --memory ... --law ludziejewski2025-joint``: the memory-optimal E."""
    sweep = sweep_joint(law, flops_from, flops_to, points, experts=experts, memory=memory,
                        kv_tokens=kv_tokens or 0.0,
                        bytes_per_param=2.0 if bytes_per_param is None else bytes_per_param,
                        inference_tokens=inference_tokens or 0.0,
                        max_total_params=max_total_params)
    return joint_sweep_report_from_result(sweep, plot=plot)


# --------------------------------------------------------------------------------------------
# lr
# --------------------------------------------------------------------------------------------

def learning_rate_report(n_active_non_embedding: float, n_experts: float) -> Report:
    """``moeplan lr``: the Joint MoE paper's learning-rate rule, with its source and range."""
    adv = learning_rate_advice(n_active_non_embedding, n_experts)
    rows = [
        ["learning rate", f"{adv.learning_rate:.4g}"],
        ["active non-embedding parameters", f"{format_count(adv.n_active)} ({adv.n_active:,.0f})"],
        ["experts E", f"{adv.n_experts:g}"],
        ["rule", adv.formula],
        ["fitted on", "up to 2.7B active parameters, E from 1 to 32"],
        ["source", adv.source],
    ]
    table = Table("Learning rate (Joint MoE scaling laws)", ["", "value"], rows)
    data = {k: v for k, v in adv.to_dict().items() if k != "warnings"}  # the renderer adds them
    return Report(data=data, tables=[table], warnings=list(adv.warnings))

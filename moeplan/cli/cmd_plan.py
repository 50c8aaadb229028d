"""``moeplan optimize``, ``moeplan compare`` and ``moeplan sweep``: the compute-optimal planner.

The commands parse options, call :mod:`moeplan.optimize` (numpy only, no scipy) and render
its result objects; matplotlib is imported only by ``sweep --plot``.
"""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer

from ..coefficients import load_law
from ..errors import InfeasibleError, InputError
from ..units import format_bytes, format_count, format_sci
from .common import (
    COUNT,
    NUMBER_LIST,
    POSITIVE,
    POSITIVE_INT,
    BytesPerParamOption,
    CfOption,
    CrOption,
    CsvFlag,
    ExpertsOption,
    InferenceTokensOption,
    JsonFlag,
    KvTokensOption,
    LawOption,
    MaxTotalParamsOption,
    MemoryOption,
    finish,
    flatten,
    output_format,
    refuse,
)
from .render import Report, Table

ExpansionOption = Annotated[Optional[float], typer.Option(
    "--expansion", "--expansion-rate", click_type=POSITIVE, metavar="E",
    help="Expansion rate E (default: the law's, 64).")]
AspectOption = Annotated[Optional[float], typer.Option(
    "--aspect-ratio", click_type=POSITIVE, metavar="R",
    help="Shape rule d_model = R * n_blocks (default: the law's, 64).")]
GranularityOption = Annotated[Optional[list[float]], typer.Option(
    "--granularity", click_type=NUMBER_LIST, metavar="LIST",
    help="Candidate granularities, e.g. 8 or 1,2,4,8 (default: powers of two 1 to 256).")]
DenseLawOption = Annotated[Optional[str], typer.Option(
    "--dense-law", metavar="NAME|PATH",
    help="Dense law to compare with (default: the one fitted on the same data, "
         "krajewski2024-dense for krajewski2024-moe).")]


def _loss(x) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4f}"


def _delta(x) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if abs(x) < 1e-12:
        return "+0"
    return f"{x:+.2e}" if abs(x) < 1e-3 and x != 0 else f"{x:+.4f}"


def _shape(cfg) -> str:
    if cfg.realizable:
        return f"{cfg.d_model:.0f} x {cfg.n_blocks:.0f}"
    return f"{cfg.d_model:.1f} x {cfg.n_blocks:.2f}"


def _config_rows(cfg, bytes_per_param: float, dense: bool) -> list[list[str]]:
    rows = []
    if not dense:
        rows += [
            ["granularity G / top-k", f"{cfg.granularity:g} / {cfg.top_k:g}"],
            ["expansion rate E / n_experts", f"{cfg.expansion_rate:g} / {cfg.n_experts:g}"],
        ]
    rows.append(["d_model x n_blocks", _shape(cfg)])
    if cfg.n_heads is not None:
        rows.append(["heads x head dim", f"{cfg.n_heads:g} x {cfg.head_dim:g}"])
    rows.append(["d_expert" if not dense else "d_ff",
                 f"{cfg.d_expert:g}" if cfg.realizable else f"{cfg.d_expert:.1f}"])
    rows += [
        ["n_active (non-embedding)", f"{format_count(cfg.n_active)} ({cfg.n_active:,.0f})"],
        ["n_total (non-embedding)", f"{format_count(cfg.n_total)} ({cfg.n_total:,.0f})"],
    ]
    if not dense:
        rows.append(["router params", format_count(cfg.router_params)])
    if cfg.n_embedding is not None:
        rows += [["n_embedding", format_count(cfg.n_embedding)],
                 ["n_active / n_total with embedding",
                  f"{format_count(cfg.n_active_with_embedding)} / "
                  f"{format_count(cfg.n_total_with_embedding)}"]]
    rows += [
        [f"memory ({bytes_per_param:g} bytes/param)", format_bytes(cfg.memory_bytes)
         + (f" (KV cache {format_bytes(cfg.kv_cache_bytes)})" if cfg.kv_cache_bytes else "")],
        ["tokens", f"{format_count(cfg.tokens)} ({cfg.tokens:.4g})"],
        ["tokens per active param", f"{cfg.tokens_per_active_param:.1f}"],
        ["training FLOPs (router share)",
         f"{format_sci(cfg.flops)} ({cfg.router_share:.1%})" if not dense
         else format_sci(cfg.flops)],
    ]
    if cfg.inference_flops:
        rows.append(["inference FLOPs", format_sci(cfg.inference_flops)])
    return rows


def _joint_options(spec, experts, fine_grained_only: dict) -> list | None:
    """Check the options against the law's form; the candidate expert counts for joint_moe."""
    if spec.form == "joint_moe":
        refuse(spec.name, fine_grained_only)
        return flatten(experts)
    if experts:
        raise InputError(f"--experts applies to the joint law (ludziejewski2025-joint); "
                         f"{spec.name} is {spec.form}: use --granularity")
    return None


def optimize_command(
    flops: Annotated[Optional[float], typer.Option(
        "--flops", click_type=POSITIVE, metavar="F",
        help="Training budget in FLOPs, e.g. 1e22 (plus inference, with --inference-tokens).")
    ] = None,
    target_loss: Annotated[Optional[float], typer.Option(
        "--target-loss", click_type=POSITIVE, metavar="L",
        help="Instead of --flops: the least budget whose optimum reaches this loss.")] = None,
    params: Annotated[Optional[float], typer.Option(
        "--params", click_type=COUNT, metavar="N",
        help="Fix the model size (total non-embedding parameters); best tokens and G follow.")
    ] = None,
    law: LawOption = None,
    expansion_rate: ExpansionOption = None,
    aspect_ratio: AspectOption = None,
    granularity: GranularityOption = None,
    max_granularity: Annotated[Optional[float], typer.Option(
        "--max-granularity", click_type=POSITIVE, metavar="G",
        help="Largest granularity to consider.")] = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    memory: MemoryOption = None,
    bytes_per_param: BytesPerParamOption = 2.0,
    kv_tokens: KvTokensOption = 0.0,
    inference_tokens: InferenceTokensOption = 0.0,
    experts: ExpertsOption = None,
    vocab_size: Annotated[Optional[int], typer.Option(
        "--vocab-size", click_type=POSITIVE_INT, metavar="V",
        help="Vocabulary size: adds embedding counts (and their memory).")] = None,
    tied_embeddings: Annotated[bool, typer.Option(
        "--tied-embeddings", help="Input embedding and output head share one matrix.")] = False,
    max_total_params: MaxTotalParamsOption = None,
    max_tokens: Annotated[Optional[float], typer.Option(
        "--max-tokens", click_type=COUNT, metavar="D",
        help="Training tokens available (data); a data-limited plan leaves FLOPs unspent.")
    ] = None,
    multiple_of: Annotated[int, typer.Option(
        "--multiple-of", click_type=POSITIVE_INT, metavar="M",
        show_default=False,
        help="d_model of realizable configurations is a multiple of M and of 64 (default: 64)."
    )] = 64,
    shape_tolerance: Annotated[Optional[float], typer.Option(
        "--shape-tolerance", click_type=POSITIVE, metavar="X",
        help="Let d_model/n_blocks differ from the aspect ratio by this factor, e.g. 1.25 "
             "(default: the whole n_blocks nearest to d_model/aspect ratio).")] = None,
    alternatives: Annotated[int, typer.Option(
        "--alternatives", click_type=POSITIVE_INT, metavar="K",
        show_default=False,
        help="Realizable configurations to list (default: 5).")] = 5,
    gpu: Annotated[Optional[str], typer.Option(
        "--gpu", metavar="NAME",
        help="Estimate wall-clock time on h100, h200, a100, b200 or mi300x.")] = None,
    mfu: Annotated[Optional[float], typer.Option(
        "--mfu", click_type=POSITIVE, metavar="U",
        help="Model FLOPs utilisation for --gpu (default: 0.4).")] = None,
    gpus: Annotated[Optional[int], typer.Option(
        "--gpus", click_type=POSITIVE_INT, metavar="N",
        help="Number of GPUs for --gpu (default: 1).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Compute-optimal MoE configuration for a FLOPs budget.

    Minimises the law over d_model and G, then rounds to buildable shapes. With
    --law ludziejewski2025-joint: the best number of experts under --memory.

    Example: moeplan optimize --flops 1e22 --gpu h100 --gpus 1024
    """
    fmt = output_format(json_flag)
    spec = load_law(law)
    joint_experts = _joint_options(spec, experts, {
        "--target-loss": target_loss, "--params": params, "--expansion": expansion_rate,
        "--aspect-ratio": aspect_ratio, "--granularity": granularity,
        "--max-granularity": max_granularity, "--c-f": c_f, "--c-r": c_r,
        "--vocab-size": vocab_size, "--tied-embeddings": tied_embeddings,
        "--max-tokens": max_tokens, "--shape-tolerance": shape_tolerance, "--gpu": gpu,
        "--multiple-of": None if multiple_of == 64 else multiple_of})
    if spec.form == "joint_moe":
        if flops is None:
            raise InputError("give a budget with --flops (e.g. 1e21)")
        from .joint_views import joint_optimize_report

        finish(joint_optimize_report(
            spec, flops, experts=joint_experts, memory=memory, kv_tokens=kv_tokens,
            bytes_per_param=bytes_per_param, inference_tokens=inference_tokens,
            max_total_params=max_total_params), fmt)
        return

    from ..hardware import MFU_DEFAULT, training_time
    from ..optimize import optimize
    if gpu is None and (mfu is not None or gpus is not None):
        raise InputError("--mfu and --gpus go with --gpu NAME (h100, h200, a100, b200, mi300x)")
    if gpu is not None:
        from ..hardware import get_accelerator
        get_accelerator(gpu)  # fail early on an unknown name
        if mfu is not None and mfu > 1:
            raise InputError(f"--mfu must be a fraction of the peak in (0, 1], e.g. 0.4, got "
                             f"{mfu:g}")
    if flops is None and target_loss is None:
        if params is not None:
            raise InputError("--params fixes the model size; also give the budget with --flops "
                             "(best tokens and G for it) or a loss with --target-loss")
        raise InputError("give a budget with --flops (e.g. 1e22) or a target with --target-loss")
    if spec.form == "chinchilla" and (granularity or max_granularity is not None):
        raise InputError(f"--granularity and --max-granularity apply to MoE laws; {spec.name} "
                         f"is a dense law")
    try:
        res = optimize(
            spec, flops, granularities=flatten(granularity), expansion_rate=expansion_rate,
            aspect_ratio=aspect_ratio, c_f=c_f, c_r=c_r, target_loss=target_loss,
            params=params, memory=memory, bytes_per_param=bytes_per_param,
            kv_tokens=kv_tokens, inference_tokens=inference_tokens, vocab_size=vocab_size,
            tied_embeddings=tied_embeddings, max_total_params=max_total_params,
            max_tokens=max_tokens, max_granularity=max_granularity, multiple_of=multiple_of,
            shape_tolerance=shape_tolerance, n_alternatives=alternatives)
    except InfeasibleError as exc:
        # with --params the user fixed the size: a budget too small for it is theirs to
        # change, not the law's ("fewer than one" token is the core's wording for this)
        if params is None or "fewer than one" not in str(exc):
            raise
        raise InfeasibleError(
            f"--params {format_count(params)} is too large for --flops {format_sci(flops)}: "
            f"a model that size gets fewer than one training token; give a smaller --params "
            f"or a larger --flops") from None
    dense = bool(res.settings["dense"])
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    rec = res.recommended or res.continuous
    tables = []

    head = f"{format_sci(res.budget_flops)} FLOPs"
    if res.target_loss is not None:
        head = f"target loss {res.target_loss:g}: least budget {format_sci(res.budget_flops)} FLOPs"
    kind = "dense model" if dense else "configuration"
    title = (f"Recommended {kind} ({res.law}; {head})" if res.recommended is not None
             else f"Continuous optimum ({res.law}; {head}; no realizable granularity)")
    rows = _config_rows(rec, res.settings["bytes_per_param"], dense)
    cont = res.continuous
    rows.append(["predicted loss", f"{rec.loss:.4f}"])
    if res.recommended is not None:
        rows.append(["continuous optimum (rounding penalty)",
                     f"{cont.loss:.4f} at d_model {cont.d_model:.1f}, n_blocks "
                     f"{cont.n_blocks:.2f} ({_delta(rec.loss_penalty)})"])
    if not dense and len(res.candidates) > 1:
        rows.append(["best real-valued G", f"{res.best_real_granularity:.3g} (loss "
                                           f"{res.best_real_granularity_loss:.4f})"])
    if gpu is not None:
        tt = training_time(rec.flops + rec.inference_flops, gpu,
                           MFU_DEFAULT if mfu is None else mfu, gpus or 1)
        data["training_time"] = tt.to_dict()
        wall = f"{tt.days:,.1f} days" if tt.days >= 2 else f"{tt.days * 24:,.1f} hours"
        rows.append([f"time on {tt.n_gpus} x {tt.gpu} at {tt.mfu:.0%} MFU",
                     f"{wall} ({tt.gpu_hours:,.0f} GPU-hours)"])
    tables.append(Table(title, ["", "value"], rows))

    if not dense:
        best = res.candidates[0].loss
        g_rows = []
        for c in res.candidates:
            g_rows.append([f"{c.granularity:g}", _loss(c.loss), _delta(c.loss - best),
                           _shape(c), format_count(c.n_total), format_count(c.n_active),
                           format_count(c.tokens), f"{c.router_share:.1%}",
                           (c.binding or "").replace("_", " ") or "-"])
        for g in res.excluded_granularities:
            g_rows.append([f"{g:g}", "-", "-", "-", "-", "-", "-", "-", "excluded"])
        tables.append(Table(
            "Best loss at each candidate granularity (continuous optimum; why this G)",
            ["G", "loss", "vs best", "d_model x n_blocks", "n_total", "n_active", "tokens",
             "router", "bound"], g_rows))

    if len(res.realizable) > 1:
        r_rows = []
        for i, c in enumerate(res.realizable, 1):
            r_rows.append([str(i), f"{c.granularity:g}", _shape(c),
                           "-" if c.n_heads is None else f"{c.n_heads:g}x{c.head_dim:g}",
                           f"{c.d_expert:g}", format_count(c.n_total), format_count(c.tokens),
                           format_sci(c.flops + c.inference_flops), _loss(c.loss),
                           _delta(c.loss_penalty)])
        order = "least FLOPs first" if res.target_loss is not None else "best first"
        tables.append(Table(f"Realizable configurations ({order})",
                            ["#", "G", "d_model x n_blocks", "heads", "d_expert", "n_total",
                             "tokens", "FLOPs", "loss", "vs continuous"], r_rows))

    if res.constraints:
        c_rows = [[c.name.replace("_", " "), _limit_text(c.name, c.limit),
                   "yes" if c.binding else "no", _delta(c.loss_cost) if c.binding else "-"]
                  for c in res.constraints]
        total = cont.loss - res.unconstrained_loss
        caption = (f"all together: loss {cont.loss:.4f} vs {res.unconstrained_loss:.4f} "
                   f"unconstrained ({_delta(total)})")
        if res.unconstrained_flops is not None:
            ratio = res.budget_flops / res.unconstrained_flops
            caption += (f"; reaching the target takes {ratio:.3g}x the unconstrained "
                        f"{format_sci(res.unconstrained_flops)} FLOPs")
        tables.append(Table("Constraints", ["constraint", "limit", "binds", "loss cost"],
                            c_rows, caption=caption))

    if res.bootstrap is not None:
        b = res.bootstrap
        b_rows = [["n_total"] + [format_count(v) for v in b.n_total],
                  ["n_active"] + [format_count(v) for v in b.n_active],
                  ["tokens"] + [format_count(v) for v in b.tokens]]
        if not dense:
            b_rows.append(["granularity"] + [f"{v:g}" for v in b.granularity])
        b_rows.append(["loss"] + [f"{v:.4f}" for v in b.loss])
        tables.append(Table(f"Uncertainty over {b.samples} bootstrap fits of the law",
                            ["", "10%", "50%", "90%"], b_rows))

    summary = (f"Train {format_count(rec.n_total)} total / {format_count(rec.n_active)} active "
               f"parameters")
    if not dense:
        summary += (f" (G = {rec.granularity:g}: {rec.n_experts:g} experts of "
                    f"{rec.d_expert:g}, top-{rec.top_k:g})")
    summary += f" on {format_count(rec.tokens)} tokens: predicted loss {rec.loss:.4f}."
    finish(Report(data=data, tables=tables, lines=[summary], warnings=warnings), fmt)


def _limit_text(name: str, value: float) -> str:
    if name == "memory":
        return format_bytes(value)
    if name == "max_granularity":
        return f"{value:g}"
    return format_count(value)


def _load_dense(dense_law):
    # the form is checked once, by the core (optimize.resolve_dense_law)
    return None if dense_law is None else load_law(dense_law)


def _mult(x) -> str:
    return "-" if x is None else f"{x:.3g}x"


def _memory_needs_joint(memory, kv_tokens, inference_tokens, max_total_params, command):
    given = {"--memory": memory, "--kv-tokens": kv_tokens,
             "--inference-tokens": inference_tokens, "--max-total-params": max_total_params}
    bad = [flag for flag, value in given.items() if value]
    if bad:
        raise InputError(f"{', '.join(bad)} in `{command}` work with --law "
                         f"ludziejewski2025-joint; for a fine-grained law use `moeplan optimize "
                         f"--flops F {bad[0]} ...`")


def compare_command(
    flops: Annotated[list[float], typer.Option(
        "--flops", click_type=POSITIVE, metavar="F",
        help="Budget in FLOPs; repeat for several budgets (--flops 1e20 --flops 1e22).")],
    law: LawOption = None,
    dense_law: DenseLawOption = None,
    expansion_rate: ExpansionOption = None,
    aspect_ratio: AspectOption = None,
    granularity: GranularityOption = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    experts: ExpertsOption = None,
    memory: MemoryOption = None,
    bytes_per_param: BytesPerParamOption = 2.0,
    kv_tokens: KvTokensOption = 0.0,
    inference_tokens: InferenceTokensOption = 0.0,
    max_total_params: MaxTotalParamsOption = None,
    json_flag: JsonFlag = False,
    csv_flag: CsvFlag = False,
) -> None:
    """Dense vs MoE with G = 1 vs MoE with the optimal G, at the same budget(s).

    Compute multiplier: FLOPs the dense (or G = 1) optimum needs to match the MoE. With
    --law ludziejewski2025-joint: dense (E = 1) vs the best MoE under --memory.

    Example: moeplan compare --flops 1e20 --flops 1e22
    """
    fmt = output_format(json_flag, csv_flag)
    spec = load_law(law)
    joint_experts = _joint_options(spec, experts, {
        "--dense-law": dense_law, "--expansion": expansion_rate, "--aspect-ratio": aspect_ratio,
        "--granularity": granularity, "--c-f": c_f, "--c-r": c_r})
    if spec.form == "joint_moe":
        from .joint_views import joint_compare_report

        finish(joint_compare_report(
            spec, flops, experts=joint_experts, memory=memory, kv_tokens=kv_tokens,
            bytes_per_param=bytes_per_param, inference_tokens=inference_tokens,
            max_total_params=max_total_params), fmt)
        return
    _memory_needs_joint(memory, kv_tokens, inference_tokens, max_total_params, "compare")
    from ..optimize import compare
    res = compare(spec, flops, dense_law=_load_dense(dense_law),
                  granularities=flatten(granularity), expansion_rate=expansion_rate,
                  aspect_ratio=aspect_ratio, c_f=c_f, c_r=c_r)
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    rows, csv_rows = [], []
    cols = ["budget", "model", "G", "d_model x n_blocks", "n_total", "n_active", "tokens",
            "loss", "FLOPs to match"]
    for r in res.rows:
        b = format_sci(r.budget_flops)
        if r.dense is not None:
            d = r.dense
            rows.append([b, f"dense ({d.law})", "-", f"{d.d_model:.1f} x {d.n_blocks:.2f}",
                         format_count(d.n_params), format_count(d.n_params),
                         format_count(d.tokens), _loss(d.loss), _mult(r.dense_compute_multiplier)])
            csv_rows.append([r.budget_flops, "dense", None, d.d_model, d.n_blocks, d.n_params,
                             d.n_params, d.tokens, d.loss, r.dense_compute_multiplier])
        for key, label, c, m in (("moe_g1", "MoE, G = 1", r.moe_g1, r.g1_compute_multiplier),
                                 ("moe_opt", "MoE, optimal G", r.moe_opt, 1.0)):
            rows.append([b, label, f"{c.granularity:g}", _shape(c), format_count(c.n_total),
                         format_count(c.n_active), format_count(c.tokens), _loss(c.loss),
                         _mult(m)])
            csv_rows.append([r.budget_flops, key, c.granularity, c.d_model, c.n_blocks,
                             c.n_total, c.n_active, c.tokens, c.loss, m])
    table = Table(f"Compute-optimal models ({res.law} vs {res.dense_law or 'no dense law'})",
                  cols, rows,
                  caption="FLOPs to match: the budget multiple each model's compute-optimal "
                          "allocation needs to reach the optimal MoE's loss")
    lines = [r.verdict[0].upper() + r.verdict[1:] + "." for r in res.rows]
    finish(Report(data=data, tables=[table], lines=lines, warnings=warnings,
                  csv_columns=["budget_flops", "model", "granularity", "d_model", "n_blocks",
                               "n_total", "n_active", "tokens", "loss", "compute_multiplier"],
                  csv_rows=csv_rows), fmt)


#: Largest sweep, in budgets x candidate granularities (or numbers of experts): a million
#: cells take seconds and ~200 MB; 1e8 took 2.5 minutes and 12.8 GB (issue 17).
MAX_SWEEP_CELLS = 1_000_000


def _check_sweep_size(points, granularities, experts) -> None:
    candidates = len(granularities or experts or ()) or 9  # 9: the default G = 1, 2, ..., 256
    cells = int(points) * candidates
    if cells > MAX_SWEEP_CELLS:
        raise InputError(
            f"sweep of {int(points):,} budgets x {candidates:,} candidates = {cells:,} "
            f"optimisations is above the limit of {MAX_SWEEP_CELLS:,} (points x candidates); "
            f"use fewer --points or fewer candidates")


def sweep_command(
    flops_from: Annotated[float, typer.Option(
        "--from", click_type=POSITIVE, metavar="F1", help="Smallest budget, FLOPs.")],
    flops_to: Annotated[float, typer.Option(
        "--to", click_type=POSITIVE, metavar="F2", help="Largest budget, FLOPs.")],
    points: Annotated[int, typer.Option(
        "--points", click_type=POSITIVE_INT, metavar="K",
        show_default=False,
        help="Number of log-spaced budgets (default: 25).")] = 25,
    law: LawOption = None,
    dense_law: DenseLawOption = None,
    expansion_rate: ExpansionOption = None,
    aspect_ratio: AspectOption = None,
    granularity: GranularityOption = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    experts: ExpertsOption = None,
    memory: MemoryOption = None,
    bytes_per_param: BytesPerParamOption = 2.0,
    kv_tokens: KvTokensOption = 0.0,
    inference_tokens: InferenceTokensOption = 0.0,
    max_total_params: MaxTotalParamsOption = None,
    plot: Annotated[Optional[str], typer.Option(
        "--plot", metavar="FILE.png|.svg",
        help="Draw the paper's Figure 1 (loss and compute multiplier vs FLOPs); needs "
             "matplotlib, from moeplan's plot extra.")] = None,
    json_flag: JsonFlag = False,
    csv_flag: CsvFlag = False,
) -> None:
    """The compute-optimal frontier over log-spaced budgets (the paper's Figure 1).

    Per budget: best G, model, tokens; losses of optimal MoE, G = 1 and dense. With
    --law ludziejewski2025-joint --memory SIZE: the memory-optimal number of experts.

    Example: moeplan sweep --from 1e18 --to 1e25 --points 15 --plot frontier.png
    """
    fmt = output_format(json_flag, csv_flag)
    spec = load_law(law)
    joint_experts = _joint_options(spec, experts, {
        "--dense-law": dense_law, "--expansion": expansion_rate, "--aspect-ratio": aspect_ratio,
        "--granularity": granularity, "--c-f": c_f, "--c-r": c_r})
    _check_sweep_size(points, flatten(granularity), joint_experts)
    if plot is not None:
        from ..fileio import check_output_path
        from ..plot import check_plot_path, load_matplotlib
        check_plot_path(plot)
        check_output_path(plot, inputs=[law, dense_law], what="--plot")
        load_matplotlib()  # fail before computing when the plot extra is missing
    if spec.form == "joint_moe":
        from .joint_views import joint_sweep_report

        finish(joint_sweep_report(
            spec, flops_from, flops_to, points, experts=joint_experts, memory=memory,
            kv_tokens=kv_tokens, bytes_per_param=bytes_per_param,
            inference_tokens=inference_tokens, max_total_params=max_total_params, plot=plot),
            fmt)
        return
    _memory_needs_joint(memory, kv_tokens, inference_tokens, max_total_params, "sweep")
    from ..optimize import sweep
    res = sweep(spec, flops_from, flops_to, points, dense_law=_load_dense(dense_law),
                granularities=flatten(granularity), expansion_rate=expansion_rate,
                aspect_ratio=aspect_ratio, c_f=c_f, c_r=c_r)
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    lines = []
    if plot is not None:
        from ..plot import plot_frontier
        path = plot_frontier(res, plot)
        data["plot"] = path
        lines.append(f"Plot written to {path}")
    rows_data = res.rows()
    rows = []
    for row in rows_data:
        rows.append([
            format_sci(row["flops"]), f"{row['granularity']:g}",
            f"{row['best_real_granularity']:.3g}",
            f"{row['d_model']:.0f} x {row['n_blocks']:.1f}", format_count(row["n_active"]),
            format_count(row["n_total"]), format_count(row["tokens"]), _loss(row["loss"]),
            _loss(row["loss_g1"]), _loss(row["loss_dense"]),
            _mult(row["g1_compute_multiplier"]), _mult(row["dense_compute_multiplier"])])
    table = Table(f"Compute-optimal frontier ({res.law} vs {res.dense_law or 'no dense law'})",
                  ["FLOPs", "G", "real G", "d_model x n_blocks", "n_active", "n_total",
                   "tokens", "loss", "loss G=1", "loss dense", "G=1 needs", "dense needs"],
                  rows,
                  caption="'needs': FLOPs multiple the G = 1 / dense optimum needs to reach the "
                          "optimal MoE's loss")
    cols = list(res.COLUMNS)
    csv_rows = [[row[c] for c in cols] for row in rows_data]
    finish(Report(data=data, tables=[table], lines=lines, warnings=warnings, csv_columns=cols,
                  csv_rows=csv_rows), fmt)


COMMANDS = {"optimize": (optimize_command, {}), "compare": (compare_command, {}),
            "sweep": (sweep_command, {})}

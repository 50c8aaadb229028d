"""``moeplan optimize``, ``moeplan compare`` and ``moeplan sweep``: one planner, every law.

The commands parse options, call :mod:`moeplan.plan` (numpy only, no scipy) and render its
result objects, which have the same shape under every law; matplotlib is imported only by
``sweep --plot``. Options a law does not plan are refused by the core, which names the
parameter (the CLI shows it as the flag).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..coefficients import load_law
from ..errors import InputError
from ..units import format_count, format_sci
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
)
from .plan_views import (
    _CHOICE,
    _banded_loss,
    _binds,
    _choice_value,
    _loss,
    _mult,
    _shape,
    run_optimize,
)
from .render import Report, Table

ExpansionOption = Annotated[
    Optional[float],
    typer.Option(
        "--expansion",
        "--expansion-rate",
        click_type=POSITIVE,
        metavar="E",
        help="Expansion rate E (default: the law's, 64).",
    ),
]
AspectOption = Annotated[
    Optional[float],
    typer.Option(
        "--aspect-ratio",
        click_type=POSITIVE,
        metavar="R",
        help="Shape rule d_model = R * n_blocks (default: the law's, 64).",
    ),
]
GranularityOption = Annotated[
    Optional[list[float]],
    typer.Option(
        "--granularity",
        click_type=NUMBER_LIST,
        metavar="LIST",
        help="Candidate granularities, e.g. 8 or 1,2,4,8 (default: powers of two 1 to 256).",
    ),
]
DenseLawOption = Annotated[
    Optional[str],
    typer.Option(
        "--dense-law",
        metavar="NAME|PATH",
        help="Dense law to compare with (default: the one fitted on the same data, "
        "krajewski2024-dense for krajewski2024-moe).",
    ),
]
ProfileOption = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        metavar="NAME|PATH",
        help="Plan by GPU time on a measured profile (e.g. h200; see `moeplan profiles`).",
    ),
]
A2AOption = Annotated[
    Optional[float],
    typer.Option(
        "--a2a-bandwidth",
        click_type=POSITIVE,
        metavar="GB/s",
        help="Add a MODEL of expert-parallel all-to-all time at this bandwidth per GPU "
        "(with --profile; off by default: communication is not measured).",
    ),
]


def optimize_command(
    flops: Annotated[
        Optional[float],
        typer.Option(
            "--flops",
            click_type=POSITIVE,
            metavar="F",
            help="Training budget in FLOPs, e.g. 1e22 (plus inference, with --inference-tokens).",
        ),
    ] = None,
    target_loss: Annotated[
        Optional[float],
        typer.Option(
            "--target-loss",
            click_type=POSITIVE,
            metavar="L",
            help="Instead of --flops: the least budget whose optimum reaches this loss.",
        ),
    ] = None,
    params: Annotated[
        Optional[float],
        typer.Option(
            "--params",
            click_type=COUNT,
            metavar="N",
            help="Fix the model size, the law's N (total non-embedding parameters; all "
            "parameters for the Chinchilla sets); best tokens and G follow.",
        ),
    ] = None,
    law: LawOption = None,
    expansion_rate: ExpansionOption = None,
    aspect_ratio: AspectOption = None,
    granularity: GranularityOption = None,
    max_granularity: Annotated[
        Optional[float],
        typer.Option(
            "--max-granularity",
            click_type=POSITIVE,
            metavar="G",
            help="Largest granularity to consider.",
        ),
    ] = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    memory: MemoryOption = None,
    bytes_per_param: BytesPerParamOption = 2.0,
    kv_tokens: KvTokensOption = 0.0,
    inference_tokens: InferenceTokensOption = 0.0,
    experts: ExpertsOption = None,
    vocab_size: Annotated[
        Optional[int],
        typer.Option(
            "--vocab-size",
            click_type=POSITIVE_INT,
            metavar="V",
            help="Vocabulary size: adds embedding counts (and their memory); the Chinchilla "
            "sets count embeddings in N and default to their own 32,000.",
        ),
    ] = None,
    tied_embeddings: Annotated[
        Optional[bool],
        typer.Option(
            "--tied-embeddings/--untied-embeddings",
            help="Input embedding and output head share one matrix, or not (default: the "
            "law's convention: tied for the Chinchilla sets, untied otherwise).",
            show_default=False,
        ),
    ] = None,
    max_total_params: MaxTotalParamsOption = None,
    max_tokens: Annotated[
        Optional[float],
        typer.Option(
            "--max-tokens",
            click_type=COUNT,
            metavar="D",
            help="Training tokens available (data); a data-limited plan leaves FLOPs unspent.",
        ),
    ] = None,
    multiple_of: Annotated[
        int,
        typer.Option(
            "--multiple-of",
            click_type=POSITIVE_INT,
            metavar="M",
            show_default=False,
            help="d_model of realizable configurations is a multiple of M (default: 128); heads "
            "of 128 (64 below d_model 2048) divisible by --tp, d_expert a multiple of 64.",
        ),
    ] = 128,
    shape_tolerance: Annotated[
        Optional[float],
        typer.Option(
            "--shape-tolerance",
            click_type=POSITIVE,
            metavar="X",
            help="Let d_model/n_blocks differ from the aspect ratio by this factor, e.g. 1.25 "
            "(default: the whole n_blocks nearest to d_model/aspect ratio).",
        ),
    ] = None,
    alternatives: Annotated[
        int,
        typer.Option(
            "--alternatives",
            click_type=POSITIVE_INT,
            metavar="K",
            show_default=False,
            help="Realizable configurations to list (default: 5).",
        ),
    ] = 5,
    gpu: Annotated[
        Optional[str],
        typer.Option(
            "--gpu",
            metavar="NAME",
            help="Estimate wall-clock time on h100, h200, a100, b200 or mi300x.",
        ),
    ] = None,
    mfu: Annotated[
        Optional[float],
        typer.Option(
            "--mfu",
            click_type=POSITIVE,
            metavar="U",
            help="Model FLOPs utilisation for --gpu (default: 0.4).",
        ),
    ] = None,
    gpus: Annotated[
        Optional[int],
        typer.Option(
            "--gpus",
            click_type=POSITIVE_INT,
            metavar="N",
            help="Number of GPUs for --gpu (default: 1); with it, training memory per GPU and a "
            "parallel layout, and the best model that fits. With --profile: the GPUs of --days.",
        ),
    ] = None,
    days: Annotated[
        Optional[float],
        typer.Option(
            "--days",
            click_type=POSITIVE,
            metavar="T",
            help="Instead of --flops: the budget is --gpus x peak x --mfu x T days (executed "
            "FLOPs); with --profile, T wall-clock days on --gpus measured GPUs.",
        ),
    ] = None,
    gpu_hours: Annotated[
        Optional[float],
        typer.Option(
            "--gpu-hours",
            click_type=POSITIVE,
            metavar="H",
            help="Instead of --flops: the budget is H GPU-hours of --gpu at --mfu (executed "
            "FLOPs); with --profile, H GPU-hours on the measured GPU.",
        ),
    ] = None,
    tp: Annotated[
        Optional[int],
        typer.Option(
            "--tp",
            click_type=POSITIVE_INT,
            metavar="T",
            help="Heads divisible by T (default: 1; with --gpus, the largest power of two up to 8 "
            "dividing it).",
        ),
    ] = None,
    seq_len: Annotated[
        Optional[int],
        typer.Option(
            "--seq-len",
            click_type=POSITIVE_INT,
            metavar="S",
            help="Training sequence length for attention FLOPs and activations (default: 4096).",
        ),
    ] = None,
    micro_batch: Annotated[
        Optional[int],
        typer.Option(
            "--micro-batch",
            click_type=POSITIVE_INT,
            metavar="B",
            help="Sequences per micro-batch for training memory (default: 1).",
        ),
    ] = None,
    hf_config: Annotated[
        Optional[str],
        typer.Option(
            "--hf-config",
            metavar="PATH",
            help="Write the recommended architecture as a Hugging Face config.json (qwen3_moe).",
        ),
    ] = None,
    profile: ProfileOption = None,
    a2a_bandwidth: A2AOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Compute-optimal MoE configuration for a FLOPs budget.

    Minimises the law over d_model and its choice (G; E for --law ludziejewski2025-joint)
    under the limits (--memory, --max-total-params, ...), then rounds to buildable shapes.

    Example: moeplan optimize --flops 1e22 --gpu h100 --gpus 1024
    """
    # the body is typer-free, shared with the entry point's fast path; the first statement,
    # so locals() holds exactly the options
    code = run_optimize(**locals())
    if code:
        raise typer.Exit(code)


def compare_command(
    flops: Annotated[
        Optional[list[float]],
        typer.Option(
            "--flops",
            click_type=POSITIVE,
            metavar="F",
            help="Budget in FLOPs; repeat for several budgets (--flops 1e20 --flops 1e22).",
        ),
    ] = None,
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
    profile: ProfileOption = None,
    gpus: Annotated[
        Optional[int],
        typer.Option(
            "--gpus", click_type=POSITIVE_INT, metavar="N", help="GPUs, with --profile and --days."
        ),
    ] = None,
    days: Annotated[
        Optional[list[float]],
        typer.Option(
            "--days",
            click_type=POSITIVE,
            metavar="T",
            help="With --profile: wall-clock days on --gpus GPUs; repeat for several budgets.",
        ),
    ] = None,
    gpu_hours: Annotated[
        Optional[list[float]],
        typer.Option(
            "--gpu-hours",
            click_type=POSITIVE,
            metavar="H",
            help="With --profile: GPU-hours, instead of --gpus/--days; repeatable.",
        ),
    ] = None,
    a2a_bandwidth: A2AOption = None,
    json_flag: JsonFlag = False,
    csv_flag: CsvFlag = False,
) -> None:
    """Dense vs MoE with G = 1 vs MoE with the optimal G, at the same budget(s).

    Compute multiplier: FLOPs the dense (or G = 1) optimum needs, under the same limits
    (--memory ...), to match the MoE. Joint law: dense (E = 1) vs the best E.

    Example: moeplan compare --flops 1e20 --flops 1e22
    """
    fmt = output_format(json_flag, csv_flag)
    from ..plan import compare
    from .time_views import refuse_with_profile, refuse_without_profile

    if profile is not None:  # by GPU time on measured hardware (issue 16)
        from ..plan.timeopt import compare_time
        from .time_views import choices_for, render_time_compare, time_budgets_for_compare

        refuse_with_profile(
            {
                "--flops": flops,
                "--memory": memory,
                "--kv-tokens": kv_tokens,
                "--inference-tokens": inference_tokens,
                "--max-total-params": max_total_params,
            }
        )
        budgets = time_budgets_for_compare(gpus, days, gpu_hours)
        spec = load_law(law)
        res = compare_time(
            spec,
            profile,
            budgets,
            dense_law=None if dense_law is None else load_law(dense_law),
            choices=choices_for(spec, flatten(granularity), flatten(experts)),
            expansion_rate=expansion_rate,
            aspect_ratio=aspect_ratio,
            c_f=c_f,
            c_r=c_r,
            a2a_bandwidth=None if a2a_bandwidth is None else a2a_bandwidth * 1e9,
        )
        finish(render_time_compare(res), fmt)
        return
    refuse_without_profile(
        {"--days": days, "--gpu-hours": gpu_hours, "--a2a-bandwidth": a2a_bandwidth}
    )
    if gpus is not None:
        raise InputError("--gpus goes with --profile NAME (compare by GPU time)")
    if not flops:
        raise InputError(
            "give a budget with --flops (e.g. 1e22; repeat for several), or a "
            "GPU-time budget with --profile NAME --gpus N --days T"
        )
    res = compare(
        load_law(law),
        flops,
        dense_law=dense_law,
        granularities=flatten(granularity),
        experts=flatten(experts),
        expansion_rate=expansion_rate,
        aspect_ratio=aspect_ratio,
        c_f=c_f,
        c_r=c_r,
        memory=memory,
        bytes_per_param=bytes_per_param,
        kv_tokens=kv_tokens,
        inference_tokens=inference_tokens,
        max_total_params=max_total_params,
    )
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    sym = _CHOICE[res.choice]
    rows, csv_rows, lines = [], [], []
    for r in res.rows:
        b = format_sci(r.budget_flops)
        if r.dense is not None:
            d = r.dense
            rows.append(
                [
                    b,
                    f"dense ({r.dense_law})",
                    "-",
                    _shape(d),
                    format_count(d.n_total),
                    format_count(d.n_active),
                    format_count(d.tokens),
                    _banded_loss(d.loss, d.loss_range),
                    _mult(r.dense_compute_multiplier, r.dense_compute_multiplier_range),
                ]
            )
            csv_rows.append(
                [
                    r.budget_flops,
                    "dense",
                    None,
                    d.d_model,
                    d.n_blocks,
                    d.n_total,
                    d.n_active,
                    d.tokens,
                    d.loss,
                    r.dense_compute_multiplier,
                ]
            )
        models = [("moe_opt", f"MoE, optimal {sym}", r.moe_opt, 1.0, None)]
        if res.choice == "granularity":
            models.insert(
                0,
                (
                    "moe_g1",
                    "MoE, G = 1",
                    r.moe_g1,
                    r.g1_compute_multiplier,
                    r.g1_compute_multiplier_range,
                ),
            )
        for key, label, c, m, m_range in models:
            rows.append(
                [
                    b,
                    label,
                    _choice_value(c, res.choice),
                    _shape(c),
                    format_count(c.n_total),
                    format_count(c.n_active),
                    format_count(c.tokens),
                    _banded_loss(c.loss, c.loss_range),
                    _mult(m, m_range),
                ]
            )
            csv_rows.append(
                [
                    r.budget_flops,
                    key,
                    getattr(c, res.choice),
                    c.d_model,
                    c.n_blocks,
                    c.n_total,
                    c.n_active,
                    c.tokens,
                    c.loss,
                    m,
                ]
            )
        lines.append(r.verdict[0].upper() + r.verdict[1:] + ".")
        rt = r.extra.get("rule_of_thumb")
        if rt:
            gains = ", ".join(f"E = {x['n_experts']}: {x['loss_gain']:+.4f}" for x in rt["moe"])
            lines.append(
                f"  rule of thumb {'holds' if rt['holds'] else 'FAILS'}: against the "
                f"compute-optimal dense model (no limit, loss "
                f"{rt['dense']['loss']:.4f}) the MoE of the same total size on E times "
                f"the tokens gains {gains}."
            )
    if res.rows and res.rows[0].extra.get("rule_of_thumb"):
        lines.append(
            f"Rule of thumb (Ludziejewski et al. 2025): "
            f"{res.rows[0].extra['rule_of_thumb']['statement']}."
        )
    title = (
        f"Compute-optimal models ({res.law} vs {res.dense_law or 'no dense law'}; "
        f"{res.limits.description})"
    )
    table = Table(
        title,
        [
            "budget",
            "model",
            sym,
            "d_model x n_blocks",
            "n_total",
            "n_active",
            "tokens",
            "loss",
            "FLOPs to match",
        ],
        rows,
        caption="FLOPs to match: the budget multiple each model's compute-optimal "
        "allocation (under the same limits) needs to reach the optimal MoE's "
        "loss; in brackets: the range within the published coefficients' "
        "rounding",
    )
    finish(
        Report(
            data=data,
            tables=[table],
            lines=lines,
            warnings=warnings,
            csv_columns=[
                "budget_flops",
                "model",
                res.choice or "granularity",
                "d_model",
                "n_blocks",
                "n_total",
                "n_active",
                "tokens",
                "loss",
                "compute_multiplier",
            ],
            csv_rows=csv_rows,
        ),
        fmt,
    )


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
            f"use fewer --points or fewer candidates"
        )


def sweep_command(
    flops_from: Annotated[
        Optional[float],
        typer.Option("--from", click_type=POSITIVE, metavar="F1", help="Smallest budget, FLOPs."),
    ] = None,
    flops_to: Annotated[
        Optional[float],
        typer.Option("--to", click_type=POSITIVE, metavar="F2", help="Largest budget, FLOPs."),
    ] = None,
    points: Annotated[
        int,
        typer.Option(
            "--points",
            click_type=POSITIVE_INT,
            metavar="K",
            show_default=False,
            help="Number of log-spaced budgets (default: 25).",
        ),
    ] = 25,
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
    plot: Annotated[
        Optional[str],
        typer.Option(
            "--plot",
            metavar="FILE.png|.svg|.pdf",
            help="Draw the paper's Figure 1 (loss and compute multiplier vs FLOPs; for the joint "
            "law the best E vs FLOPs); needs matplotlib, from moeplan's plot extra.",
        ),
    ] = None,
    profile: ProfileOption = None,
    gpus: Annotated[
        Optional[int],
        typer.Option(
            "--gpus",
            click_type=POSITIVE_INT,
            metavar="N",
            help="GPUs, with --profile (budgets are --gpus x days).",
        ),
    ] = None,
    days_from: Annotated[
        Optional[float],
        typer.Option(
            "--from-days",
            click_type=POSITIVE,
            metavar="T1",
            help="With --profile: shortest wall-clock time, days.",
        ),
    ] = None,
    days_to: Annotated[
        Optional[float],
        typer.Option(
            "--to-days",
            click_type=POSITIVE,
            metavar="T2",
            help="With --profile: longest wall-clock time, days.",
        ),
    ] = None,
    a2a_bandwidth: A2AOption = None,
    json_flag: JsonFlag = False,
    csv_flag: CsvFlag = False,
) -> None:
    """The compute-optimal frontier over log-spaced budgets (the paper's Figure 1).

    Per budget: best G (E for the joint law), model, tokens; losses of optimal MoE, G = 1 and
    dense, under the limits (--memory ...): e.g. the memory-optimal number of experts.

    Example: moeplan sweep --from 1e18 --to 1e25 --points 15 --plot frontier.png
    """
    fmt = output_format(json_flag, csv_flag)
    from ..plan import sweep
    from .time_views import refuse_with_profile, refuse_without_profile

    if profile is not None:  # by GPU time on measured hardware (issue 16)
        from ..plan.timeopt import sweep_time
        from .time_views import choices_for, render_time_sweep

        refuse_with_profile(
            {
                "--from": flops_from,
                "--to": flops_to,
                "--memory": memory,
                "--kv-tokens": kv_tokens,
                "--inference-tokens": inference_tokens,
                "--max-total-params": max_total_params,
                "--plot": plot,
                "--dense-law": dense_law,
            }
        )
        if gpus is None or days_from is None or days_to is None:
            raise InputError("--profile sweeps GPU time: give --gpus N --from-days T1 --to-days T2")
        _check_sweep_size(points, flatten(granularity), flatten(experts))
        spec = load_law(law)
        res = sweep_time(
            spec,
            profile,
            gpus,
            days_from,
            days_to,
            points,
            choices=choices_for(spec, flatten(granularity), flatten(experts)),
            expansion_rate=expansion_rate,
            aspect_ratio=aspect_ratio,
            c_f=c_f,
            c_r=c_r,
            a2a_bandwidth=None if a2a_bandwidth is None else a2a_bandwidth * 1e9,
        )
        finish(render_time_sweep(res), fmt)
        return
    refuse_without_profile(
        {
            "--gpus": gpus,
            "--from-days": days_from,
            "--to-days": days_to,
            "--a2a-bandwidth": a2a_bandwidth,
        },
        "sweep GPU time on a measured profile, e.g. --profile h200 --gpus 8 --from-days 1 "
        "--to-days 100",
    )
    if flops_from is None or flops_to is None:
        raise InputError(
            "give the budgets with --from F1 --to F2 (FLOPs, e.g. --from 1e18 "
            "--to 1e24), or GPU time with --profile NAME --gpus N --from-days T1 "
            "--to-days T2"
        )
    _check_sweep_size(points, flatten(granularity), flatten(experts))
    if plot is not None:
        from ..fileio import check_output_path
        from ..plot import check_plot_path, load_matplotlib

        check_plot_path(plot)
        check_output_path(plot, inputs=[law, dense_law], param="plot")
        load_matplotlib()  # fail before computing when the plot extra is missing
    res = sweep(
        load_law(law),
        flops_from,
        flops_to,
        points,
        dense_law=dense_law,
        granularities=flatten(granularity),
        experts=flatten(experts),
        expansion_rate=expansion_rate,
        aspect_ratio=aspect_ratio,
        c_f=c_f,
        c_r=c_r,
        memory=memory,
        bytes_per_param=bytes_per_param,
        kv_tokens=kv_tokens,
        inference_tokens=inference_tokens,
        max_total_params=max_total_params,
    )
    if fmt == "csv":  # streamed from the arrays; no JSON document nor table built (issue 12)
        from .stream import emit_sweep_csv

        if plot is not None:
            from ..plot import frontier_figure, save_figure

            save_figure(frontier_figure(res), plot)
        emit_sweep_csv(res)
        return
    data = res.to_dict()
    warnings = list(data.pop("warnings"))
    lines = []
    if plot is not None:
        from ..plot import frontier_figure, save_figure

        path = save_figure(frontier_figure(res), plot)
        data["plot"] = path
        lines.append(f"Plot written to {path}")
    rows_data = res.rows()
    sym = _CHOICE[res.choice]
    columns = [  # (header, key, format); a column shows only where some row has a value
        ("FLOPs", "budget_flops", format_sci),
        (sym, res.choice, "{:g}".format),
        ("real G", "best_real_granularity", "{:.3g}".format),
        ("d_model x n_blocks", "d_model", None),
        ("n_active", "n_active", format_count),
        ("n_total", "n_total", format_count),
        ("tokens", "tokens", format_count),
        ("loss", "loss", _loss),
        ("binds", "binding", _binds),
        ("loss G=1", "loss_g1", _loss),
        ("loss dense", "loss_dense", _loss),
        ("G=1 needs", "g1_compute_multiplier", _mult),
        ("dense needs", "dense_compute_multiplier", _mult),
        ("E free", "unconstrained_choice", "{:g}".format),
    ]
    if res.choice == "n_experts":
        columns = [c for c in columns if c[1] not in ("loss_g1", "g1_compute_multiplier")]
    shown = [c for c in columns if c[1] and any(row.get(c[1]) is not None for row in rows_data)]
    rows = []
    for row in rows_data:
        cells = []
        for _, key, f in shown:
            v = row.get(key)
            if key == "d_model":
                cells.append("-" if v is None else f"{v:.0f} x {row['n_blocks']:.1f}")
            else:
                cells.append("-" if v is None else f(v))
        rows.append(cells)
    kind = (
        "Compute-optimal frontier"
        if res.choice != "n_experts"
        else "Memory-optimal number of experts"
    )
    table = Table(
        f"{kind} ({res.law} vs {res.dense_law or 'no dense law'}; {res.limits.description})",
        [c[0] for c in shown],
        rows,
        caption="'needs': FLOPs multiple the G = 1 / dense optimum needs to reach the "
        "optimal MoE's loss; 'E free': the best E without the limits",
    )
    cols = [res.COLUMNS[0], res.choice or "granularity"] + [
        c for c in res.COLUMNS[1:] if c != res.choice
    ]
    choice_cols = [f"loss_{res.choice or 'choice'}_{c:g}" for c in res.choices]
    csv_rows = [[row[c] for c in cols] + list(row["loss_by_choice"].values()) for row in rows_data]
    finish(
        Report(
            data=data,
            tables=[table],
            lines=lines,
            warnings=warnings,
            csv_columns=cols + choice_cols,
            csv_rows=csv_rows,
        ),
        fmt,
    )


COMMANDS = {
    "optimize": (optimize_command, {}),
    "compare": (compare_command, {}),
    "sweep": (sweep_command, {}),
}

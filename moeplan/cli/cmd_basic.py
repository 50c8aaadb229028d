"""``moeplan laws``, ``moeplan loss`` and ``moeplan flops``: the law and the FLOPs accounting."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..accounting import flops_breakdown
from ..coefficients import law_to_mapping, load_law, shipped_law_names
from ..errors import InputError
from ..laws import COEFFICIENT_NAMES
from ..units import format_count, format_sci
from .common import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    CfOption,
    CrOption,
    JsonFlag,
    LawOption,
    finish,
    output_format,
)
from .render import Report, Table


def laws_command(
    name: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[NAME|PATH]", help="Show one set in full instead of listing them all."
        ),
    ] = None,
    json_flag: JsonFlag = False,
) -> None:
    """List the shipped coefficient sets (or show one).

    Example: moeplan laws; moeplan laws krajewski2024-moe --json
    """
    fmt = output_format(json_flag)
    laws = [load_law(name)] if name else [load_law(n) for n in shipped_law_names()]
    rows = []
    for law in laws:
        coeffs = ", ".join(f"{k}={law.coefficients[k]:g}" for k in COEFFICIENT_NAMES[law.form])
        rows.append([law.name, law.form, coeffs, ", ".join(law.comparable_with) or "-"])
    table = Table("Coefficient sets", ["name", "form", "coefficients", "comparable with"], rows)
    tables = [table]
    if name:
        law = laws[0]
        tables.append(
            Table(
                "",
                ["", ""],
                [
                    ["description", law.description],
                    ["N means", law.params_meaning],
                    ["c_f, c_r", f"{law.c_f:g}, {law.c_r:g}"],
                    [
                        "expansion rate",
                        "-" if law.expansion_rate is None else f"{law.expansion_rate:g}",
                    ],
                    ["aspect ratio", f"{law.aspect_ratio:g}"],
                    *[
                        [f"fitted {k}", f"{lo:.3g} to {hi:.3g}" if lo > 0 else f"up to {hi:.3g}"]
                        for k, (lo, hi) in law.fitted_range.items()
                    ],
                    *(
                        [["fitted range from", law.fitted_range_source]]
                        if law.fitted_range_source
                        else []
                    ),
                    ["loss", law.loss_definition or "not stated in the law file"],
                    [
                        "precision",
                        ", ".join(
                            f"{k} ±{law.precision[k]:g}"
                            for k in COEFFICIENT_NAMES[law.form]
                            if k in law.precision
                        )
                        or "not stated in the law file",
                    ],
                    *([["notes", law.notes]] if law.notes else []),
                    ["citation", law.citation],
                ],
            )
        )
    data = {"laws": [dict(law_to_mapping(law), source=law.source) for law in laws]}
    finish(Report(data=data, tables=tables), fmt)


def loss_command(
    params: Annotated[
        float,
        typer.Option(
            "--params",
            click_type=COUNT,
            metavar="N",
            help="N: total non-embedding parameters (the law file says what N means).",
        ),
    ],
    tokens: Annotated[
        float, typer.Option("--tokens", click_type=COUNT, metavar="D", help="D: training tokens.")
    ],
    granularity: Annotated[
        Optional[float],
        typer.Option(
            "--granularity",
            click_type=POSITIVE,
            metavar="G",
            help="G, for fine-grained MoE laws (default: 1).",
        ),
    ] = None,
    n_experts: Annotated[
        Optional[float],
        typer.Option(
            "--n-experts",
            click_type=POSITIVE,
            metavar="E",
            help="Number of experts, for the joint law (ludziejewski2025-joint) (default: 1).",
        ),
    ] = None,
    law: LawOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Evaluate the loss law at N parameters, D tokens (and granularity G).

    Example: moeplan loss --params 8.66B --tokens 10B --granularity 8
    """
    fmt = output_format(json_flag)
    spec = load_law(law)
    if granularity is not None and spec.form != "fine_grained_moe":
        raise InputError(
            f"--granularity applies to fine-grained MoE laws; {spec.name} is {spec.form}"
        )
    if n_experts is not None and spec.form != "joint_moe":
        raise InputError(
            f"--n-experts applies to the joint law (ludziejewski2025-joint); "
            f"{spec.name} is {spec.form}"
        )
    g = 1.0 if granularity is None else granularity
    e = 1.0 if n_experts is None else n_experts
    spec.check_point(params, tokens, granularity=g, n_experts=e)
    irr, p, d = (float(x) for x in spec.terms(params, tokens, granularity=g, n_experts=e))
    total = irr + p + d
    warnings = spec.range_warnings(
        params=params,
        tokens=tokens,
        granularity=g if spec.form == "fine_grained_moe" else None,
        n_experts=e if spec.form == "joint_moe" else None,
    )
    data = {
        "law": spec.name,
        "params": params,
        "tokens": tokens,
        "loss": total,
        "terms": {"irreducible": irr, "params": p, "data": d},
    }
    if spec.form == "fine_grained_moe":
        data["granularity"] = g
    if spec.form == "joint_moe":
        data["n_experts"] = e
    rows = [
        ["irreducible (c)", f"{irr:.4f}", f"{irr / total:.1%}"],
        ["parameter term", f"{p:.4f}", f"{p / total:.1%}"],
        ["data term", f"{d:.4f}", f"{d / total:.1%}"],
        ["loss", f"{total:.4f}", "100.0%"],
    ]
    inputs = f"N = {format_count(params)}, D = {format_count(tokens)}"
    if spec.form == "fine_grained_moe":
        inputs += f", G = {g:g}"
    if spec.form == "joint_moe":
        inputs += f", E = {e:g}"
    table = Table(f"Predicted loss ({spec.name}; {inputs})", ["term", "value", "share"], rows)
    finish(Report(data=data, tables=[table], warnings=warnings), fmt)


def flops_command(
    d_model: Annotated[
        int, typer.Option("--d-model", click_type=POSITIVE_INT, metavar="d", help="Model width.")
    ],
    n_blocks: Annotated[
        int,
        typer.Option(
            "--n-blocks", click_type=POSITIVE_INT, metavar="n", help="Number of Transformer blocks."
        ),
    ],
    tokens: Annotated[
        float, typer.Option("--tokens", click_type=COUNT, metavar="D", help="Training tokens.")
    ],
    expansion_rate: Annotated[
        Optional[float],
        typer.Option(
            "--expansion",
            "--expansion-rate",
            click_type=POSITIVE,
            metavar="E",
            help="Expansion rate E (default: the law's, 64).",
        ),
    ] = None,
    granularity: Annotated[
        Optional[float],
        typer.Option(
            "--granularity", click_type=POSITIVE, metavar="G", help="Granularity G (default: 1)."
        ),
    ] = None,
    n_experts: Annotated[
        Optional[int],
        typer.Option(
            "--n-experts",
            click_type=POSITIVE_INT,
            help="Routed experts per layer (with --top-k, instead of --expansion/--granularity).",
        ),
    ] = None,
    top_k: Annotated[
        Optional[int],
        typer.Option(
            "--top-k", click_type=POSITIVE_INT, help="Experts per token (with --n-experts)."
        ),
    ] = None,
    vocab_size: Annotated[
        Optional[int],
        typer.Option(
            "--vocab-size",
            click_type=POSITIVE_INT,
            help="Vocabulary size, to report parameter counts with embeddings.",
        ),
    ] = None,
    tied_embeddings: Annotated[
        bool,
        typer.Option("--tied-embeddings", help="Input embedding and output head share one matrix."),
    ] = False,
    c_f: CfOption = None,
    c_r: CrOption = None,
    law: LawOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Count parameters and training FLOPs, the router's cost included.

    Example: moeplan flops --d-model 1024 --n-blocks 16 --tokens 1e10 --expansion 64 --granularity 8
    """
    fmt = output_format(json_flag)
    spec = load_law(law)
    if (n_experts is None) != (top_k is None):
        raise InputError("--n-experts and --top-k go together (E = n_experts / top_k, G = top_k)")
    if n_experts is not None:
        if expansion_rate is not None or granularity is not None:
            raise InputError(
                "give either --n-experts/--top-k or --expansion/--granularity, not both"
            )
        if top_k > n_experts:
            raise InputError(f"--top-k {top_k} is more than --n-experts {n_experts}")
        expansion_rate, granularity = n_experts / top_k, float(top_k)
    E = expansion_rate if expansion_rate is not None else (spec.expansion_rate or 64.0)
    G = 1.0 if granularity is None else granularity
    cf = spec.c_f if c_f is None else c_f
    cr = spec.router_c_r if c_r is None else c_r
    fb = flops_breakdown(d_model, n_blocks, tokens, E, G, cf, cr, vocab_size, tied_embeddings)
    warnings = []
    if fb.router_flops > fb.expert_flops:
        warnings.append(
            f"routing costs more FLOPs than the experts ({format_sci(fb.router_flops)}"
            f" vs {format_sci(fb.expert_flops)}): granularity {G:g} is too high for "
            f"d_model {d_model}"
        )
    if abs(fb.d_expert - round(fb.d_expert)) > 1e-9:
        warnings.append(f"d_expert = 4*d_model/G = {fb.d_expert:g} is not a whole number")
    if abs(fb.n_experts - round(fb.n_experts)) > 1e-9:
        warnings.append(f"n_experts = E*G = {fb.n_experts:g} is not a whole number")
    if spec.form == "fine_grained_moe":
        warnings += spec.range_warnings(
            params=fb.n_total, tokens=tokens, granularity=G, expansion_rate=E
        )
    data = fb.to_dict()
    data["law"] = spec.name
    per_tok = fb.flops_per_token
    rows = [
        [
            "attention",
            format_sci(fb.attention_flops / tokens),
            format_sci(fb.attention_flops),
            f"{fb.attention_flops / fb.flops:.2%}",
        ],
        [
            "experts (active)",
            format_sci(fb.expert_flops / tokens),
            format_sci(fb.expert_flops),
            f"{fb.expert_flops / fb.flops:.2%}",
        ],
        [
            "router",
            format_sci(fb.router_flops / tokens),
            format_sci(fb.router_flops),
            f"{fb.router_share:.2%}",
        ],
        ["total", format_sci(per_tok), format_sci(fb.flops), "100.00%"],
    ]
    t1 = Table(
        f"Training FLOPs (c_f = {cf:g}, c_r = {cr:g}, D = {format_count(tokens)})",
        ["part", "per token", "total", "share"],
        rows,
    )
    prow = [
        ["d_model x n_blocks", f"{d_model} x {n_blocks}"],
        ["expansion rate E / granularity G", f"{E:g} / {G:g}"],
        ["n_experts / top_k / d_expert", f"{fb.n_experts:g} / {fb.top_k:g} / {fb.d_expert:g}"],
        ["n_active (non-embedding)", f"{format_count(fb.n_active)} ({fb.n_active:,.0f})"],
        ["n_total (non-embedding)", f"{format_count(fb.n_total)} ({fb.n_total:,.0f})"],
        ["router params", f"{format_count(fb.router_params)} ({fb.router_params:,.0f})"],
    ]
    if fb.n_embedding is not None:
        prow += [
            ["n_embedding", format_count(fb.n_embedding)],
            ["n_active_with_embedding", format_count(fb.n_active_with_embedding)],
            ["n_total_with_embedding", format_count(fb.n_total_with_embedding)],
        ]
    t2 = Table("Parameters", ["", "value"], prow)
    finish(Report(data=data, tables=[t1, t2], warnings=warnings), fmt)


COMMANDS = {"loss": (loss_command, {}), "flops": (flops_command, {}), "laws": (laws_command, {})}

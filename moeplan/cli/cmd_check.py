"""``moeplan inspect`` (a real model's config.json in the law's terms) and ``moeplan check``
(a CI gate for proposed training configurations), with the text/json/junit/github formats."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..coefficients import load_law
from ..hf import SEQ_LEN_DEFAULT, architecture_warnings, load_config
from ..units import format_count, format_sci
from .common import POSITIVE_INT, CfOption, CrOption, JsonFlag, LawOption, finish, output_format
from .render import Report, Table


def _count(value) -> str:
    return format_count(float(value), digits=4)


def inspect_command(
    path: Annotated[str, typer.Argument(metavar="FILE",
                                        help="A Hugging Face style config.json.")],
    seq_len: Annotated[int, typer.Option(
        "--seq-len", click_type=POSITIVE_INT, metavar="T",
        help=f"Context length for the attention-score FLOPs (default: {SEQ_LEN_DEFAULT}).")
    ] = SEQ_LEN_DEFAULT,
    law: LawOption = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Count a real model's parameters exactly and map it to the law (E, G, N).

    Reads a Hugging Face config.json (mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek_v2,
    deepseek_v3, dbrx, granitemoe, gpt_oss, and dense llama/mistral/qwen2/qwen3). Counts with and
    without embeddings, FLOPs per token (router included, attention scores at --seq-len), and the
    law's variables: G = routed experts per token, E = routed experts / top-k, N = total
    non-embedding parameters.

    Example: moeplan inspect mixtral-8x7b/config.json --seq-len 8192
    """
    fmt = output_format(json_flag)
    spec = load_law(law)
    cf = spec.c_f if c_f is None else c_f
    cr = (spec.c_r if spec.c_r > 0 else 14.0) if c_r is None else c_r
    model = load_config(path, seq_len=seq_len, c_f=cf, c_r=cr)
    warnings = architecture_warnings(model, spec)
    data = model.to_dict()
    data["law"] = spec.name
    b = model.breakdown

    rows = [["attention", _count(b["attention"]["total"]), _count(b["attention"]["active"])]]
    if model.is_moe:
        rows.append([f"routed experts ({model.n_experts} x {model.d_expert}, top-{model.top_k})",
                     _count(b["routed_experts"]["total"]), _count(b["routed_experts"]["active"])])
    if b["shared_experts"]["total"]:
        rows.append(["shared experts", _count(b["shared_experts"]["total"]),
                     _count(b["shared_experts"]["active"])])
    if b["dense_mlp"]["total"]:
        label = ("dense MLP" if not model.is_moe
                 else f"dense MLP ({model.n_dense_blocks} dense blocks)")
        rows.append([label, _count(b["dense_mlp"]["total"]), _count(b["dense_mlp"]["active"])])
    rows += [
        ["norms", _count(b["norms"]["total"]), _count(b["norms"]["active"])],
        ["non-embedding (n_total / n_active)", _count(model.n_total), _count(model.n_active)],
    ]
    if model.router_params:
        rows.append(["router", _count(model.router_params), _count(model.router_params)])
    tied = " (tied)" if model.tied_embeddings else ""
    rows += [
        [f"embedding + output head{tied}", _count(model.n_embedding), _count(model.n_embedding)],
        ["with embedding", _count(model.n_total_with_embedding),
         _count(model.n_active_with_embedding)],
        ["  active without the input embedding", "", _count(model.n_active_with_output_head)],
    ]
    if model.mtp_params:
        rows.append(["multi-token prediction (not in totals)", _count(model.mtp_params), ""])
    t_params = Table(f"{model.name} ({model.family}): parameters", ["", "total", "active"], rows,
                     caption=f"exact: {model.n_total_with_embedding:,} total, "
                             f"{model.n_active_with_embedding:,} active with embedding")

    map_rows = [
        ["G, granularity (= top-k)", f"{model.granularity:g}"],
        ["E, expansion rate (= n_experts / top-k)", f"{model.expansion_rate:.4g}"],
        ["n_experts / top_k", f"{model.n_experts} / {model.top_k}"],
        ["N (n_total, non-embedding)", _count(model.n_total)],
    ]
    if model.is_moe:
        map_rows += [["G by expert size (8 d_model^2 / expert params)",
                      f"{model.granularity_by_size:.3g}"],
                     ["E by expert size", f"{model.expansion_rate_by_size:.3g}"]]
    t_map = Table(f"Mapping to the law ({spec.name})", ["", "value"], map_rows)

    fb = model.flops_breakdown["forward"]
    f_rows = [
        ["weights (2 x n_active)", format_sci(fb["weights"])],
        ["router", format_sci(fb["router"])],
        ["output head", format_sci(fb["output_head"])],
        [f"attention scores (seq_len {seq_len})", format_sci(fb["attention_scores"])],
        ["forward", format_sci(model.flops_per_token_forward)],
        [f"training (c_f = {cf:g}, c_r = {cr:g}; attention 3x)", format_sci(model.flops_per_token)],
        ["law convention (c_f n_active + c_r router)", format_sci(model.law_flops_per_token)],
    ]
    t_flops = Table("FLOPs per token", ["", "FLOPs"], f_rows)
    lines = [f"note: {n}" for n in model.notes]
    finish(Report(data=data, tables=[t_params, t_map, t_flops], lines=lines,
                  warnings=warnings), fmt)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)

"""What ``moeplan optimize`` does with its option values: plan, then render (no typer).

:func:`run_optimize` is the command's body. The Typer command (:mod:`moeplan.cli.cmd_plan`,
the one definition of the options, their help and defaults) calls it, and so does the
typer-free fast path of the entry point (:mod:`moeplan.cli.fast`), with the same values.
The table helpers are shared with ``compare`` and ``sweep``.
"""

from __future__ import annotations

import math

from ..coefficients import load_law
from ..errors import InfeasibleError, InputError
from ..units import format_bytes, format_count, format_sci
from .convert import flatten, output_format
from .render import Report, Table, emit

#: How the law's choice is shown.
_CHOICE = {"granularity": "G", "n_experts": "E", None: "-"}
_BINDING_SHORT = {
    "memory": "memory",
    "max_total_params": "params",
    "smallest_model": "min size",
    "max_tokens": "tokens",
    "params": "size",
}


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


def _choice_value(cfg, choice) -> str:
    return "-" if choice is None else f"{getattr(cfg, choice):g}"


def _mult(x, rng=None) -> str:
    """``21.3x``, with its precision band when known: ``21.3x (13–36x)``."""
    if x is None:
        return "-"
    if rng is None or rng[0] is None or x == 1.0:
        return f"{x:.3g}x"
    return f"{x:.3g}x ({rng[0]:.2g}–{rng[1]:.2g}x)"


def _banded_loss(x, rng=None) -> str:
    """``2.5602``, with its precision band when known: ``2.5602 (2.52–2.60)``."""
    if rng is None or x is None or not math.isfinite(x):
        return _loss(x)
    digits = 2  # as few as show the spread: 2.52–2.60, 2.348–2.352
    while digits < 4 and f"{rng[0]:.{digits}f}" == f"{rng[1]:.{digits}f}":
        digits += 1
    return f"{x:.4f} ({rng[0]:.{digits}f}–{rng[1]:.{digits}f})"


def _binds(label) -> str:
    return "-" if not label else "+".join(_BINDING_SHORT.get(p, p) for p in label.split("+"))


def _config_rows(cfg, choice, law_counts_embeddings=False) -> list[list[str]]:
    rows = []
    if choice == "granularity":
        rows += [
            ["granularity G / top-k", f"{cfg.granularity:g} / {cfg.top_k:g}"],
            ["expansion rate E / n_experts", f"{cfg.expansion_rate:g} / {cfg.n_experts:g}"],
        ]
    elif choice == "n_experts":
        rows.append(["experts E / top-k", f"{cfg.n_experts:g} / {cfg.top_k:g}"])
    rows.append(["d_model x n_blocks", _shape(cfg)])
    if cfg.n_heads is not None:
        rows.append(["heads x head dim", f"{cfg.n_heads:g} x {cfg.head_dim:g}"])
    rows.append(
        [
            "d_expert" if choice else "d_ff",
            f"{cfg.d_expert:g}" if cfg.realizable else f"{cfg.d_expert:.1f}",
        ]
    )
    rows += [
        ["n_active (non-embedding)", f"{format_count(cfg.n_active)} ({cfg.n_active:,.0f})"],
        ["n_total (non-embedding)", f"{format_count(cfg.n_total)} ({cfg.n_total:,.0f})"],
    ]
    if choice == "granularity":
        rows.append(["router params", format_count(cfg.router_params)])
    if cfg.n_embedding is not None:
        rows += [
            ["n_embedding", format_count(cfg.n_embedding)],
            [
                "n_active / n_total with embedding"
                + (" (the law's N)" if law_counts_embeddings else ""),
                f"{format_count(cfg.n_active_with_embedding)} / "
                f"{format_count(cfg.n_total_with_embedding)}",
            ],
        ]
    rows += [
        [
            f"memory ({cfg.bytes_per_param:g} bytes/param)",
            format_bytes(cfg.memory_bytes)
            + (f" (KV cache {format_bytes(cfg.kv_cache_bytes)})" if cfg.kv_cache_bytes else ""),
        ],
        ["tokens", f"{format_count(cfg.tokens)} ({cfg.tokens:.4g})"],
        ["tokens per active param", f"{cfg.tokens_per_active_param:.1f}"],
        ["training FLOPs (router share)", f"{format_sci(cfg.flops)} ({cfg.router_share:.1%})"]
        if choice == "granularity"
        else ["training FLOPs", format_sci(cfg.flops)],
    ]
    if cfg.inference_flops:
        rows.append(["inference FLOPs", format_sci(cfg.inference_flops)])
    return rows


def run_optimize(
    *,
    flops,
    target_loss,
    params,
    law,
    expansion_rate,
    aspect_ratio,
    granularity,
    max_granularity,
    c_f,
    c_r,
    memory,
    bytes_per_param,
    kv_tokens,
    inference_tokens,
    experts,
    vocab_size,
    tied_embeddings,
    max_total_params,
    max_tokens,
    multiple_of,
    shape_tolerance,
    alternatives,
    gpu,
    mfu,
    gpus,
    days,
    gpu_hours,
    tp,
    seq_len,
    micro_batch,
    hf_config,
    profile,
    a2a_bandwidth,
    json_flag,
) -> int:
    """``moeplan optimize``: the values of its options (every one, as the Typer command
    receives them) in, the report printed, the exit status returned."""
    fmt = output_format(json_flag)
    spec = load_law(law)
    from ..plan import optimize
    from .time_views import (
        choices_for,
        refuse_with_profile,
        refuse_without_profile,
        render_time_plan,
    )

    if profile is not None:  # plan by GPU time on measured hardware (issue 16)
        refuse_with_profile(
            {
                "--flops": flops,
                "--target-loss": target_loss,
                "--params": params,
                "--memory": memory,
                "--kv-tokens": kv_tokens,
                "--inference-tokens": inference_tokens,
                "--max-total-params": max_total_params,
                "--max-tokens": max_tokens,
                "--gpu": gpu,
                "--mfu": mfu,
                "--vocab-size": vocab_size,
                "--max-granularity": max_granularity,
                "--shape-tolerance": shape_tolerance,
                "--tied-embeddings": tied_embeddings,
                "--tp": tp,
                "--micro-batch": micro_batch,
                "--hf-config": hf_config,
            }
        )
        if days is None and gpu_hours is None:
            raise InputError("--profile plans by GPU time: give --gpus N --days T or --gpu-hours H")
        if days is not None and gpus is None:
            raise InputError("--days goes with --gpus N (the budget is N GPUs x T days)")
        from ..plan.timeopt import optimize_time

        res = optimize_time(
            spec,
            profile,
            gpus=gpus,
            days=days,
            gpu_hours=gpu_hours,
            choices=choices_for(spec, flatten(granularity), flatten(experts)),
            expansion_rate=expansion_rate,
            aspect_ratio=aspect_ratio,
            c_f=c_f,
            c_r=c_r,
            **({} if seq_len is None else {"seq_len": seq_len}),
            a2a_bandwidth=None if a2a_bandwidth is None else a2a_bandwidth * 1e9,
        )
        return emit(render_time_plan(res), fmt)
    refuse_without_profile({"--a2a-bandwidth": a2a_bandwidth})
    hw_given = [
        n
        for n, v in (
            ("--mfu", mfu),
            ("--gpus", gpus),
            ("--days", days),
            ("--gpu-hours", gpu_hours),
            ("--seq-len", seq_len),
            ("--micro-batch", micro_batch),
        )
        if v is not None
    ]
    if gpu is None and hw_given:
        raise InputError(
            f"{' and '.join(hw_given)} go with --gpu NAME (h100, h200, a100, b200, "
            f"mi300x), or with --profile NAME to plan by GPU time on measured "
            f"hardware"
        )
    if days is not None and gpus is None:
        raise InputError(
            "--days needs --gpus N (the budget is N x peak x MFU x days); or give --gpu-hours"
        )
    if days is not None and gpu_hours is not None:
        raise InputError("give either --days or --gpu-hours, not both")
    timed = days is not None or gpu_hours is not None
    if timed and (flops is not None or target_loss is not None):
        raise InputError(
            f"--{'days' if days is not None else 'gpu-hours'} sets the budget; "
            f"leave out {'--flops' if flops is not None else '--target-loss'}"
        )
    if hf_config is not None:
        from ..fileio import check_output_path

        check_output_path(hf_config, param="hf_config")
    if gpu is not None:
        from ..hardware import get_accelerator

        get_accelerator(gpu)  # fail early on an unknown name
        if mfu is not None and mfu > 1:
            raise InputError(
                f"--mfu must be a fraction of the peak in (0, 1], e.g. 0.4, got {mfu:g}"
            )
    if flops is None and target_loss is None and not timed:
        if params is not None:
            raise InputError(
                "--params fixes the model size; also give the budget with --flops "
                "(best tokens and G for it) or a loss with --target-loss"
            )
        raise InputError("give a budget with --flops (e.g. 1e22) or a target with --target-loss")
    if flops is not None and target_loss is not None:
        raise InputError(
            "give either a budget (--flops) or a target loss (--target-loss); not both"
        )
    opt_kwargs = dict(
        granularities=flatten(granularity),
        experts=flatten(experts),
        target_loss=target_loss,
        expansion_rate=expansion_rate,
        aspect_ratio=aspect_ratio,
        c_f=c_f,
        c_r=c_r,
        params=params,
        memory=memory,
        bytes_per_param=bytes_per_param,
        kv_tokens=kv_tokens,
        inference_tokens=inference_tokens,
        tied_embeddings=tied_embeddings,
        max_total_params=max_total_params,
        max_tokens=max_tokens,
        max_granularity=max_granularity,
        multiple_of=multiple_of,
        shape_tolerance=shape_tolerance,
        n_alternatives=alternatives,
    )
    hwp = None
    try:
        if gpu is not None:
            from ..plan.hardware import plan_on_hardware

            hwp = plan_on_hardware(
                spec,
                gpu=gpu,
                gpus=gpus,
                flops=flops,
                days=days,
                gpu_hours=gpu_hours,
                mfu=mfu,
                tp=tp,
                seq_len=seq_len,
                micro_batch=micro_batch,
                vocab_size=vocab_size,
                **opt_kwargs,
            )
            res = hwp.result
        else:
            res = optimize(
                spec,
                flops,
                vocab_size=vocab_size,
                **({"tp": tp} if tp is not None else {}),
                **opt_kwargs,
            )
    except InfeasibleError as exc:
        # with --params the user fixed the size: a budget too small for it is theirs to
        # change, not the law's ("fewer than one" token is the core's wording for this)
        if params is None or flops is None or "fewer than one" not in str(exc):
            raise
        raise InfeasibleError(
            f"--params {format_count(params)} is too large for --flops {format_sci(flops)}: "
            f"a model that size gets fewer than one training token; give a smaller --params "
            f"or a larger --flops"
        ) from None
    choice, data = res.choice, res.to_dict()
    warnings = list(data.pop("warnings"))
    rec, cont = res.recommended or res.continuous, res.continuous
    tables = []

    head = f"{format_sci(res.budget_flops)} FLOPs"
    if hwp is not None and hwp.hardware_budget is not None:
        head = f"{format_sci(res.budget_flops)} law FLOPs"
    if res.target_loss is not None:
        head = f"target loss {res.target_loss:g}: least budget {format_sci(res.budget_flops)} FLOPs"
        if (
            res.recommended is not None
            and res.plan_flops is not None
            and abs(res.plan_flops / res.budget_flops - 1) > 5e-4
        ):
            # the headline is the plan's (issue 10 item 2); the continuous optimum's beside it
            head = (
                f"target loss {res.target_loss:g}: the plan needs "
                f"{format_sci(res.plan_flops)} FLOPs; continuous least budget "
                f"{format_sci(res.budget_flops)}"
            )
    if choice == "n_experts":
        head += f"; {res.limits.description}"
    kind = "dense model" if choice is None else "configuration"
    title = (
        f"Recommended {kind} ({res.law}; {head})"
        if res.recommended is not None
        else f"Continuous optimum ({res.law}; {head}; no realizable granularity)"
    )
    from ..laws.chinchilla import counts_embeddings

    rows = _config_rows(rec, choice, counts_embeddings(spec))
    rows.append(
        [
            "predicted loss (within rounding)" if rec.loss_range else "predicted loss",
            _banded_loss(rec.loss, rec.loss_range),
        ]
    )
    if res.recommended is not None:
        label = (
            "continuous optimum (cost of the training-memory limit)"
            if rec.binding == "training_memory"
            else "continuous optimum (rounding penalty)"
        )
        rows.append(
            [
                label,
                f"{cont.loss:.4f} at d_model {cont.d_model:.1f}, n_blocks "
                f"{cont.n_blocks:.2f} ({_delta(rec.loss_penalty)})",
            ]
        )
    bd = res.bands
    if bd is not None:
        g_text = ""
        if choice == "granularity":
            g_text = (
                f"G {bd.granularity[0]:g}"
                if bd.granularity[0] == bd.granularity[1]
                else f"G {bd.granularity[0]:g}–{bd.granularity[1]:g}"
            ) + ", "
        rows.append(
            [
                f"optimum within {'bootstrap' if bd.source == 'bootstrap' else 'rounding'}",
                f"{g_text}n_total {format_count(bd.n_total[0])}–{format_count(bd.n_total[1])}, "
                f"D {format_count(bd.tokens[0])}–{format_count(bd.tokens[1])}",
            ]
        )
    if choice == "granularity" and len(res.candidates) > 1:
        rows.append(
            [
                "best real-valued G",
                f"{res.best_real_choice:.3g} (loss {res.best_real_choice_loss:.4f})",
            ]
        )
    if rec.binding:
        rows.append(["binding limit", rec.binding.replace("_", " ")])
    if rec.learning_rate is not None:
        rows.append(["learning rate (Ludziejewski et al. 2025)", f"{rec.learning_rate:.3g}"])
    if hwp is not None:
        warnings += list(hwp.warnings)
        tt = hwp.training_time
        data["training_time"] = tt
        data["hardware_budget"] = (
            None if hwp.hardware_budget is None else hwp.hardware_budget.to_dict()
        )
        data["training_memory"] = (
            None if hwp.training_memory is None else hwp.training_memory.to_dict()
        )
        wall = f"{tt['days']:,.1f} days" if tt["days"] >= 2 else f"{tt['days'] * 24:,.1f} hours"
        rows.append(
            [
                "executed training FLOPs (law + attention + head)",
                f"{format_sci(tt['flops'])} ({format_sci(tt['law_flops'])} + "
                f"{format_sci(tt['attention_flops'])} + {format_sci(tt['head_flops'])})",
            ]
        )
        rows.append(
            [
                f"time on {tt['n_gpus']} x {tt['gpu']} at {tt['mfu']:.0%} MFU",
                f"{wall} ({tt['gpu_hours']:,.0f} GPU-hours)",
            ]
        )
    tables.append(Table(title, ["", "value"], rows))
    if hwp is not None and hwp.training_memory is not None:
        tables.append(_memory_table(hwp.training_memory))

    if choice is not None:
        best = res.candidates[0].continuous.loss
        sym, g_rows = _CHOICE[choice], []
        for c in res.candidates:
            if not c.feasible:
                continue
            k = c.continuous
            w = c.realized
            whole = "-" if w is None else f"{_shape(w)}: {_loss(w.loss)}"
            g_rows.append(
                [
                    f"{c.choice:g}",
                    _loss(k.loss),
                    _delta(k.loss - best),
                    _shape(k),
                    format_count(k.n_total),
                    format_count(k.n_active),
                    format_count(k.tokens),
                    f"{k.router_share:.1%}",
                    _binds(k.binding),
                ]
                + ([whole] if choice == "n_experts" else [])
            )
        for g in res.excluded:
            g_rows.append(
                [f"{g:g}"] + ["-"] * 7 + ["excluded"] + (["-"] if choice == "n_experts" else [])
            )
        name = {"granularity": "granularity", "n_experts": "number of experts"}[choice]
        tables.append(
            Table(
                f"Best loss at each candidate {name} (continuous optimum; why this {sym})",
                [
                    sym,
                    "loss",
                    "vs best",
                    "d_model x n_blocks",
                    "n_total",
                    "n_active",
                    "tokens",
                    "router",
                    "bound",
                ]
                + (["whole blocks: loss"] if choice == "n_experts" else []),
                g_rows,
            )
        )

    if len(res.realizable) > 1:
        r_rows = []
        for i, c in enumerate(res.realizable, 1):
            r_rows.append(
                [
                    str(i),
                    _choice_value(c, choice),
                    _shape(c),
                    "-" if c.n_heads is None else f"{c.n_heads:g}x{c.head_dim:g}",
                    f"{c.d_expert:g}",
                    format_count(c.n_total),
                    format_count(c.tokens),
                    format_sci(c.flops + c.inference_flops),
                    _loss(c.loss),
                    _delta(c.loss_penalty),
                ]
            )
        order = "least FLOPs first" if res.target_loss is not None else "best first"
        tables.append(
            Table(
                f"Realizable configurations ({order})",
                [
                    "#",
                    _CHOICE[choice],
                    "d_model x n_blocks",
                    "heads",
                    "d_expert",
                    "n_total",
                    "tokens",
                    "FLOPs",
                    "loss",
                    "vs continuous",
                ],
                r_rows,
            )
        )

    if res.constraints:
        c_rows = [
            [
                c.name.replace("_", " "),
                _limit_text(c.name, c.limit),
                "yes" if c.binding else "no",
                _delta(c.loss_cost) if c.binding else "-",
            ]
            for c in res.constraints
        ]
        total = cont.loss - res.unconstrained_loss
        caption = (
            f"all together: loss {cont.loss:.4f} vs {res.unconstrained_loss:.4f} "
            f"unconstrained ({_delta(total)})"
        )
        if res.unconstrained_flops is not None:
            ratio = res.budget_flops / res.unconstrained_flops
            caption += (
                f"; reaching the target takes {ratio:.3g}x the unconstrained "
                f"{format_sci(res.unconstrained_flops)} FLOPs"
            )
        tables.append(
            Table(
                "Constraints",
                ["constraint", "limit", "binds", "loss cost"],
                c_rows,
                caption=caption,
            )
        )

    if res.bootstrap is not None:
        b = res.bootstrap
        b_rows = [
            ["n_total"] + [format_count(v) for v in b.n_total],
            ["n_active"] + [format_count(v) for v in b.n_active],
            ["tokens"] + [format_count(v) for v in b.tokens],
        ]
        if choice == "granularity":
            b_rows.append(["granularity"] + [f"{v:g}" for v in b.granularity])
        b_rows.append(["loss"] + [f"{v:.4f}" for v in b.loss])
        tables.append(
            Table(
                f"Uncertainty over {b.samples} bootstrap fits of the law",
                ["", "10%", "50%", "90%"],
                b_rows,
            )
        )

    summary = (
        f"Train {format_count(rec.n_total)} total / {format_count(rec.n_active)} active parameters"
    )
    if choice == "granularity":
        summary += (
            f" (G = {rec.granularity:g}: {rec.n_experts:g} experts of "
            f"{rec.d_expert:g}, top-{rec.top_k:g})"
        )
    elif choice == "n_experts":
        summary += f" ({rec.n_experts:g} experts of {rec.d_expert:g}, top-1)"
    summary += f" on {format_count(rec.tokens)} tokens: predicted loss {rec.loss:.4f}."
    lines = [summary]
    if hwp is not None and hwp.hardware_budget is not None:
        hb, tt = hwp.hardware_budget, hwp.training_time
        time_text = (
            f"{hb.n_gpus} x {hb.gpu} x {hb.days:g} days"
            if days is not None
            else f"{hb.gpu_hours:g} GPU-hours of {hb.gpu}"
        )
        lines.insert(
            0,
            f"budget: {time_text} x MFU {hb.mfu:g} = {format_sci(hb.flops)} "
            f"executed FLOPs; the law's budget is {format_sci(res.budget_flops)} "
            f"after attention scores ({format_sci(tt['attention_flops'])}) and the "
            f"output head ({format_sci(tt['head_flops'])})",
        )
    if hf_config is not None:
        lines += _write_hf_config(hf_config, res.recommended, data, seq_len, vocab_size)
    return emit(Report(data=data, tables=tables, lines=lines, warnings=warnings), fmt)


def _write_hf_config(path: str, rec, data: dict, seq_len, vocab_size) -> list[str]:
    """Write the recommendation as a qwen3_moe config.json (atomically); lines to print."""
    import json

    from ..export import MAX_POSITION_DEFAULT, VOCAB_SIZE_DEFAULT, hf_config
    from ..fileio import atomic_write
    from ..plan.hardware import shape_of

    shape = shape_of(rec)
    if shape is None:
        raise InfeasibleError(
            "--hf-config needs a whole-number configuration, and this plan "
            "has none (see the warnings)"
        )
    export = hf_config(
        shape,
        vocab_size=vocab_size or VOCAB_SIZE_DEFAULT,
        max_position_embeddings=seq_len or MAX_POSITION_DEFAULT,
    )
    atomic_write(path, json.dumps(export.config, indent=2) + "\n", param="hf_config")
    data["hf_config"] = {"path": str(path), **export.to_dict()}
    return [f"wrote {path} (Hugging Face qwen3_moe config)"] + [f"  {n}" for n in export.notes]


def _memory_table(tm) -> Table:
    lay, pb = tm.layout, tm.per_gpu_bytes
    rows = [
        [
            "layout",
            f"TP {lay.tp} x PP {lay.pp} x DP {lay.dp} = {tm.n_gpus} GPUs; EP "
            f"{lay.ep}, ZeRO-{lay.zero}",
        ],
        ["weights (bf16)", format_bytes(pb.weights)],
        ["gradients (bf16)", format_bytes(pb.gradients)],
        ["optimizer (fp32 Adam, sharded)", format_bytes(pb.optimizer)],
        [
            f"activations (seq {tm.seq_len}, micro-batch {tm.micro_batch}, {tm.recompute} "
            f"recompute)",
            format_bytes(pb.activations),
        ],
        [
            "total per GPU",
            f"{format_bytes(pb.total)} of {format_bytes(tm.gpu_memory_bytes)}: "
            + ("fits" if tm.fits else "does not fit"),
        ],
    ]
    return Table(
        f"Training memory per GPU ({tm.stage} pipeline stage; ZeRO-1, Korthikanti et al. 2022)",
        ["", "value"],
        rows,
    )


def _limit_text(name: str, value: float) -> str:
    if name == "memory":
        return format_bytes(value)
    if name == "max_choice":
        return f"{value:g}"
    return format_count(value)

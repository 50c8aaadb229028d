"""A plan on real GPUs: the budget from GPUs × time, training memory and a parallel layout,
wall-clock time on the FLOPs the GPUs execute, and the best model that fits (issue 13).

:func:`plan_on_hardware` wraps :func:`moeplan.plan.optimize`:

1. **Budget.** ``flops`` is the law's budget (SPEC.md §3, router included; plus inference when
   inference tokens share it). Without it, ``days`` or ``gpu_hours`` give a budget from hardware,
   ``gpus × peak × mfu × days × 86,400`` (:func:`moeplan.hardware.budget_from_hardware`). That
   budget counts the FLOPs the GPUs **execute** (MFU is measured on executed FLOPs), so the law's
   budget is what remains after attention scores and the output head (SPEC.md §10): it is found
   by a fixed-point iteration so that the recommended model's executed FLOPs equal the hardware
   budget and its time equals ``days`` (to 0.1%).
2. **Shapes.** With ``gpus`` and no ``tp``, heads are made divisible by the largest power of two
   up to 8 that divides ``gpus`` (the tensor-parallel degrees a layout may choose), so every
   layout of :func:`moeplan.training.candidate_layouts` stays open.
3. **Training memory** (with ``gpus``): :func:`moeplan.training.training_memory` chooses
   TP × PP × DP = ``gpus`` (EP dividing DP, ZeRO-1) for the recommended configuration. When it
   does not fit and the fine-grained law plans, the best model that fits is planned instead
   (:func:`moeplan.training.plan_training`) and becomes the recommendation, with binding limit
   ``training_memory``.
4. **Time** on executed training FLOPs: law FLOPs + attention scores + output head, never the
   inference share.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InputError
from .results import OptimizeResult

#: Relative accuracy of the budget-from-hardware fixed point.
FIXED_POINT_RTOL = 1e-3


@dataclass(frozen=True)
class HardwarePlan:
    """The plan, and what it means on the GPUs."""

    result: OptimizeResult
    hardware_budget: object | None  # moeplan.hardware.HardwareBudget
    training_time: dict
    training_memory: object | None  # moeplan.training.TrainingMemory
    memory_bound: bool
    tp: int | None
    warnings: tuple = ()


def default_tp(gpus: int) -> int:
    """The largest power of two up to 8 dividing ``gpus``."""
    tp = 1
    while tp < 8 and gpus % (2 * tp) == 0:
        tp *= 2
    return tp


def shape_of(cfg):
    """The whole-number shape of a Configuration (for training memory and export), or None."""
    if cfg is None or not cfg.realizable or cfg.n_heads is None:
        return None
    from ..shapes import Shape

    return Shape(
        d_model=int(cfg.d_model),
        n_blocks=int(cfg.n_blocks),
        n_heads=int(cfg.n_heads),
        head_dim=int(cfg.head_dim),
        d_expert=int(cfg.d_expert),
        n_experts=int(cfg.n_experts),
        top_k=int(cfg.top_k),
    )


def memory_shape(cfg):
    """The shape training memory is sized for: :func:`shape_of` with ``d_expert`` such that
    ``n_experts·2·d_model·d_expert`` per block is the configuration's expert parameters
    (``n_total/n_blocks − 4·d_model²``). That is ``4·d_model/G`` for the fine-grained law and
    ``4·d_model`` for a dense model (unchanged), and counts the joint law's SwiGLU experts
    (``9·d_model²`` each) in full."""
    shape = shape_of(cfg)
    if shape is None:
        return None
    d = float(cfg.d_model)
    per_expert = (cfg.n_total / cfg.n_blocks - 4.0 * d * d) / cfg.n_experts
    return dataclasses.replace(shape, d_expert=int(round(per_expert / (2.0 * d))))


def executed_time(cfg, gpu: str, mfu: float, gpus: int, seq_len: int, vocab_size: int) -> dict:
    """``training_time`` of a configuration: executed FLOPs (law + attention + head; the
    inference share is never in it) and the time on ``gpus`` × ``gpu`` at ``mfu``."""
    from ..hardware import training_time
    from ..training import overhead_flops_per_token

    attention, head = (
        float(x) * cfg.tokens
        for x in overhead_flops_per_token(cfg.d_model, cfg.n_blocks, seq_len, vocab_size)
    )
    executed = cfg.flops + attention + head
    tt = training_time(executed, gpu, mfu, gpus).to_dict()
    tt.update(
        flops=executed,
        law_flops=cfg.flops,
        attention_flops=attention,
        head_flops=head,
        seq_len=int(seq_len),
        vocab_size=int(vocab_size),
    )
    return tt


def plan_on_hardware(
    law,
    *,
    gpu: str,
    gpus: int | None = None,
    flops=None,
    days=None,
    gpu_hours=None,
    mfu=None,
    tp=None,
    seq_len=None,
    micro_batch=None,
    vocab_size=None,
    **optimize_kwargs,
) -> HardwarePlan:
    """Optimize for a budget (``flops``, or GPUs × ``days`` / ``gpu_hours``) on ``gpu``.

    ``optimize_kwargs`` go to :func:`moeplan.plan.optimize` (limits, granularities, ...).
    ``vocab_size`` (default 50,257 for the FLOPs and memory) is also the embedding count of
    the plan when given. See the module docstring for the steps.

    Raises
    ------
    InputError
        Unknown GPU, bad numbers, a budget given twice or not at all, inference tokens with a
        budget from hardware.
    """
    from .. import hardware, training
    from . import optimize

    acc = hardware.get_accelerator(gpu)
    n = 1 if gpus is None else hardware._check_gpus(gpus)
    u = hardware.MFU_DEFAULT if mfu is None else hardware._check_mfu(mfu)
    s = (
        training.SEQ_LEN_DEFAULT
        if seq_len is None
        else training._whole(seq_len, "seq_len", hi=2**24)
    )
    b = (
        training.MICRO_BATCH_DEFAULT
        if micro_batch is None
        else training._whole(micro_batch, "micro_batch", hi=2**20)
    )
    v = training.VOCAB_SIZE_DEFAULT if vocab_size is None else vocab_size
    timed = days is not None or gpu_hours is not None
    if flops is not None and timed:
        raise InputError(
            "give the budget either as flops or as time on the GPUs (days or gpu_hours), not both",
            param="flops",
        )
    if optimize_kwargs.get("target_loss") is not None and timed:
        raise InputError(
            "a target loss asks for the least budget; it does not go with a "
            "budget from the GPUs' time (days or gpu_hours)",
            param="target_loss",
        )
    if timed and optimize_kwargs.get("inference_tokens"):
        raise InputError(
            "a budget from the GPUs' time is the training run's; to share a budget "
            "with inference give it in flops",
            param="inference_tokens",
        )
    joint = law.choice == "n_experts"
    if tp is None and gpus is not None and not joint:
        tp = default_tp(n)
    kw = dict(optimize_kwargs)
    if tp is not None:
        kw["tp"] = tp
    if vocab_size is not None:
        kw["vocab_size"] = vocab_size

    hw = None
    warnings: list[str] = []
    if timed:
        hw = hardware.budget_from_hardware(acc.name, n, days=days, gpu_hours=gpu_hours, mfu=u)
        budget = hw.flops
        for _ in range(12):
            res = optimize(law, budget, **kw)
            rec = res.recommended or res.continuous
            tt = executed_time(rec, acc.name, u, n, s, v)
            if abs(tt["flops"] / hw.flops - 1.0) <= FIXED_POINT_RTOL:
                break
            budget *= hw.flops / tt["flops"]
    else:
        res = optimize(law, flops, **kw)

    memory = None
    bound = False
    if gpus is not None:
        rec = res.recommended
        shape = memory_shape(rec)
        if shape is None:
            warnings.append("no whole-number configuration: training memory is not estimated")
        else:
            memory = training.training_memory(shape, acc.name, n, s, b, "selective", v)
            cons = res.limits
            replan = (
                not memory.fits
                and law.choice == "granularity"
                and cons.params is None
                and cons.max_tokens is None
                and not cons.inference_tokens
                and optimize_kwargs.get("target_loss") is None
            )
            if replan:
                res, memory = _best_that_fits(
                    law,
                    res,
                    acc.name,
                    n,
                    None if timed else res.budget_flops,
                    days,
                    gpu_hours,
                    u,
                    tp,
                    s,
                    b,
                    v,
                    kw,
                )
                bound = True
            elif not memory.fits:
                warnings.append(f"the recommended model does not fit in training: {memory.reason}")
    rec = res.recommended or res.continuous
    tt = executed_time(rec, acc.name, u, n, s, v)
    if hw is not None and abs(tt["days"] / (hw.days or tt["days"]) - 1.0) > 0.01:
        warnings.append(
            f"the plan's executed FLOPs take {tt['days']:.3g} days, not the "
            f"{hw.days:g} asked: no whole-number shape spends the budget exactly"
        )
    return HardwarePlan(
        result=res,
        hardware_budget=hw,
        training_time=tt,
        training_memory=memory,
        memory_bound=bound,
        tp=tp,
        warnings=tuple(warnings),
    )


def _best_that_fits(law, res, gpu, n, flops, days, gpu_hours, mfu, tp, s, b, v, kw):
    """Replace the recommendation by the best buildable model whose training fits."""
    from .. import training
    from .realize import make_configuration
    from .solve import resolve

    settings = res.settings
    plan = training.plan_training(
        law,
        gpu,
        n,
        flops=flops,
        days=days,
        gpu_hours=gpu_hours,
        mfu=mfu,
        tp=tp,
        seq_len=s,
        micro_batch=b,
        vocab_size=v,
        granularities=[g for g in settings["granularities"] if float(g).is_integer()],
        expansion_rate=settings["expansion_rate"],
    )
    best = plan.choice.best
    sh = best.shape
    setup = resolve(
        law, settings["expansion_rate"], settings["aspect_ratio"], settings["c_f"], settings["c_r"]
    )
    cfg = make_configuration(
        setup,
        sh.d_model,
        sh.n_blocks,
        sh.granularity,
        best.tokens,
        res.limits,
        realizable=True,
        continuous_loss=res.continuous.loss,
        binding="training_memory",
        tp=kw.get("tp", 1),
    )
    from .bands import config_loss_range

    cfg = dataclasses.replace(cfg, loss_range=config_loss_range(law, setup, cfg))
    note = (
        f"training memory binds: the loss-optimal model does not fit {n} x {gpu} in "
        f"training (ZeRO-1, micro-batch {b}, sequence {s}); the plan is the best buildable "
        f"model that fits (loss {cfg.loss:.4f}; the continuous optimum without this limit "
        f"{res.continuous.loss:.4f})"
    )
    from ..shapes import top_k_warnings

    # the diagnostics of the loss-optimal model (its range, its top-k) no longer apply
    warnings = (
        list(law.range_warnings(params=cfg.n_total, tokens=cfg.tokens, granularity=cfg.granularity))
        + top_k_warnings(cfg.top_k)
        + [note]
    )
    res = dataclasses.replace(
        res,
        recommended=cfg,
        realizable=(cfg,),
        budget_flops=plan.budget_flops,
        warnings=tuple(dict.fromkeys(warnings)),
    )
    return res, plan.memory

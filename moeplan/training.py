"""What a training run needs beyond the law: memory per GPU, a parallel layout, executed FLOPs.

Training memory (SPEC.md §9)
----------------------------
Mixed-precision Adam holds, per parameter, 2 bytes of bf16 weights, 2 of bf16 gradients and
12 of fp32 optimizer state (master weights, first and second moments): 16 bytes (Rajbhandari et
al. 2020, ZeRO). A layout over W GPUs is tensor-parallel ``tp`` × pipeline ``pp`` × data-parallel
``dp`` = W. Experts are sharded by expert parallelism ``ep`` (``ep`` divides ``dp``; the expert
data-parallel group has ``dp/ep`` members) with expert tensor-parallel 1 (Megatron-Core's default).
ZeRO-1 shards the optimizer state over ``dp`` for dense parameters and over ``dp/ep`` for expert
parameters. Per GPU, for the parameters ``P_dense`` and ``P_expert`` of its pipeline stage::

    weights    = 2·P_dense/tp + 2·P_expert/ep
    gradients  = 2·P_dense/tp + 2·P_expert/ep
    optimizer  = 12·P_dense/(tp·dp) + 12·P_expert/(ep·(dp/ep)) = 12·P_dense/(tp·dp) + 12·P_expert/dp

With the model's parameters spread evenly over the stages (``P/pp``) this is SPEC.md §9's
"dense parameters/(TP·PP) + expert parameters/(EP·PP)".

What a stage holds: blocks are split over ``pp`` stages as evenly as whole blocks allow (the first
stages take the extra block when ``pp`` does not divide ``n_blocks``; any ``pp <= n_blocks`` is
allowed). Dense parameters of a block: attention ``4·d²``, router ``d·n_experts``, two norms
``2·d``; expert parameters ``n_experts·2·d·d_expert`` (the paper's 2-matrix experts). The first
stage also holds the input embedding ``V·d``; the last the output head ``V·d`` (untied) and the
final norm. The busiest of the first and the last stage is reported.

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models", Table 2 with sequence parallelism), per layer and micro-batch, bytes::

    no recomputation:         s·b·h·(34 + 5·a·s/h) / tp
    selective recomputation:  s·b·h·34 / tp

(``s`` sequence length, ``b`` micro-batch, ``h = d_model``, ``a`` heads). The 34 counts a 4h-wide
MLP; a token's top-k experts of width ``4h/G`` hold the same hidden activations in all. The MoE
layer adds its **routed activations**: the ``top_k`` dispatched copies of the token's hidden state
(bf16) that the experts' first matrix keeps for its weight gradient, ``2·top_k·s·b·h / tp`` bytes
per MoE layer (with sequence parallelism each TP rank routes its own ``s/tp`` tokens; with expert
parallelism a GPU receives as many copies as it sends on average). Router logits, the combine's
saved outputs, the embedding's and the output head's activations (Korthikanti: ``4·s·b·v/tp`` on
the last stage) and allocator fragmentation are not counted.

Pipeline schedule: 1F1B without interleaving. Stage ``i`` of ``pp`` holds ``pp - i`` micro-batches
in flight, so the first stage holds ``pp`` micro-batches of its layers' activations and the last
holds one.

Layout choice (:func:`training_memory`): ``tp`` in 1, 2, 4, 8 (within a node of 8 GPUs), dividing
the heads and W; ``pp`` any divisor of ``W/tp`` up to ``n_blocks``; ``ep`` any divisor of ``dp``
and of ``n_experts``. The first layout that fits, in the order: least model parallelism
``tp·pp``, then least ``pp`` (pipeline bubbles cost more than TP inside a node), then least
``ep``.

Executed FLOPs (SPEC.md §10)
----------------------------
:func:`executed_flops`: per training token the law's FLOPs (SPEC.md §3, router included) plus
attention scores ``12·n_blocks·s·d_model`` (``QKᵀ`` and ``AV``, forward and backward, full
context, no causal halving, as the PaLM MFU formula) plus the output head ``6·d_model·V``.
Inference FLOPs that share a budget are never part of it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import accounting
from .errors import InputError
from .hardware import HardwareBudget, TrainingTime, get_accelerator

if TYPE_CHECKING:
    from .shapes import ShapeChoice

#: Bytes per parameter: bf16 weights, bf16 gradients, fp32 master weights + Adam moments.
BYTES_WEIGHTS = 2.0
BYTES_GRADIENTS = 2.0
BYTES_OPTIMIZER = 12.0
#: Sequence length (tokens) for activations and attention-score FLOPs; the paper's GPT-2
#: vocabulary (one definition each, in moeplan.accounting).
SEQ_LEN_DEFAULT = accounting.SEQ_LEN_DEFAULT
VOCAB_SIZE_DEFAULT = accounting.GPT2_VOCAB_SIZE
#: Sequences per micro-batch.
MICRO_BATCH_DEFAULT = 1
#: Tensor-parallel degrees tried (within one node).
TP_DEGREES = (1, 2, 4, 8)
#: Recomputation modes.
RECOMPUTE_MODES = ("selective", "none")

ASSUMPTIONS = (
    "mixed-precision Adam: 2 + 2 + 12 bytes per parameter",
    "ZeRO-1: optimizer state sharded over dp (dense) and dp/ep (experts)",
    "expert tensor-parallel 1; sequence parallelism with tp",
    "activations per Korthikanti et al. 2022 plus top-k routed copies per MoE layer",
    "1F1B pipeline: the first stage holds pp micro-batches in flight",
    "not counted: CUDA context, NCCL buffers, fragmentation, logits",
)


def _whole(value, name: str, lo: int = 1, hi: float = 2**53) -> int:
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number >= {lo}, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a whole number >= {lo}, got {value!r}") from None
    if not math.isfinite(v) or v != int(v) or v < lo or v > hi:
        raise InputError(f"{name} must be a whole number >= {lo}, got {value!r}")
    return int(v)


@dataclass(frozen=True)
class Layout:
    """A parallel layout: ``tp·pp·dp`` GPUs, experts over ``ep`` of the ``dp`` ranks."""

    tp: int
    pp: int
    ep: int
    dp: int
    zero: int = 1

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PerGpuBytes:
    """Bytes one GPU holds during training (see the module docstring)."""

    weights: float
    gradients: float
    optimizer: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


# --------------------------------------------------------------------------- formulas


def static_bytes(dense_params, expert_params, tp=1, ep=1, dp=1):
    """Weights, gradients and optimizer bytes per GPU for one stage's parameters (ZeRO-1).

    ``dense_params`` and ``expert_params`` are the parameters of the GPU's pipeline stage
    (for an even split, the model's divided by ``pp``). Vectorised.

    Returns
    -------
    tuple of float or ndarray
        ``(2·P_d/tp + 2·P_e/ep, same, 12·P_d/(tp·dp) + 12·P_e/dp)`` bytes.
    """
    pd = np.asarray(dense_params, dtype=float)
    pe = np.asarray(expert_params, dtype=float)
    tp, ep, dp = (np.asarray(x, dtype=float) for x in (tp, ep, dp))
    weights = BYTES_WEIGHTS * (pd / tp + pe / ep)
    grads = BYTES_GRADIENTS * (pd / tp + pe / ep)
    # ZeRO-1: dense state over the dp replicas of a TP shard; an expert's state over the dp/ep
    # replicas of that expert (each holds 1/ep of the experts).
    optimizer = BYTES_OPTIMIZER * (pd / (tp * dp) + pe / (ep * (dp / ep)))
    return weights, grads, optimizer


def activation_bytes_per_layer(
    seq_len, micro_batch, d_model, n_heads, tp=1, recompute: str = "selective", top_k=0
):
    """Activation bytes one layer keeps for backward, per micro-batch (Korthikanti et al. 2022).

    ``s·b·h·(34 + 5·a·s/h)/tp`` without recomputation, ``s·b·h·34/tp`` with selective
    recomputation, plus ``2·top_k·s·b·h/tp`` routed copies for an MoE layer (``top_k = 0`` for a
    dense layer). Vectorised.
    """
    if recompute not in RECOMPUTE_MODES:
        raise InputError(
            f"recompute must be one of {', '.join(RECOMPUTE_MODES)}, got {recompute!r}"
        )
    s, b, h, a, t, k = (
        np.asarray(x, dtype=float) for x in (seq_len, micro_batch, d_model, n_heads, tp, top_k)
    )
    per = 34.0 if recompute == "selective" else 34.0 + 5.0 * a * s / h
    return s * b * h * (per + 2.0 * k) / t


def block_params(d_model, n_experts, d_expert):
    """(dense, expert) parameters of one MoE block: ``4d² + d·n_experts + 2d`` and
    ``n_experts·2·d·d_expert`` (attention, router, two norms; the paper's 2-matrix experts)."""
    d = float(d_model)
    return 4.0 * d * d + d * n_experts + 2.0 * d, 2.0 * n_experts * d * d_expert


def stage_blocks(n_blocks: int, pp: int) -> tuple[int, int]:
    """Blocks on the first and on the last of ``pp`` stages (as even as whole blocks allow)."""
    # e.g. 10 blocks on 4 stages: 3, 3, 2, 2
    return -(-n_blocks // pp), n_blocks // pp


def memory_for_layout(
    shape,
    layout: Layout,
    seq_len: int = SEQ_LEN_DEFAULT,
    micro_batch: int = MICRO_BATCH_DEFAULT,
    recompute: str = "selective",
    vocab_size: int = VOCAB_SIZE_DEFAULT,
) -> tuple[PerGpuBytes, str]:
    """Per-GPU bytes of the busiest pipeline stage (first or last) of ``shape`` in ``layout``.

    ``shape`` is anything with ``d_model``, ``n_blocks``, ``n_heads``, ``d_expert``,
    ``n_experts`` and ``top_k`` (a :class:`moeplan.shapes.Shape`). Returns the bytes and which
    stage they are ("first", "last", or "only" with ``pp = 1``).
    """
    d, v = float(shape.d_model), float(vocab_size)
    dense_b, expert_b = block_params(shape.d_model, shape.n_experts, shape.d_expert)
    first, last = stage_blocks(int(shape.n_blocks), layout.pp)
    per_layer = activation_bytes_per_layer(
        seq_len, micro_batch, shape.d_model, shape.n_heads, layout.tp, recompute, shape.top_k
    )

    def stage(blocks, extra_dense, in_flight):
        w, g, o = static_bytes(
            blocks * dense_b + extra_dense, blocks * expert_b, layout.tp, layout.ep, layout.dp
        )
        act = float(per_layer) * blocks * in_flight
        return PerGpuBytes(float(w), float(g), float(o), act)

    if layout.pp == 1:
        return stage(first, 2.0 * v * d + d, 1), "only"
    a = stage(first, v * d, layout.pp)
    b = stage(last, v * d + d, 1)
    return (a, "first") if a.total >= b.total else (b, "last")


# --------------------------------------------------------------------------- layout choice


@dataclass(frozen=True)
class TrainingMemory:
    """Training memory per GPU and the parallel layout chosen (CLI.md Version 2
    ``training_memory``). When nothing fits, ``layout``/``per_gpu_bytes`` are those of the
    layout needing the least memory, ``fits`` is false and ``reason`` says why."""

    layout: Layout
    per_gpu_bytes: PerGpuBytes
    gpu_memory_bytes: float
    fits: bool
    gpu: str
    n_gpus: int
    seq_len: int
    micro_batch: int
    recompute: str
    vocab_size: int
    stage: str
    reason: str | None = None
    assumptions: tuple = ASSUMPTIONS

    def to_dict(self) -> dict:
        return {
            "layout": self.layout.to_dict(),
            "per_gpu_bytes": self.per_gpu_bytes.to_dict(),
            "gpu_memory_bytes": self.gpu_memory_bytes,
            "fits": self.fits,
            "reason": self.reason,
            "gpu": self.gpu,
            "n_gpus": self.n_gpus,
            "seq_len": self.seq_len,
            "micro_batch": self.micro_batch,
            "recompute": self.recompute,
            "vocab_size": self.vocab_size,
            "stage": self.stage,
            "assumptions": list(self.assumptions),
        }


def _divisors(n: int) -> list[int]:
    small = [i for i in range(1, math.isqrt(n) + 1) if n % i == 0]
    return sorted(set(small + [n // i for i in small]))


def candidate_layouts(shape, gpus: int, tp_degrees=TP_DEGREES) -> list[Layout]:
    """Every admissible layout, in the order of preference (see the module docstring)."""
    out = []
    for tp in tp_degrees:
        if gpus % tp or shape.n_heads % tp:
            continue
        for pp in _divisors(gpus // tp):
            if pp > shape.n_blocks:
                continue
            dp = gpus // (tp * pp)
            for ep in _divisors(dp):
                if shape.n_experts % ep == 0:
                    out.append(Layout(tp=tp, pp=pp, ep=ep, dp=dp))
    out.sort(key=lambda lay: (lay.tp * lay.pp, lay.pp, lay.ep))
    return out


def _gb(x: float) -> str:
    return f"{x / 1e9:.1f} GB"


def training_memory(
    shape,
    gpu: str,
    gpus: int,
    seq_len: int = SEQ_LEN_DEFAULT,
    micro_batch: int = MICRO_BATCH_DEFAULT,
    recompute: str = "selective",
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    gpu_memory_bytes: float | None = None,
) -> TrainingMemory:
    """Choose the smallest model-parallel layout on ``gpus`` × ``gpu`` that fits ``shape``.

    Parameters
    ----------
    shape : moeplan.shapes.Shape
        The architecture (whole numbers).
    gpu : str
        Accelerator name; its memory per GPU comes from :data:`moeplan.hardware.ACCELERATORS`
        unless ``gpu_memory_bytes`` overrides it.
    gpus : int
        GPUs in the job.
    seq_len, micro_batch : int
        Sequence length (tokens) and sequences per micro-batch.
    recompute : {"selective", "none"}
        Activation recomputation.
    vocab_size : int
        Vocabulary (input embedding on the first stage, output head on the last).

    Returns
    -------
    TrainingMemory
        The layout, per-GPU bytes and whether they fit; the reason when nothing fits.
    """
    if gpu_memory_bytes is None:
        acc = get_accelerator(gpu)
        name, cap = acc.name, float(acc.memory_bytes)
    else:  # a measured GPU (a profile) need not be in the catalogue
        name, cap = str(gpu), float(gpu_memory_bytes)
    n = _whole(gpus, "gpus", hi=1e9)
    s = _whole(seq_len, "seq_len", hi=2**24)
    b = _whole(micro_batch, "micro_batch", hi=2**20)
    v = _whole(vocab_size, "vocab_size", lo=0, hi=2**31)
    if not math.isfinite(cap) or cap <= 0:
        raise InputError(f"gpu_memory_bytes must be positive, got {gpu_memory_bytes!r}")
    layouts = candidate_layouts(shape, n)
    if not layouts:
        raise InputError(
            f"no parallel layout of {n} GPUs suits {shape.n_heads} heads and "
            f"{shape.n_blocks} blocks"
        )
    least: tuple[Layout, PerGpuBytes, dict[str, Any]] | None = None
    for lay in layouts:
        mem, stage = memory_for_layout(shape, lay, s, b, recompute, v)
        common: dict[str, Any] = {
            "gpu_memory_bytes": cap,
            "gpu": name,
            "n_gpus": n,
            "seq_len": s,
            "micro_batch": b,
            "recompute": recompute,
            "vocab_size": v,
            "stage": stage,
        }
        if mem.total <= cap:
            return TrainingMemory(layout=lay, per_gpu_bytes=mem, fits=True, **common)
        if least is None or mem.total < least[1].total:
            least = (lay, mem, common)
    assert least is not None  # layouts is not empty
    lay, mem, common = least
    reason = (
        f"no layout of {n} x {name} fits: the least memory per GPU is "
        f"{_gb(mem.total)} (tp {lay.tp}, pp {lay.pp}, ep {lay.ep}, dp {lay.dp}; weights "
        f"{_gb(mem.weights)}, gradients {_gb(mem.gradients)}, optimizer "
        f"{_gb(mem.optimizer)}, activations {_gb(mem.activations)}) over {_gb(cap)}; "
        f"use more GPUs, GPUs with more memory, a smaller micro-batch or a smaller model"
    )
    return TrainingMemory(layout=lay, per_gpu_bytes=mem, fits=False, reason=reason, **common)


# --------------------------------------------------------------------------- executed FLOPs


@dataclass(frozen=True)
class ExecutedFlops:
    """Training FLOPs the GPUs execute (SPEC.md §10), split by part. Totals over ``tokens``.

    ``flops = law_flops + attention_flops + head_flops``; fields are floats or arrays
    (vectorised inputs broadcast).
    """

    flops: Any
    law_flops: Any
    attention_flops: Any
    head_flops: Any
    tokens: Any
    seq_len: int
    vocab_size: int

    def to_dict(self) -> dict:
        def plain(x):
            a = np.asarray(x, dtype=float)
            return float(a) if a.ndim == 0 else a.tolist()

        return {
            k: plain(v) if k not in ("seq_len", "vocab_size") else v
            for k, v in asdict(self).items()
        }


def overhead_flops_per_token(
    d_model, n_blocks, seq_len: int = SEQ_LEN_DEFAULT, vocab_size: int = VOCAB_SIZE_DEFAULT
):
    """Executed training FLOPs per token beyond the law's (SPEC.md §10), as a pair
    ``(attention scores 12·n_blocks·s·d_model, output head 6·d_model·V)``. Vectorised."""
    s = _whole(seq_len, "seq_len", hi=2**24)
    v = _whole(vocab_size, "vocab_size", lo=0, hi=2**31)
    d = np.asarray(d_model, dtype=float)
    return 12.0 * np.asarray(n_blocks, dtype=float) * s * d, 6.0 * d * v


def executed_flops(
    d_model,
    n_blocks,
    tokens,
    expansion_rate=accounting.EXPANSION_RATE_DEFAULT,
    granularity=1.0,
    seq_len: int = SEQ_LEN_DEFAULT,
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    c_f=accounting.C_F_DEFAULT,
    c_r=accounting.C_R_DEFAULT,
) -> ExecutedFlops:
    """Executed training FLOPs for ``tokens`` tokens: law + attention scores + output head.

    ``law_flops = (12·d²·c_f + d·E·G·c_r)·n_blocks·D`` (SPEC.md §3),
    ``attention_flops = 12·n_blocks·s·d·D``, ``head_flops = 6·d·V·D`` (SPEC.md §10).
    Vectorised over ``d_model``, ``n_blocks``, ``tokens``, ``expansion_rate``, ``granularity``.
    """
    s = _whole(seq_len, "seq_len", hi=2**24)
    v = _whole(vocab_size, "vocab_size", lo=0, hi=2**31)
    for name, x in (("d_model", d_model), ("n_blocks", n_blocks), ("tokens", tokens)):
        a = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise InputError(f"{name} must be positive and finite, got {x}")
    d = np.asarray(d_model, dtype=float)
    n = np.asarray(n_blocks, dtype=float)
    D = np.asarray(tokens, dtype=float)
    law = accounting.moe_flops(d, n, D, expansion_rate, granularity, c_f, c_r)
    attention, head = (x * D for x in overhead_flops_per_token(d, n, s, v))

    def out(x):
        return float(x) if np.ndim(x) == 0 else x

    return ExecutedFlops(
        flops=out(law + attention + head),
        law_flops=out(law),
        attention_flops=out(attention),
        head_flops=out(head),
        tokens=out(D),
        seq_len=s,
        vocab_size=v,
    )


# --------------------------------------------------------------------------- planner constraint


def min_bytes_per_gpu(
    d_model,
    n_blocks,
    expansion_rate,
    granularity,
    gpus: int,
    seq_len: int = SEQ_LEN_DEFAULT,
    micro_batch: int = MICRO_BATCH_DEFAULT,
    recompute: str = "selective",
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    tp_degrees=TP_DEGREES,
    expert_width: float = 4.0,
):
    """Least training bytes per GPU over all layouts, for real-valued shapes (vectorised).

    The same memory model as :func:`memory_for_layout` with ``d_expert = expert_width·d/G``
    (``4·d/G``, the fine-grained law's expert; the joint law's SwiGLU expert of the same
    parameters is ``4.5·d`` at G = 1) and ``n_experts = G·E``, relaxed so a planner can use it as a smooth constraint on continuous
    ``d_model`` and ``n_blocks``: every ``tp`` in ``tp_degrees`` that divides ``gpus`` is
    allowed whatever the head count, a stage holds ``n_blocks/pp`` blocks (not whole), and
    ``ep`` must divide ``G·E`` only where that is a whole number. For a buildable shape whose
    heads divide by every ``tp`` and whose blocks divide by every ``pp`` it equals the least
    ``memory_for_layout(...).total`` over :func:`candidate_layouts`.

    Returns
    -------
    float or ndarray
        Bytes, broadcast over the array arguments; ``inf`` where no layout exists.
    """
    n_gpus = _whole(gpus, "gpus", hi=1e9)
    s = _whole(seq_len, "seq_len", hi=2**24)
    b = _whole(micro_batch, "micro_batch", hi=2**20)
    v = float(_whole(vocab_size, "vocab_size", lo=0, hi=2**31))
    d, n, e, g = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (d_model, n_blocks, expansion_rate, granularity))
    )
    n_exp = g * e
    whole_exp = np.abs(n_exp - np.round(n_exp)) < 1e-9
    dense_b = 4.0 * d * d + d * n_exp + 2.0 * d
    expert_b = 2.0 * expert_width * e * d * d  # n_experts · 2 · d · (expert_width·d/G)
    heads = d / np.where(d < 2048, 64.0, 128.0)  # shapes.py's head rule; only a·s/h uses it
    best = np.full(d.shape, np.inf)
    for tp in tp_degrees:
        if n_gpus % tp:
            continue
        per_layer = activation_bytes_per_layer(s, b, d, heads, tp, recompute, g)
        for pp in _divisors(n_gpus // tp):
            dp = n_gpus // (tp * pp)
            blocks = n / pp
            for ep in _divisors(dp):
                ok = (pp <= n) & (~whole_exp | (np.mod(np.round(n_exp), ep) == 0))
                w, gr, o = static_bytes(
                    blocks * dense_b + (v * d if pp > 1 else 2 * v * d + d),
                    blocks * expert_b,
                    tp,
                    ep,
                    dp,
                )
                first = w + gr + o + per_layer * blocks * pp
                if pp > 1:
                    w2, g2, o2 = static_bytes(
                        blocks * dense_b + v * d + d, blocks * expert_b, tp, ep, dp
                    )
                    first = np.maximum(first, w2 + g2 + o2 + per_layer * blocks)
                best = np.where(ok, np.minimum(best, first), best)
    return float(best) if best.ndim == 0 else best


# --------------------------------------------------------------------------- a plan on GPUs


@dataclass(frozen=True)
class TrainingPlan:
    """A buildable model for a cluster: shape, tokens, layout and memory, executed FLOPs, time.

    ``budget_flops`` is the law's budget (SPEC.md §3 FLOPs, router included) the shape was
    chosen for; ``training_time.flops`` are the FLOPs the GPUs execute (SPEC.md §10).
    """

    law: str
    budget_flops: float
    hardware_budget: HardwareBudget | None
    choice: ShapeChoice
    memory: TrainingMemory
    executed: ExecutedFlops
    time: TrainingTime
    memory_bound: bool
    warnings: tuple = ()

    def to_dict(self) -> dict:
        best = self.choice.best
        return {
            "law": self.law,
            "budget_flops": self.budget_flops,
            "hardware_budget": None
            if self.hardware_budget is None
            else self.hardware_budget.to_dict(),
            "recommended": {**best.to_dict(), "law_flops": best.flops},
            "memory_bound": self.memory_bound,
            "training_memory": self.memory.to_dict(),
            "training_time": {
                "flops": self.executed.flops,
                "law_flops": self.executed.law_flops,
                "attention_flops": self.executed.attention_flops,
                "head_flops": self.executed.head_flops,
                "gpu_hours": self.time.gpu_hours,
                "days": self.time.days,
                "gpu": self.time.gpu,
                "n_gpus": self.time.n_gpus,
                "mfu": self.time.mfu,
                "peak_flops": self.time.peak_flops,
            },
            "warnings": list(self.warnings),
        }


def _largest_width_that_fits(
    ar, e, g, gpus, cap, seq_len, micro_batch, recompute, vocab_size
) -> float | None:
    """Largest real d_model (shape rule n = d/ar) whose least training memory per GPU fits
    (memory grows with the width), to 0.5%; None when not even d_model = 16 fits."""
    d = np.exp(np.linspace(math.log(16.0), math.log(2.0**19), 2100))
    m = min_bytes_per_gpu(
        d, np.maximum(d / ar, 1.0), e, g, gpus, seq_len, micro_batch, recompute, vocab_size
    )
    ok = np.nonzero(m <= cap)[0]
    return float(d[ok[-1]]) if ok.size else None


def plan_training(
    law,
    gpu: str,
    gpus: int,
    flops: float | None = None,
    days: float | None = None,
    gpu_hours: float | None = None,
    mfu: float | None = None,
    tp: int | None = None,
    seq_len: int = SEQ_LEN_DEFAULT,
    micro_batch: int = MICRO_BATCH_DEFAULT,
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    recompute: str = "selective",
    granularities=None,
    expansion_rate=None,
) -> TrainingPlan:
    """Plan a run a team can train: the best buildable shape that fits ``gpus`` × ``gpu``.

    Pipeline: budget (``flops``, or ``gpus × peak × mfu × days × 86,400`` / GPU-hours) →
    per granularity the loss-optimal continuous width, capped where the least training memory
    per GPU (:func:`min_bytes_per_gpu`) exceeds the GPU's → buildable shapes around it
    (:func:`moeplan.shapes.best_shape`, heads divisible by ``tp``; default the largest power of
    two <= 8 dividing ``gpus``) whose chosen layout fits (:func:`training_memory`) → executed
    FLOPs and time.

    A budget from hardware counts FLOPs the GPUs execute (MFU is measured on executed FLOPs), so
    the law's budget is what remains after attention scores and the output head: it is found by
    a fixed-point iteration so that the executed FLOPs equal the hardware budget (to 1e-6) and
    the time equals ``days``. A ``flops`` budget is the law's (SPEC.md §3) and the time follows.

    Raises
    ------
    InputError
        Unknown GPU, bad numbers, both or neither of ``flops`` and a time, or no buildable
        shape fits the GPUs' memory at any granularity (the message says so).
    """
    from . import hardware, shapes

    acc = hardware.get_accelerator(gpu)
    n = _whole(gpus, "gpus", hi=1e9)
    u = hardware.MFU_DEFAULT if mfu is None else mfu
    if flops is not None and (days is not None or gpu_hours is not None):
        raise InputError("give either flops or a time (days or gpu_hours), not both")
    hw = None
    if flops is None:
        hw = hardware.budget_from_hardware(acc.name, n, days=days, gpu_hours=gpu_hours, mfu=u)
        target = hw.flops
    else:
        target = shapes._positive(flops, "flops", hi=1e40)
    if tp is None:
        tp = 1
        while tp < 8 and n % (2 * tp) == 0:
            tp *= 2
    rules = shapes.ShapeRules(tp=_whole(tp, "tp", hi=1024))
    e, ar, cf, cr = shapes._law_setup(law, expansion_rate, None, None, None)
    grs = shapes.GRANULARITIES_DEFAULT if granularities is None else tuple(granularities)
    cap = acc.memory_bytes

    def fits(shape):
        return training_memory(shape, acc.name, n, seq_len, micro_batch, recompute, vocab_size).fits

    caps = {
        g: _largest_width_that_fits(
            ar, e, float(g), n, cap, seq_len, micro_batch, recompute, vocab_size
        )
        for g in grs
    }

    def choose(budget):
        widths, optimal = {}, {}
        for g in grs:
            if caps[g] is None:
                continue
            optimal[g] = shapes.optimal_width(law, budget, float(g), e, ar, cf, cr)
            widths[g] = min(optimal[g], caps[g])
        if not widths:
            raise InputError(
                f"no model fits {n} x {acc.name} ({cap / 1e9:g} GB each) at any "
                f"granularity in training (ZeRO-1, micro-batch {micro_batch}, "
                f"sequence {seq_len}); use more GPUs or a shorter sequence"
            )
        choice = shapes.best_shape(
            law,
            budget,
            granularities=list(widths),
            expansion_rate=e,
            rules=rules,
            widths=widths,
            accept=fits,
        )
        g_best = next(g for g in widths if float(g) == choice.best.shape.granularity)
        # memory moved the chosen granularity's width below its loss optimum
        return choice, caps[g_best] < optimal[g_best]

    budget = target
    for _ in range(8):
        choice, bound = choose(budget)
        s = choice.best.shape
        ex = executed_flops(
            s.d_model,
            s.n_blocks,
            choice.best.tokens,
            s.expansion_rate,
            s.granularity,
            seq_len,
            vocab_size,
            cf,
            cr,
        )
        if hw is None or abs(ex.flops / target - 1.0) <= 1e-6:
            break
        budget = budget * target / ex.flops
    memory = training_memory(s, acc.name, n, seq_len, micro_batch, recompute, vocab_size)
    time = hardware.training_time(ex.flops, acc.name, u, n)
    warnings = list(choice.warnings)
    if bound:
        warnings.append(
            f"memory limits the model: the loss-optimal model for {budget:.3g} "
            f"FLOPs does not fit {n} x {acc.name} in training, so the plan is the "
            f"best that fits (fewer parameters, more tokens)"
        )
    return TrainingPlan(
        law=getattr(law, "name", ""),
        budget_flops=float(budget),
        hardware_budget=hw,
        choice=choice,
        memory=memory,
        executed=ex,
        time=time,
        memory_bound=bound,
        warnings=tuple(warnings),
    )

"""Measure a GPU for planning by time (SPEC.md §10): ``moeplan calibrate --out PROFILE.yaml``.

The parts of a training step are timed on the local CUDA GPU in bf16, forward + backward,
with warm-up, repetitions, CUDA events and the median:

* ``expert``: the routed-expert FFN (``x·W1 → GELU → ·W2`` for every expert) through
  ``torch._grouped_mm`` with offsets (or ``torch.bmm`` where that is missing or refuses; the
  point records which), over d_model × granularity × expansion rate at equal active FLOPs
  per token (``d_expert = 4·d_model/G``, ``top_k = G``). Tokens are routed evenly, so each
  local expert gets ``tokens·top_k / experts_per_gpu`` rows. Experts per GPU are at most
  1,024 (PyTorch's grouped GEMM refuses more groups) and their weights at most
  :data:`EXPERT_WEIGHT_BUDGET` bytes; a layer with more experts is assumed split by expert
  parallelism, and the point records ``experts_per_gpu``.
  FLOPs counted: ``6 · tokens · top_k · 2·d_model·d_expert`` (c_f = 6 per active parameter).
* ``dense``: the attention projections (QKV and O, ``6 · tokens · 4·d_model²``), a dense
  4·d_model FFN pair (``6 · tokens · 8·d_model²``) and the output head
  (``6 · tokens · d_model · vocab``).
* ``attention``: causal ``scaled_dot_product_attention`` at head_dim 128; FLOPs counted as
  SPEC.md §10 counts them, ``12 · tokens · seq_len · d_model`` (QKᵀ and AV, forward and
  backward, the causal half not subtracted: a causal kernel skips it, so the "TFLOP/s" of
  this part is an effective rate under that count, and may exceed the hardware's peak).
* ``router``: the linear map d_model → n_experts, softmax and top-k, and the dispatch
  (gather) / combine (weighted scatter-add) of the tokens, with no expert in between;
  FLOPs counted as the law counts the router, ``c_r · tokens · d_model · n_experts`` with
  c_r = 14 (SPEC.md §3). Most of its time is memory traffic, so its rate is low.

Not measured: communication between GPUs (the all-to-all of expert parallelism, across
nodes or within one); see :func:`moeplan.timing.a2a_seconds_per_token` for a simple model.

The grid and the YAML document are plain Python (tested without torch); only the
``measure_*`` functions and :func:`run_calibration` need torch and a CUDA GPU.
"""

from __future__ import annotations

import datetime
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError

#: Schema tag of a profile document (moeplan.profiles checks it).
PROFILE_SCHEMA = "moeplan-profile/1"
#: Default tokens per step (per GPU).
DEFAULT_TOKENS = 16_384
#: PyTorch's grouped GEMM refuses more groups than this.
#: torch._grouped_mm on the H200 (torch 2.11) refused 1,024 groups ("Can't process more than 1024
#: groups", measured 2026-11-30), so at most 1,023 groups: 512 as a power of two.
MAX_GROUPS = 1023
#: Largest expert weights (bytes, bf16, W1 and W2) one GPU holds in a measured point; beyond
#: it the layer is split by expert parallelism (fewer experts per GPU, more tokens each).
EXPERT_WEIGHT_BUDGET = 16 * 2**30
#: Vocabulary of the measured output head.
HEAD_VOCAB = 65_536
#: Attention shape measured: sequence length and head dimension.
ATTENTION_SEQ_LEN = 4096
HEAD_DIM = 128
#: FLOPs per router parameter per token (SPEC.md §3), used to state the router's rate.
ROUTER_C_R = 14.0

FLOP_COUNTS = {
    "expert": "6 * tokens * top_k * 2 * d_model * d_expert",
    "attention_proj": "6 * tokens * 4 * d_model^2 (QKV and O)",
    "ffn": "6 * tokens * 8 * d_model^2 (dense 4*d_model FFN pair)",
    "head": "6 * tokens * d_model * vocab",
    "attention": "12 * tokens * seq_len * d_model (QK^T and AV, forward and backward; causal "
    "half not subtracted)",
    "router": "14 * tokens * d_model * n_experts (c_r = 14, SPEC.md section 3)",
}


@dataclass(frozen=True)
class ExpertPoint:
    """One routed-expert shape: ``top_k = granularity``, ``d_expert = 4·d_model/granularity``."""

    expansion_rate: int
    d_model: int
    granularity: int
    experts_per_gpu: int
    tokens: int

    @property
    def d_expert(self) -> int:
        return 4 * self.d_model // self.granularity

    @property
    def top_k(self) -> int:
        return self.granularity

    @property
    def n_experts(self) -> int:
        return self.expansion_rate * self.granularity

    @property
    def tokens_per_expert(self) -> int:
        return self.tokens * self.top_k // self.experts_per_gpu

    @property
    def flops(self) -> float:
        return 6.0 * self.tokens * self.top_k * 2.0 * self.d_model * self.d_expert


@dataclass(frozen=True)
class Grid:
    """What one calibration measures."""

    d_models: tuple[int, ...]
    granularities: tuple[int, ...]
    expansion_rates: tuple[int, ...]
    tokens: int = DEFAULT_TOKENS
    warmup: int = 3
    repetitions: int = 10
    #: stop repeating a point after this much measured time (at least 3 repetitions)
    seconds_per_point: float = 1.5
    #: torch device; "cuda" for a calibration (a CPU run only checks the code paths)
    device: str = "cuda"
    expert_points: tuple[ExpertPoint, ...] = field(default=(), repr=False)

    def as_mapping(self) -> dict:
        return {
            "d_model": list(self.d_models),
            "granularity": list(self.granularities),
            "expansion_rate": list(self.expansion_rates),
            "tokens": self.tokens,
            "warmup": self.warmup,
            "repetitions": self.repetitions,
            "seconds_per_point": self.seconds_per_point,
            "attention_seq_len": ATTENTION_SEQ_LEN,
            "head_dim": HEAD_DIM,
            "head_vocab": HEAD_VOCAB,
            "max_groups": MAX_GROUPS,
            "expert_weight_budget_bytes": EXPERT_WEIGHT_BUDGET,
        }


def experts_per_gpu(
    expansion_rate: int, d_model: int, granularity: int, weight_budget: int = EXPERT_WEIGHT_BUDGET
) -> int:
    """Experts one GPU holds: all of the layer's ``E·G`` unless that exceeds 1,023 groups or the
    weight budget (bf16 W1 and W2, ``2·2·d_model·d_expert`` bytes per expert); then the largest
    power of two below both (expert parallelism over the rest), at least one."""
    n = expansion_rate * granularity
    per_expert = 2 * 2 * d_model * (4 * d_model // granularity)
    cap = min(MAX_GROUPS, max(1, weight_budget // per_expert))
    if n <= cap:
        return n
    return 2 ** math.floor(math.log2(cap))


def make_grid(quick: bool = False, tokens: int = DEFAULT_TOKENS) -> Grid:
    """The default grid (about 2-3 minutes on an H200) or the quick one (under a minute)."""
    if tokens < 1024 or tokens % 1024:
        raise InputError(f"tokens per step must be a positive multiple of 1024, got {tokens}")
    if quick:
        d_models, gs, es, warmup, reps, cap = (1024, 4096), (1, 4, 16, 64), (8,), 2, 5, 0.5
    else:
        d_models, gs, es, warmup, reps, cap = (
            (1024, 2048, 4096, 8192),
            (1, 2, 4, 8, 16, 32, 64),
            (8, 64),
            3,
            10,
            1.5,
        )
    points = tuple(
        ExpertPoint(e, d, g, experts_per_gpu(e, d, g), tokens)
        for e in es
        for d in d_models
        for g in gs
    )
    return Grid(
        d_models=d_models,
        granularities=gs,
        expansion_rates=es,
        tokens=tokens,
        warmup=warmup,
        repetitions=reps,
        seconds_per_point=cap,
        expert_points=points,
    )


# ---------------------------------------------------------------------------------------------
# torch: imported only here


def require_torch():
    """torch with a CUDA GPU, or an InputError saying what is missing (exit 2 on the CLI)."""
    try:
        import torch
    except ImportError:
        raise InputError(
            "calibrate needs PyTorch with a CUDA GPU; install it with "
            "`pip install 'moeplan[gpu]'` (torch>=2.5) on the GPU machine"
        ) from None
    if not torch.cuda.is_available():
        raise InputError(
            "calibrate needs a CUDA GPU and torch sees none "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); run it "
            "on the GPU machine"
        )
    return torch


def _median_ms(
    torch, step, warmup: int, reps: int, seconds_cap: float, device: str = "cuda"
) -> tuple[float, int]:
    """Median milliseconds of ``step()`` over CUDA events, after warm-up."""
    cuda = device.startswith("cuda")
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    times: list[float] = []
    for _ in range(reps):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:  # a CPU run checks the code paths; its times mean nothing for planning
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 3 and sum(times) > seconds_cap * 1e3:
            break
    return statistics.median(times), len(times)


def _free(torch) -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run_point(torch, build, flops: float, grid: Grid) -> dict:
    """Build tensors and a step, time it; OOM and other failures become a status."""
    try:
        step, extra = build()
        ms, n = _median_ms(
            torch, step, grid.warmup, grid.repetitions, grid.seconds_per_point, grid.device
        )
        del step
        out = {
            "status": "ok",
            "ms": float(f"{ms:.5g}"),
            "repetitions": n,
            "tflops": float(f"{flops / (ms * 1e-3) / 1e12:.4g}"),
        }
        out.update(extra)
        return out
    except torch.cuda.OutOfMemoryError:
        return {"status": "oom", "ms": None, "repetitions": 0, "tflops": None}
    except RuntimeError as exc:
        message = " ".join(str(exc).split())[:200]
        return {"status": "error", "ms": None, "repetitions": 0, "tflops": None, "error": message}
    finally:
        _free(torch)


def grouped_mm_available(torch, dev: str = "cuda") -> tuple[bool, str]:
    """Whether ``torch._grouped_mm`` runs forward and backward here (bf16, offsets), and why not."""
    if not hasattr(torch, "_grouped_mm"):
        return False, f"torch {torch.__version__} has no torch._grouped_mm"
    try:
        x = torch.randn(64, 32, device=dev, dtype=torch.bfloat16, requires_grad=True)
        w = torch.randn(4, 32, 16, device=dev, dtype=torch.bfloat16, requires_grad=True)
        offs = torch.tensor([16, 32, 48, 64], device=dev, dtype=torch.int32)
        y = torch._grouped_mm(x, w, offs=offs)
        y.backward(torch.randn_like(y))  # a dense gradient (y.sum() gives stride-0, refused)
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        return True, "torch._grouped_mm"
    except Exception as exc:  # noqa: BLE001 - any refusal means: use the fallback
        return False, "torch._grouped_mm refused: " + " ".join(str(exc).split())[:160]


def measure_expert(torch, point: ExpertPoint, grid: Grid, use_grouped_mm: bool) -> dict:
    """Forward + backward of the routed-expert FFN of one point on this GPU."""
    F = torch.nn.functional

    def build():
        dev, bf16 = grid.device, torch.bfloat16
        n, rows = point.experts_per_gpu, point.tokens_per_expert
        d, de = point.d_model, point.d_expert
        x = torch.randn(n * rows, d, device=dev, dtype=bf16, requires_grad=True)
        w1 = (torch.randn(n, d, de, device=dev, dtype=bf16) * d**-0.5).requires_grad_()
        w2 = (torch.randn(n, de, d, device=dev, dtype=bf16) * de**-0.5).requires_grad_()
        gy = torch.randn(n * rows, d, device=dev, dtype=bf16)
        if use_grouped_mm:
            offs = torch.arange(1, n + 1, device=dev, dtype=torch.int32) * rows

            def step():
                x.grad = w1.grad = w2.grad = None
                h = torch._grouped_mm(x, w1, offs=offs)
                y = torch._grouped_mm(F.gelu(h), w2, offs=offs)
                y.backward(gy)
        else:

            def step():
                x.grad = w1.grad = w2.grad = None
                h = torch.bmm(x.view(n, rows, d), w1)
                y = torch.bmm(F.gelu(h), w2)
                y.backward(gy.view(n, rows, d))

        return step, {}

    out = {
        "expansion_rate": point.expansion_rate,
        "d_model": point.d_model,
        "d_expert": point.d_expert,
        "top_k": point.top_k,
        "experts_per_gpu": point.experts_per_gpu,
        "tokens_per_expert": point.tokens_per_expert,
        "backend": "torch._grouped_mm" if use_grouped_mm else "torch.bmm",
    }
    out.update(_run_point(torch, build, point.flops, grid))
    return out


def measure_dense(torch, part: str, d_model: int, grid: Grid) -> dict:
    """Forward + backward of a dense part: ``attention_proj``, ``ffn`` or ``head``."""
    F = torch.nn.functional
    t, d = grid.tokens, d_model
    flops = {
        "attention_proj": 6.0 * t * 4 * d * d,
        "ffn": 6.0 * t * 8 * d * d,
        "head": 6.0 * t * d * HEAD_VOCAB,
    }[part]

    def build():
        dev, bf16 = grid.device, torch.bfloat16
        x = torch.randn(t, d, device=dev, dtype=bf16, requires_grad=True)

        def weight(a, b):
            return (torch.randn(a, b, device=dev, dtype=bf16) * a**-0.5).requires_grad_()

        if part == "attention_proj":
            wqkv, wo = weight(d, 3 * d), weight(d, d)
            a = torch.randn(t, d, device=dev, dtype=bf16, requires_grad=True)
            g3, g1 = (
                torch.randn(t, 3 * d, device=dev, dtype=bf16),
                torch.randn(t, d, device=dev, dtype=bf16),
            )

            def step():
                x.grad = a.grad = wqkv.grad = wo.grad = None
                torch.autograd.backward([x @ wqkv, a @ wo], [g3, g1])
        elif part == "ffn":
            w1, w2 = weight(d, 4 * d), weight(4 * d, d)
            g = torch.randn(t, d, device=dev, dtype=bf16)

            def step():
                x.grad = w1.grad = w2.grad = None
                (F.gelu(x @ w1) @ w2).backward(g)
        else:
            w = weight(d, HEAD_VOCAB)
            g = torch.randn(t, HEAD_VOCAB, device=dev, dtype=bf16)

            def step():
                x.grad = w.grad = None
                (x @ w).backward(g)

        return step, {}

    out = {"part": part, "d_model": d_model}
    if part == "head":
        out["vocab"] = HEAD_VOCAB
    out.update(_run_point(torch, build, flops, grid))
    return out


def measure_attention(torch, d_model: int, grid: Grid) -> dict:
    """Forward + backward of causal SDPA at seq 4096, head_dim 128, ``d_model/128`` heads."""
    F = torch.nn.functional
    s = ATTENTION_SEQ_LEN
    batch = max(1, grid.tokens // s)
    heads = max(1, d_model // HEAD_DIM)
    flops = 12.0 * batch * s * s * d_model

    def build():
        dev, bf16 = grid.device, torch.bfloat16
        shape = (batch, heads, s, HEAD_DIM)
        q, k, v = (torch.randn(shape, device=dev, dtype=bf16, requires_grad=True) for _ in range(3))
        g = torch.randn(shape, device=dev, dtype=bf16)

        def step():
            q.grad = k.grad = v.grad = None
            F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)

        return step, {}

    out = {"d_model": d_model, "seq_len": s, "head_dim": HEAD_DIM, "n_heads": heads, "batch": batch}
    out.update(_run_point(torch, build, flops, grid))
    return out


def measure_router(torch, point: ExpertPoint, grid: Grid) -> dict:
    """Forward + backward of the router and the token dispatch/combine for one point's layer."""
    t, d, n, k = grid.tokens, point.d_model, point.n_experts, point.top_k
    flops = ROUTER_C_R * t * d * n

    def build():
        dev, bf16 = grid.device, torch.bfloat16
        x = torch.randn(t, d, device=dev, dtype=bf16, requires_grad=True)
        wr = (torch.randn(d, n, device=dev, dtype=bf16) * d**-0.5).requires_grad_()
        g = torch.randn(t, d, device=dev, dtype=bf16)

        def step():
            x.grad = wr.grad = None
            probs = torch.softmax((x @ wr).float(), dim=-1)
            weights, experts = torch.topk(probs, k, dim=-1)
            order = torch.argsort(experts.reshape(-1), stable=True)
            token = order // k
            dispatched = x.index_select(0, token)  # gather
            scaled = dispatched * weights.reshape(-1)[order].unsqueeze(1).to(bf16)
            y = torch.zeros_like(x).index_add(0, token, scaled)  # combine
            y.backward(g)

        return step, {}

    out = {"expansion_rate": point.expansion_rate, "d_model": d, "n_experts": n, "top_k": k}
    out.update(_run_point(torch, build, flops, grid))
    if out["ms"] is not None:
        out["seconds_per_token"] = out["ms"] * 1e-3 / t
    return out


def _provenance(torch, grid: Grid, command: str) -> dict:
    from . import __version__

    if grid.device.startswith("cuda"):
        props = torch.cuda.get_device_properties(grid.device)
        gpu = {
            "gpu": torch.cuda.get_device_name(grid.device),
            "compute_capability": f"{props.major}.{props.minor}",
            "gpu_memory_bytes": int(props.total_memory),
        }
    else:
        gpu = {"gpu": f"{grid.device} (a code-path check, not a GPU measurement)"}
    return {
        **gpu,
        "torch": str(torch.__version__),
        "cuda": None if torch.version.cuda is None else str(torch.version.cuda),
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "moeplan": __version__,
        "command": command,
        "dtype": "bfloat16",
        "timer": ("CUDA events" if grid.device.startswith("cuda") else "time.perf_counter")
        + ", median of repetitions after warm-up",
        "python": sys.version.split()[0],
    }


def run_calibration(grid: Grid, name: str, progress=None, command: str = "moeplan calibrate"):
    """Measure every point of ``grid`` on the local GPU; the profile document (a dict)."""
    if grid.device.startswith("cuda"):
        torch = require_torch()
    else:  # a CPU run checks the code paths (tests); its numbers mean nothing
        import torch
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    use_gmm, why = grouped_mm_available(torch, grid.device)
    say(f"grouped GEMM: {why if use_gmm else 'torch.bmm (fallback; ' + why + ')'}")
    total = len(grid.expert_points) * 2 + len(grid.d_models) * 4
    done = 0

    def note(label, rec):
        nonlocal done
        done += 1
        rate = f"{rec['tflops']:.0f} TFLOP/s" if rec.get("tflops") is not None else rec["status"]
        say(f"[{done}/{total}] {label}: {rate} ({time.perf_counter() - started:.0f} s)")

    expert = []
    for p in grid.expert_points:
        rec = measure_expert(torch, p, grid, use_gmm)
        expert.append(rec)
        note(
            f"expert E={p.expansion_rate} d_model={p.d_model} G={p.granularity} "
            f"({p.experts_per_gpu} experts/GPU)",
            rec,
        )
    dense, attention = [], []
    for d in grid.d_models:
        for part in ("attention_proj", "ffn", "head"):
            rec = measure_dense(torch, part, d, grid)
            dense.append(rec)
            note(f"{part} d_model={d}", rec)
        rec = measure_attention(torch, d, grid)
        attention.append(rec)
        note(f"attention d_model={d}", rec)
    router = []
    for p in grid.expert_points:
        rec = measure_router(torch, p, grid)
        router.append(rec)
        note(f"router E={p.expansion_rate} d_model={p.d_model} n_experts={p.n_experts}", rec)
    prov = _provenance(torch, grid, command)
    prov["seconds"] = round(time.perf_counter() - started, 1)
    prov["grouped_gemm"] = "torch._grouped_mm" if use_gmm else f"torch.bmm ({why})"
    return build_document(name, prov, grid, expert, dense, attention, router)


def build_document(
    name: str, provenance: dict, grid: Grid, expert, dense, attention, router
) -> dict:
    """The profile document: what :func:`moeplan.profiles.load_profile` reads back."""
    return {
        "schema": PROFILE_SCHEMA,
        "name": name,
        "gpu": provenance.get("gpu", "unknown"),
        "provenance": provenance,
        "not_measured": "communication between GPUs (the all-to-all of expert parallelism, "
        "within a node or across nodes)",
        "flop_counts": dict(FLOP_COUNTS),
        "grid": grid.as_mapping(),
        "expert": list(expert),
        "dense": list(dense),
        "attention": list(attention),
        "router": list(router),
    }


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail before measuring when the profile could not be written."""
    p = Path(path)
    if p.is_dir():
        raise InputError(
            f"out {str(p)!r} is a directory; give a file name ending in .yaml", param="out"
        )
    if p.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(
            f"out {str(p)!r}: a profile is YAML; give a file name ending in .yaml", param="out"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"out {str(p)!r}: folder {str(parent)!r} does not exist", param="out")
    if not os.access(parent, os.W_OK):
        raise InputError(f"out {str(p)!r}: folder {str(parent)!r} is not writable", param="out")
    return p


def check_name(name: str) -> str:
    """A profile name: letters, digits, ``-``, ``_`` and ``.``, starting with a letter or digit."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name or ""):
        raise InputError(
            f"profile name {name!r} is not valid; use letters, digits, '-', '_' or '.' (e.g. h200)"
        )
    return name


def dump_document(doc: dict) -> str:
    """The YAML text of a profile document."""
    import yaml

    header = (
        "# moeplan hardware profile, written by `moeplan calibrate`; read it with "
        "`moeplan profiles PATH`.\n"
    )
    return header + yaml.safe_dump(_plain(doc), sort_keys=False, default_flow_style=None, width=100)


def _plain(obj):
    """Plain YAML types (torch's version is a str subclass; counts may be numpy scalars)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    try:
        value = float(obj)
    except (TypeError, ValueError):
        return str(obj)
    return int(value) if value.is_integer() and "int" in type(obj).__name__ else value


def write_profile(doc: dict, path: str | os.PathLike) -> Path:
    """Write the profile (to a temporary file first, then renamed into place)."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(dump_document(doc), encoding="utf-8")
    os.replace(tmp, p)
    return p


def to_mapping(point: ExpertPoint) -> dict:
    """A grid point with its derived shape (for listings and tests)."""
    out = asdict(point)
    out.update(
        d_expert=point.d_expert,
        top_k=point.top_k,
        n_experts=point.n_experts,
        tokens_per_expert=point.tokens_per_expert,
    )
    return out

"""Memory- and inference-aware planning with the Joint MoE law (SPEC.md §7).

Ludziejewski, Pióro, Krajewski et al. 2025 ("Joint MoE Scaling Laws", arXiv:2502.05172) vary the
number of experts ``E`` (top-1 routing, experts of standard size: SwiGLU with hidden size
``3·d_model``) and ask which ``E`` is best for a FLOPs budget under a memory limit, optionally with
an inference workload. This module answers that question for the ``joint_moe`` coefficient sets
(``ludziejewski2025-joint``).

Architecture (the law's conventions; ``r`` is the aspect ratio, 64, and ``V`` the vocabulary,
50,257)::

    n_blocks = d_model / r                  (n_heads = d_model / 64 as well)
    N_act    = 2·d_model·V + 13·n_blocks·d_model²          (active, with embeddings)
    N_total  = 2·d_model·V + (4 + 9E)·n_blocks·d_model²    (total, with embeddings)
    memory   = (N_total + 2·T·n_blocks·d_model) · bytes_per_param       (T tokens of KV cache)
    budget   = c_f·N_act·D + 2·N_act·D_inf                  (c_f = 6; D_inf inference tokens)

The router is neglected in FLOPs and memory (``d_model·E`` per block, < 0.1 % at E ≤ 32), as in
the paper. Parameter counts are reported with and without embeddings (CLI.md): ``n_active`` and
``n_total`` are non-embedding, ``*_with_embedding`` are what the law sees.

Method
------
For a fixed ``E`` the law is Chinchilla-form, ``L = m·N^μ + n·D^ν + c`` (μ, ν < 0), and the budget
fixes ``D = F/(c_f·N) − 2·D_inf/c_f``. In ``u = ln N_act`` the loss is strictly convex (``ln D`` is
concave and decreasing in ``u``, and ``ν < 0``), so it has one minimum, and since ``N_act`` grows
monotonically with ``d_model`` it is also unimodal in ``d_model``. A memory or parameter limit is
an upper bound on ``d_model`` (the memory is increasing in ``d_model``), so the constrained optimum
is the unconstrained one clipped to the bound. The unconstrained optimum is found by bisection on
the sign of ``dL/du`` (vectorised over budgets × expert counts) to the resolution of a float
(≈1e-15 relative in ``u``); cubic equations ``d_model ↦ count`` are inverted by Newton's method
from above, which converges monotonically because the cubics are convex and increasing.

Realizable configurations (``recommended``) have ``n_blocks`` a whole number and ``d_model =
r·n_blocks`` (a multiple of 64 with the shipped ``r = 64``): the best whole ``n_blocks`` is next
to the continuous optimum (unimodality), tokens are recomputed to spend the budget, and the memory
limit is checked in exact rational arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

from . import domain
from .accounting import INFERENCE_FLOPS_PER_PARAM
from .errors import InfeasibleError, InputError
from .laws import Law, joint_chinchilla_coefficients
from .units import format_bytes, format_count

#: Vocabulary of the GPT-2 tokenizer the law was fitted with (used if a law file has none).
GPT2_VOCAB_SIZE = 50257
#: Candidate numbers of experts when none are given (CLI.md).
DEFAULT_EXPERTS = (1, 2, 4, 8, 16, 32)
#: bf16 weights and KV cache.
BYTES_PER_PARAM_DEFAULT = 2.0
#: Attention head dimension of the law's architecture (n_heads = d_model / 64).
HEAD_DIM = 64
#: Per block: attention 4·d² plus one SwiGLU expert of hidden size 3·d (3 matrices, 9·d²).
ACTIVE_BLOCK_FACTOR = 13.0

LR_SOURCE = ("Ludziejewski, Pióro, Krajewski et al. 2025, \"Joint MoE Scaling Laws\", "
             "arXiv:2502.05172")
LR_FORMULA = "LR = exp(8.39 - 0.81*ln(N_act_non_embedding) - 0.25*ln(E))"
#: The range the learning-rate rule (and the law) was fitted on: up to 2.7B active, E 1..32.
LR_MAX_ACTIVE = 2.7e9
LR_EXPERTS_RANGE = (1.0, 32.0)

#: Binding-constraint labels.
BIND_MEMORY = "memory"
BIND_PARAMS = "max_total_params"
BIND_SMALLEST = "smallest_model"

#: Experts the rule of thumb speaks about ("E ≤ 8").
RULE_OF_THUMB_EXPERTS = (2, 4, 8)


# --------------------------------------------------------------------------------------------
# Architecture: counts, memory, FLOPs (vectorised)
# --------------------------------------------------------------------------------------------

def embedding_params(d_model, vocab_size=GPT2_VOCAB_SIZE):
    """Input embedding plus (untied) output head, ``2·d_model·V`` parameters."""
    return 2.0 * np.asarray(d_model, dtype=float) * float(vocab_size)


def active_params(d_model, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0, with_embedding=True):
    """Active parameters of the law's architecture.

    Parameters
    ----------
    d_model : float or array
        Model width; ``n_blocks = d_model / aspect_ratio``.
    vocab_size : float
        Vocabulary size ``V``.
    aspect_ratio : float
        ``d_model / n_blocks``.
    with_embedding : bool
        Include ``2·d_model·V`` (the law's ``N_act``) or not (``13·n_blocks·d_model²``).

    Returns
    -------
    float or ndarray
        Parameters (a count).
    """
    d = np.asarray(d_model, dtype=float)
    body = ACTIVE_BLOCK_FACTOR * d**3 / aspect_ratio
    return body + embedding_params(d, vocab_size) if with_embedding else body


def total_params(d_model, n_experts, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0,
                 with_embedding=True):
    """Total parameters: ``(4 + 9E)·n_blocks·d_model²`` (+ ``2·d_model·V`` with embeddings)."""
    d = np.asarray(d_model, dtype=float)
    body = (4.0 + 9.0 * np.asarray(n_experts, dtype=float)) * d**3 / aspect_ratio
    return body + embedding_params(d, vocab_size) if with_embedding else body


def kv_cache_elements(d_model, kv_tokens, aspect_ratio=64.0):
    """Values in the KV cache for ``T`` tokens: ``2·T·n_blocks·d_model`` (keys and values)."""
    d = np.asarray(d_model, dtype=float)
    return 2.0 * np.asarray(kv_tokens, dtype=float) * d * d / aspect_ratio


def memory_bytes(d_model, n_experts, kv_tokens=0.0, bytes_per_param=BYTES_PER_PARAM_DEFAULT,
                 vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0):
    """Memory of the served model, bytes: ``(N_total + 2·T·n_blocks·d_model)·bytes_per_param``."""
    return (total_params(d_model, n_experts, vocab_size, aspect_ratio)
            + kv_cache_elements(d_model, kv_tokens, aspect_ratio)) * bytes_per_param


def _cubic_root(a, b, c, rhs):
    """Positive root ``d`` of ``a·d³ + b·d² + c·d = rhs`` (``a > 0``; ``b, c ≥ 0``; ``rhs > 0``).

    Newton's method started above the root: the left side is convex and increasing for d > 0,
    so the iterates fall monotonically onto the root. The start is the smallest of the roots of
    the single terms, which is at most ~3x the root (the largest term is at least rhs/3).
    """
    a, b, c, rhs = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (a, b, c, rhs)))
    start = np.cbrt(rhs / a)
    start = np.minimum(start, np.where(b > 0, np.sqrt(rhs / np.where(b > 0, b, 1.0)), np.inf))
    start = np.minimum(start, np.where(c > 0, rhs / np.where(c > 0, c, 1.0), np.inf))
    d = start
    done = np.zeros(d.shape, dtype=bool)
    for _ in range(200):
        f = ((a * d + b) * d + c) * d - rhs
        step = f / ((3.0 * a * d + 2.0 * b) * d + c)
        # freeze each converged entry, so a value never depends on the rest of the batch
        d = np.where(done, d, d - step)
        done |= np.abs(step) <= 4e-16 * d
        if np.all(done):
            break
    return d


def d_model_for_active(n_active_with_embedding, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0):
    """Inverse of :func:`active_params` (with embeddings): the ``d_model`` with that ``N_act``."""
    return _cubic_root(ACTIVE_BLOCK_FACTOR / aspect_ratio, 0.0, 2.0 * vocab_size,
                       n_active_with_embedding)


def d_model_for_total(n_total_with_embedding, n_experts, vocab_size=GPT2_VOCAB_SIZE,
                      aspect_ratio=64.0):
    """Inverse of :func:`total_params` (with embeddings): the ``d_model`` with that ``N_total``."""
    e = np.asarray(n_experts, dtype=float)
    return _cubic_root((4.0 + 9.0 * e) / aspect_ratio, 0.0, 2.0 * vocab_size,
                       n_total_with_embedding)


def d_model_for_memory(memory, n_experts, kv_tokens=0.0, bytes_per_param=BYTES_PER_PARAM_DEFAULT,
                       vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0):
    """Largest (real) ``d_model`` whose served memory (:func:`memory_bytes`) is ``memory`` bytes."""
    e = np.asarray(n_experts, dtype=float)
    return _cubic_root((4.0 + 9.0 * e) / aspect_ratio,
                       2.0 * np.asarray(kv_tokens, dtype=float) / aspect_ratio,
                       2.0 * vocab_size, np.asarray(memory, dtype=float) / bytes_per_param)


# --------------------------------------------------------------------------------------------
# Learning rate
# --------------------------------------------------------------------------------------------

def learning_rate(n_active_non_embedding, n_experts):
    """The Joint MoE paper's learning-rate rule (SPEC.md §7).

    ``LR = exp(8.39 − 0.81·ln N_act − 0.25·ln E)`` with ``N_act`` the active non-embedding
    parameters. Fitted on models up to 2.7B active parameters and E from 1 to 32.

    Parameters
    ----------
    n_active_non_embedding : float or array
        Active non-embedding parameters (a count).
    n_experts : float or array
        Number of experts ``E`` (≥ 1).

    Returns
    -------
    float or ndarray
        Peak learning rate (dimensionless).

    Raises
    ------
    InputError
        If a count is not positive and finite, or ``E < 1``.
    """
    n = np.asarray(n_active_non_embedding, dtype=float)
    e = np.asarray(n_experts, dtype=float)
    for v in n[~((n >= 1) & (n <= domain.MAX_COUNT))].ravel()[:1]:  # NaN fails both tests
        domain.count(v, "active non-embedding parameters", minimum=1.0)
    for v in e[~((e >= 1) & (e <= domain.MAX_EXPERTS))].ravel()[:1]:
        domain.experts(v, "the number of experts (1 = dense)")
    out = np.exp(8.39 - 0.81 * np.log(n) - 0.25 * np.log(e))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class LearningRateAdvice:
    """A learning rate from the Joint MoE rule, with where it comes from and its range."""

    learning_rate: float
    n_active: float
    n_experts: float
    source: str = LR_SOURCE
    formula: str = LR_FORMULA
    fitted_range: dict = field(default_factory=lambda: {
        "n_active": [None, LR_MAX_ACTIVE], "n_experts": list(LR_EXPERTS_RANGE)})
    warnings: tuple = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return out


def learning_rate_advice(n_active_non_embedding: float, n_experts: float) -> LearningRateAdvice:
    """:func:`learning_rate` for one model, with warnings outside the fitted range."""
    lr = learning_rate(n_active_non_embedding, n_experts)
    n, e = float(n_active_non_embedding), float(n_experts)
    warnings = []
    if n > LR_MAX_ACTIVE:
        warnings.append(f"{n:.3g} active non-embedding parameters is {n / LR_MAX_ACTIVE:.3g}x "
                        f"above the largest model the learning-rate rule was fitted on "
                        f"({LR_MAX_ACTIVE:.2g}): the learning rate is an extrapolation")
    lo, hi = LR_EXPERTS_RANGE
    if not lo <= e <= hi:
        warnings.append(f"{e:g} experts is outside the range the learning-rate rule was fitted "
                        f"on ({lo:g} to {hi:g}): the learning rate is an extrapolation")
    return LearningRateAdvice(learning_rate=lr, n_active=n, n_experts=e,
                              warnings=tuple(warnings))


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

def _as_joint_law(law) -> Law:
    if not isinstance(law, Law):
        from .coefficients import load_law

        law = load_law(law)
    if law.form != "joint_moe":
        raise InputError(f"law {law.name} is {law.form}; the number-of-experts planner needs a "
                         f"joint_moe law such as ludziejewski2025-joint")
    return law


def _vocab(law: Law) -> float:
    return float(law.vocab_size) if law.vocab_size else float(GPT2_VOCAB_SIZE)


def parse_experts(experts) -> tuple[int, ...]:
    """Validate candidate numbers of experts: whole numbers ≥ 1, deduplicated, sorted.

    Raises
    ------
    InputError
        For an empty list, a non-integer, or a value below 1.
    """
    if experts is None:
        return DEFAULT_EXPERTS
    values = [experts] if np.isscalar(experts) else list(experts)
    if not values:
        raise InputError("--experts: give at least one number of experts, e.g. 1,2,4,8")
    out = set()
    for v in values:
        if isinstance(v, bool):
            raise InputError(f"--experts: {v!r} is not a number of experts; use e.g. 1,2,4,8")
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InputError(f"--experts: {v!r} is not a number of experts; use e.g. 1,2,4,8") \
                from None
        if not math.isfinite(x) or x < 1 or x != math.floor(x):
            raise InputError(f"--experts: {v!r} is not a whole number of experts >= 1 "
                             f"(1 = dense); use e.g. 1,2,4,8")
        if x > 1e6:
            raise InputError(f"--experts: {v!r} is far too many experts for this law "
                             f"(fitted on 1 to 32); use at most 1M")
        out.add(int(x))
    return tuple(sorted(out))


def _non_negative(value, what):
    v = float(value or 0.0)
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{what} must be zero or a positive, finite number, got {value!r}")
    return v


@dataclass(frozen=True)
class JointConstraints:
    """The memory/inference setting a plan is made in (validated, base units)."""

    memory: float | None = None            # bytes: parameters plus KV cache
    kv_tokens: float = 0.0                 # tokens held in the KV cache
    bytes_per_param: float = BYTES_PER_PARAM_DEFAULT
    inference_tokens: float = 0.0          # lifetime inference tokens sharing the budget
    max_total_params: float | None = None  # N_total with embeddings (the law's count)

    @classmethod
    def make(cls, memory=None, kv_tokens=0.0, bytes_per_param=BYTES_PER_PARAM_DEFAULT,
             inference_tokens=0.0, max_total_params=None) -> "JointConstraints":
        bpp = domain.in_range(BYTES_PER_PARAM_DEFAULT if bytes_per_param is None
                              else bytes_per_param, "--bytes-per-param", *domain.BYTES_PER_PARAM)
        memory = domain.positive(memory, "--memory")
        if memory is not None:
            domain.in_range(memory, "--memory (bytes)", 0.0, domain.MAX_BYTES, lo_open=True)
        max_total = domain.positive(max_total_params, "--max-total-params")
        if max_total is not None:
            domain.count(max_total, "--max-total-params")
        return cls(memory=memory,
                   kv_tokens=domain.count(_non_negative(kv_tokens, "--kv-tokens"),
                                          "--kv-tokens", allow_zero=True),
                   bytes_per_param=bpp,
                   inference_tokens=domain.count(
                       _non_negative(inference_tokens, "--inference-tokens"),
                       "--inference-tokens", allow_zero=True),
                   max_total_params=max_total)

    @property
    def problem(self) -> str:
        """SPEC.md §7's name for the problem these constraints pose."""
        parts = []
        if self.memory is not None:
            parts.append("total-memory" if self.kv_tokens > 0 else "model-memory")
        elif self.max_total_params is not None:
            parts.append("model-memory")
        if self.inference_tokens > 0:
            parts.append("inference-aware")
        return " + ".join(parts) if parts else "compute-optimal"

    @property
    def description(self) -> str:
        """The limits in words, e.g. ``memory 16 GB, 2 bytes/param`` (``no limit`` if none)."""
        parts = []
        if self.memory is not None:
            parts.append(f"memory {format_bytes(self.memory)}")
            if self.kv_tokens:
                parts.append(f"KV cache {format_count(self.kv_tokens)} tokens")
        if self.max_total_params is not None:
            parts.append(f"at most {format_count(self.max_total_params)} parameters")
        if self.inference_tokens:
            parts.append(f"{format_count(self.inference_tokens)} inference tokens")
        if parts:
            parts.append(f"{self.bytes_per_param:g} bytes/param")
        return ", ".join(parts) or "no limit"

    def to_dict(self) -> dict:
        return {"memory_bytes": self.memory, "kv_tokens": self.kv_tokens,
                "bytes_per_param": self.bytes_per_param,
                "inference_tokens": self.inference_tokens,
                "max_total_params": self.max_total_params}


# --------------------------------------------------------------------------------------------
# The continuous solver (vectorised over budgets x expert counts)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JointFrontier:
    """Continuous optima for every (budget, E) pair: arrays of shape ``(len(flops), len(E))``.

    ``loss`` is NaN where no model fits (``feasible`` False). ``unconstrained_*`` are the optima
    without the memory / parameter limit (same budget and inference workload). ``binding`` holds
    the binding constraint's label, or "" when the optimum is interior.
    """

    flops: np.ndarray
    experts: np.ndarray
    feasible: np.ndarray
    d_model: np.ndarray
    n_active_with_embedding: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    binding: np.ndarray
    unconstrained_d_model: np.ndarray
    unconstrained_loss: np.ndarray
    d_model_cap: np.ndarray

    @property
    def best_index(self) -> np.ndarray:
        """Index of the best E for each budget (-1 where nothing fits)."""
        filled = np.where(self.feasible, self.loss, np.inf)
        idx = np.argmin(filled, axis=1)
        return np.where(np.any(self.feasible, axis=1), idx, -1)


def _slope_positive(u, flops, k, c_f, m, mu, n, nu):
    """Whether dL/du > 0 at u = ln N_act, where D = F/(c_f·N) − k.

    dL/du = m·μ·N^μ − n·ν·D^(ν−1)·(D + k); compared in logs to stay finite for any budget.
    A point with D ≤ 0 is beyond the budget: the slope counts as positive (go left).
    """
    D = flops * np.exp(-u) / c_f - k
    with np.errstate(divide="ignore", invalid="ignore"):
        lhs = np.log(n * -nu) + (nu - 1.0) * np.log(D) + np.log(D + k)
        rhs = np.log(m * -mu) + mu * u
    return np.where(D > 0, lhs > rhs, True)


def _bisect_slope(lo, hi, flops, k, c_f, m, mu, n, nu):
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        pos = _slope_positive(mid, flops, k, c_f, m, mu, n, nu)
        # stop when no midpoint lies strictly inside its bracket: full float resolution
        if np.all((mid <= lo) | (mid >= hi)):
            break
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    return 0.5 * (lo + hi)


def joint_frontier(law, flops, experts=None, constraints: JointConstraints | None = None
                   ) -> JointFrontier:
    """Continuous optimum of the joint law for each budget and candidate ``E``.

    Minimises ``L(N_act, D, E)`` over ``d_model`` (real, ``n_blocks = d_model/r ≥ 1``) with
    ``D`` spending the budget, under the memory / parameter limits of ``constraints``.

    Parameters
    ----------
    law : Law or str
        A ``joint_moe`` law (or its name).
    flops : float or array
        Budgets, FLOPs (training plus inference when ``constraints.inference_tokens > 0``).
    experts : sequence of int, optional
        Candidate numbers of experts (default 1, 2, 4, 8, 16, 32).
    constraints : JointConstraints, optional
        Memory, KV cache, bytes per parameter, inference tokens, parameter limit.

    Returns
    -------
    JointFrontier
        Arrays of shape ``(len(flops), len(experts))``.

    Raises
    ------
    InputError
        For a non-positive budget, bad expert counts or a law whose loss does not fall with
        parameters and tokens.
    """
    law = _as_joint_law(law)
    cons = constraints or JointConstraints()
    ex = np.asarray(parse_experts(experts), dtype=float)
    F = np.atleast_1d(np.asarray(flops, dtype=float))
    if F.ndim != 1 or not (np.all(np.isfinite(F)) and np.all(F > 0)):
        raise InputError("the FLOPs budget must be a positive, finite number, e.g. 1e21")
    V, r, c_f = _vocab(law), float(law.aspect_ratio), float(law.c_f)
    m, mu, n, nu = (np.asarray(x, dtype=float)
                    for x in joint_chinchilla_coefficients(ex, **law.coefficients))
    bad = ~((m > 0) & (mu < 0) & (n > 0) & (nu < 0))
    if np.any(bad):
        raise InputError(f"law {law.name}: for E = {ex[bad][0]:g} the loss does not fall with "
                         f"parameters and tokens (need a·Ê^δ > 0, α + γ·ln Ê < 0, b·Ê^ω > 0, "
                         f"β + ζ·ln Ê < 0); use fewer experts or check the coefficients")
    Fc = F[:, None]
    k = INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens / c_f

    # Smallest model: one block. Largest useful: one training token (D = 1).
    u_lo = np.broadcast_to(np.log(active_params(r, V, r)), (F.size, ex.size))
    u_hi = np.broadcast_to(np.log(Fc / (c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens)),
                           (F.size, ex.size))
    budget_ok = u_hi > u_lo

    d_cap = np.full(ex.shape, np.inf)
    cap_kind = np.full(ex.shape, "", dtype=object)
    if cons.memory is not None:
        d_cap = d_model_for_memory(cons.memory, ex, cons.kv_tokens, cons.bytes_per_param, V, r)
        cap_kind[:] = BIND_MEMORY
    if cons.max_total_params is not None:
        d_par = d_model_for_total(cons.max_total_params, ex, V, r)
        cap_kind = np.where(d_par < d_cap, BIND_PARAMS, cap_kind)
        d_cap = np.minimum(d_cap, d_par)
    d_cap = np.broadcast_to(d_cap, (F.size, ex.size))
    fits = d_cap >= r
    feasible = budget_ok & fits

    hi = np.where(budget_ok, u_hi, u_lo + 1.0)
    u_unc = _bisect_slope(u_lo, hi, Fc, k, c_f, m, mu, n, nu)
    at_lo = _slope_positive(u_lo, Fc, k, c_f, m, mu, n, nu)
    u_unc = np.where(at_lo, u_lo, u_unc)
    d_unc = np.where(at_lo, r, d_model_for_active(np.exp(u_unc), V, r))

    with np.errstate(divide="ignore"):
        u_cap = np.where(np.isfinite(d_cap), np.log(active_params(d_cap, V, r)), np.inf)
    capped = u_cap < u_unc
    u = np.where(capped, u_cap, u_unc)
    d = np.where(capped, d_cap, d_unc)
    binding = np.where(capped, np.broadcast_to(cap_kind, capped.shape),
                       np.where(at_lo, BIND_SMALLEST, "")).astype(str)

    n_act = np.exp(u)
    D = Fc / (c_f * n_act) - k
    with np.errstate(invalid="ignore"):
        loss = np.where(feasible, law.loss(n_act, np.where(feasible, D, 1.0), n_experts=ex),
                        np.nan)
        D_unc = Fc / (c_f * np.exp(u_unc)) - k
        loss_unc = np.where(budget_ok,
                            law.loss(np.exp(u_unc), np.where(budget_ok, D_unc, 1.0), n_experts=ex),
                            np.nan)
    nan = np.nan
    return JointFrontier(
        flops=F, experts=ex, feasible=feasible,
        d_model=np.where(feasible, d, nan), n_active_with_embedding=np.where(feasible, n_act, nan),
        tokens=np.where(feasible, D, nan), loss=loss,
        binding=np.where(feasible, binding, ""),
        unconstrained_d_model=np.where(budget_ok, d_unc, nan), unconstrained_loss=loss_unc,
        d_model_cap=np.array(d_cap, dtype=float),
    )


# --------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JointConfig:
    """One configuration of the joint law's architecture (top-1, SwiGLU experts of 3·d_model).

    Counts are parameters, ``tokens`` training tokens, ``flops`` training FLOPs
    (``c_f·N_act·D``), ``inference_flops`` ``2·N_act·D_inf``, memory in bytes.
    ``n_active``/``n_total`` are non-embedding (CLI.md); the law sees ``*_with_embedding``.
    """

    n_experts: float
    d_model: float
    n_blocks: float
    n_embedding: float
    n_active: float
    n_total: float
    n_active_with_embedding: float
    n_total_with_embedding: float
    tokens: float
    flops: float
    inference_tokens: float
    inference_flops: float
    loss: float
    memory_bytes: float
    kv_cache_bytes: float
    bytes_per_param: float
    binding_constraint: str | None
    realizable: bool
    learning_rate: float

    @property
    def budget_flops(self) -> float:
        return self.flops + self.inference_flops

    def to_dict(self) -> dict:
        """The configuration object with the CLI.md keys (granularity 1, top-1 routing)."""
        return {
            "granularity": 1, "expansion_rate": self.n_experts, "n_experts": self.n_experts,
            "top_k": 1, "d_model": self.d_model, "n_blocks": self.n_blocks,
            "n_heads": self.d_model / HEAD_DIM, "d_expert": 3.0 * self.d_model,
            "n_active": self.n_active, "n_total": self.n_total,
            "n_active_with_embedding": self.n_active_with_embedding,
            "n_total_with_embedding": self.n_total_with_embedding,
            "n_embedding": self.n_embedding, "tokens": self.tokens, "flops": self.flops,
            "router_flops": 0.0, "inference_tokens": self.inference_tokens,
            "inference_flops": self.inference_flops, "loss": self.loss,
            "tokens_per_active_param": self.tokens / self.n_active,
            "memory_bytes": self.memory_bytes, "kv_cache_bytes": self.kv_cache_bytes,
            "bytes_per_param": self.bytes_per_param,
            "binding_constraint": self.binding_constraint, "realizable": self.realizable,
            "learning_rate": self.learning_rate,
        }


def make_config(law, d_model, n_experts, tokens, constraints: JointConstraints | None = None,
                binding=None, realizable=False) -> JointConfig:
    """Build a :class:`JointConfig` from ``d_model``, ``E`` and training tokens (counts derived)."""
    law = _as_joint_law(law)
    cons = constraints or JointConstraints()
    V, r = _vocab(law), float(law.aspect_ratio)
    d, e = float(d_model), float(n_experts)
    emb = float(embedding_params(d, V))
    n_act = float(active_params(d, V, r, with_embedding=False))
    n_tot = float(total_params(d, e, V, r, with_embedding=False))
    kv = float(kv_cache_elements(d, cons.kv_tokens, r)) * cons.bytes_per_param
    D = float(tokens)
    return JointConfig(
        n_experts=e, d_model=d, n_blocks=d / r, n_embedding=emb, n_active=n_act, n_total=n_tot,
        n_active_with_embedding=n_act + emb, n_total_with_embedding=n_tot + emb, tokens=D,
        flops=law.c_f * (n_act + emb) * D, inference_tokens=cons.inference_tokens,
        inference_flops=INFERENCE_FLOPS_PER_PARAM * (n_act + emb) * cons.inference_tokens,
        loss=float(law.loss(n_act + emb, D, n_experts=e)),
        memory_bytes=(n_tot + emb) * cons.bytes_per_param + kv, kv_cache_bytes=kv,
        bytes_per_param=cons.bytes_per_param, binding_constraint=binding or None,
        realizable=realizable, learning_rate=learning_rate(n_act, e))


def violated_limit(law, n_blocks: int, n_experts: int, constraints: JointConstraints):
    """The first limit a whole-number model breaks ("max_total_params", "memory"), or None.

    Exact arithmetic: every float is converted to a :class:`~fractions.Fraction` exactly, so a
    model reported as fitting never exceeds a limit by a rounding error.
    """
    law = _as_joint_law(law)
    r = Fraction(law.aspect_ratio)
    V = Fraction(_vocab(law))
    k = Fraction(int(n_blocks))
    d = r * k
    n_total = 2 * d * V + (4 + 9 * Fraction(int(n_experts))) * k * d * d
    if constraints.max_total_params is not None and n_total > Fraction(
            constraints.max_total_params):
        return BIND_PARAMS
    if constraints.memory is not None:
        elements = n_total + 2 * Fraction(constraints.kv_tokens) * k * d
        if elements * Fraction(constraints.bytes_per_param) > Fraction(constraints.memory):
            return BIND_MEMORY
    return None


def fits_exactly(law, n_blocks: int, n_experts: int, constraints: JointConstraints) -> bool:
    """Whether a whole-number model meets the memory and parameter limits (exact arithmetic)."""
    return violated_limit(law, n_blocks, n_experts, constraints) is None


def _realize(law, flops, n_experts, d_cont, d_unc, d_cap, cons: JointConstraints):
    """Best whole-``n_blocks`` model next to the continuous optimum, or None if none fits.

    The loss is unimodal in ``d_model``, so the best whole ``n_blocks`` is next to the
    continuous (constrained) optimum; a few neighbours are tried to be safe from rounding.
    """
    r, V, c_f = float(law.aspect_ratio), _vocab(law), float(law.c_f)
    k_star = d_cont / r
    base = {math.floor(k_star) + j for j in (-1, 0, 1, 2)}
    if math.isfinite(d_cap):
        k_max = math.floor(d_cap / r) + 1
        while k_max >= 1 and not fits_exactly(law, k_max, n_experts, cons):
            k_max -= 1
        if k_max < 1:
            return None
        base = {min(k, k_max) for k in base}
    per_token = c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
    best = None
    for k in sorted(b for b in base if b >= 1):
        n_act = float(active_params(r * k, V, r))
        if n_act * per_token > flops:  # not even one training token
            continue
        D = (flops - INFERENCE_FLOPS_PER_PARAM * n_act * cons.inference_tokens) / (c_f * n_act)
        loss = float(law.loss(n_act, D, n_experts=n_experts))
        if best is None or loss < best[0]:
            best = (loss, k, D)
    if best is None:
        return None
    _, k, D = best
    # A limit binds when the next block up breaks it and the unconstrained optimum is larger.
    bind = violated_limit(law, k + 1, n_experts, cons) if d_unc > r * k else None
    if bind is None and k == 1 and d_unc <= r:
        bind = BIND_SMALLEST
    return make_config(law, r * k, n_experts, D, cons, binding=bind, realizable=True)


@dataclass(frozen=True)
class JointCandidate:
    """The best model for one number of experts: continuous and realizable."""

    n_experts: int
    feasible: bool
    continuous: JointConfig | None
    realizable: JointConfig | None
    unconstrained_loss: float | None
    reason: str = ""

    @property
    def constraint_cost(self) -> float | None:
        """Loss the memory / parameter limit costs at this E (continuous, vs no limit)."""
        if self.continuous is None or self.unconstrained_loss is None:
            return None
        return self.continuous.loss - self.unconstrained_loss

    @property
    def loss(self) -> float:
        best = self.realizable or self.continuous
        return best.loss if best is not None else math.inf

    def to_dict(self) -> dict:
        cfg = self.realizable or self.continuous
        out = cfg.to_dict() if cfg is not None else {"n_experts": self.n_experts}
        out.update({
            "feasible": self.feasible,
            "continuous_loss": None if self.continuous is None else self.continuous.loss,
            "continuous_d_model": None if self.continuous is None else self.continuous.d_model,
            "unconstrained_loss": self.unconstrained_loss,
            "constraint_cost": self.constraint_cost,
            "continuous_binding_constraint": (None if self.continuous is None
                                              else self.continuous.binding_constraint),
            "reason": self.reason or None,
        })
        return out


@dataclass(frozen=True)
class JointPlan:
    """The answer to "how many experts, how big, how many tokens" under the joint law."""

    law: str
    budget_flops: float
    experts: tuple
    constraints: JointConstraints
    vocab_size: float
    aspect_ratio: float
    recommended: JointConfig
    continuous: JointConfig
    candidates: tuple  # JointCandidate, best first, infeasible last
    learning_rate: LearningRateAdvice
    warnings: tuple = ()

    @property
    def problem(self) -> str:
        return self.constraints.problem

    def to_dict(self) -> dict:
        return {
            "budget_flops": self.budget_flops, "law": self.law, "problem": self.problem,
            "constraints": self.constraints.to_dict(), "experts": list(self.experts),
            "vocab_size": self.vocab_size, "aspect_ratio": self.aspect_ratio,
            "recommended": self.recommended.to_dict(), "continuous": self.continuous.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "learning_rate": self.learning_rate.to_dict(),
        }


def _smallest_memory_message(law, experts, cons: JointConstraints) -> str:
    V, r = _vocab(law), float(law.aspect_ratio)
    e = min(experts)
    need_bytes = float(memory_bytes(r, e, cons.kv_tokens, cons.bytes_per_param, V, r))
    need_params = float(total_params(r, e, V, r))
    parts = []
    # exact, rounded up: a rounded figure (1.297e+07 for 12,971,264) could be below the need,
    # so "allow at least" that much would fail again
    if cons.memory is not None and cons.memory < need_bytes:
        kv = f" with {cons.kv_tokens:g} KV-cache tokens" if cons.kv_tokens else ""
        parts.append(f"--memory {cons.memory:,.0f} bytes is below the smallest possible model "
                     f"(d_model {r:g}, 1 block, E = {e}: {math.ceil(need_bytes):,} bytes at "
                     f"{cons.bytes_per_param:g} bytes per parameter{kv}); allow at least "
                     f"{math.ceil(need_bytes):,} bytes ({format_bytes(need_bytes)})")
    if cons.max_total_params is not None and cons.max_total_params < need_params:
        parts.append(f"--max-total-params {cons.max_total_params:,.0f} is below the smallest "
                     f"possible model ({math.ceil(need_params):,} parameters with embeddings at "
                     f"d_model {r:g}, E = {e}); allow at least {math.ceil(need_params):,}")
    return "; ".join(parts) or "no model fits the limits"


def _check_budget(law, flops, cons: JointConstraints):
    V, r = _vocab(law), float(law.aspect_ratio)
    smallest = float(active_params(r, V, r))
    per_token = law.c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
    need = smallest * per_token
    if flops <= need:
        if cons.inference_tokens > 0:
            raise InfeasibleError(
                f"--flops {flops:.4g} does not cover even the smallest model's inference "
                f"({cons.inference_tokens:.4g} inference tokens need more than {need:.4g} FLOPs "
                f"with one training token); raise the budget or lower --inference-tokens")
        raise InfeasibleError(f"--flops {flops:.4g} is too small to train even the smallest "
                              f"model (d_model {r:g}, 1 block) on one token; use at least "
                              f"{need:.4g}")


def _range_warnings(law, cfg: JointConfig) -> list[str]:
    out = law.range_warnings(params=cfg.n_active_with_embedding)
    lim = law.fitted_range.get("params_total")
    if lim and cfg.n_total_with_embedding > lim[1]:
        v = cfg.n_total_with_embedding
        out.append(f"total parameters {v:.4g} (with embeddings) are above the range {law.name} "
                   f"was fitted on (up to {lim[1]:.3g}): the prediction is an extrapolation")
    return out


def _experts_range_warnings(law, experts) -> list[str]:
    lo, hi = law.fitted_range.get("n_experts", LR_EXPERTS_RANGE)
    outside = [int(e) for e in experts if not lo <= e <= hi]
    if not outside:
        return []
    verb = "is" if len(outside) == 1 else "are"
    return [f"E = {', '.join(map(str, outside))} {verb} outside the range {law.name} was fitted "
            f"on ({lo:g} to {hi:g} experts): those losses are extrapolations"]


def optimize_joint(law, flops: float, experts=None, memory=None, kv_tokens=0.0,
                   bytes_per_param=BYTES_PER_PARAM_DEFAULT, inference_tokens=0.0,
                   max_total_params=None) -> JointPlan:
    """Best number of experts, model size and tokens for a budget under memory limits.

    Solves SPEC.md §7's problems: compute-optimal (no limit), model-memory (``memory`` with
    ``kv_tokens = 0``, or ``max_total_params``), total-memory (``memory`` with ``kv_tokens``),
    inference-aware (``inference_tokens``), and their combinations.

    Parameters
    ----------
    law : Law or str
        A ``joint_moe`` law, e.g. ``"ludziejewski2025-joint"``.
    flops : float
        Budget, FLOPs: training ``c_f·N_act·D`` plus inference ``2·N_act·D_inf``.
    experts : sequence of int, optional
        Candidate numbers of experts, whole numbers ≥ 1 (default 1, 2, 4, 8, 16, 32).
    memory : float, optional
        Limit on the served model, bytes: parameters (with embeddings) plus KV cache.
    kv_tokens : float
        Tokens held in the KV cache (``2·T·n_blocks·d_model`` values).
    bytes_per_param : float
        Bytes per parameter and per cached value (2 = bf16).
    inference_tokens : float
        Lifetime inference tokens whose FLOPs share the budget.
    max_total_params : float, optional
        Limit on total parameters **with embeddings** (the law's ``N_total``).

    Returns
    -------
    JointPlan
        ``recommended`` (whole ``n_blocks``, ``d_model = r·n_blocks``, limits met exactly,
        tokens spending the budget), ``continuous`` (real-valued optimum) and one candidate per E.

    Raises
    ------
    InputError
        For bad numbers or expert counts.
    InfeasibleError
        When no candidate fits the memory / parameter limit, or the budget cannot pay for the
        smallest model.
    """
    law = _as_joint_law(law)
    ex = parse_experts(experts)
    F = domain.flops(domain.positive(flops, "--flops", allow_none=False), "--flops")
    cons = JointConstraints.make(memory, kv_tokens, bytes_per_param, inference_tokens,
                                 max_total_params)
    _check_budget(law, F, cons)
    fr = joint_frontier(law, F, ex, cons)
    if not np.any(fr.feasible):
        raise InfeasibleError(_smallest_memory_message(law, ex, cons))

    candidates = []
    warnings = []
    for j, e in enumerate(ex):
        if not fr.feasible[0, j]:
            need = float(memory_bytes(law.aspect_ratio, e, cons.kv_tokens, cons.bytes_per_param,
                                      _vocab(law), law.aspect_ratio))
            reason = f"even the smallest model with E = {e} ({need:.4g} bytes) exceeds the limit"
            candidates.append(JointCandidate(e, False, None, None, None, reason))
            continue
        bind = str(fr.binding[0, j]) or None
        cont = make_config(law, fr.d_model[0, j], e, fr.tokens[0, j], cons, binding=bind)
        real = _realize(law, F, e, float(fr.d_model[0, j]), float(fr.unconstrained_d_model[0, j]),
                        float(fr.d_model_cap[0, j]), cons)
        reason = "" if real is not None else "no whole number of blocks fits the limits"
        candidates.append(JointCandidate(e, True, cont, real,
                                         float(fr.unconstrained_loss[0, j]), reason))
    realizable = [c for c in candidates if c.realizable is not None]
    if not realizable:
        raise InfeasibleError(_smallest_memory_message(law, ex, cons)
                              + " (no whole number of blocks fits)")
    candidates.sort(key=lambda c: (not c.feasible, c.loss))
    best = min(realizable, key=lambda c: c.realizable.loss)
    best_cont = min((c for c in candidates if c.continuous is not None),
                    key=lambda c: c.continuous.loss)
    rec = best.realizable

    infeasible = [c.n_experts for c in candidates if not c.feasible]
    if infeasible:
        warnings.append(f"E = {', '.join(map(str, sorted(infeasible)))} cannot fit the limit "
                        f"even at d_model {law.aspect_ratio:g}, 1 block: left out")
    warnings += _experts_range_warnings(law, ex)
    warnings += _range_warnings(law, rec)
    if best_cont.n_experts != best.n_experts:
        warnings.append(f"the continuous optimum has E = {best_cont.n_experts}, but with whole "
                        f"blocks E = {best.n_experts} is better")
    if rec.binding_constraint == BIND_SMALLEST:
        warnings.append("the budget is too small for the law's shapes: the optimum is below one "
                        "block, so the smallest model (1 block) is recommended")
    lr = learning_rate_advice(rec.n_active, rec.n_experts)
    warnings += list(lr.warnings)
    return JointPlan(law=law.name, budget_flops=F, experts=ex, constraints=cons,
                     vocab_size=_vocab(law), aspect_ratio=float(law.aspect_ratio),
                     recommended=rec, continuous=best_cont.continuous,
                     candidates=tuple(candidates), learning_rate=lr,
                     warnings=tuple(dict.fromkeys(warnings)))


# --------------------------------------------------------------------------------------------
# Inverse question: FLOPs to reach a loss (for compute multipliers)
# --------------------------------------------------------------------------------------------

def flops_to_reach_joint(law, target_loss, n_experts: int = 1,
                         constraints: JointConstraints | None = None):
    """Least budget whose optimum (for one ``E``, same limits) reaches ``target_loss``.

    Under a memory limit the loss cannot fall below ``m·N_cap^μ + c`` however large the budget
    (the model cannot grow), so some targets are unreachable: those give ``inf``.

    Parameters
    ----------
    law : Law or str
        A ``joint_moe`` law.
    target_loss : float or array
        Loss to reach, nats per token.
    n_experts : int
        The number of experts ``E`` of the model that must reach it (1 = dense).
    constraints : JointConstraints, optional
        Limits and inference workload, as in :func:`optimize_joint`.

    Returns
    -------
    float or ndarray
        FLOPs (``inf`` where unreachable), to ~1e-12 relative.
    """
    law = _as_joint_law(law)
    cons = constraints or JointConstraints()
    (e,) = parse_experts([n_experts])
    target = np.atleast_1d(np.asarray(target_loss, dtype=float))
    V, r = _vocab(law), float(law.aspect_ratio)
    per_token = law.c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
    f_min = float(active_params(r, V, r)) * per_token * (1.0 + 1e-9)
    # The largest budget searched: far beyond any use (loss within ~1e-12 of its limit there).
    lo = np.full(target.shape, math.log(f_min))
    hi = np.full(target.shape, math.log(1e60))

    def loss_at(log_f):
        fr = joint_frontier(law, np.exp(log_f.ravel()), [e], cons)
        return np.where(fr.feasible[:, 0], fr.loss[:, 0], np.inf).reshape(log_f.shape)

    reachable = loss_at(hi) <= target
    already = loss_at(lo) <= target
    points = 256
    for _ in range(6):  # each round narrows the bracket 255-fold: 100/255^6 ≈ 4e-13 in ln F
        grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, points)[None, :]
        below = loss_at(grid) <= target[:, None]
        first = np.argmax(below, axis=1)  # first grid point reaching the target
        first = np.where(np.any(below, axis=1), first, points - 1)
        first = np.maximum(first, 1)
        rows = np.arange(target.size)
        lo, hi = grid[rows, first - 1], grid[rows, first]
    out = np.where(reachable, np.exp(hi), np.inf)
    out = np.where(already, f_min, out)
    return float(out[0]) if np.ndim(target_loss) == 0 else out


# --------------------------------------------------------------------------------------------
# compare: dense vs the memory-optimal MoE, and the paper's rule of thumb
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleOfThumbCheck:
    """SPEC.md §7's rule of thumb evaluated with the law at one budget.

    "At a fixed total parameter count, an MoE with E ≤ 8 experts trained on E times more tokens
    beats a compute-optimal dense model." ``dense`` is the compute-optimal dense model for the
    budget (no memory limit, no inference); each row is the MoE with the same total parameter
    count (with embeddings), ``E``× the dense model's tokens.
    """

    budget_flops: float
    dense_d_model: float
    dense_n_total_with_embedding: float
    dense_tokens: float
    dense_loss: float
    rows: tuple  # dicts: n_experts, d_model, n_active_with_embedding, tokens, flops, loss, beats
    holds: bool
    statement: str = ("at a fixed total parameter count, an MoE with E <= 8 experts trained on E "
                      "times more tokens beats a compute-optimal dense model")

    def to_dict(self) -> dict:
        return {"statement": self.statement, "holds": self.holds,
                "budget_flops": self.budget_flops,
                "dense": {"d_model": self.dense_d_model,
                          "n_total_with_embedding": self.dense_n_total_with_embedding,
                          "tokens": self.dense_tokens, "loss": self.dense_loss},
                "moe": [dict(r) for r in self.rows]}


def rule_of_thumb_check(law, flops: float, experts=RULE_OF_THUMB_EXPERTS) -> RuleOfThumbCheck:
    """Evaluate the paper's rule of thumb at budget ``flops`` (see :class:`RuleOfThumbCheck`)."""
    law = _as_joint_law(law)
    F = domain.positive(flops, "--flops", allow_none=False)
    _check_budget(law, F, JointConstraints())
    V, r = _vocab(law), float(law.aspect_ratio)
    fr = joint_frontier(law, F, [1])
    d_dense = float(fr.unconstrained_d_model[0, 0])
    n_dense = float(total_params(d_dense, 1, V, r))
    D_dense = float(fr.tokens[0, 0])
    loss_dense = float(fr.unconstrained_loss[0, 0])
    rows = []
    for e in parse_experts(experts):
        if e == 1:
            continue
        d = float(d_model_for_total(n_dense, e, V, r))
        n_act = float(active_params(d, V, r))
        D = e * D_dense
        loss = float(law.loss(n_act, D, n_experts=e))
        rows.append({"n_experts": e, "d_model": d, "n_total_with_embedding": n_dense,
                     "n_active_with_embedding": n_act, "tokens": D,
                     "flops": law.c_f * n_act * D, "loss": loss,
                     "loss_gain": loss_dense - loss, "beats_dense": loss < loss_dense})
    return RuleOfThumbCheck(budget_flops=F, dense_d_model=d_dense,
                            dense_n_total_with_embedding=n_dense, dense_tokens=D_dense,
                            dense_loss=loss_dense, rows=tuple(rows),
                            holds=bool(rows) and all(r["beats_dense"] for r in rows))


@dataclass(frozen=True)
class JointCompareRow:
    """Dense (E = 1) vs the best MoE (E > 1) at one budget, under the same limits."""

    budget_flops: float
    dense: JointConfig
    moe_opt: JointConfig
    best_n_experts: int
    dense_compute_multiplier: float | None
    rule_of_thumb: RuleOfThumbCheck

    @property
    def loss_gain(self) -> float:
        """Dense loss minus MoE loss (positive: the MoE is better)."""
        return self.dense.loss - self.moe_opt.loss

    def to_dict(self) -> dict:
        moe = self.moe_opt.to_dict()
        return {
            "budget_flops": self.budget_flops,
            "dense": dict(self.dense.to_dict(), n_params=self.dense.n_total,
                          n_params_with_embedding=self.dense.n_total_with_embedding),
            # Every MoE of the joint law has granularity 1 (top-1, experts of FFN size), so the
            # best G = 1 MoE is the optimal MoE.
            "moe_g1": moe, "moe_opt": moe, "best_n_experts": self.best_n_experts,
            "loss_gain": self.loss_gain,
            "dense_compute_multiplier": self.dense_compute_multiplier,
            "g1_compute_multiplier": 1.0,
            "rule_of_thumb": self.rule_of_thumb.to_dict(),
        }


@dataclass(frozen=True)
class JointComparison:
    """Rows of :func:`compare_joint`, one per budget."""

    law: str
    experts: tuple
    constraints: JointConstraints
    rows: tuple
    warnings: tuple = ()

    def to_dict(self) -> dict:
        return {"law": self.law, "problem": self.constraints.problem,
                "constraints": self.constraints.to_dict(), "experts": list(self.experts),
                "rows": [r.to_dict() for r in self.rows]}


def compare_joint(law, flops, experts=None, memory=None, kv_tokens=0.0,
                  bytes_per_param=BYTES_PER_PARAM_DEFAULT, inference_tokens=0.0,
                  max_total_params=None) -> JointComparison:
    """Dense (E = 1) vs the memory-optimal MoE at the same budget(s) and memory limit.

    For each budget: the best realizable dense model and the best realizable MoE among the
    candidates with E > 1 (both under the same limits and inference workload, as in
    :func:`optimize_joint`); ``dense_compute_multiplier`` = FLOPs a dense model needs, under the
    same limits, to reach the MoE's (continuous) loss, over the budget (SPEC.md §4's compute
    multiplier; ``None`` when no dense model within the memory limit reaches it); and the
    paper's rule of thumb (:func:`rule_of_thumb_check`).

    Parameters
    ----------
    flops : float or sequence of float
        Budgets, FLOPs.
    experts, memory, kv_tokens, bytes_per_param, inference_tokens, max_total_params
        As in :func:`optimize_joint`; E = 1 is always compared, candidates > 1 are the MoEs.
    """
    law = _as_joint_law(law)
    budgets = [flops] if np.isscalar(flops) else list(flops)
    if not budgets:
        raise InputError("--flops: give at least one budget, e.g. 1e21")
    ex = parse_experts(experts)
    moe_ex = tuple(e for e in ex if e > 1)
    if not moe_ex:
        raise InputError("--experts: compare needs at least one MoE candidate (E >= 2), e.g. "
                         "2,4,8,16,32")
    rows, warnings = [], []
    for F in budgets:
        plan = optimize_joint(law, F, (1,) + moe_ex, memory, kv_tokens, bytes_per_param,
                              inference_tokens, max_total_params)
        warnings += list(plan.warnings)
        by_e = {c.n_experts: c for c in plan.candidates}
        dense = by_e[1].realizable
        moes = [c for c in plan.candidates if c.n_experts > 1 and c.realizable is not None]
        if not moes:
            raise InfeasibleError(f"no MoE candidate ({', '.join(map(str, moe_ex))} experts) "
                                  f"fits the limits; raise --memory or try fewer experts")
        best_moe = min(moes, key=lambda c: c.realizable.loss)
        mult = flops_to_reach_joint(law, best_moe.continuous.loss, 1, plan.constraints)
        rows.append(JointCompareRow(
            budget_flops=plan.budget_flops, dense=dense, moe_opt=best_moe.realizable,
            best_n_experts=plan.recommended.n_experts,
            dense_compute_multiplier=None if not math.isfinite(mult) else mult / plan.budget_flops,
            rule_of_thumb=rule_of_thumb_check(law, plan.budget_flops)))
        if not math.isfinite(mult):
            warnings.append(f"at {plan.budget_flops:.3g} FLOPs no dense model within the limit "
                            f"reaches the MoE's loss {best_moe.continuous.loss:.4f}, whatever "
                            f"the budget")
    cons = JointConstraints.make(memory, kv_tokens, bytes_per_param, inference_tokens,
                                 max_total_params)
    return JointComparison(law=law.name, experts=(1,) + moe_ex, constraints=cons,
                           rows=tuple(rows), warnings=tuple(dict.fromkeys(warnings)))


# --------------------------------------------------------------------------------------------
# sweep: the memory-optimal E across budgets
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JointSweep:
    """The memory-optimal E across budgets (continuous optima; see :func:`sweep_joint`)."""

    law: str
    constraints: JointConstraints
    frontier: JointFrontier              # under the limits
    unconstrained: JointFrontier         # same budgets, no memory / parameter limit
    warnings: tuple = ()

    @property
    def budgets(self) -> np.ndarray:
        return self.frontier.flops

    @property
    def experts(self) -> np.ndarray:
        return self.frontier.experts

    def best_experts(self, unconstrained: bool = False) -> np.ndarray:
        """Best E per budget (NaN where nothing fits)."""
        fr = self.unconstrained if unconstrained else self.frontier
        idx = fr.best_index
        return np.where(idx >= 0, fr.experts[np.maximum(idx, 0)], np.nan)

    def rows(self) -> list[dict]:
        fr, un = self.frontier, self.unconstrained
        idx, idx_un = fr.best_index, un.best_index
        dense_col = np.flatnonzero(fr.experts == 1)
        out = []
        for i, F in enumerate(fr.flops):
            j = int(idx[i])
            row = {"budget_flops": float(F)}
            if j < 0:
                row.update({"n_experts": None, "loss": None, "feasible": False})
            else:
                row.update({
                    "n_experts": int(fr.experts[j]), "loss": float(fr.loss[i, j]),
                    "d_model": float(fr.d_model[i, j]),
                    "n_active_with_embedding": float(fr.n_active_with_embedding[i, j]),
                    "tokens": float(fr.tokens[i, j]),
                    "binding_constraint": str(fr.binding[i, j]) or None, "feasible": True})
            if dense_col.size:
                dl = fr.loss[i, dense_col[0]]
                row["dense_loss"] = None if not np.isfinite(dl) else float(dl)
            row["unconstrained_n_experts"] = (None if idx_un[i] < 0
                                              else int(un.experts[idx_un[i]]))
            row["loss_by_experts"] = {str(int(e)): (None if not np.isfinite(fr.loss[i, k])
                                                    else float(fr.loss[i, k]))
                                      for k, e in enumerate(fr.experts)}
            out.append(row)
        return out

    def to_dict(self) -> dict:
        return {"law": self.law, "problem": self.constraints.problem,
                "constraints": self.constraints.to_dict(),
                "experts": [int(e) for e in self.experts], "rows": self.rows()}


def sweep_joint(law, flops_from: float, flops_to: float, points: int = 25, experts=None,
                memory=None, kv_tokens=0.0, bytes_per_param=BYTES_PER_PARAM_DEFAULT,
                inference_tokens=0.0, max_total_params=None) -> JointSweep:
    """Memory-optimal number of experts over log-spaced budgets (continuous optima).

    The picture the paper uses to show where MoE wins under a memory cap: for each budget the
    best E under the limit, the loss of every candidate E, and the best E without the limit.

    Parameters
    ----------
    flops_from, flops_to : float
        First and last budget, FLOPs (log-spaced, inclusive).
    points : int
        Number of budgets (2 to 10,000).
    experts, memory, kv_tokens, bytes_per_param, inference_tokens, max_total_params
        As in :func:`optimize_joint`.

    Raises
    ------
    InputError
        For bad ranges or counts.
    InfeasibleError
        When no candidate fits the limits at any budget.
    """
    law = _as_joint_law(law)
    lo = domain.flops(domain.positive(flops_from, "--from", allow_none=False), "--from")
    hi = domain.flops(domain.positive(flops_to, "--to", allow_none=False), "--to")
    if hi < lo:
        raise InputError(f"--to {hi:.3g} is below --from {lo:.3g}; swap them")
    if isinstance(points, bool) or int(points) != points or not 2 <= points <= 10_000:
        raise InputError(f"--points must be a whole number from 2 to 10000, got {points!r}")
    ex = parse_experts(experts)
    cons = JointConstraints.make(memory, kv_tokens, bytes_per_param, inference_tokens,
                                 max_total_params)
    budgets = np.logspace(math.log10(lo), math.log10(hi), int(points))
    fr = joint_frontier(law, budgets, ex, cons)
    if not np.any(fr.feasible):
        if cons.memory is not None or cons.max_total_params is not None:
            d_cap = fr.d_model_cap[0]
            if np.all(d_cap < law.aspect_ratio):
                raise InfeasibleError(_smallest_memory_message(law, ex, cons))
        _check_budget(law, float(budgets[-1]), cons)
        raise InfeasibleError("no candidate fits the limits at any budget of the sweep")
    un = joint_frontier(law, budgets, ex, JointConstraints(
        inference_tokens=cons.inference_tokens, bytes_per_param=cons.bytes_per_param,
        kv_tokens=cons.kv_tokens))
    warnings = []
    dead = ~np.any(fr.feasible, axis=1)
    if np.any(dead):
        warnings.append(f"{int(dead.sum())} of {budgets.size} budgets cannot pay for the "
                        f"smallest model (and its inference): left empty")
    warnings += _experts_range_warnings(law, ex)
    lim = law.fitted_range.get("params")
    if lim is not None:
        best = fr.best_index
        n = np.array([fr.n_active_with_embedding[i, j] for i, j in enumerate(best) if j >= 0])
        if n.size and np.nanmax(n) > lim[1]:
            warnings.append(f"at the largest budgets the optimum has up to {np.nanmax(n):.3g} "
                            f"active parameters, above the fitted range (up to {lim[1]:.3g}): "
                            f"extrapolation")
    return JointSweep(law=law.name, constraints=cons, frontier=fr, unconstrained=un,
                      warnings=tuple(warnings))

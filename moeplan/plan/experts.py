"""The planner of the law whose choice is the number of experts E: the Joint MoE law
(Ludziejewski, Pióro, Krajewski et al. 2025, arXiv:2502.05172; SPEC.md §7), memory- and
inference-aware.

Architecture (the law's conventions; ``r`` is the aspect ratio, 64, and ``V`` the vocabulary,
50,257; top-1 routing, SwiGLU experts of hidden size ``3·d_model``)::

    n_blocks = d_model / r                  (n_heads = d_model / 64 as well)
    N_act    = 2·d_model·V + 13·n_blocks·d_model²          (active, WITH embeddings: the law's N)
    N_total  = 2·d_model·V + (4 + 9E)·n_blocks·d_model²    (total, with embeddings)
    memory   = (N_total + 2·T·n_blocks·d_model) · bytes_per_param       (T tokens of KV cache)
    budget   = c_f·N_act·D + 2·N_act·D_inf                  (c_f = 6; D_inf inference tokens)

The router is neglected in FLOPs and memory (``d_model·E`` per block, < 0.1 % at E ≤ 32), as in
the paper. Configurations report ``n_active``/``n_total`` without embeddings (every law's
convention) and ``*_with_embedding`` with them; ``max_total_params`` caps ``n_total``, the
non-embedding count, as for every law.

Method
------
For a fixed ``E`` the law is Chinchilla-form, ``L = m·N^μ + n·D^ν + c`` (μ, ν < 0), and the budget
fixes ``D = F/(c_f·N) − 2·D_inf/c_f``. In ``u = ln N_act`` the loss is strictly convex, so it has
one minimum; a memory or parameter limit is an upper bound on ``d_model``, so the constrained
optimum is the unconstrained one clipped to the bound. Without inference tokens the unconstrained
optimum is the Chinchilla closed form in ``u``; with them, a safeguarded Newton iteration on the
sign of ``dL/du`` (vectorised over budgets × expert counts) to the resolution of a float. Cubic
equations ``d_model ↦ count`` are inverted by Cardano's formula and Newton's method.

Realizable configurations have ``n_blocks`` a whole number and ``d_model = r·n_blocks``: the best
whole ``n_blocks`` is next to the continuous optimum (unimodality), tokens are recomputed to
spend the budget, and the memory limit is checked in exact rational arithmetic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .. import accounting, domain
from ..accounting import INFERENCE_FLOPS_PER_PARAM
from ..errors import InfeasibleError, InputError
from ..laws import Law, joint_chinchilla_coefficients
from ..laws.joint import learning_rate, learning_rate_advice
from ..units import format_bytes
from .limits import NO_LIMITS, Limits, check_choices
from .results import (
    Candidate,
    CompareResult,
    CompareRow,
    Configuration,
    OptimizeResult,
    SweepResult,
    constraint_reports,
)

#: Vocabulary of the GPT-2 tokenizer the law was fitted with (used if a law file has none).
GPT2_VOCAB_SIZE = accounting.GPT2_VOCAB_SIZE
#: Candidate numbers of experts when none are given (CLI.md).
DEFAULT_EXPERTS = (1, 2, 4, 8, 16, 32)
BYTES_PER_PARAM_DEFAULT = 2.0
#: Attention head dimension of the law's architecture (n_heads = d_model / 64).
HEAD_DIM = 64
#: Per block: attention 4·d² plus one SwiGLU expert of hidden size 3·d (3 matrices, 9·d²).
ACTIVE_BLOCK_FACTOR = 13.0

#: Binding-limit labels.
BIND_MEMORY = "memory"
BIND_PARAMS = "max_total_params"
BIND_SMALLEST = "smallest_model"
#: The joint frontier's binding labels by code (0: none).
BINDINGS = ("", BIND_MEMORY, BIND_PARAMS, BIND_SMALLEST)
#: Experts the rule of thumb speaks about ("E ≤ 8").
RULE_OF_THUMB_EXPERTS = (2, 4, 8)
#: Limits this planner does not take (the joint law plans no data limit or fixed size).
_UNSUPPORTED = ("max_tokens", "params", "vocab_size")


# --------------------------------------------------------------------------------------------
# Architecture: counts, memory, FLOPs (vectorised)
# --------------------------------------------------------------------------------------------


def embedding_params(d_model, vocab_size=GPT2_VOCAB_SIZE):
    """Input embedding plus (untied) output head, ``2·d_model·V`` parameters."""
    with accounting.unchecked():  # grids mark infeasible cells with inf/nan
        return accounting.embedding_params(d_model, vocab_size)


def active_params_with_embedding(
    d_model, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0, with_embedding=True
):
    """Active parameters of the law's architecture, embeddings included by default (the law's
    ``N_act``; :func:`moeplan.accounting.active_params` counts the paper's other block without).

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


def total_params_with_embedding(
    d_model, n_experts, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0, with_embedding=True
):
    """Total parameters: ``(4 + 9E)·n_blocks·d_model²`` (+ ``2·d_model·V`` with embeddings)."""
    d = np.asarray(d_model, dtype=float)
    body = (4.0 + 9.0 * np.asarray(n_experts, dtype=float)) * d**3 / aspect_ratio
    return body + embedding_params(d, vocab_size) if with_embedding else body


def kv_cache_elements(d_model, kv_tokens, aspect_ratio=64.0):
    """Values in the KV cache for ``T`` tokens: ``2·T·n_blocks·d_model`` (keys and values)."""
    d = np.asarray(d_model, dtype=float)
    return 2.0 * np.asarray(kv_tokens, dtype=float) * d * d / aspect_ratio


def memory_bytes(
    d_model,
    n_experts,
    kv_tokens=0.0,
    bytes_per_param=BYTES_PER_PARAM_DEFAULT,
    vocab_size=GPT2_VOCAB_SIZE,
    aspect_ratio=64.0,
):
    """Memory of the served model, bytes: ``(N_total + 2·T·n_blocks·d_model)·bytes_per_param``."""
    return (
        total_params_with_embedding(d_model, n_experts, vocab_size, aspect_ratio)
        + kv_cache_elements(d_model, kv_tokens, aspect_ratio)
    ) * bytes_per_param


def _cubic_root(a, b, c, rhs, from_above=False):
    """Positive root ``d`` of ``a·d³ + b·d² + c·d = rhs`` (``a > 0``; ``b, c ≥ 0``; ``rhs > 0``).

    Newton's method: the left side is convex and increasing for d > 0, so from a start above
    the root the iterates fall monotonically onto it (from below, the first step lands above).
    The start is the smallest of the roots of the single terms, at most ~3x the root (the
    largest term is at least rhs/3); without a quadratic term (``b = 0``, the parameter
    counts) it is Cardano's formula instead, written without cancellation,
    ``d = q/(t² + p/3 + p²/(9t²))`` with ``t³ = q/2 + √(q²/4 + p³/27)``, ``p = c/a``,
    ``q = rhs/a``: within a few ulps of the root, so one step finishes (issue 12: six to eight
    from the single-term start). ``from_above``: the result is nudged up by ulps until the left
    side, as evaluated, is at least ``rhs`` (a limit met exactly, such as memory equal to the
    smallest model's, keeps its model).
    """
    # not broadcast: scalar coefficients (the usual case) stay scalars in the arithmetic
    a, b, c, rhs = (np.asarray(x, dtype=float) for x in (a, b, c, rhs))
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape, rhs.shape)
    d = None
    if not np.any(b):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p, q = c / a, rhs / a
            # t² as exp(⅔·ln t³): half the time of np.cbrt, and Newton removes the few ulps
            t2 = np.exp(np.log(0.5 * q + np.sqrt(0.25 * q * q + p * p * p / 27.0)) * (2.0 / 3.0))
            d = q / (t2 + p / 3.0 + p * p / (9.0 * t2))
        if not (d.min() > 0.0 and d.max() < np.inf):  # NaN fails the first
            d = None  # q² overflowed: the single-term start
    if d is None:
        d = np.cbrt(rhs / a)
        d = np.minimum(d, np.where(b > 0, np.sqrt(rhs / np.where(b > 0, b, 1.0)), np.inf))
        d = np.minimum(d, np.where(c > 0, rhs / np.where(c > 0, c, 1.0), np.inf))
    done = None
    for _ in range(200):
        f = ((a * d + b) * d + c) * d - rhs
        step = f / ((3.0 * a * d + 2.0 * b) * d + c)
        # freeze each converged entry, so a value never depends on the rest of the batch
        d = d - step if done is None else np.where(done, d, d - step)
        if done is None:
            done = np.zeros(shape, dtype=bool)
        # Newton's error after a step δ is (f''/2f')·δ² <= δ²/d here (f''·d <= 2f'): done
        # once |δ| <= 1e-8·d (the error is then below 1e-16·d, one step fewer than waiting
        # for a step of an ulp)
        done |= np.abs(step) <= 1e-8 * d
        if np.all(done):
            break
    for _ in range(4 if from_above else 0):
        short = ((a * d + b) * d + c) * d < rhs
        if not short.any():
            break
        d = np.where(short, np.nextafter(d, np.inf), d)
    return d


def d_model_for_active(n_active_with_embedding, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0):
    """Inverse of :func:`active_params_with_embedding`: the ``d_model`` with that ``N_act``."""
    return _cubic_root(
        ACTIVE_BLOCK_FACTOR / aspect_ratio, 0.0, 2.0 * vocab_size, n_active_with_embedding
    )


def d_model_for_total(
    n_total, n_experts, vocab_size=GPT2_VOCAB_SIZE, aspect_ratio=64.0, with_embedding=True
):
    """Inverse of :func:`total_params_with_embedding`: the ``d_model`` with that total."""
    e = np.asarray(n_experts, dtype=float)
    return _cubic_root(
        (4.0 + 9.0 * e) / aspect_ratio,
        0.0,
        2.0 * vocab_size if with_embedding else 0.0,
        n_total,
        from_above=True,
    )


def d_model_for_memory(
    memory,
    n_experts,
    kv_tokens=0.0,
    bytes_per_param=BYTES_PER_PARAM_DEFAULT,
    vocab_size=GPT2_VOCAB_SIZE,
    aspect_ratio=64.0,
):
    """Largest (real) ``d_model`` whose served memory (:func:`memory_bytes`) is ``memory`` bytes."""
    e = np.asarray(n_experts, dtype=float)
    return _cubic_root(
        (4.0 + 9.0 * e) / aspect_ratio,
        2.0 * np.asarray(kv_tokens, dtype=float) / aspect_ratio,
        2.0 * vocab_size,
        np.asarray(memory, dtype=float) / bytes_per_param,
        from_above=True,
    )


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def _as_joint_law(law) -> Law:
    if not isinstance(law, Law):
        from ..coefficients import load_law

        law = load_law(law)
    if law.choice != "n_experts":
        raise InputError(
            f"law {law.name} is {law.form}; the number-of-experts planner needs a "
            f"joint_moe law such as ludziejewski2025-joint",
            param="law",
        )
    return law


def _vocab(law: Law) -> float:
    return float(law.vocab_size) if law.vocab_size else float(GPT2_VOCAB_SIZE)


def parse_experts(experts) -> tuple[int, ...]:
    """Candidate numbers of experts: whole numbers from 1 to 1e6, deduplicated, sorted.

    Raises
    ------
    InputError
        For an empty list, a non-integer, or a value out of range (``param="experts"``).
    """
    return check_choices(experts, "experts", whole=True, default=DEFAULT_EXPERTS)


def _check_limits(limits: Limits) -> Limits:
    for name in _UNSUPPORTED:
        if getattr(limits, name) is not None:
            raise InputError(
                f"{name} does not apply to the joint law (it plans memory, "
                f"inference and the number of experts)",
                param=name,
            )
    if limits.tied_embeddings:
        raise InputError(
            "tied_embeddings does not apply to the joint law (its N counts an "
            "untied embedding and head)",
            param="tied_embeddings",
        )
    return limits


# --------------------------------------------------------------------------------------------
# The continuous solver (vectorised over budgets x expert counts)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JointFrontier:
    """Continuous optima for every (budget, E) pair: arrays of shape ``(len(flops), len(E))``.

    ``loss`` is NaN where no model fits (``feasible`` False). ``unconstrained_*`` are the optima
    without the memory / parameter limit (same budget and inference workload). ``binding`` holds
    the binding constraint's label, or "" when the optimum is interior (or nothing fits);
    ``binding_code`` the same as small integers, indices into ``BINDINGS``.
    """

    flops: np.ndarray
    experts: np.ndarray
    feasible: np.ndarray
    d_model: np.ndarray
    n_active_with_embedding: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    binding_code: np.ndarray
    unconstrained_d_model: np.ndarray
    unconstrained_loss: np.ndarray
    d_model_cap: np.ndarray

    @functools.cached_property
    def binding(self) -> np.ndarray:
        """The binding limit's label per (budget, E): strings, made when first asked for (an
        array of strings per problem cost a third of the solve, issue 12)."""
        return np.array(BINDINGS)[self.binding_code]

    @property
    def best_index(self) -> np.ndarray:
        """Index of the best E for each budget (-1 where nothing fits)."""
        filled = np.where(self.feasible, self.loss, np.inf)
        idx = np.argmin(filled, axis=1)
        return np.where(np.any(self.feasible, axis=1), idx, -1)


def best_columns(law, fr: JointFrontier) -> dict:
    """Per budget, the continuous optimum at the best ``E`` as columns (NaN where nothing
    fits): the choice, the model (non-embedding counts, and ``n_active_with_embedding``, the
    law's N), tokens, loss and the binding limit (the public frontier and the sweep)."""
    idx = fr.best_index
    ok, j, rows = idx >= 0, np.maximum(idx, 0), np.arange(fr.flops.size)

    def pick(a):
        return np.where(ok, a[rows, j], np.nan)

    d, r = pick(fr.d_model), float(law.aspect_ratio)
    E = np.where(ok, fr.experts[j], np.nan)
    return dict(
        granularity=np.where(ok, 1.0, np.nan),
        n_experts=E,
        d_model=d,
        n_blocks=d / r,
        n_active=ACTIVE_BLOCK_FACTOR * d**3 / r,
        n_total=(4.0 + 9.0 * E) * d**3 / r,
        n_active_with_embedding=pick(fr.n_active_with_embedding),
        tokens=pick(fr.tokens),
        router_flops=np.where(ok, 0.0, np.nan),
        loss=pick(fr.loss),
        binding=np.where(ok, fr.binding[rows, j], ""),
    )


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


def _root_slope(lo, hi, flops, k, c_f, m, mu, n, nu):
    """Where dL/du changes sign in [lo, hi] (u = ln N_act): safeguarded Newton.

    In logs the sign test of :func:`_slope_positive` is ``g(u) > 0`` with
    ``g = ln(n·(−ν)) − ln(m·(−μ)) + (ν−1)·ln D + ln(D + k) − μ·u``, ``D = F·e^−u/c_f − k``;
    ``g' = (1−ν)(D+k)/D − 1 − μ ≥ |ν| + |μ| > 0`` and ``g`` is convex. Without inference
    tokens (``k = 0``) ``g`` is linear and the start, the Chinchilla closed form, is the root;
    otherwise Newton converges in a few steps. Where no root lies in the bracket the iterates
    run to its end, as bisection did (issue 12: 55 bisection steps cost ~90% of the joint
    planner's time).
    """
    from .solve import _newton

    lo, hi = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float))
    shape = lo.shape
    flops, m, mu, n, nu = (
        np.broadcast_to(np.asarray(v, float), shape) for v in (flops, m, mu, n, nu)
    )
    base = np.log(n * -nu) - np.log(m * -mu)

    def fun(u, F=flops, base=base, mu=mu, nu=nu):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            D = F * np.exp(-u) / c_f - k
            g = base + (nu - 1.0) * np.log(D) + np.log(D + k) - mu * u
            gp = (1.0 - nu) * (D + k) / D - 1.0 - mu
        return np.where(D > 0, g, np.inf), gp

    # no sign change in the bracket: the end the slope points to (what bisection returned)
    g_lo, g_hi = fun(lo)[0], fun(hi)[0]
    u = np.where(g_lo >= 0, lo, hi)
    inside = (g_lo < 0) & (g_hi > 0)
    if inside.any():
        F, b, mu_, nu_ = flops[inside], base[inside], mu[inside], nu[inside]
        x0 = (b + nu_ * (np.log(F) - math.log(c_f))) / (nu_ + mu_)
        u[inside] = _newton(
            lambda x: fun(x, F, b, mu_, nu_),
            np.clip(x0, lo[inside], hi[inside]),
            lo[inside],
            hi[inside],
            decreasing=False,
        )
    return u


def joint_frontier(law, flops, experts=None, constraints: Limits | None = None) -> JointFrontier:
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
    constraints : Limits, optional
        Memory, KV cache, bytes per parameter, inference tokens, non-embedding parameter limit.

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
    cons = constraints or NO_LIMITS
    ex = np.asarray(parse_experts(experts), dtype=float)
    F = np.atleast_1d(np.asarray(flops, dtype=float))
    if F.ndim != 1 or not (np.all(np.isfinite(F)) and np.all(F > 0)):
        raise InputError(
            "the FLOPs budget must be a positive, finite number, e.g. 1e21", param="flops"
        )
    V, r = _vocab(law), float(law.aspect_ratio)
    m, mu, n, nu = (
        np.asarray(x, dtype=float) for x in joint_chinchilla_coefficients(ex, **law.coefficients)
    )
    bad = ~((m > 0) & (mu < 0) & (n > 0) & (nu < 0))
    if np.any(bad):
        raise InputError(
            f"law {law.name}: for E = {ex[bad][0]:g} the loss does not fall with "
            f"parameters and tokens (need a·Ê^δ > 0, α + γ·ln Ê < 0, b·Ê^ω > 0, "
            f"β + ζ·ln Ê < 0); use fewer experts or check the coefficients"
        )
    shape = (F.size, ex.size)
    d_cap = np.full(ex.shape, np.inf)
    cap_code = np.zeros(ex.shape, dtype=np.int8)  # index into BINDINGS
    if cons.memory is not None:
        d_cap = d_model_for_memory(cons.memory, ex, cons.kv_tokens, cons.bytes_per_param, V, r)
        cap_code[:] = 1
    if cons.max_total_params is not None:
        d_par = d_model_for_total(cons.max_total_params, ex, V, r, with_embedding=False)
        cap_code = np.where(d_par < d_cap, np.int8(2), cap_code)
        d_cap = np.minimum(d_cap, d_par)
    with np.errstate(divide="ignore"):
        u_cap = np.where(
            np.isfinite(d_cap), np.log(active_params_with_embedding(d_cap, V, r)), np.inf
        )
    per_e = _PerE(m, mu, n, nu, d_cap, u_cap, cap_code)
    # the smallest model: one block
    u_lo = float(np.log(active_params_with_embedding(r, V, r)))
    out = _JointCells(
        *(np.empty(shape, dtype=t) for t in (bool, float, float, float, float, np.int8)),
        *(np.empty(shape) for _ in range(2)),
    )
    # in blocks of budgets: the temporaries stay in the CPU cache (1.5x faster on 20,000 x 6)
    for start in range(0, F.size, _JOINT_CHUNK):
        rows = slice(start, start + _JOINT_CHUNK)
        part = _joint_cells(law, F[rows, None], cons.inference_tokens, u_lo, per_e)
        for name, value in zip(_JointCells._fields, part):
            getattr(out, name)[rows] = value
    return JointFrontier(
        flops=F,
        experts=ex,
        feasible=out.feasible,
        d_model=out.d_model,
        n_active_with_embedding=out.n_act,
        tokens=out.tokens,
        loss=out.loss,
        binding_code=out.code,
        unconstrained_d_model=out.d_unc,
        unconstrained_loss=out.loss_unc,
        d_model_cap=np.array(np.broadcast_to(d_cap, shape), dtype=float),
    )


#: Budgets per block of :func:`joint_frontier`.
_JOINT_CHUNK = 2048


class _PerE(NamedTuple):
    """Per candidate E: the law's Chinchilla form and the cap on d_model (and its ln N_act)."""

    m: np.ndarray
    mu: np.ndarray
    n: np.ndarray
    nu: np.ndarray
    d_cap: np.ndarray
    u_cap: np.ndarray
    cap_code: np.ndarray


class _JointCells(NamedTuple):
    feasible: np.ndarray
    d_model: np.ndarray
    n_act: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    code: np.ndarray
    d_unc: np.ndarray
    loss_unc: np.ndarray


def _joint_cells(law, Fc, inference_tokens, u_lo, e: _PerE) -> _JointCells:
    """:func:`joint_frontier`'s optima for budgets ``Fc`` (a column) × the candidate E, with
    ``u_lo`` the smallest model's ``ln N_act``."""
    m, mu, n, nu = e.m, e.mu, e.n, e.nu
    V, r, c_f = _vocab(law), float(law.aspect_ratio), float(law.c_f)
    k = INFERENCE_FLOPS_PER_PARAM * inference_tokens / c_f
    shape = (Fc.shape[0], m.size)

    # the largest useful model: one training token (D = 1)
    u_hi = np.log(Fc / (c_f + INFERENCE_FLOPS_PER_PARAM * inference_tokens))
    budget_ok = np.broadcast_to(u_hi > u_lo, shape)
    feasible = budget_ok & (e.d_cap >= r)

    hi = np.where(u_hi > u_lo, u_hi, u_lo + 1.0)
    lnF_cf = np.log(Fc) - math.log(c_f)
    if k == 0.0:
        # without inference tokens the sign test g(u) of _root_slope is linear in u: its root
        # is the Chinchilla closed form, clipped to [u_lo, hi] as the bracketed search did
        x0 = (np.log(n * -nu) - np.log(m * -mu)) / (nu + mu) + lnF_cf * (nu / (nu + mu))
        at_lo = x0 < u_lo
        u_unc = np.minimum(np.maximum(x0, u_lo), hi)
    else:
        lo = np.full(shape, u_lo)
        u_unc = _root_slope(lo, np.broadcast_to(hi, shape), Fc, k, c_f, m, mu, n, nu)
        at_lo = _slope_positive(lo, Fc, k, c_f, m, mu, n, nu)
        u_unc = np.where(at_lo, u_lo, u_unc)
    n_act_unc = np.exp(u_unc)
    d_unc = d_model_for_active(n_act_unc, V, r)
    if at_lo.any():
        d_unc[at_lo] = r
    c = float(law.coefficients["c"])

    def loss_at(u, D):
        """The law at each E in its Chinchilla form ``c + m·N^μ + n·D^ν``, from ``u = ln N``
        (two exp per cell: law.loss's powers and argument checks cost four times as much)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lnD = lnF_cf - u if k == 0.0 else np.log(D)
            return c + m * np.exp(mu * u) + n * np.exp(nu * lnD)

    D_unc = Fc / (c_f * n_act_unc) - k
    if k == 0.0 and not at_lo.any() and np.all(x0 <= hi):
        # every optimum is the stationary point, where n·D^ν = (μ/ν)·m·N^μ: one exp per cell
        loss_unc = c + m * np.exp(mu * u_unc) * (1.0 + mu / nu)
    else:
        loss_unc = loss_at(u_unc, D_unc)

    # a limit caps d_model per E: the optimum is the unconstrained one clipped to the cap,
    # one model per E (its N and parameter term once per E, not per cell)
    capped = e.u_cap < u_unc
    code = np.where(capped, e.cap_code, np.where(at_lo, np.int8(3), np.int8(0)))
    if capped.any():
        with np.errstate(over="ignore"):
            n_cap = np.exp(e.u_cap)
        D_cap = Fc / (c_f * n_cap) - k
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lnD_cap = lnF_cf - e.u_cap if k == 0.0 else np.log(D_cap)
            loss_cap = (c + m * np.exp(mu * e.u_cap)) + n * np.exp(nu * lnD_cap)
        n_act = np.where(capped, n_cap, n_act_unc)
        D = np.where(capped, D_cap, D_unc)
        loss = np.where(capped, loss_cap, loss_unc)
        d = np.where(capped, e.d_cap, d_unc)
    else:
        d, n_act, D, loss = d_unc, n_act_unc, D_unc, loss_unc
    if not feasible.all():
        code *= feasible  # '' where nothing fits
        d, n_act, D, loss = (np.where(feasible, v, np.nan) for v in (d, n_act, D, loss))
    if not budget_ok.all():
        d_unc, loss_unc = (np.where(budget_ok, v, np.nan) for v in (d_unc, loss_unc))
    return _JointCells(feasible, d, n_act, D, loss, code, d_unc, loss_unc)


# --------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------


def make_config(
    law,
    d_model,
    n_experts,
    tokens,
    constraints: Limits | None = None,
    binding=None,
    realizable=False,
) -> Configuration:
    """A :class:`~moeplan.plan.results.Configuration` of the law's architecture from
    ``d_model``, ``E`` and training tokens (counts derived; top-1, granularity 1)."""
    law = _as_joint_law(law)
    cons = constraints or NO_LIMITS
    V, r = _vocab(law), float(law.aspect_ratio)
    d, e, D = float(d_model), float(n_experts), float(tokens)
    emb = float(embedding_params(d, V))
    n_act = float(active_params_with_embedding(d, V, r, with_embedding=False))
    n_tot = float(total_params_with_embedding(d, e, V, r, with_embedding=False))
    kv = float(kv_cache_elements(d, cons.kv_tokens, r)) * cons.bytes_per_param
    flops = law.c_f * (n_act + emb) * D
    return Configuration(
        granularity=1.0,
        expansion_rate=e,
        n_experts=e,
        top_k=1.0,
        d_model=d,
        n_blocks=d / r,
        d_expert=3.0 * d,
        n_active=n_act,
        n_total=n_tot,
        router_params=0.0,
        tokens=D,
        flops=flops,
        router_flops=0.0,
        router_share=0.0,
        loss=float(law.loss(n_act + emb, D, n_experts=e)),
        tokens_per_active_param=D / n_act,
        memory_bytes=(n_tot + emb) * cons.bytes_per_param + kv,
        aspect_ratio=r,
        realizable=realizable,
        inference_flops=INFERENCE_FLOPS_PER_PARAM * (n_act + emb) * cons.inference_tokens,
        kv_cache_bytes=kv,
        n_heads=d / HEAD_DIM,
        head_dim=float(HEAD_DIM),
        binding=binding or None,
        n_embedding=emb,
        n_active_with_embedding=n_act + emb,
        n_total_with_embedding=n_tot + emb,
        inference_tokens=cons.inference_tokens,
        bytes_per_param=cons.bytes_per_param,
        learning_rate=learning_rate(n_act, e),
    )


def violated_limit(law, n_blocks: int, n_experts: int, constraints: Limits):
    """The first limit a whole-number model breaks ("max_total_params", "memory"), or None.

    Exact arithmetic: every float is converted to a :class:`~fractions.Fraction` exactly, so a
    model reported as fitting never exceeds a limit by a rounding error.
    """
    law = _as_joint_law(law)
    r = Fraction(law.aspect_ratio)
    V = Fraction(_vocab(law))
    k = Fraction(int(n_blocks))
    d = r * k
    body = (4 + 9 * Fraction(int(n_experts))) * k * d * d  # n_total, non-embedding
    if constraints.max_total_params is not None and body > Fraction(constraints.max_total_params):
        return BIND_PARAMS
    if constraints.memory is not None:
        elements = 2 * d * V + body + 2 * Fraction(constraints.kv_tokens) * k * d
        if elements * Fraction(constraints.bytes_per_param) > Fraction(constraints.memory):
            return BIND_MEMORY
    return None


def fits_exactly(law, n_blocks: int, n_experts: int, constraints: Limits) -> bool:
    """Whether a whole-number model meets the memory and parameter limits (exact arithmetic)."""
    return violated_limit(law, n_blocks, n_experts, constraints) is None


def _realize(law, flops, n_experts, d_cont, d_unc, d_cap, cons: Limits):
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
        n_act = float(active_params_with_embedding(r * k, V, r))
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


def _smallest_memory_message(law, experts, cons: Limits) -> tuple:
    """(message, param) when even the smallest model breaks the memory or parameter limit."""
    V, r = _vocab(law), float(law.aspect_ratio)
    e = min(experts)
    need_bytes = float(memory_bytes(r, e, cons.kv_tokens, cons.bytes_per_param, V, r))
    need_params = float(total_params_with_embedding(r, e, V, r, with_embedding=False))
    # exact, rounded up: a rounded figure (1.297e+07 for 12,971,264) could be below the need,
    # so "allow at least" that much would fail again
    if cons.memory is not None and cons.memory < need_bytes:
        kv = f" with {cons.kv_tokens:g} KV-cache tokens" if cons.kv_tokens else ""
        return (
            f"memory {cons.memory:,.0f} bytes is below the smallest possible model "
            f"(d_model {r:g}, 1 block, E = {e}: {math.ceil(need_bytes):,} bytes at "
            f"{cons.bytes_per_param:g} bytes per parameter{kv}); allow at least "
            f"{math.ceil(need_bytes):,} bytes ({format_bytes(need_bytes)})",
            "memory",
        )
    if cons.max_total_params is not None and cons.max_total_params < need_params:
        return (
            f"max_total_params {cons.max_total_params:,.0f} is below the smallest possible "
            f"model ({math.ceil(need_params):,} non-embedding parameters at d_model {r:g}, "
            f"E = {e}); allow at least {math.ceil(need_params):,}",
            "max_total_params",
        )
    return "no model fits the limits", None


def _check_budget(law, flops, cons: Limits):
    V, r = _vocab(law), float(law.aspect_ratio)
    need = float(active_params_with_embedding(r, V, r)) * (
        law.c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
    )
    if flops <= need:
        if cons.inference_tokens > 0:
            raise InfeasibleError(
                f"flops {flops:.4g} does not cover even the smallest model's inference "
                f"({cons.inference_tokens:.4g} inference tokens need more than {need:.4g} FLOPs "
                f"with one training token); raise the budget or lower inference_tokens",
                param="flops",
            )
        raise InfeasibleError(
            f"flops {flops:.4g} is too small to train even the smallest "
            f"model (d_model {r:g}, 1 block) on one token; use at least "
            f"{need:.4g}",
            param="flops",
        )


def total_params_warning(law, n_total_with_embedding) -> str | None:
    """The warning for total parameters (with embeddings) above the joint law's fitted range
    (its ``params_total``: 5B), with the factor; None inside it or for a law without one."""
    lim = law.fitted_range.get("params_total")
    v = float(n_total_with_embedding)
    if not (lim and lim[1]) or not v > float(lim[1]) * (1 + 1e-9):
        return None
    return (
        f"total parameters {v:.3g} (with embeddings) is {v / float(lim[1]):.3g}x above the "
        f"range {law.name} was fitted on (up to {float(lim[1]):.3g}): the prediction is an "
        "extrapolation"
    )


def _range_warnings(law, cfg: Configuration) -> list[str]:
    out = law.range_warnings(params=cfg.n_active_with_embedding, tokens=cfg.tokens)
    # E = 1: the total is the active count, already checked
    total = total_params_warning(law, cfg.n_total_with_embedding) if cfg.n_experts > 1 else None
    return out + ([total] if total else [])


def _sweep_range_warnings(law, budgets, row: str, d, n_act_e, tokens, n_experts) -> list[str]:
    """Every point of a sweep checked against the law's fitted ranges (N_act with embeddings,
    tokens, tokens per parameter, and total parameters with embeddings): one line per variable
    naming the row, the span of budgets and the worst factor (:func:`ranges.sweep_warnings`)."""
    from .ranges import span_text, sweep_warnings

    out = sweep_warnings(law, budgets, row=row, params=n_act_e, tokens=tokens)
    lim = law.fitted_range.get("params_total")
    if lim and lim[1] and np.any(np.asarray(n_experts) > 1):  # E = 1: total is N_act
        total = total_params_with_embedding(d, n_experts, _vocab(law), float(law.aspect_ratio))
        with np.errstate(invalid="ignore"):
            idx = np.flatnonzero(np.isfinite(total) & (total > float(lim[1]) * (1 + 1e-9)))
        if idx.size:
            worst = total_params_warning(law, total[idx[np.argmax(total[idx])]])
            out.append(f"{row}, {span_text(budgets, idx)}; worst: {worst}")
    return out


def _experts_range_warnings(law, experts) -> list[str]:
    lo, hi = law.fitted_range.get("n_experts", (1.0, 32.0))  # the law's E, not the LR rule's
    outside = [int(e) for e in experts if not lo <= e <= hi]
    if not outside:
        return []
    verb = "is" if len(outside) == 1 else "are"
    return [
        f"E = {', '.join(map(str, outside))} {verb} outside the range {law.name} was fitted "
        f"on ({lo:g} to {hi:g} experts): those losses are extrapolations"
    ]


def _candidates(law, F, ex, cons: Limits, fr) -> list:
    """One :class:`Candidate` per E: the continuous optimum and the best whole model."""
    out = []
    for j, e in enumerate(ex):
        if not fr.feasible[0, j]:
            need = float(
                memory_bytes(
                    law.aspect_ratio,
                    e,
                    cons.kv_tokens,
                    cons.bytes_per_param,
                    _vocab(law),
                    law.aspect_ratio,
                )
            )
            out.append(
                Candidate(
                    float(e),
                    False,
                    None,
                    None,
                    None,
                    f"even the smallest model with E = {e} ({need:.4g} bytes) exceeds the limit",
                )
            )
            continue
        cont = make_config(
            law, fr.d_model[0, j], e, fr.tokens[0, j], cons, binding=str(fr.binding[0, j]) or None
        )
        real = _realize(
            law,
            F,
            e,
            float(fr.d_model[0, j]),
            float(fr.unconstrained_d_model[0, j]),
            float(fr.d_model_cap[0, j]),
            cons,
        )
        out.append(
            Candidate(
                float(e),
                True,
                cont,
                real,
                float(fr.unconstrained_loss[0, j]),
                "" if real is not None else "no whole number of blocks fits the limits",
            )
        )
    return out


def _best_loss(law, F, ex, cons: Limits) -> float:
    fr = joint_frontier(law, F, ex, cons)
    return float(np.min(np.where(fr.feasible, fr.loss, np.inf)))


def optimize(law, flops: float, experts=None, limits: Limits = NO_LIMITS) -> OptimizeResult:
    """Best number of experts, model size and tokens for a budget under memory limits.

    Solves SPEC.md §7's problems: compute-optimal (no limit), model-memory (``memory`` with
    ``kv_tokens = 0``, or ``max_total_params``), total-memory (``memory`` with ``kv_tokens``),
    inference-aware (``inference_tokens``), and their combinations; ``max_choice`` drops the
    expert counts above it. See :func:`moeplan.optimize`.

    Raises
    ------
    InputError
        For bad numbers or expert counts, or a limit the law does not plan.
    InfeasibleError
        When no candidate fits the limits, or the budget cannot pay for the smallest model.
    """
    law = _as_joint_law(law)
    cons = _check_limits(limits)
    ex = parse_experts(experts)
    excluded = ()
    if cons.max_choice is not None:
        excluded = tuple(float(e) for e in ex if e > cons.max_choice)
        ex = tuple(e for e in ex if e <= cons.max_choice)
        if not ex:
            raise InfeasibleError(
                f"max_choice {cons.max_choice:g} is below every candidate number of experts",
                param="max_choice",
            )
    F = domain.flops(
        domain.positive(flops, "flops", allow_none=False, param="flops"), "flops", param="flops"
    )
    _check_budget(law, F, cons)
    fr = joint_frontier(law, F, ex, cons)
    if not np.any(fr.feasible):
        raise InfeasibleError(*_smallest_memory_message(law, ex, cons))
    candidates = _candidates(law, F, ex, cons, fr)
    from .bands import with_joint_loss_ranges  # precision bands (SPEC.md §8)

    candidates = with_joint_loss_ranges(law, candidates)
    realizable = sorted(
        (c.realized for c in candidates if c.realized is not None), key=lambda c: c.loss
    )
    if not realizable:
        msg, param = _smallest_memory_message(law, ex, cons)
        raise InfeasibleError(msg + " (no whole number of blocks fits)", param=param)
    feasible = sorted((c for c in candidates if c.feasible), key=lambda c: c.continuous.loss)
    rec, best_cont = realizable[0], feasible[0]
    warnings = []
    infeasible = [int(c.choice) for c in candidates if not c.feasible]
    if infeasible:
        warnings.append(
            f"E = {', '.join(map(str, sorted(infeasible)))} cannot fit the limit "
            f"even at d_model {law.aspect_ratio:g}, 1 block: left out"
        )
    warnings += _experts_range_warnings(law, ex)
    warnings += _range_warnings(law, rec)
    if best_cont.choice != rec.n_experts:
        warnings.append(
            f"the continuous optimum has E = {best_cont.choice:g}, but with whole "
            f"blocks E = {rec.n_experts:g} is better"
        )
    if rec.binding == BIND_SMALLEST:
        warnings.append(
            "the budget is too small for the law's shapes: the optimum is below one "
            "block, so the smallest model (1 block) is recommended"
        )
    L0 = float(np.nanmin(fr.unconstrained_loss))
    reports = constraint_reports(cons, L0, lambda lim: _best_loss(law, F, ex, lim))
    warnings += [r.message for r in reports if r.binding]
    lr = learning_rate_advice(rec.n_active, rec.n_experts)
    warnings += list(lr.warnings)
    continuous = best_cont.continuous
    import dataclasses

    realizable = [dataclasses.replace(c, loss_penalty=c.loss - continuous.loss) for c in realizable]
    settings = {
        "expansion_rate": None,
        "aspect_ratio": float(law.aspect_ratio),
        "c_f": float(law.c_f),
        "c_r": 0.0,
        "choices": [float(e) for e in ex],
        "experts": list(ex),
        "vocab_size": _vocab(law),
        "bytes_per_param": cons.bytes_per_param,
        "kv_tokens": cons.kv_tokens,
        "inference_tokens": cons.inference_tokens,
        "memory": cons.memory,
        "max_total_params": cons.max_total_params,
        "dense": False,
    }
    return OptimizeResult(
        law=law.name,
        choice="n_experts",
        budget_flops=F,
        target_loss=None,
        recommended=realizable[0],
        continuous=continuous,
        candidates=tuple(feasible) + tuple(c for c in candidates if not c.feasible),
        excluded=excluded + tuple(float(e) for e in infeasible),
        realizable=tuple(realizable),
        unconstrained_loss=L0,
        unconstrained_flops=None,
        constraints=tuple(reports),
        limits=cons,
        settings=settings,
        warnings=tuple(dict.fromkeys(warnings)),
        learning_rate=lr.to_dict(),
    )


# --------------------------------------------------------------------------------------------
# Inverse question, rule of thumb, compare, sweep
# --------------------------------------------------------------------------------------------


def flops_to_reach_joint(law, target_loss, n_experts: int = 1, constraints: Limits | None = None):
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
    constraints : Limits, optional
        Limits and inference workload, as in :func:`optimize`.

    Returns
    -------
    float or ndarray
        FLOPs (``inf`` where unreachable), to ~1e-12 relative.
    """
    law = _as_joint_law(law)
    cons = constraints or NO_LIMITS
    (e,) = parse_experts([n_experts])
    target = np.atleast_1d(np.asarray(target_loss, dtype=float))
    V, r = _vocab(law), float(law.aspect_ratio)
    per_token = law.c_f + INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
    f_min = float(active_params_with_embedding(r, V, r)) * per_token * (1.0 + 1e-9)
    # The largest budget searched: far beyond any use (loss within ~1e-12 of its limit there).
    lo = np.full(target.shape, math.log(f_min))
    hi = np.full(target.shape, math.log(1e60))

    def loss_at(log_f):
        fr = joint_frontier(law, np.exp(log_f.ravel()), [e], cons)
        return np.where(fr.feasible[:, 0], fr.loss[:, 0], np.inf).reshape(log_f.shape)

    reachable = loss_at(hi) <= target
    already = loss_at(lo) <= target
    from .solve import zoom_root

    # each round narrows the bracket 255-fold: 100/255^6 ≈ 4e-13 in ln F
    _, hi = zoom_root(lambda log_f: loss_at(log_f) <= target, lo, hi, 254, 6)
    out = np.where(reachable, np.exp(hi), np.inf)
    out = np.where(already, f_min, out)
    return float(out[0]) if np.ndim(target_loss) == 0 else out


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
    statement: str = (
        "at a fixed total parameter count, an MoE with E <= 8 experts trained on E "
        "times more tokens beats a compute-optimal dense model"
    )

    def to_dict(self) -> dict:
        return {
            "statement": self.statement,
            "holds": self.holds,
            "budget_flops": self.budget_flops,
            "dense": {
                "d_model": self.dense_d_model,
                "n_total_with_embedding": self.dense_n_total_with_embedding,
                "tokens": self.dense_tokens,
                "loss": self.dense_loss,
            },
            "moe": [dict(r) for r in self.rows],
        }


def rule_of_thumb_check(law, flops: float, experts=RULE_OF_THUMB_EXPERTS) -> RuleOfThumbCheck:
    """Evaluate the paper's rule of thumb at budget ``flops`` (see :class:`RuleOfThumbCheck`)."""
    law = _as_joint_law(law)
    F = domain.positive(flops, "flops", allow_none=False, param="flops")
    _check_budget(law, F, NO_LIMITS)
    V, r = _vocab(law), float(law.aspect_ratio)
    fr = joint_frontier(law, F, [1])
    d_dense = float(fr.unconstrained_d_model[0, 0])
    n_dense = float(total_params_with_embedding(d_dense, 1, V, r))
    D_dense = float(fr.tokens[0, 0])
    loss_dense = float(fr.unconstrained_loss[0, 0])
    rows = []
    for e in parse_experts(experts):
        if e == 1:
            continue
        d = float(d_model_for_total(n_dense, e, V, r))
        n_act = float(active_params_with_embedding(d, V, r))
        D = e * D_dense
        loss = float(law.loss(n_act, D, n_experts=e))
        rows.append(
            {
                "n_experts": e,
                "d_model": d,
                "n_total_with_embedding": n_dense,
                "n_active_with_embedding": n_act,
                "tokens": D,
                "flops": law.c_f * n_act * D,
                "loss": loss,
                "loss_gain": loss_dense - loss,
                "beats_dense": loss < loss_dense,
            }
        )
    return RuleOfThumbCheck(
        budget_flops=F,
        dense_d_model=d_dense,
        dense_n_total_with_embedding=n_dense,
        dense_tokens=D_dense,
        dense_loss=loss_dense,
        rows=tuple(rows),
        holds=bool(rows) and all(r["beats_dense"] for r in rows),
    )


def _budget(F: float) -> str:
    return f"{F:.3g}".replace("e+", "e")


def compare(law, flops, experts=None, limits: Limits = NO_LIMITS) -> CompareResult:
    """Dense (E = 1) vs the best MoE at the same budget(s) and limits (see
    :func:`moeplan.compare`).

    ``dense_compute_multiplier``: FLOPs a dense model needs, under the same limits, to reach
    the MoE's (continuous) loss, over the budget (``None`` when no dense model within the limit
    reaches it). Every MoE of this law has granularity 1, so ``moe_g1`` is the best MoE too.
    Each row also evaluates the paper's rule of thumb (:func:`rule_of_thumb_check`).
    """
    law = _as_joint_law(law)
    budgets = [flops] if np.isscalar(flops) else list(flops)
    if not budgets:
        raise InputError("flops: give at least one budget, e.g. 1e21", param="flops")
    ex = parse_experts(experts)
    moe_ex = tuple(e for e in ex if e > 1)
    if not moe_ex:
        raise InputError(
            "experts: compare needs at least one MoE candidate (E >= 2), e.g. 2,4,8,16,32",
            param="experts",
        )
    rows, warnings = [], []
    free = not limits.active()
    for F in budgets:
        plan = optimize(law, F, (1,) + moe_ex, limits)
        # the rows' own range warnings below name their row; the plan's other warnings stay
        own = set(_range_warnings(law, plan.recommended)) if plan.recommended else set()
        warnings += [w for w in plan.warnings if w not in own]
        by_e = {c.choice: c for c in plan.candidates}
        moes = [c for c in plan.candidates if c.choice > 1 and c.realized is not None]
        if not moes:
            raise InfeasibleError(
                f"no MoE candidate ({', '.join(map(str, moe_ex))} experts) "
                f"fits the limits; raise memory or try fewer experts",
                param="memory",
            )
        dense = by_e[1.0].realized
        if dense is not None:  # every row is range-checked, the warning names it
            warnings += [
                f"at {_budget(plan.budget_flops)} FLOPs, the dense model (E = 1): {w}"
                for w in _range_warnings(law, dense)
            ]
        best = min(moes, key=lambda c: c.realized.loss)
        warnings += [
            f"at {_budget(plan.budget_flops)} FLOPs, the optimal MoE (E = "
            f"{best.realized.n_experts:g}): {w}"
            for w in _range_warnings(law, best.realized)
        ]
        mult = flops_to_reach_joint(law, best.continuous.loss, 1, plan.limits)
        mult = None if not math.isfinite(mult) else mult / plan.budget_flops
        mult_range = None
        if free and mult is not None:
            from .bands import joint_dense_multiplier_ranges

            (mult_range,) = joint_dense_multiplier_ranges(law, [plan.budget_flops], moe_ex) or [
                None
            ]
        m, gain = best.realized, dense.loss - best.realized.loss
        if gain > 0:
            verdict = (
                f"at {_budget(plan.budget_flops)} FLOPs the best MoE (E = {m.n_experts:g}) "
                f"beats dense by {gain:.4f} nats"
                + (
                    "; no dense model within the limit reaches it"
                    if mult is None
                    else f"; dense needs {mult:.3g}x the FLOPs to match it"
                )
            )
        else:
            verdict = (
                f"at {_budget(plan.budget_flops)} FLOPs dense wins under this limit (by "
                f"{-gain:.4f} nats over E = {m.n_experts:g})"
            )
        rows.append(
            CompareRow(
                budget_flops=plan.budget_flops,
                dense=dense,
                moe_g1=m,
                moe_opt=m,
                dense_law=law.name,
                dense_compute_multiplier=mult,
                g1_compute_multiplier=1.0,
                dense_compute_multiplier_range=mult_range,
                verdict=verdict,
                extra={
                    "best_n_experts": plan.recommended.n_experts,
                    "loss_gain": gain,
                    "rule_of_thumb": rule_of_thumb_check(law, plan.budget_flops).to_dict(),
                },
            )
        )
        if mult is None:
            warnings.append(
                f"at {plan.budget_flops:.3g} FLOPs no dense model within the limit "
                f"reaches the MoE's loss {best.continuous.loss:.4f}, whatever the "
                f"budget"
            )
    settings = {"choices": [float(e) for e in (1,) + moe_ex], "experts": [1, *moe_ex]}
    return CompareResult(
        law=law.name,
        dense_law=law.name,
        choice="n_experts",
        rows=tuple(rows),
        limits=limits,
        settings=settings,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def sweep(
    law,
    flops_from: float,
    flops_to: float,
    points: int = 25,
    experts=None,
    limits: Limits = NO_LIMITS,
) -> SweepResult:
    """The memory-optimal number of experts over log-spaced budgets (continuous optima; see
    :func:`moeplan.sweep`): per budget the best E under the limits, the loss of every
    candidate E (``loss_by_choice``), the dense loss and the best E without the limits."""
    from .granular import sweep_budgets

    law = _as_joint_law(law)
    cons = _check_limits(limits)
    ex = parse_experts(experts)
    budgets = sweep_budgets(flops_from, flops_to, points, min_points=2)
    fr = joint_frontier(law, budgets, ex, cons)
    if not np.any(fr.feasible):
        if (cons.memory is not None or cons.max_total_params is not None) and np.all(
            fr.d_model_cap[0] < law.aspect_ratio
        ):
            raise InfeasibleError(*_smallest_memory_message(law, ex, cons))
        _check_budget(law, float(budgets[-1]), cons)
        raise InfeasibleError("no candidate fits the limits at any budget of the sweep")
    un = joint_frontier(law, budgets, ex, cons.without("memory", "max_total_params"))
    warnings = []
    dead = ~np.any(fr.feasible, axis=1)
    if np.any(dead):
        warnings.append(
            f"{int(dead.sum())} of {budgets.size} budgets cannot pay for the "
            f"smallest model (and its inference): left empty"
        )
    warnings += _experts_range_warnings(law, ex)
    best = best_columns(law, fr)
    d, E, n_act = best["d_model"], best["n_experts"], best["n_active"]
    n_act_e, tokens, ok = best["n_active_with_embedding"], best["tokens"], fr.best_index >= 0
    dense_col = np.flatnonzero(fr.experts == 1)
    warnings += _sweep_range_warnings(law, budgets, "optimal MoE", d, n_act_e, tokens, E)
    if dense_col.size:
        k = dense_col[0]
        warnings += _sweep_range_warnings(
            law,
            budgets,
            "dense (E = 1)",
            fr.d_model[:, k],
            fr.n_active_with_embedding[:, k],
            fr.tokens[:, k],
            1.0,
        )
    columns = dict(
        best,
        tokens_per_active_param=tokens / n_act,
        loss_g1=best["loss"],
        g1_compute_multiplier=np.where(ok, 1.0, np.nan),
        loss_dense=fr.loss[:, dense_col[0]] if dense_col.size else None,
        unconstrained_choice=np.where(
            un.best_index >= 0, un.experts[np.maximum(un.best_index, 0)], np.nan
        ),
    )
    settings = {
        "choices": [float(e) for e in ex],
        "experts": list(ex),
        "points": budgets.size,
        "aspect_ratio": float(law.aspect_ratio),
        "vocab_size": _vocab(law),
    }
    return SweepResult(
        law=law.name,
        dense_law=law.name if dense_col.size else None,
        choice="n_experts",
        choices=tuple(float(e) for e in ex),
        flops=budgets,
        columns=columns,
        loss_by_choice=fr.loss,
        limits=cons,
        settings=settings,
        warnings=tuple(warnings),
    )

"""Compute-optimal allocation (SPEC.md §4): the best model and token count for a FLOPs budget.

The method
----------
With the shape rule ``d_model = r·n_blocks`` every model is fixed by its width ``d``:

    N = (8E + 4)·d³ / r                         (total non-embedding parameters)
    F = (12·c_f·d³ + E·G·c_r·d²) · D / r        (training FLOPs, router included)

so for a budget ``F`` and a granularity ``G`` the loss is a function of ``x = ln d`` alone,

    L(x) = c + P(x) + Q(x),   P = (g/G^γ + a)·N^−α,   Q = b·D^−β,   D = F / T(x),

with ``T(x) = e^{2x}(12·c_f·e^x + k)/r`` the FLOPs per token and ``k = E·G·c_r``. ``P`` falls
exponentially in ``x``; ``ln Q = const + β·(2x + ln(12·c_f·e^x + k))`` is convex in ``x`` (a
softplus), so ``Q`` is log-convex and ``L`` is strictly convex in ``x``: there is exactly one
minimum, where ``L'(x) = −3αP + β(2 + s)Q = 0`` with ``s = 12c_f e^x/(12c_f e^x + k)`` the
non-router share of the FLOPs. We solve the equivalent, nearly linear equation

    h(x) = ln(3αP) − ln(β(2 + s)Q) = 0,   h'(x) = −3α − s(1−s)/(2+s) − β(2+s)

by Newton's method inside a bracket (a Newton step that leaves the bracket is replaced by
bisection). The slope of ``h`` lies between ``−(3α+2β)`` and ``−(3α+3β+1/8)``, which gives a
valid bracket around the router-free (closed-form) starting point; Newton then converges
quadratically in four to six steps, to ~1e-15 in ``x``. Everything is numpy broadcasting, so many
budgets times many granularities (and bootstrap coefficient samples) are solved at once. The
paper used Brent's method per granularity (scipy); this is the same optimum, without scipy.

Constraints (memory, a parameter cap, a token cap, a fixed model size) become bounds on ``x``;
since ``L`` is convex the constrained optimum is the free one clipped to the bounds. With
inference tokens sharing the budget, ``D = (F − D_inf·T_inf(x))/T(x)``; ``L`` stays convex
(``ln`` of a positive concave function minus a convex one) and the root of ``L'`` is found by
bisection. The best granularity is the candidate with the least loss; the real-valued best ``G``
comes from a golden-section search over ``ln G`` between the smallest and largest candidate.

Inverse problem (:func:`flops_to_reach`): on the compute-optimal path the stationarity
condition gives ``Q = 3αP/(β(2+s))``, so the optimal loss is ``c + P·(1 + 3α/(β(2+s)))``, a
decreasing function of ``x`` alone. Solving it for the target loss gives ``x``; ``Q`` then gives
``D`` and ``F``. The least FLOPs over candidate granularities is the minimum over ``G``.

When ``c_r = 0`` (or the law is dense, ``F = c_f·N·D``) ``s = 1`` and everything has the
Chinchilla closed form, which the tests use as an oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import domain
from .accounting import INFERENCE_FLOPS_PER_PARAM, ROUTER_FORWARD_FRACTION
from .errors import InfeasibleError, InputError
from .laws import chinchilla_flops_to_reach, chinchilla_optimum

#: The paper's candidate granularities: powers of two from 1 to 256.
GRANULARITIES_DEFAULT = tuple(float(2**i) for i in range(9))

#: Largest --shape-tolerance: d_model / n_blocks within 100x of the aspect ratio already allows
#: every shape anyone builds; beyond, the searched grid of shapes overflows.
MAX_SHAPE_TOLERANCE = 100.0

_NEWTON_TOL = 1e-13
_MAX_ITER = 100


# --------------------------------------------------------------------------------------------
# Resolved settings
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setup:
    """A law with every setting resolved; coefficients may be arrays (bootstrap samples).

    For a dense (Chinchilla-form) law the same machinery applies with ``E = 1``, ``G = 1``,
    ``c_r = 0`` and ``g = 0``: then ``N = 12·d³/r`` and ``F = c_f·N·D``.
    """

    law_name: str
    dense: bool
    expansion_rate: float
    aspect_ratio: float
    c_f: float
    c_r: float
    a: object
    alpha: object
    b: object
    beta: object
    g: object
    gamma: object
    c: object

    def param_coefficient(self, granularity):
        """``g/G^γ + a``: the numerator of the parameter term at granularity ``G``."""
        if self.dense:
            return np.asarray(self.a, dtype=float) + 0.0 * np.asarray(granularity, dtype=float)
        return self.a + self.g / np.asarray(granularity, dtype=float) ** self.gamma

    def router_k(self, granularity):
        """``k = E·G·c_r``: router FLOPs per token per block per unit of ``d_model``."""
        if self.dense:
            return 0.0 * np.asarray(granularity, dtype=float)
        return self.expansion_rate * np.asarray(granularity, dtype=float) * self.c_r

    @property
    def params_factor(self) -> float:
        """``N = params_factor·d³``: ``(8E + 4)/r``."""
        e = 1.0 if self.dense else self.expansion_rate
        return (8.0 * e + 4.0) / self.aspect_ratio

    def loss(self, params, tokens, granularity):
        """The law at total non-embedding parameters, tokens and granularity (vectorised)."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        return self.c + self.param_coefficient(granularity) / n**self.alpha + self.b / d**self.beta


def resolve(law, expansion_rate=None, aspect_ratio=None, c_f=None, c_r=None) -> Setup:
    """Resolve a :class:`~moeplan.laws.Law` and overrides into a :class:`Setup`.

    ``None`` takes the law's value. Dense laws ignore ``expansion_rate`` and ``c_r``.

    Raises
    ------
    InputError
        For the joint law (planned by :mod:`moeplan.joint`) or an out-of-domain setting.
    """
    if law.form == "joint_moe":
        raise InputError(f"{law.name} is a joint MoE law (number of experts, not granularity): "
                         f"plan it with moeplan.joint.optimize_joint")
    dense = law.form == "chinchilla"
    k = law.coefficients
    r = domain.in_range(law.aspect_ratio if aspect_ratio is None else aspect_ratio,
                        "aspect ratio (d_model / n_blocks)", *domain.ASPECT_RATIO)
    cf = domain.flops_per_param(law.c_f if c_f is None else c_f, "c_f")
    if dense:
        e, cr = 1.0, 0.0
    else:
        e = domain.experts((law.expansion_rate or 64.0) if expansion_rate is None
                           else expansion_rate, "expansion rate E")
        cr = domain.flops_per_param(law.c_r if c_r is None else c_r, "c_r", allow_zero=True)
    return Setup(
        law_name=law.name, dense=dense, expansion_rate=e, aspect_ratio=r, c_f=cf, c_r=cr,
        a=float(k["a"]), alpha=float(k["alpha"]), b=float(k["b"]), beta=float(k["beta"]),
        g=0.0 if dense else float(k["g"]), gamma=0.0 if dense else float(k["gamma"]),
        c=float(k["c"]))


def check_budget(flops):
    """The budget as a float array; InputError unless every value is positive and finite."""
    try:
        f = np.asarray(flops, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"budget must be a number of FLOPs, got {flops!r}") from None
    if f.size == 0:
        raise InputError("budget: give at least one FLOPs value")
    ok = np.isfinite(f) & (f > 0) & (f <= domain.MAX_FLOPS)
    if not np.all(ok):
        domain.flops(f[~ok].ravel()[0])
    return f


def check_granularities(setup: Setup, granularities) -> np.ndarray:
    """Candidate granularities as a sorted unique float array (dense laws: ``[1]``)."""
    if setup.dense:
        if granularities is not None and any(float(v) != 1.0 for v in np.ravel(granularities)):
            raise InputError(f"granularity applies to MoE laws; {setup.law_name} is a dense law "
                             f"(drop --granularity)")
        return np.array([1.0])
    if granularities is None:
        return np.array(GRANULARITIES_DEFAULT)
    # sorted(set()) rather than np.unique, whose first call imports numpy.ma (~14 ms)
    gr = np.array(sorted(set(np.asarray(granularities, dtype=float).ravel().tolist())))
    if gr.size == 0:
        raise InputError("granularity: give at least one value, e.g. 1,2,4,8")
    ok = np.isfinite(gr) & (gr >= domain.MIN_EXPERTS) & (gr <= domain.MAX_EXPERTS)
    if not np.all(ok):
        domain.experts(gr[~ok][0], "granularity G")
    return gr


# --------------------------------------------------------------------------------------------
# Vectorised kernels (x = ln d_model)
# --------------------------------------------------------------------------------------------

def _log(v):
    with np.errstate(divide="ignore"):
        return np.log(v)


def _newton(fun, x0, lo, hi, decreasing, tol=_NEWTON_TOL, maxiter=_MAX_ITER):
    """Safeguarded Newton for a monotone function with a valid bracket [lo, hi] (vectorised)."""
    x0, lo, hi = np.broadcast_arrays(np.asarray(x0, float), np.asarray(lo, float),
                                     np.asarray(hi, float))
    x, lo, hi = x0.copy(), lo.copy(), hi.copy()
    for _ in range(maxiter):
        f, fp = fun(x)
        below = (f > 0) if decreasing else (f < 0)   # True where x is left of the root
        lo = np.where(below, x, lo)
        hi = np.where(below, hi, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = f / fp
        xn = x - step
        tiny = np.abs(step) <= tol * np.maximum(1.0, np.abs(x))
        # a step that leaves the bracket falls back to bisection, but near the root a step of
        # a few ulps may land on a bracket end that the previous iterate set: accept it
        outside = ~((xn >= lo) & (xn <= hi)) & ~tiny
        xn = np.where(outside, 0.5 * (lo + hi), xn)
        xn = np.where(f == 0, x, xn)
        x = xn
        if np.all(tiny | (f == 0)):
            break
    return x


def _bisect(positive, lo, hi, tol=_NEWTON_TOL, maxiter=200):
    """Root of a monotone increasing predicate ``positive(x)`` (False left, True right)."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float))
    lo, hi = lo.copy(), hi.copy()
    for _ in range(maxiter):
        mid = 0.5 * (lo + hi)
        p = positive(mid)
        hi = np.where(p, mid, hi)
        lo = np.where(p, lo, mid)
        if np.all(hi - lo <= tol * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def _solve_log_sum(y, terms):
    """Solve ``ln Σ_i exp(lnw_i + p_i·x) = y`` for x, with ``p_i`` in [1, 3] (vectorised).

    ``terms`` is a list of ``(lnw, p)``; weights may be zero (``lnw = -inf``), but at least
    one must be positive. The left side is convex and increasing with slope in [1, 3].
    """
    lnws = [np.asarray(t[0], float) for t in terms]
    ps = [float(t[1]) for t in terms]
    pmin = min(ps)

    def fun(x):
        parts = [lw + p * x for lw, p in zip(lnws, ps)]
        top = parts[0]
        for q in parts[1:]:
            top = np.maximum(top, q)
        ws = [np.exp(q - top) for q in parts]
        tot = sum(ws)
        val = top + np.log(tot) - y
        slope = sum(p * w for p, w in zip(ps, ws)) / tot
        return val, slope

    x0 = np.zeros(np.broadcast(np.asarray(y, float), *lnws).shape)
    f0, _ = fun(x0)
    width = np.abs(f0) / pmin * (1.0 + 1e-9) + 1e-9
    return _newton(fun, x0, x0 - width, x0 + width, decreasing=False)


def _lse(x, ln12cf, lnk):
    """``ln(12·c_f·e^x + k)``, exact also for ``k = 0``."""
    return np.logaddexp(ln12cf + x, lnk)


def free_log_width(setup: Setup, log_flops, granularity):
    """Unconstrained compute-optimal ``ln d_model`` (no inference tokens), vectorised.

    Parameters
    ----------
    setup : Setup
    log_flops : array
        ``ln F`` with F in FLOPs.
    granularity : array
        ``G``, broadcast against ``log_flops``.

    Returns
    -------
    ndarray
        ``x = ln d_model`` at the optimum.
    """
    al, be = setup.alpha, setup.beta
    lnA = np.log(setup.param_coefficient(granularity))
    lnk = _log(setup.router_k(granularity))
    ln12cf = math.log(12.0 * setup.c_f)
    lnr = math.log(setup.aspect_ratio)
    C = (np.log(3.0 * np.asarray(al) / be) + lnA - al * math.log(setup.params_factor)
         - np.log(setup.b) + be * (np.asarray(log_flops, float) + lnr))

    def fun(x):
        lse = _lse(x, ln12cf, lnk)
        s = np.exp(ln12cf + x - lse)
        h = C - 3.0 * al * x - np.log(2.0 + s) - be * (2.0 * x + lse)
        hp = -3.0 * al - s * (1.0 - s) / (2.0 + s) - be * (2.0 + s)
        return h, hp

    x0 = (C - math.log(3.0) - be * ln12cf) / (3.0 * al + 3.0 * be)
    h0, _ = fun(x0)
    width = np.abs(h0) / (3.0 * al + 2.0 * be) * (1.0 + 1e-9) + 1e-12
    return _newton(fun, x0, x0 - width, x0 + width, decreasing=True)


def log_cost_per_token(setup: Setup, x, granularity):
    """``ln T(x)``: training FLOPs per token of the model of width ``e^x``."""
    lnk = _log(setup.router_k(granularity))
    return _lse(x, math.log(12.0 * setup.c_f), lnk) + 2.0 * x - math.log(setup.aspect_ratio)


def log_inference_cost_per_token(setup: Setup, x, granularity):
    """``ln T_inf(x)``: forward FLOPs per inference token (2 per active parameter + router)."""
    lnk = _log(ROUTER_FORWARD_FRACTION * setup.router_k(granularity))
    return (_lse(x, math.log(12.0 * INFERENCE_FLOPS_PER_PARAM), lnk) + 2.0 * x
            - math.log(setup.aspect_ratio))


def log_tokens(setup: Setup, log_flops, x, granularity, inference_tokens=0.0, max_tokens=None):
    """``ln D`` spending the budget on the model of width ``e^x`` (``-inf`` if nothing is left).

    With ``max_tokens`` (data available) the tokens are capped: the rest of the budget is then
    left unspent, which is what a data-limited plan does.
    """
    lnt = log_cost_per_token(setup, x, granularity)
    if not inference_tokens:
        out = np.asarray(log_flops, float) - lnt
    else:
        lni = log_inference_cost_per_token(setup, x, granularity)
        with np.errstate(over="ignore"):
            rest = np.exp(np.asarray(log_flops, float)) - inference_tokens * np.exp(lni)
        out = np.where(rest > 0, _log(np.maximum(rest, 0.0)), -np.inf) - lnt
    if max_tokens is not None:
        out = np.minimum(out, math.log(max_tokens))
    return out


def loss_at(setup: Setup, log_flops, x, granularity, inference_tokens=0.0, max_tokens=None):
    """The law's loss for width ``e^x``, tokens spending the budget (vectorised)."""
    lnN = math.log(setup.params_factor) + 3.0 * np.asarray(x, float)
    lnD = log_tokens(setup, log_flops, x, granularity, inference_tokens, max_tokens)
    P = setup.param_coefficient(granularity) * np.exp(-setup.alpha * lnN)
    with np.errstate(over="ignore"):
        Q = setup.b * np.exp(-setup.beta * lnD)
    return setup.c + P + Q


def _inference_free_log_width(setup: Setup, log_flops, granularity, inference_tokens, x_cap):
    """Root of ``L'(x)`` when inference shares the budget (bisection; L is convex)."""
    al, be = setup.alpha, setup.beta
    G = np.asarray(granularity, float)
    k = setup.router_k(G)
    r = setup.aspect_ratio
    F = np.exp(np.asarray(log_flops, float))
    lnA = np.log(setup.param_coefficient(G))
    lnKN = math.log(setup.params_factor)

    def slope_positive(x):
        e2, e3 = np.exp(2.0 * x), np.exp(3.0 * x)
        t_train = (12.0 * setup.c_f * e3 + k * e2) / r
        t_train_p = (36.0 * setup.c_f * e3 + 2.0 * k * e2) / r
        t_inf = (12.0 * INFERENCE_FLOPS_PER_PARAM * e3 + ROUTER_FORWARD_FRACTION * k * e2) / r
        t_inf_p = (36.0 * INFERENCE_FLOPS_PER_PARAM * e3
                   + 2.0 * ROUTER_FORWARD_FRACTION * k * e2) / r
        rest = F - inference_tokens * t_inf
        with np.errstate(divide="ignore", invalid="ignore"):
            # -d lnD/dx > 0; L'(x) > 0  <=>  ln(beta) + ln Q + ln(-lnD') > ln(3 alpha P)
            neg_dlnD = inference_tokens * t_inf_p / rest + t_train_p / t_train
            lnD = np.log(rest) - np.log(t_train)
            lhs = np.log(be) + np.log(setup.b) - be * lnD + np.log(neg_dlnD)
            rhs = np.log(3.0 * al) + lnA - al * (lnKN + 3.0 * x)
        return np.where(rest > 0, lhs > rhs, True)

    lo = np.minimum(free_log_width(setup, log_flops, G), x_cap) - 5.0
    for _ in range(40):
        bad = slope_positive(lo)
        if not np.any(bad):
            break
        lo = np.where(bad, lo - 5.0, lo)
    return _bisect(slope_positive, lo, np.broadcast_to(x_cap, np.shape(lo)))


# --------------------------------------------------------------------------------------------
# Constraints as bounds on x
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Constraints:
    """Limits on the planned model; ``None`` means no limit.

    Attributes
    ----------
    memory : float
        Bytes available to serve the model: (n_total + router params [+ embeddings]) ×
        ``bytes_per_param`` + KV cache ``2·kv_tokens·n_blocks·d_model·bytes_per_param``.
    max_total_params : float
        Cap on total non-embedding parameters N.
    max_tokens : float
        Training tokens available (data).
    max_granularity : float
        Largest granularity G to consider.
    params : float
        Fixed model size: total non-embedding parameters N.
    inference_tokens : float
        Lifetime inference tokens whose FLOPs (2·N_act per token plus the router's forward
        share) come out of the budget.
    """

    memory: float | None = None
    bytes_per_param: float = 2.0
    kv_tokens: float = 0.0
    vocab_size: float | None = None
    tied_embeddings: bool = False
    max_total_params: float | None = None
    max_tokens: float | None = None
    max_granularity: float | None = None
    params: float | None = None
    inference_tokens: float = 0.0

    def active(self) -> list[str]:
        """Names of the constraints that are set."""
        out = []
        for name in ("memory", "max_total_params", "max_tokens", "max_granularity", "params"):
            if getattr(self, name) is not None:
                out.append(name)
        if self.inference_tokens:
            out.append("inference_tokens")
        return out

    def only(self, names) -> "Constraints":
        """A copy keeping only the named constraints (memory settings travel with memory)."""
        keep = set(names)
        return Constraints(
            memory=self.memory if "memory" in keep else None,
            bytes_per_param=self.bytes_per_param, kv_tokens=self.kv_tokens,
            vocab_size=self.vocab_size, tied_embeddings=self.tied_embeddings,
            max_total_params=self.max_total_params if "max_total_params" in keep else None,
            max_tokens=self.max_tokens if "max_tokens" in keep else None,
            max_granularity=self.max_granularity if "max_granularity" in keep else None,
            params=self.params if "params" in keep else None,
            inference_tokens=self.inference_tokens if "inference_tokens" in keep else 0.0)


NO_CONSTRAINTS = Constraints()


def memory_bytes(setup: Setup, d_model, n_blocks, granularity, cons: Constraints):
    """Bytes to serve a model: weights (with router, and embeddings if the vocabulary is
    known) plus a KV cache of ``cons.kv_tokens`` tokens, at ``cons.bytes_per_param`` each."""
    d = np.asarray(d_model, float)
    n = np.asarray(n_blocks, float)
    e = 1.0 if setup.dense else setup.expansion_rate
    weights = (8.0 * e + 4.0) * d * d * n
    if not setup.dense:
        weights = weights + d * e * np.asarray(granularity, float) * n
    if cons.vocab_size:
        weights = weights + (1.0 if cons.tied_embeddings else 2.0) * cons.vocab_size * d
    kv = 2.0 * cons.kv_tokens * n * d
    return (weights + kv) * cons.bytes_per_param


def _bounds(setup: Setup, log_flops, granularity, cons: Constraints):
    """Lower and upper bounds on x from each constraint: ({name: x_lo}, {name: x_hi})."""
    r = setup.aspect_ratio
    lnr = math.log(r)
    lnKN = math.log(setup.params_factor)
    G = np.asarray(granularity, float)
    shape = np.broadcast(np.asarray(log_flops, float), G, np.asarray(setup.a)).shape
    lower, upper = {}, {}
    if cons.params is not None:
        x = np.full(shape, (math.log(cons.params) - lnKN) / 3.0)
        lower["params"] = x
        upper["params"] = x
    if cons.max_total_params is not None:
        upper["max_total_params"] = np.full(shape, (math.log(cons.max_total_params) - lnKN) / 3.0)
    if cons.memory is not None:
        bpp = cons.bytes_per_param
        w3 = bpp * setup.params_factor
        w2 = bpp * (0.0 if setup.dense else setup.expansion_rate) * G / r \
            + 2.0 * cons.kv_tokens * bpp / r
        w1 = bpp * (1.0 if cons.tied_embeddings else 2.0) * (cons.vocab_size or 0.0)
        x = _solve_log_sum(math.log(cons.memory) + 0.0 * G,
                           [(math.log(w3), 3), (_log(w2 + 0.0 * G), 2), (_log(w1 + 0.0 * G), 1)])
        upper["memory"] = np.broadcast_to(x, shape)
    if cons.max_tokens is not None:
        # D(x) <= D_max  <=>  D_max·T(x) + D_inf·T_inf(x) >= F
        k = setup.router_k(G)
        w3 = 12.0 * setup.c_f * cons.max_tokens + 12.0 * INFERENCE_FLOPS_PER_PARAM \
            * cons.inference_tokens
        w2 = k * (cons.max_tokens + ROUTER_FORWARD_FRACTION * cons.inference_tokens)
        x = _solve_log_sum(np.asarray(log_flops, float) + lnr + 0.0 * G,
                           [(math.log(w3) + 0.0 * G, 3), (_log(w2), 2)])
        lower["max_tokens"] = np.broadcast_to(x, shape)
    return lower, upper


def inference_cap(setup: Setup, log_flops, granularity, inference_tokens):
    """Largest x whose inference FLOPs alone fit the budget (``+inf`` without inference)."""
    G = np.asarray(granularity, float)
    if not inference_tokens:
        return np.full(np.broadcast(np.asarray(log_flops, float), G).shape, np.inf)
    k = setup.router_k(G)
    w3 = 12.0 * INFERENCE_FLOPS_PER_PARAM * inference_tokens
    w2 = ROUTER_FORWARD_FRACTION * k * inference_tokens
    return _solve_log_sum(np.asarray(log_flops, float) + math.log(setup.aspect_ratio) + 0.0 * G,
                          [(math.log(w3) + 0.0 * G, 3), (_log(w2), 2)])


@dataclass(frozen=True)
class Solution:
    """Per-(budget, granularity) optima; every field is an array of the broadcast shape."""

    granularity: np.ndarray
    log_width: np.ndarray          # x = ln d_model at the (constrained) optimum
    free_log_width: np.ndarray     # x without the bounds
    loss: np.ndarray               # +inf where infeasible
    feasible: np.ndarray
    lower_binding: np.ndarray      # name of the bound that raised x ('' if none)
    upper_binding: np.ndarray      # name of the bound that lowered x ('' if none)


def solve(setup: Setup, log_flops, granularity, cons: Constraints = NO_CONSTRAINTS) -> Solution:
    """Constrained compute-optimal ``ln d_model`` and loss for every (budget, G) pair.

    ``log_flops`` and ``granularity`` are broadcast together (and with array coefficients).
    The granularity cap ``cons.max_granularity`` marks larger G infeasible.
    """
    log_flops = np.asarray(log_flops, float)
    G = np.asarray(granularity, float)
    inf_tok = float(cons.inference_tokens or 0.0)
    if inf_tok:
        cap = inference_cap(setup, log_flops, G, inf_tok)
        x_free = _inference_free_log_width(setup, log_flops, G, inf_tok, cap)
    else:
        cap = None
        x_free = free_log_width(setup, log_flops, G)
    shape = x_free.shape
    lower, upper = _bounds(setup, log_flops, G, cons)
    # max_tokens is a soft lower bound: below it the tokens are capped at the data available
    # and part of the budget stays unspent, so it never makes a plan infeasible by itself
    soft = lower.pop("max_tokens", None)
    x_lo = np.full(shape, -np.inf)
    lo_name = np.full(shape, "", dtype=object)
    for name, v in lower.items():
        v = np.broadcast_to(v, shape)
        lo_name = np.where(v > x_lo, name, lo_name)
        x_lo = np.maximum(x_lo, v)
    x_hi = np.full(shape, np.inf)
    hi_name = np.full(shape, "", dtype=object)
    for name, v in upper.items():
        v = np.broadcast_to(v, shape)
        hi_name = np.where(v < x_hi, name, hi_name)
        x_hi = np.minimum(x_hi, v)
    feasible = x_lo <= x_hi * (1 + 1e-15) + 1e-15
    if soft is not None:
        soft = np.broadcast_to(soft, shape)
        soft_eff = np.minimum(soft, x_hi)
        lo_name = np.where(soft_eff > x_lo, "max_tokens", lo_name)
        x_lo = np.maximum(x_lo, soft_eff)
    if cap is not None:
        feasible &= x_lo < cap
    if cons.max_granularity is not None:
        feasible &= np.broadcast_to(G <= cons.max_granularity * (1 + 1e-12), shape)
    x = np.clip(x_free, x_lo, np.maximum(x_hi, x_lo))
    lower_b = np.where(feasible & (x_free < x_lo), lo_name, "")
    upper_b = np.where(feasible & (x_free > x_hi), hi_name, "")
    loss = np.where(feasible, loss_at(setup, log_flops, x, G, inf_tok, cons.max_tokens), np.inf)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    feasible = feasible & np.isfinite(loss)
    return Solution(granularity=np.broadcast_to(G, shape), log_width=x, free_log_width=x_free,
                    loss=loss, feasible=feasible, lower_binding=lower_b, upper_binding=upper_b)


def best_index(loss) -> np.ndarray:
    """Index of the least loss along the last (granularity) axis."""
    return np.argmin(loss, axis=-1)


def take_best(arr, idx):
    """``arr[..., idx]`` for the per-row best index."""
    arr = np.asarray(arr)
    return np.take_along_axis(arr, np.expand_dims(idx, -1), axis=-1)[..., 0]


def golden_granularity(setup: Setup, log_flops, g_lo, g_hi, cons=NO_CONSTRAINTS, iters=80):
    """Real-valued best G in [g_lo, g_hi] by golden-section search over ln G (vectorised).

    Assumes the best loss is unimodal in G (router cost rises, the g/G^γ gain saturates).
    Returns (G, loss).
    """
    log_flops = np.asarray(log_flops, float)
    a = np.broadcast_to(np.log(g_lo), log_flops.shape).astype(float)
    b = np.broadcast_to(np.log(g_hi), log_flops.shape).astype(float)
    inv = (math.sqrt(5.0) - 1.0) / 2.0

    def f(lng):
        return solve(setup, log_flops, np.exp(lng), cons).loss

    c1 = b - inv * (b - a)
    c2 = a + inv * (b - a)
    f1, f2 = f(c1), f(c2)
    for _ in range(iters):
        left = f1 <= f2
        b = np.where(left, c2, b)
        a = np.where(left, a, c1)
        new = np.where(left, b - inv * (b - a), a + inv * (b - a))
        fn = f(new)
        c2, f2, c1, f1 = (np.where(left, c1, new), np.where(left, f1, fn),
                          np.where(left, new, c2), np.where(left, fn, f2))
        # ln G to 1e-6 puts the loss within ~1e-12 of its minimum (it is flat to second
        # order there); tighter costs start-up time and changes no printed digit
        if np.all(b - a < 1e-6):
            break
    g = np.exp(0.5 * (a + b))
    # the ends are candidates too (the optimum may sit on a bound)
    cands = np.stack([np.exp(0.5 * (a + b)), np.broadcast_to(g_lo, g.shape),
                      np.broadcast_to(g_hi, g.shape)], axis=-1).astype(float)
    losses = solve(setup, log_flops[..., None], cands, cons).loss
    i = best_index(losses)
    g = take_best(cands, i)
    return g, take_best(losses, i)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

def _shape_like(value, template):
    return float(value) if np.ndim(template) == 0 else value


def _dense_optimum(setup: Setup, flops):
    """Chinchilla closed form: N, D minimising a/N^α + b/D^β with ``c_f·N·D = F``."""
    return chinchilla_optimum(flops, setup.a, setup.alpha, setup.b, setup.beta, setup.c_f)


def compute_optimal_loss(law, flops, granularities=None, expansion_rate=None, aspect_ratio=None,
                         c_f=None, c_r=None):
    """Best loss reachable with a FLOPs budget (SPEC.md §4).

    For a fine-grained MoE law: the minimum over the candidate granularities of the law's loss,
    with continuous ``d_model`` (``n_blocks = d_model / aspect_ratio``) and the tokens that
    spend the budget, router FLOPs included. For a dense (Chinchilla-form) law: the Chinchilla
    optimum with ``F = c_f·N·D``.

    Parameters
    ----------
    law : Law
        A coefficient set (see :func:`moeplan.load_law`).
    flops : float or array
        Training budget(s), FLOPs; positive and finite.
    granularities : sequence of float, optional
        Candidate G; default the powers of two 1..256.
    expansion_rate, aspect_ratio, c_f, c_r : float, optional
        Overrides; ``None`` takes the law's value.

    Returns
    -------
    float or ndarray
        Loss (nats per token), shaped like ``flops``.
    """
    setup = resolve(law, expansion_rate, aspect_ratio, c_f, c_r)
    f = check_budget(flops)
    if setup.dense:
        if granularities is not None:
            check_granularities(setup, granularities)
        n, d = _dense_optimum(setup, f)
        out = setup.c + setup.a / n**setup.alpha + setup.b / d**setup.beta
    else:
        gr = check_granularities(setup, granularities)
        sol = solve(setup, np.log(f)[..., None], gr)
        out = np.min(sol.loss, axis=-1)
    return _shape_like(out, flops)


def flops_to_reach(law, target_loss, granularities=None, expansion_rate=None, aspect_ratio=None,
                   c_f=None, c_r=None):
    """Least FLOPs whose compute-optimal allocation reaches ``target_loss`` (vectorised).

    The inverse of :func:`compute_optimal_loss` (see the module docstring for the method).

    Parameters
    ----------
    law : Law
    target_loss : float or array
        Loss (nats per token); must be above the law's floor ``c``.
    granularities, expansion_rate, aspect_ratio, c_f, c_r
        As in :func:`compute_optimal_loss`.

    Returns
    -------
    float or ndarray
        FLOPs, shaped like ``target_loss``.

    Raises
    ------
    InfeasibleError
        If a target is at or below the floor ``c`` (no model reaches it).
    """
    setup = resolve(law, expansion_rate, aspect_ratio, c_f, c_r)
    t = np.asarray(target_loss, dtype=float)
    if not np.all(np.isfinite(t)):
        raise InputError(f"target loss must be a finite number, got {target_loss!r}")
    if np.any(t <= setup.c):
        raise InfeasibleError(f"target loss {float(np.min(t)):g} is at or below the floor "
                              f"c = {setup.c:g} of {setup.law_name}: no model reaches it; "
                              f"choose a loss above {setup.c:g}")
    if setup.dense:
        if granularities is not None:
            check_granularities(setup, granularities)
        out = chinchilla_flops_to_reach(t, setup.a, setup.alpha, setup.b, setup.beta, setup.c,
                                        setup.c_f)
        return _shape_like(out, target_loss)
    gr = check_granularities(setup, granularities)
    out = np.min(_flops_to_reach_per_g(setup, t[..., None], gr), axis=-1)
    return _shape_like(out, target_loss)


def _flops_to_reach_per_g(setup: Setup, target, granularity):
    """Least FLOPs reaching ``target`` at each granularity (unconstrained), vectorised."""
    al, be = setup.alpha, setup.beta
    G = np.asarray(granularity, float)
    u = 3.0 * al / be
    lnA = np.log(setup.param_coefficient(G))
    lnKN = math.log(setup.params_factor)
    lnk = _log(setup.router_k(G))
    ln12cf = math.log(12.0 * setup.c_f)
    y = np.log(np.asarray(target, float) - setup.c)

    def parts(x):
        lse = _lse(x, ln12cf, lnk)
        s = np.exp(ln12cf + x - lse)
        lnP = lnA - al * (lnKN + 3.0 * x)
        return lse, s, lnP

    def fun(x):
        _, s, lnP = parts(x)
        phi = lnP + np.log1p(u / (2.0 + s)) - y
        dphi = -3.0 * al - u * s * (1.0 - s) / ((2.0 + s) * (2.0 + s + u))
        return phi, dphi

    # router-free start (s = 1); |φ'| >= 3α gives the bracket
    x0 = (lnA - al * lnKN + np.log1p(u / 3.0) - y) / (3.0 * al)
    f0, _ = fun(x0)
    width = np.abs(f0) / (3.0 * al) * (1.0 + 1e-9) + 1e-12
    x = _newton(fun, x0, x0 - width, x0 + width, decreasing=True)
    lse, s, lnP = parts(x)
    lnQ = np.log(3.0 * al) + lnP - np.log(be * (2.0 + s))
    # Q = b·D^−β,  D = F·r / (e^{2x}(12 c_f e^x + k))
    lnD = (np.log(setup.b) - lnQ) / be
    return np.exp(lnD + 2.0 * x + lse - math.log(setup.aspect_ratio))


@dataclass(frozen=True)
class Frontier:
    """The compute-optimal frontier over many budgets (arrays shaped like ``flops``).

    ``loss_per_granularity`` has one more axis: the candidate granularities
    (``granularities``).
    """

    flops: np.ndarray
    granularities: np.ndarray
    granularity: np.ndarray
    d_model: np.ndarray
    n_blocks: np.ndarray
    n_active: np.ndarray
    n_total: np.ndarray
    tokens: np.ndarray
    router_flops: np.ndarray
    loss: np.ndarray
    loss_per_granularity: np.ndarray

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}


def frontier(law, flops, granularities=None, expansion_rate=None, aspect_ratio=None, c_f=None,
             c_r=None, constraints: Constraints | None = None) -> Frontier:
    """Compute-optimal configuration for every budget at once (vectorised).

    Parameters
    ----------
    law : Law
    flops : float or array
        Budgets, FLOPs.
    granularities, expansion_rate, aspect_ratio, c_f, c_r
        As in :func:`compute_optimal_loss`.
    constraints : Constraints, optional

    Returns
    -------
    Frontier
        The best granularity, continuous d_model/n_blocks, parameters, tokens and loss per
        budget; infeasible budgets have ``loss = inf``.
    """
    setup = resolve(law, expansion_rate, aspect_ratio, c_f, c_r)
    f = check_budget(flops)
    gr = check_granularities(setup, granularities)
    cons = constraints or NO_CONSTRAINTS
    lnf = np.log(f)
    sol = solve(setup, lnf[..., None], gr, cons)
    i = best_index(sol.loss)
    x = take_best(sol.log_width, i)
    G = gr[i]
    d = np.exp(x)
    n = d / setup.aspect_ratio
    lnD = take_best(log_tokens(setup, lnf[..., None], sol.log_width, gr,
                               cons.inference_tokens, cons.max_tokens), i)
    D = np.exp(lnD)
    router = 0.0 if setup.dense else d * setup.expansion_rate * G * setup.c_r * D * n
    e = 1.0 if setup.dense else setup.expansion_rate
    return Frontier(
        flops=f, granularities=gr, granularity=G, d_model=d, n_blocks=n,
        n_active=12.0 * d * d * n, n_total=(8.0 * e + 4.0) * d * d * n, tokens=D,
        router_flops=router + 0.0 * D, loss=take_best(sol.loss, i),
        loss_per_granularity=sol.loss)


# --------------------------------------------------------------------------------------------
# optimize(): the planner
# --------------------------------------------------------------------------------------------

_CONSTRAINT_LABELS = {
    "memory": "--memory",
    "max_total_params": "--max-total-params",
    "max_tokens": "--max-tokens",
    "max_granularity": "--max-granularity",
    "params": "--params",
    "inference_tokens": "--inference-tokens",
}


@dataclass(frozen=True)
class ConstraintReport:
    """What one constraint does to the plan at the chosen budget.

    ``loss_cost`` is the optimal loss with this constraint alone minus the unconstrained
    optimal loss (0 when it does not bind).
    """

    name: str
    limit: float
    binding: bool
    loss_cost: float
    message: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BootstrapRanges:
    """Spread of the optimal allocation over the law's bootstrap coefficient samples."""

    samples: int
    percentiles: tuple
    n_total: tuple
    n_active: tuple
    tokens: tuple
    granularity: tuple
    loss: tuple

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class OptimizeResult:
    """The plan for one budget: recommendation, continuous optimum, alternatives, diagnostics.

    ``candidates`` holds the continuous optimum at every feasible candidate granularity, best
    first; ``realizable`` the best whole-number configurations (``recommended`` is the first).
    """

    law: str
    budget_flops: float
    target_loss: float | None
    recommended: object | None
    continuous: object
    best_real_granularity: float
    best_real_granularity_loss: float
    candidates: tuple
    excluded_granularities: tuple
    realizable: tuple
    unconstrained_loss: float
    unconstrained_flops: float | None
    constraints: tuple
    bootstrap: BootstrapRanges | None
    settings: dict
    warnings: tuple
    success: bool = True
    message: str = "optimal"

    def to_dict(self) -> dict:
        cont = self.continuous.to_dict()
        cont["best_real_granularity"] = self.best_real_granularity
        cont["best_real_granularity_loss"] = self.best_real_granularity_loss
        out = {
            "budget_flops": self.budget_flops,
            "law": self.law,
            "recommended": None if self.recommended is None else self.recommended.to_dict(),
            "continuous": cont,
            "candidates": [c.to_dict() for c in self.candidates],
            "excluded_granularities": list(self.excluded_granularities),
            "realizable": [c.to_dict() for c in self.realizable],
            "unconstrained_loss": self.unconstrained_loss,
            "constraints": [c.to_dict() for c in self.constraints],
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "settings": dict(self.settings),
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
        }
        if self.target_loss is not None:
            out["target_loss"] = self.target_loss
            out["unconstrained_flops"] = self.unconstrained_flops
        return out


def _opt_count(name, value):
    return None if value is None else domain.count(value, name, minimum=1.0)


def _fmt(v: float) -> str:
    from .units import format_count
    return format_count(v)


def _describe(name: str, cons: Constraints) -> str:
    from .units import format_bytes
    if name == "memory":
        return f"memory {format_bytes(cons.memory)}"
    if name == "inference_tokens":
        return f"{_fmt(cons.inference_tokens)} inference tokens"
    value = getattr(cons, name)
    label = {"max_total_params": "at most {} total parameters",
             "max_tokens": "at most {} training tokens",
             "max_granularity": "granularity at most {}",
             "params": "model size fixed at {} parameters"}[name]
    return label.format(f"{value:g}" if name == "max_granularity" else _fmt(value))


def _limit_of(name: str, cons: Constraints) -> float:
    return float(getattr(cons, name))


def _best_loss(setup, log_flops, gr, cons) -> float:
    return float(np.min(solve(setup, log_flops, gr, cons).loss))


def _loss_limit(setup: Setup, gr, cons: Constraints) -> float:
    """The least loss any budget can reach under the constraints (the asymptote)."""
    allowed = gr if cons.max_granularity is None else gr[gr <= cons.max_granularity * (1 + 1e-12)]
    if allowed.size == 0:
        return math.inf
    _, upper = _bounds(setup, 0.0, allowed, cons.only(["memory", "max_total_params", "params"]))
    p = np.zeros(allowed.shape)
    if upper:
        x_hi = np.min(np.stack([np.broadcast_to(v, allowed.shape) for v in upper.values()]), 0)
        p = setup.param_coefficient(allowed) * np.exp(
            -setup.alpha * (math.log(setup.params_factor) + 3.0 * x_hi))
    q = setup.b * cons.max_tokens ** -setup.beta if cons.max_tokens is not None else 0.0
    return float(setup.c + np.min(p) + q)


def _budget_for_target(setup: Setup, gr, cons: Constraints, target: float) -> tuple:
    """Least budget whose constrained optimum reaches ``target``; (F, unconstrained F)."""
    if not math.isfinite(target):
        raise InputError(f"target loss must be a finite number, got {target!r}")
    if target <= setup.c:
        raise InfeasibleError(f"target loss {target:g} is at or below the floor c = {setup.c:g} "
                              f"of {setup.law_name}: no model reaches it; choose a loss above "
                              f"{setup.c:g}")
    allowed = gr if cons.max_granularity is None else gr[gr <= cons.max_granularity * (1 + 1e-12)]
    free = float(np.min(_flops_to_reach_per_g(setup, target, gr)))
    free_allowed = float(np.min(_flops_to_reach_per_g(setup, target, allowed)))
    shaping = set(cons.active()) - {"max_granularity"}
    if not shaping:
        return free_allowed, free
    limit = _loss_limit(setup, gr, cons)
    if target <= limit * (1 + 1e-12):
        names = ", ".join(_describe(n, cons) for n in cons.active())
        raise InfeasibleError(f"target loss {target:g} cannot be reached with {names}: no budget "
                              f"gets below {limit:.4f}; relax the constraints or aim higher")

    def above(lnf):   # True where the constrained optimum has not yet reached the target
        return _best_loss(setup, lnf, gr, cons) > target

    lo = math.log(free_allowed)
    if not above(lo):
        return free_allowed, free
    hi = lo + math.log(2.0)
    while above(hi):
        lo, hi = hi, hi + 2.0 * (hi - lo)
        if hi > math.log(domain.MAX_FLOPS):
            raise InfeasibleError(f"target loss {target:g} needs more than "
                                  f"{domain.MAX_FLOPS:g} FLOPs under the constraints; relax "
                                  f"them or aim higher")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if above(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 * abs(hi):
            break
    return math.exp(hi), free


def least_budget(setup: Setup, granularities, cons: Constraints = NO_CONSTRAINTS,
                 multiple_of: int = 64, realizable: bool = True):
    """FLOPs that train the smallest model (one block of the least width, the least G) on one
    token, plus its inference FLOPs: no budget below it describes a model.

    Returns (FLOPs, the smallest model as a Configuration, a short description of it).
    """
    from .realize import make_configuration, smallest_model, width_quantum

    g0 = float(np.min(granularities))
    d0, n0 = (smallest_model(setup, g0, multiple_of) if realizable
              else (float(width_quantum(multiple_of)), 1.0))
    small = make_configuration(setup, d0, n0, g0, 1.0, cons, realizable=realizable)
    model = f"d_model {d0:g}, 1 block" + ("" if setup.dense else f", G = {g0:g}")
    return small.flops + small.inference_flops, small, model


def check_least_budget(setup: Setup, budgets, granularities) -> None:
    """InfeasibleError when a budget cannot give the smallest model one token (compare, sweep)."""
    from .realize import realizable_granularities

    real_g = realizable_granularities(setup, granularities)
    f_min, _, model = least_budget(setup, real_g or granularities, realizable=bool(real_g))
    low = float(np.min(budgets))
    if low < f_min:
        raise InfeasibleError(f"a budget of {low:.4g} FLOPs cannot train even the smallest model "
                              f"({model}) on one token; use at least {f_min:.4g} FLOPs")


def _check_least_budget(setup: Setup, F: float, target, real_g, allowed, cons: Constraints,
                        multiple_of: int) -> None:
    """Refuse a budget (or target) outside what a model can do: more than the domain's
    largest budget, or less than the smallest realizable model needs for one token."""
    if target is not None and not F <= domain.MAX_FLOPS:
        raise InfeasibleError(f"target loss {target:g} needs more than {domain.MAX_FLOPS:g} "
                              f"FLOPs; aim higher (the floor is c = {setup.c:g})")
    f_min, small, model = least_budget(setup, real_g or allowed, cons, multiple_of,
                                       realizable=bool(real_g))
    if F >= f_min:
        return
    if target is not None:
        raise InfeasibleError(f"target loss {target:g} is above the loss of the smallest model "
                              f"({model}) trained on one token ({small.loss:.4g}); choose a "
                              f"lower target")
    extra = " with the inference tokens" if cons.inference_tokens else ""
    raise InfeasibleError(f"a budget of {F:.4g} FLOPs cannot train even the smallest model "
                          f"({model}) on one token{extra}; use at least {f_min:.4g} FLOPs")


def _bootstrap_ranges(law, setup: Setup, log_flops, gr, cons) -> BootstrapRanges | None:
    samples = law.bootstrap
    if not samples:
        return None
    names = ("a", "alpha", "b", "beta", "c") if setup.dense else \
        ("a", "alpha", "b", "beta", "g", "gamma", "c")
    size = len(next(iter(samples.values())))
    arrays = {k: np.asarray(samples.get(k, (getattr(setup, k),) * size), dtype=float)
              for k in names}
    ok = np.ones(size, dtype=bool)
    for k, v in arrays.items():
        ok &= np.isfinite(v) & ((v >= 0) if k == "c" else (v > 0))
    if ok.sum() < 2:
        return None
    import dataclasses
    boot = dataclasses.replace(setup, **{k: v[ok][:, None] for k, v in arrays.items()})
    sol = solve(boot, log_flops, gr[None, :], cons)
    i = best_index(sol.loss)
    loss = take_best(sol.loss, i)
    good = np.isfinite(loss)
    if good.sum() < 2:
        return None
    x = take_best(sol.log_width, i)[good]
    G = gr[i][good]
    lnD = take_best(log_tokens(boot, log_flops, sol.log_width, gr[None, :],
                               cons.inference_tokens, cons.max_tokens), i)[good]
    d = np.exp(x)
    n = d / setup.aspect_ratio
    pct = (10, 50, 90)

    def q(v):
        return tuple(float(t) for t in np.percentile(v, pct))

    return BootstrapRanges(samples=int(good.sum()), percentiles=pct,
                           n_total=q(setup.params_factor * d**3), n_active=q(12.0 * d * d * n),
                           tokens=q(np.exp(lnD)), granularity=q(G), loss=q(loss[good]))


def optimize(law, flops=None, granularities=None, expansion_rate=None, aspect_ratio=None,
             c_f=None, c_r=None, *, target_loss=None, params=None, memory=None,
             bytes_per_param=2.0, kv_tokens=0.0, inference_tokens=0.0, vocab_size=None,
             tied_embeddings=False, max_total_params=None, max_tokens=None,
             max_granularity=None, multiple_of=64, shape_tolerance=None, n_alternatives=5,
             use_bootstrap=True, range_factor=2.0) -> OptimizeResult:
    """Plan the compute-optimal model for a budget (or the least budget for a target loss).

    Parameters
    ----------
    law : Law
        Fine-grained MoE law, or a dense (Chinchilla-form) law, which plans a dense model
        (``G = E = 1``, no router).
    flops : float, optional
        Total budget, FLOPs (training, plus inference when ``inference_tokens`` is set).
    granularities : sequence of float, optional
        Candidate G (default powers of two 1..256).
    expansion_rate, aspect_ratio, c_f, c_r : float, optional
        Overrides of the law's settings.
    target_loss : float, optional
        Instead of ``flops``: find the least budget whose optimum reaches this loss.
    params : float, optional
        Fix the model size (total non-embedding parameters N); the best tokens and G follow.
    memory : float, optional
        Bytes available for the served model: (N + router [+ embeddings]) ×
        ``bytes_per_param`` + KV cache ``2·kv_tokens·n_blocks·d_model·bytes_per_param``.
    bytes_per_param, kv_tokens, vocab_size, tied_embeddings
        Memory accounting (vocab_size also adds embedding counts to the output).
    inference_tokens : float
        Lifetime inference tokens; their FLOPs (2 per active parameter plus 3/7 of ``c_r`` per
        router parameter, the forward share of the router's cost) come out of the budget.
    max_total_params, max_tokens, max_granularity : float, optional
        Caps on N, on the training tokens (data available) and on G.
    multiple_of : int
        d_model of realizable configurations is a multiple of lcm(multiple_of, 64).
    shape_tolerance : float, optional
        Realizable ``d_model/n_blocks`` within this factor of the aspect ratio; default: the
        whole ``n_blocks`` nearest to ``d_model/aspect_ratio`` (1.25 with ``params``).
    n_alternatives : int
        How many realizable configurations to return.
    use_bootstrap : bool
        With a law that carries bootstrap samples, report 10-50-90% ranges of the optimum.
    range_factor : float
        Warn when the optimum is more than this factor outside the law's fitted range.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    InputError
        Bad values (non-positive budget, G <= 0, both or neither of flops/target_loss...).
    InfeasibleError
        Constraints no model satisfies (memory below the smallest model, target below c...).
    """
    from .realize import (PARAMS_TOLERANCE, SHAPE_TOLERANCE_DEFAULT, make_configuration,
                          realizable_granularities, search, smallest_model, width_quantum)
    from .units import format_bytes

    setup = resolve(law, expansion_rate, aspect_ratio, c_f, c_r)
    if (flops is None) == (target_loss is None):
        raise InputError("give either a budget (--flops) or a target loss (--target-loss); "
                         "not both" if flops is not None else
                         "give a budget (--flops) or a target loss (--target-loss)")
    gr = check_granularities(setup, granularities)
    if int(multiple_of) != multiple_of or multiple_of < 1:
        raise InputError(f"multiple-of must be a whole number >= 1, got {multiple_of!r}")
    multiple_of = int(multiple_of)
    tol = SHAPE_TOLERANCE_DEFAULT if shape_tolerance is None else float(shape_tolerance)
    if shape_tolerance is None and params is not None:
        tol = max(tol, 1.25)   # a fixed size needs some freedom of shape to be met closely
    if not math.isfinite(tol) or tol < 1 or tol > MAX_SHAPE_TOLERANCE:
        raise InputError(f"shape tolerance must be a factor from 1 to {MAX_SHAPE_TOLERANCE:g} "
                         f"(e.g. 1.25), got {shape_tolerance!r}")
    cons = Constraints(
        memory=None if memory is None else domain.in_range(
            memory, "memory (bytes)", 0.0, domain.MAX_BYTES, lo_open=True),
        bytes_per_param=domain.in_range(bytes_per_param, "bytes per parameter",
                                        *domain.BYTES_PER_PARAM),
        kv_tokens=domain.count(kv_tokens or 0.0, "KV-cache tokens", allow_zero=True),
        vocab_size=_opt_count("vocabulary size", vocab_size),
        tied_embeddings=bool(tied_embeddings),
        max_total_params=_opt_count("max total params", max_total_params),
        max_tokens=_opt_count("max tokens", max_tokens),
        max_granularity=None if setup.dense else domain.positive(max_granularity,
                                                                 "max granularity"),
        params=_opt_count("params", params),
        inference_tokens=domain.count(inference_tokens or 0.0, "inference tokens",
                                      allow_zero=True))
    if setup.dense and max_granularity is not None:
        raise InputError(f"--max-granularity applies to MoE laws; {setup.law_name} is dense")
    allowed = gr if cons.max_granularity is None else gr[gr <= cons.max_granularity * (1 + 1e-12)]
    if allowed.size == 0:
        raise InfeasibleError(f"max granularity {cons.max_granularity:g} is below every candidate "
                              f"granularity (the smallest is {gr[0]:g}); raise it or pass "
                              f"--granularity")
    real_g = realizable_granularities(setup, allowed)
    warnings: list[str] = []

    if cons.memory is not None and real_g:
        smallest = []
        for G in real_g:
            d0, n0 = smallest_model(setup, G, multiple_of)
            smallest.append((float(memory_bytes(setup, d0, n0, G, cons)), G, d0))
        need, G0, d0 = min(smallest)
        if need > cons.memory:
            # "allow at least" exactly, rounded up: 4.49 MB may be short of 4,491,264 bytes
            raise InfeasibleError(
                f"memory {format_bytes(cons.memory)} is below the smallest model (d_model "
                f"{d0:g}, 1 block, G = {G0:g}: {format_bytes(need)} at {cons.bytes_per_param:g} "
                f"bytes per parameter"
                + (f", KV cache of {_fmt(cons.kv_tokens)} tokens included" if cons.kv_tokens
                   else "") + f"); allow at least {math.ceil(need):,} bytes")

    unconstrained_flops = None
    if target_loss is not None:
        target = float(target_loss)
        F, unconstrained_flops = _budget_for_target(setup, gr, cons, target)
    else:
        target = None
        F = float(check_budget(flops))
    _check_least_budget(setup, F, target, real_g, allowed, cons, multiple_of)
    lnF = math.log(F)

    sol = solve(setup, lnF, gr, cons)
    if not np.any(sol.feasible):
        alone = [n for n in cons.active() if not np.any(solve(setup, lnF, gr,
                                                               cons.only([n])).feasible)]
        names = alone or cons.active()
        raise InfeasibleError(
            f"no model satisfies {' and '.join(_describe(n, cons) for n in names)} with a budget "
            f"of {F:.4g} FLOPs; relax the constraint or raise the budget")
    order = [int(i) for i in np.argsort(sol.loss) if sol.feasible[i]]
    best = order[0]
    L = float(sol.loss[best])
    r = setup.aspect_ratio

    def continuous_config(i):
        d = math.exp(float(sol.log_width[i]))
        D = math.exp(float(log_tokens(setup, lnF, sol.log_width[i], gr[i],
                                      cons.inference_tokens, cons.max_tokens)))
        binding = "+".join(b for b in (str(sol.lower_binding[i]), str(sol.upper_binding[i])) if b)
        return make_configuration(setup, d, d / r, gr[i], D, cons, realizable=False,
                                  continuous_loss=L, feasible=True, binding=binding or None)

    candidates = tuple(continuous_config(i) for i in order)
    continuous = candidates[0]
    _check_tokens(setup, [F], [continuous.tokens])
    excluded = tuple(float(g) for g, ok in zip(gr, sol.feasible) if not ok)

    # real-valued best G under the same constraints
    if allowed.size > 1:
        g_real, l_real = golden_granularity(setup, lnF, float(allowed[0]), float(allowed[-1]),
                                            cons)
        g_real, l_real = float(g_real), float(l_real)
        if not l_real <= L:
            g_real, l_real = float(gr[best]), L
    else:
        g_real, l_real = float(gr[best]), L

    # what each constraint costs
    L0 = _best_loss(setup, lnF, gr, NO_CONSTRAINTS)
    reports = []
    for name in cons.active():
        alone = _best_loss(setup, lnF, gr, cons.only([name]))
        cost = alone - L0
        binding = cost > 1e-12 * L0
        if binding and name == "inference_tokens":
            msg = (f"serving {_describe(name, cons)} out of the budget costs {cost:.4g} in "
                   f"loss")
        elif binding:
            msg = f"{_describe(name, cons)} binds: it costs {cost:.4g} in loss"
        else:
            msg = f"{_describe(name, cons)} does not bind"
        reports.append(ConstraintReport(name=name, limit=_limit_of(name, cons), binding=binding,
                                        loss_cost=cost, message=msg))

    # realizable configurations
    realizable = []
    if real_g:
        feasible_g = [float(g) for g in gr[sol.feasible] if float(g) in real_g]
        centers = [math.exp(float(sol.log_width[list(gr).index(g)])) for g in feasible_g]
        for widen in (1, 2, 4, 10):
            realizable = search(setup, F, feasible_g, centers, cons, multiple_of=multiple_of,
                                shape_tolerance=tol, continuous_loss=L,
                                limit=max(1, int(n_alternatives)),
                                params_tolerance=PARAMS_TOLERANCE * widen, target_loss=target)
            if realizable or cons.params is None:
                break
        if realizable and cons.params is not None:
            off = abs(realizable[0].n_total / cons.params - 1)
            if off > PARAMS_TOLERANCE:
                warnings.append(f"no realizable shape within {PARAMS_TOLERANCE:.0%} of the fixed "
                                f"size; the recommendation's N is {off:.1%} off")
        if not realizable:
            q = width_quantum(multiple_of)
            shape = (f"n_blocks the whole number nearest d_model/{r:g}" if tol == 1 else
                     f"d_model/n_blocks within {tol:g}x of {r:g}")
            raise InfeasibleError(
                f"no realizable configuration (d_model a multiple of {q}, {shape}) satisfies "
                f"{' and '.join(_describe(n, cons) for n in cons.active()) or 'the budget'} at "
                f"{F:.4g} FLOPs; relax the constraints or raise the budget")
    else:
        warnings.append("no candidate granularity gives whole-number top-k and n_experts = G*E; "
                        "only the continuous optimum is reported")
    recommended = realizable[0] if realizable else None
    if recommended is not None and target is not None \
            and recommended.flops + recommended.inference_flops > F * (1 + 1e-3):
        warnings.append(f"the best whole-number shape needs "
                        f"{(recommended.flops + recommended.inference_flops) / F:.4g}x the "
                        f"continuous optimum's FLOPs to reach the target")
    if recommended is not None and recommended.loss_penalty > 1e-3 * L and target is None:
        text = (f"the best whole-number shape costs {recommended.loss_penalty:.3g} in loss "
                f"against the continuous optimum")
        if tol < 1.25:
            wider = search(setup, F, feasible_g, centers, cons, multiple_of=multiple_of,
                           shape_tolerance=1.25, continuous_loss=L, limit=1)
            if wider and wider[0].loss < recommended.loss - 1e-9:
                w = wider[0]
                text += (f"; --shape-tolerance 1.25 finds {w.d_model:.0f} x {w.n_blocks:.0f} "
                         f"(G = {w.granularity:g}) at loss {w.loss:.4f}")
        warnings.append(text)

    # warnings
    rec = recommended or continuous
    for w in law.range_warnings(params=rec.n_total, tokens=rec.tokens,
                                granularity=None if setup.dense else rec.granularity,
                                factor=range_factor):
        warnings.append(w)
    if rec.router_flops > 8.0 / 12.0 * (rec.flops - rec.router_flops):
        warnings.append(f"routing costs more FLOPs than the experts at G = {rec.granularity:g}")
    if continuous.d_model < width_quantum(multiple_of):
        warnings.append(f"the compute-optimal model (d_model {continuous.d_model:.3g}) is "
                        f"narrower than the smallest realizable width; the budget is tiny")
    for rep in reports:
        if rep.binding:
            warnings.append(rep.message)
    spent = rec.flops + rec.inference_flops
    if target is None and spent < F * (1 - 1e-9):
        warnings.append(f"the constraints leave part of the budget unspent: the plan uses "
                        f"{spent:.4g} of {F:.4g} FLOPs (tokens capped at {_fmt(rec.tokens)})")

    boot = None
    if use_bootstrap and law.bootstrap:
        boot = _bootstrap_ranges(law, setup, lnF, gr, cons)
        if boot is None:
            warnings.append("the law's bootstrap samples could not be used (fewer than two "
                            "valid samples)")

    settings = {
        "expansion_rate": None if setup.dense else setup.expansion_rate,
        "aspect_ratio": r, "c_f": setup.c_f, "c_r": setup.c_r,
        "granularities": [float(g) for g in gr], "multiple_of": multiple_of,
        "shape_tolerance": tol, "bytes_per_param": cons.bytes_per_param,
        "kv_tokens": cons.kv_tokens, "inference_tokens": cons.inference_tokens,
        "memory": cons.memory, "max_total_params": cons.max_total_params,
        "max_tokens": cons.max_tokens, "max_granularity": cons.max_granularity,
        "params": cons.params, "vocab_size": cons.vocab_size, "dense": setup.dense,
    }
    return OptimizeResult(
        law=setup.law_name, budget_flops=F, target_loss=target, recommended=recommended,
        continuous=continuous, best_real_granularity=g_real, best_real_granularity_loss=l_real,
        candidates=candidates, excluded_granularities=excluded, realizable=tuple(realizable),
        unconstrained_loss=L0, unconstrained_flops=unconstrained_flops,
        constraints=tuple(reports), bootstrap=boot, settings=settings,
        warnings=tuple(dict.fromkeys(warnings)))


# --------------------------------------------------------------------------------------------
# compare and sweep: dense vs G = 1 vs optimal G
# --------------------------------------------------------------------------------------------

def comparable_dense_law(law):
    """The dense law fitted on the same data as ``law`` (SPEC.md §2), or ``None``.

    ``krajewski2024-dense`` for ``krajewski2024-moe``; otherwise the first entry of the law's
    ``comparable_with`` that is a shipped or loadable Chinchilla-form set.
    """
    from .coefficients import load_law
    from .errors import MoeplanError

    if law.name == "krajewski2024-moe":
        return load_law("krajewski2024-dense")
    for name in law.comparable_with:
        try:
            cand = load_law(name)
        except MoeplanError:
            continue
        if cand.form == "chinchilla":
            return cand
    return None


def resolve_dense_law(law, dense_law, shown_as: str):
    """The dense law to compare ``law`` with, and warnings (none found; not comparable).

    ``dense_law=None`` picks the one fitted on the same data (:func:`comparable_dense_law`);
    a given one must be Chinchilla-form, and is flagged when it was fitted on other data.
    """
    warnings = []
    if dense_law is None:
        dense_law = comparable_dense_law(law)
        if dense_law is None:
            warnings.append(f"no dense law fitted on the same data as {law.name} is known; the "
                            f"dense {shown_as} is left out (pass --dense-law NAME|PATH)")
    elif dense_law.form != "chinchilla":
        raise InputError(f"--dense-law must be a dense (Chinchilla-form) law; {dense_law.name} "
                         f"is {dense_law.form}")
    elif dense_law.name not in law.comparable_with and law.name not in dense_law.comparable_with \
            and not (law.name == "krajewski2024-moe" and dense_law.name == "krajewski2024-dense"):
        warnings.append(f"{dense_law.name} and {law.name} were not fitted on the same data: "
                        f"their losses are not comparable")
    return dense_law, warnings


@dataclass(frozen=True)
class DenseOptimum:
    """The compute-optimal dense model (Chinchilla form, ``F = c_f·N·D``)."""

    law: str
    n_params: float
    tokens: float
    flops: float
    loss: float
    d_model: float
    n_blocks: float
    tokens_per_param: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def dense_optimum(dense_law, flops, c_f=None, aspect_ratio=None) -> DenseOptimum:
    """Chinchilla optimum of a dense law at one budget (continuous shape, ``N = 12·d³/r``)."""
    setup = resolve(dense_law, aspect_ratio=aspect_ratio, c_f=c_f)
    if not setup.dense:
        raise InputError(f"{dense_law.name} is not a dense (Chinchilla-form) law")
    F = float(check_budget(flops))
    n, d = _dense_optimum(setup, F)
    loss = setup.c + setup.a / n**setup.alpha + setup.b / d**setup.beta
    width = (n * setup.aspect_ratio / 12.0) ** (1.0 / 3.0)
    return DenseOptimum(law=setup.law_name, n_params=float(n), tokens=float(d), flops=F,
                        loss=float(loss), d_model=float(width),
                        n_blocks=float(width / setup.aspect_ratio), tokens_per_param=float(d / n))


@dataclass(frozen=True)
class CompareRow:
    """Dense vs MoE with G = 1 vs MoE with the best candidate G, at one budget."""

    budget_flops: float
    dense: DenseOptimum | None
    moe_g1: object
    moe_opt: object
    dense_compute_multiplier: float | None
    g1_compute_multiplier: float
    verdict: str

    def to_dict(self) -> dict:
        return {
            "budget_flops": self.budget_flops,
            "dense": None if self.dense is None else self.dense.to_dict(),
            "moe_g1": self.moe_g1.to_dict(),
            "moe_opt": self.moe_opt.to_dict(),
            "dense_compute_multiplier": self.dense_compute_multiplier,
            "g1_compute_multiplier": self.g1_compute_multiplier,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class CompareResult:
    law: str
    dense_law: str | None
    rows: tuple
    settings: dict
    warnings: tuple

    def to_dict(self) -> dict:
        return {"law": self.law, "dense_law": self.dense_law,
                "rows": [r.to_dict() for r in self.rows], "settings": dict(self.settings),
                "warnings": list(self.warnings)}


def _check_tokens(setup: Setup, budgets, tokens) -> None:
    """InfeasibleError when an optimum trains on less than one token: only a law whose
    coefficients push the whole budget into parameters gets there (e.g. a = 1e30)."""
    tokens = np.ravel(np.asarray(tokens, float))
    bad = ~(tokens >= 1.0)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0]) % len(np.ravel(budgets))
        raise InfeasibleError(
            f"at {float(np.ravel(budgets)[j]):.4g} FLOPs the optimum of {setup.law_name} trains "
            f"on {float(tokens[bad][0]):.3g} tokens (fewer than one): its coefficients put "
            f"the budget into parameters; check the law")


def _multiplier(law, target, budgets, **kw):
    """FLOPs the law's optimum needs to reach ``target``, per budget (compute multipliers)."""
    try:
        return flops_to_reach(law, target, **kw) / budgets
    except InfeasibleError:
        # a loss within rounding of the floor c: no multiplier can be resolved in doubles
        raise InfeasibleError(
            f"the optimal loss {float(np.min(target)):.6g} is within rounding of the floor "
            f"c = {law.floor:g} of {law.name}: the compute multiplier cannot be resolved; "
            f"check the law's coefficients or use smaller budgets") from None


def _continuous_configs(setup: Setup, flops, gr):
    """Continuous optimum (best candidate G) per budget as Configurations."""
    from .realize import make_configuration

    lnf = np.log(flops)
    sol = solve(setup, lnf[:, None], gr)
    i = best_index(sol.loss)
    out = []
    for j, F in enumerate(flops):
        x = float(sol.log_width[j, i[j]])
        D = math.exp(float(log_tokens(setup, lnf[j], x, gr[i[j]])))
        d = math.exp(x)
        out.append(make_configuration(setup, d, d / setup.aspect_ratio, gr[i[j]], D,
                                      NO_CONSTRAINTS, realizable=False))
    return out


def _moe_setup_for_compare(law, expansion_rate, aspect_ratio, c_f, c_r):
    if law.form == "chinchilla":
        raise InputError(f"compare needs a fine-grained MoE law; {law.name} is dense (use "
                         f"--law krajewski2024-moe, or --dense-law to pick the dense side)")
    return resolve(law, expansion_rate, aspect_ratio, c_f, c_r)


def compare(law, flops, dense_law=None, granularities=None, expansion_rate=None,
            aspect_ratio=None, c_f=None, c_r=None) -> CompareResult:
    """Dense vs MoE with G = 1 vs MoE with the best G, at one or more budgets (SPEC.md §4).

    Parameters
    ----------
    law : Law
        A fine-grained MoE law.
    flops : float or sequence of float
        Budgets, FLOPs.
    dense_law : Law, optional
        The dense law to compare with; default :func:`comparable_dense_law`. Without one the
        dense side is left out (with a warning).
    granularities, expansion_rate, aspect_ratio, c_f, c_r
        As in :func:`compute_optimal_loss`; ``c_f`` applies to the dense law too.

    Returns
    -------
    CompareResult
        Per budget: the three compute-optimal models and the compute multipliers: how many
        times the budget the dense (and G = 1) compute-optimal allocation needs to reach the
        optimal MoE's loss.
    """
    setup = _moe_setup_for_compare(law, expansion_rate, aspect_ratio, c_f, c_r)
    budgets = np.atleast_1d(check_budget(flops)).ravel()
    gr = check_granularities(setup, granularities)
    check_least_budget(setup, budgets, gr)
    dense_law, warnings = resolve_dense_law(law, dense_law, "column")
    kw = dict(expansion_rate=setup.expansion_rate, aspect_ratio=setup.aspect_ratio,
              c_f=setup.c_f, c_r=setup.c_r)
    opt = _continuous_configs(setup, budgets, gr)
    g1 = _continuous_configs(setup, budgets, np.array([1.0]))
    _check_tokens(setup, budgets, [c.tokens for c in opt + g1])
    target = np.array([c.loss for c in opt])
    g1_mult = _multiplier(law, target, budgets, granularities=[1.0], **kw)
    dense_rows = [None] * len(budgets)
    dense_mult = [None] * len(budgets)
    if dense_law is not None:
        dense_rows = [dense_optimum(dense_law, F, c_f=setup.c_f) for F in budgets]
        dense_mult = list(_multiplier(dense_law, target, budgets, c_f=setup.c_f))
    rows = []
    for j, F in enumerate(budgets):
        o = opt[j]
        budget = f"{F:.3g}".replace("e+", "e")
        parts = [f"at {budget} FLOPs the compute-optimal MoE (G = {o.granularity:g}) reaches "
                 f"loss {o.loss:.4f}"]
        if dense_mult[j] is not None:
            parts.append(f"a dense model needs {dense_mult[j]:.1f}x the FLOPs to match it")
        parts.append(f"MoE with G = 1 needs {g1_mult[j]:.2f}x")
        verdict = "; ".join(parts[:1]) + ": " + " and ".join(parts[1:])
        rows.append(CompareRow(budget_flops=float(F), dense=dense_rows[j], moe_g1=g1[j],
                               moe_opt=o,
                               dense_compute_multiplier=None if dense_mult[j] is None
                               else float(dense_mult[j]),
                               g1_compute_multiplier=float(g1_mult[j]), verdict=verdict))
        rec = o
        for w in law.range_warnings(params=rec.n_total, tokens=rec.tokens,
                                    granularity=rec.granularity, factor=2.0):
            warnings.append(w)
    settings = dict(kw, granularities=[float(g) for g in gr])
    return CompareResult(law=law.name, dense_law=None if dense_law is None else dense_law.name,
                         rows=tuple(rows), settings=settings,
                         warnings=tuple(dict.fromkeys(warnings)))


@dataclass(frozen=True)
class SweepResult:
    """The compute-optimal frontier over budgets: arrays, one entry per budget."""

    law: str
    dense_law: str | None
    granularities: tuple
    flops: np.ndarray
    granularity: np.ndarray
    best_real_granularity: np.ndarray
    d_model: np.ndarray
    n_blocks: np.ndarray
    n_active: np.ndarray
    n_total: np.ndarray
    tokens: np.ndarray
    router_flops: np.ndarray
    loss: np.ndarray
    loss_g1: np.ndarray
    loss_dense: np.ndarray | None
    dense_compute_multiplier: np.ndarray | None
    g1_compute_multiplier: np.ndarray
    settings: dict
    warnings: tuple

    COLUMNS = ("flops", "granularity", "best_real_granularity", "d_model", "n_blocks",
               "n_active", "n_total", "tokens", "tokens_per_active_param", "router_flops",
               "loss", "loss_g1", "loss_dense", "g1_compute_multiplier",
               "dense_compute_multiplier")

    def rows(self) -> list[dict]:
        """One mapping per budget with the :attr:`COLUMNS` keys (None where not available)."""
        out = []
        for j in range(len(self.flops)):
            row = {}
            for k in self.COLUMNS:
                if k == "tokens_per_active_param":
                    row[k] = float(self.tokens[j] / self.n_active[j])
                    continue
                v = getattr(self, k)
                row[k] = None if v is None else float(v[j])
            out.append(row)
        return out

    def to_dict(self) -> dict:
        return {"law": self.law, "dense_law": self.dense_law,
                "granularities": list(self.granularities), "rows": self.rows(),
                "settings": dict(self.settings), "warnings": list(self.warnings)}


MAX_SWEEP_POINTS = 100_000


def sweep(law, flops_from, flops_to, points=25, dense_law=None, granularities=None,
          expansion_rate=None, aspect_ratio=None, c_f=None, c_r=None,
          real_granularity=True) -> SweepResult:
    """The compute-optimal frontier on ``points`` log-spaced budgets (the paper's Figure 1).

    Parameters
    ----------
    law : Law
        A fine-grained MoE law.
    flops_from, flops_to : float
        First and last budget, FLOPs (``flops_from <= flops_to``).
    points : int
        Number of budgets (1 to 100,000).
    dense_law : Law, optional
        As in :func:`compare`.
    real_granularity : bool
        Also find the real-valued best G per budget (a golden-section search).

    Returns
    -------
    SweepResult
    """
    setup = _moe_setup_for_compare(law, expansion_rate, aspect_ratio, c_f, c_r)
    lo, hi = float(check_budget(flops_from)), float(check_budget(flops_to))
    if lo > hi:
        raise InputError(f"--from {lo:g} is above --to {hi:g}; give the smaller budget first")
    if int(points) != points or not 1 <= points <= MAX_SWEEP_POINTS:
        raise InputError(f"points must be a whole number from 1 to {MAX_SWEEP_POINTS:,}, got "
                         f"{points!r}")
    points = int(points)
    if points == 1 and lo != hi:
        raise InputError("one point needs --from equal to --to; use --points 2 or more")
    budgets = np.logspace(math.log10(lo), math.log10(hi), points)
    if points > 1:
        budgets[0], budgets[-1] = lo, hi
    gr = check_granularities(setup, granularities)
    check_least_budget(setup, budgets[:1], gr)
    kw = dict(expansion_rate=setup.expansion_rate, aspect_ratio=setup.aspect_ratio,
              c_f=setup.c_f, c_r=setup.c_r)
    dense_law, warnings = resolve_dense_law(law, dense_law, "curve")
    fr = frontier(law, budgets, gr, **kw)
    g1 = frontier(law, budgets, [1.0], **kw)
    _check_tokens(setup, budgets, np.concatenate([fr.tokens, g1.tokens]))
    g1_mult = _multiplier(law, fr.loss, budgets, granularities=[1.0], **kw)
    loss_dense = dense_mult = None
    if dense_law is not None:
        loss_dense = compute_optimal_loss(dense_law, budgets, c_f=setup.c_f)
        dense_mult = _multiplier(dense_law, fr.loss, budgets, c_f=setup.c_f)
    if real_granularity and gr.size > 1:
        g_real, _ = golden_granularity(setup, np.log(budgets), float(gr[0]), float(gr[-1]))
    else:
        g_real = fr.granularity.copy()
    for F_, N_, D_, G_ in ((budgets[0], fr.n_total[0], fr.tokens[0], fr.granularity[0]),
                           (budgets[-1], fr.n_total[-1], fr.tokens[-1], fr.granularity[-1])):
        for w in law.range_warnings(params=N_, tokens=D_, granularity=G_, factor=2.0):
            warnings.append(f"at {F_:.3g} FLOPs: {w}")
    settings = dict(kw, granularities=[float(g) for g in gr], points=points)
    return SweepResult(
        law=law.name, dense_law=None if dense_law is None else dense_law.name,
        granularities=tuple(float(g) for g in gr), flops=budgets, granularity=fr.granularity,
        best_real_granularity=np.asarray(g_real, float), d_model=fr.d_model,
        n_blocks=fr.n_blocks, n_active=fr.n_active, n_total=fr.n_total, tokens=fr.tokens,
        router_flops=fr.router_flops, loss=fr.loss, loss_g1=g1.loss, loss_dense=loss_dense,
        dense_compute_multiplier=dense_mult, g1_compute_multiplier=g1_mult, settings=settings,
        warnings=tuple(dict.fromkeys(warnings)))


__all__ = [
    "GRANULARITIES_DEFAULT", "CompareResult", "Constraints", "DenseOptimum", "Frontier",
    "OptimizeResult", "Setup", "Solution", "SweepResult", "comparable_dense_law", "compare",
    "compute_optimal_loss", "dense_optimum", "flops_to_reach", "frontier", "optimize",
    "resolve", "solve", "sweep",
]

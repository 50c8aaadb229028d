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
A large unconstrained :func:`frontier` goes further: every (budget, G) is one point of the same
function of one variable, solved exactly on a small table and interpolated (see "The
frontier's root table" below).

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

import numpy as np

from .. import accounting, domain
from .._record import Record, dataclass
from ..accounting import INFERENCE_FLOPS_PER_PARAM, ROUTER_FORWARD_FRACTION
from ..errors import InfeasibleError, InputError
from ..laws import chinchilla_flops_to_reach, chinchilla_optimum
from .limits import NO_LIMITS, Limits

#: The paper's candidate granularities: powers of two from 1 to 256.
GRANULARITIES_DEFAULT = tuple(float(2**i) for i in range(9))

#: Largest --shape-tolerance: d_model / n_blocks within 100x of the aspect ratio already allows
#: every shape anyone builds; beyond, the searched grid of shapes overflows.
MAX_SHAPE_TOLERANCE = 100.0

_NEWTON_TOL = 1e-13
#: Budgets solved at once by :func:`frontier` (4,096 x 9 granularities fit the CPU cache).
_CHUNK = 4096
_MAX_ITER = 100


# --------------------------------------------------------------------------------------------
# Resolved settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Setup(Record):
    """A law with every setting resolved; coefficients may be arrays (bootstrap samples).

    For a dense (Chinchilla-form) law the same machinery applies with ``E = 1``, ``G = 1``,
    ``c_r = 0`` and ``g = 0``: then ``N = 12·d³/r`` and ``F = c_f·N·D``.

    A dense law whose N counts the embeddings (the Chinchilla sets) has ``embedding = k·V``
    (``k`` = 1 tied, 2 untied): its N is ``12·d³/r + k·V·d`` and its FLOPs ``c_f·N·D``. The
    solver then works in ``x = ln(N·r/12)/3``, the width a model of the same N would have
    without embeddings: every dense formula depends on ``x`` only through N, so the kernels
    stay exact; :meth:`width` gives the real ``d_model`` and :meth:`solver_x` the way back.
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
    #: Embedding parameters per unit of d_model counted in the law's N (0: N excludes them).
    embedding: float = 0.0

    def law_params(self, n_total, d_model):
        """The law's N of a model: its non-embedding ``n_total`` plus the embeddings the law
        counts (``embedding·d_model``)."""
        return np.asarray(n_total, float) + self.embedding * np.asarray(d_model, float)

    def width_for_params(self, law_params):
        """The ``d_model`` (shape rule held) whose law's N is ``law_params``: the root of
        ``params_factor·d³ + embedding·d = N``."""
        n = np.asarray(law_params, float)
        if not self.embedding:
            return np.cbrt(n / self.params_factor)
        from .experts import _cubic_root

        with np.errstate(all="ignore"):
            return _cubic_root(self.params_factor, 0.0, self.embedding, n)

    def width(self, x):
        """``d_model`` at the solver's ``x`` (``e^x`` unless the law's N counts embeddings)."""
        x = np.asarray(x, float)
        if not self.embedding:
            return np.exp(x)
        with np.errstate(over="ignore"):
            return self.width_for_params(self.params_factor * np.exp(3.0 * x))

    def solver_x(self, log_d_model):
        """The solver's ``x`` of the model of width ``e^log_d_model`` (inverse of :meth:`width`)."""
        lnd = np.asarray(log_d_model, float)
        if not self.embedding:
            return lnd
        with np.errstate(over="ignore"):
            n = self.params_factor * np.exp(3.0 * lnd) + self.embedding * np.exp(lnd)
            return (np.log(n) - math.log(self.params_factor)) / 3.0

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

    def counts(self, d_model, n_blocks, granularity):
        """(n_active, n_total, router_params) of a shape (:mod:`moeplan.accounting`'s counts:
        non-embedding, router excluded; a dense law has no router)."""
        e = 1.0 if self.dense else self.expansion_rate
        with accounting.unchecked():  # grids mark infeasible cells with inf/nan
            router = (
                0.0 if self.dense else accounting.router_params(d_model, n_blocks, e, granularity)
            )
            return (
                accounting.active_params(d_model, n_blocks),
                accounting.total_params(d_model, n_blocks, e),
                router,
            )

    def loss(self, params, tokens, granularity):
        """The law at total non-embedding parameters, tokens and granularity (vectorised)."""
        n = np.asarray(params, dtype=float)
        d = np.asarray(tokens, dtype=float)
        return self.c + self.param_coefficient(granularity) / n**self.alpha + self.b / d**self.beta


def resolve(
    law,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    vocab_size=None,
    tied_embeddings=None,
) -> Setup:
    """Resolve a :class:`~moeplan.laws.Law` and overrides into a :class:`Setup`.

    ``None`` takes the law's value. Dense laws ignore ``expansion_rate`` and ``c_r``;
    ``vocab_size`` and ``tied_embeddings`` matter only to a law whose N counts embeddings
    (:func:`moeplan.laws.chinchilla.embedding_convention`).

    Raises
    ------
    InputError
        For the joint law (planned by :mod:`moeplan.joint`) or an out-of-domain setting.
    """
    if law.choice == "n_experts":
        raise InputError(
            f"{law.name} is a joint MoE law (number of experts, not granularity): "
            f"plan it with moeplan.optimize",
            param="law",
        )
    dense = law.choice is None
    k = law.coefficients
    r = domain.in_range(
        law.aspect_ratio if aspect_ratio is None else aspect_ratio,
        "aspect ratio (d_model / n_blocks)",
        *domain.ASPECT_RATIO,
    )
    cf = domain.flops_per_param(law.c_f if c_f is None else c_f, "c_f")
    if dense:
        e, cr = 1.0, 0.0
    else:
        e = domain.experts(
            (law.expansion_rate or 64.0) if expansion_rate is None else expansion_rate,
            "expansion rate E",
        )
        cr = domain.flops_per_param(law.c_r if c_r is None else c_r, "c_r", allow_zero=True)
    return Setup(
        law_name=law.name,
        dense=dense,
        expansion_rate=e,
        aspect_ratio=r,
        c_f=cf,
        c_r=cr,
        a=float(k["a"]),
        alpha=float(k["alpha"]),
        b=float(k["b"]),
        beta=float(k["beta"]),
        g=0.0 if dense else float(k["g"]),
        gamma=0.0 if dense else float(k["gamma"]),
        c=float(k["c"]),
        embedding=_embedding(law, vocab_size, tied_embeddings),
    )


def law_limits(law, cons: Limits) -> Limits:
    """``cons`` with the vocabulary and tying of the embeddings the law's N counts (the set's
    own where not given), so that memory and every configuration count them too; unchanged
    for a law whose N excludes embeddings."""
    from ..laws.chinchilla import embedding_convention

    vocab, tied = embedding_convention(law, cons.vocab_size, cons.tied_embeddings)
    if vocab is None:
        return cons
    import dataclasses

    return dataclasses.replace(cons, vocab_size=vocab, tied_embeddings=tied)


def _embedding(law, vocab_size, tied_embeddings) -> float:
    """Embedding parameters per unit of d_model that the law's N counts (``k·V``), or 0."""
    from ..laws.chinchilla import embedding_convention

    vocab, tied = embedding_convention(law, vocab_size, tied_embeddings)
    return 0.0 if vocab is None else (1.0 if tied else 2.0) * vocab


def check_budget(flops):
    """The budget as a float array; InputError unless every value is positive and finite."""
    try:
        f = np.asarray(flops, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"budget must be a number of FLOPs, got {flops!r}", param="flops"
        ) from None
    if f.size == 0:
        raise InputError("budget: give at least one FLOPs value", param="flops")
    ok = np.isfinite(f) & (f > 0) & (f <= domain.MAX_FLOPS)
    if not np.all(ok):
        domain.flops(f[~ok].ravel()[0], param="flops")
    return f


def check_granularities(setup: Setup, granularities) -> np.ndarray:
    """Candidate granularities as a sorted unique float array (dense laws: ``[1]``)."""
    if setup.dense:
        if granularities is not None and any(float(v) != 1.0 for v in np.ravel(granularities)):
            raise InputError(
                f"granularity applies to MoE laws; {setup.law_name} is a dense law",
                param="granularities",
            )
        return np.array([1.0])
    if granularities is None:
        return np.array(GRANULARITIES_DEFAULT)
    # sorted(set()) rather than np.unique, whose first call imports numpy.ma (~14 ms)
    gr = np.array(sorted(set(np.asarray(granularities, dtype=float).ravel().tolist())))
    if gr.size == 0:
        raise InputError(
            "granularity: give at least one value, e.g. 1,2,4,8", param="granularities"
        )
    ok = np.isfinite(gr) & (gr >= domain.MIN_EXPERTS) & (gr <= domain.MAX_EXPERTS)
    if not np.all(ok):
        domain.experts(gr[~ok][0], "granularity G", param="granularities")
    return gr


# --------------------------------------------------------------------------------------------
# Vectorised kernels (x = ln d_model)
# --------------------------------------------------------------------------------------------


def _log(v):
    with np.errstate(divide="ignore"):
        return np.log(v)


def _newton(
    fun, x0, lo, hi, decreasing, tol=_NEWTON_TOL, maxiter=_MAX_ITER, first=None, curvature=None
):
    """Safeguarded Newton for a monotone function with a valid bracket [lo, hi] (vectorised).

    In-place updates (``np.copyto`` with ``where=``) instead of fresh ``np.where`` arrays:
    the same iterates, a third of the memory traffic (issue 12). ``first`` is ``fun(x0)`` when
    the caller has it already (it set the bracket from it). ``curvature`` is a bound ``M`` on
    ``|f''|/(2|f'|)``: Newton's error after a step ``δ`` is then at most ``M·δ²``, so the
    iteration stops as soon as that is below ``tol`` (one evaluation fewer than waiting for a
    step below ``tol``).
    """
    x0, lo, hi = np.broadcast_arrays(
        np.asarray(x0, float), np.asarray(lo, float), np.asarray(hi, float)
    )
    x, lo, hi = x0.copy(), lo.copy(), hi.copy()
    for it in range(maxiter):
        f, fp = first if (it == 0 and first is not None) else fun(x)
        below = (f > 0) if decreasing else (f < 0)  # True where x is left of the root
        np.copyto(lo, x, where=below)
        np.copyto(hi, x, where=~below)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = f / fp
        xn = x - step
        np.abs(step, out=step)
        tiny = step <= tol * np.maximum(1.0, np.abs(x))
        # a step that leaves the bracket falls back to bisection, but near the root a step of
        # a few ulps may land on a bracket end that the previous iterate set: accept it
        outside = ~((xn >= lo) & (xn <= hi) | tiny)
        if outside.any():
            np.copyto(xn, 0.5 * (lo + hi), where=outside)
        zero = f == 0
        if zero.any():
            np.copyto(xn, x, where=zero)
            tiny |= zero
        x = xn
        if tiny.all():
            break
        if curvature is not None:
            # the step just taken leaves an error <= M·step² (a Newton step, not a bisection)
            if (
                not outside.any()
                and (curvature * step * step <= tol * np.maximum(1.0, np.abs(x))).all()
            ):
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
    ln12cf = math.log(12.0 * setup.c_f)
    # rho = k·e^-x/(12 c_f): the router's FLOPs per token over the rest (0 without a router)
    lnrho0 = _log(setup.router_k(granularity)) - ln12cf
    lnr = math.log(setup.aspect_ratio)
    C = (
        np.log(3.0 * np.asarray(al) / be)
        + lnA
        - al * math.log(setup.params_factor)
        - np.log(setup.b)
        + be * (np.asarray(log_flops, float) + lnr)
    )
    # With s = 1/(1 + rho) and ln(12 c_f e^x + k) = ln 12c_f + x + log1p(rho):
    #   h(x) = C - β ln 12c_f - 3(α + β)x - ln(3 + 2rho) + (1 - β)·log1p(rho)
    # three transcendental calls per step where logaddexp, exp and log took five.
    C1 = C - be * ln12cf
    m = 3.0 * (al + be)

    def fun(x):
        rho = np.exp(lnrho0 - x)
        t = 3.0 + 2.0 * rho
        u = 1.0 + rho
        h = C1 - m * x - np.log(t) + (1.0 - be) * np.log(u)
        hp = 2.0 * rho / t - (1.0 - be) * rho / u - m
        return h, hp

    x0 = (C - math.log(3.0) - be * ln12cf) / m
    first = fun(x0)
    width = np.abs(first[0]) / (3.0 * al + 2.0 * be) * (1.0 + 1e-9) + 1e-12
    # |h''| <= 1/2 (each ρ-term's derivative is at most 1/4) and |h'| >= 3α + 2β
    return _newton(
        fun,
        x0,
        x0 - width,
        x0 + width,
        decreasing=True,
        first=first,
        curvature=0.25 / (3.0 * al + 2.0 * be),
    )


# --------------------------------------------------------------------------------------------
# The frontier's root table: one function of one variable for every budget and granularity
# --------------------------------------------------------------------------------------------
#
# With z = x − ln ρ0 (ρ0 = k/(12·c_f), so that ρ = e^−z) the stationarity condition h(x) = 0
# of :func:`free_log_width` reads
#
#     w(z) = m·z + ln(3 + 2e^−z) − (1 − β)·ln(1 + e^−z) = W_G + β·ln F,
#
# W_G = C − β·ln F − β·ln 12c_f − m·ln ρ0: w is increasing (w' = −h' lies between 3α + 2β and
# m + 1/8) and the same for every budget and granularity of a law. On the stationary path
# Q = 3αP/(β(2 + s)), so the optimal loss is c + K_G·B(z), K_G = A·K_N^−α·ρ0^−3α and
# B(z) = e^−3αz·(1 + 3α/(β(2 + s))), s = 1/(1 + e^−z). A frontier of many budgets × G thus
# needs the inverse z(w) and B(z(w)) at many points w. Both are solved to rounding (the
# safeguarded Newton above) at the Chebyshev points of cells of width dw covering the w asked
# for, and each (budget, G) evaluates its cell's degree-4 interpolant: a few multiply-adds and
# gathers, no exp or log per problem (issue 12: Newton evaluated about a dozen exp and log per
# problem, 5x the time). z(w) and B are analytic with derivatives of order one on the scale of
# 3α + 2β, and the cells are at most (3α + 2β)/128 wide: measured for (α, β) from
# (0.01, 0.01) to (0.6, 0.02), the interpolation error is below the rounding of the exact
# solves. The table checks itself against exact solves at every cell edge (where an
# interpolant errs most) and halves dw, or declines and leaves the problems to Newton, where an
# edge is off by more than _TABLE_TOL.

#: frontier() uses the root table from this many (budget, G) problems on (building it costs
#: about as much as solving ~10,000 problems by Newton).
_TABLE_MIN_PROBLEMS = 16384
_TABLE_DEGREE = 4
#: The first cells are 2^−7 of 3α + 2β (rounded down to a power of two) wide.
_TABLE_CELL_SHIFT = 7
#: Largest error at a cell edge the table accepts: of z relative to max(1, |z|), of B relative.
_TABLE_TOL = 1e-13
_TABLE_MAX_CELLS = 1 << 16
#: (budget, G) problems per pass: the work arrays stay in the CPU's L2 cache.
_TABLE_CHUNK = 8192


def _stationary_w(z, al, be):
    """``(w(z), w'(z))`` of the root table, overflow-free for any z (written with e^−|z|)."""
    e = np.exp(-np.abs(z))
    neg = z < 0.0
    # ln(3 + 2e^−z), ln(1 + e^−z), p = 2ρ/(3 + 2ρ) and q = ρ/(1 + ρ) at ρ = e^−z
    ln_t = np.where(neg, np.log(3.0 * e + 2.0) - z, np.log(3.0 + 2.0 * e))
    ln_u = np.log1p(e) + np.maximum(-z, 0.0)
    p = np.where(neg, 2.0 / (3.0 * e + 2.0), 2.0 * e / (3.0 + 2.0 * e))
    q = np.where(neg, 1.0, e) / (1.0 + e)
    m = 3.0 * (al + be)
    return m * z + ln_t - (1.0 - be) * ln_u, m - p + (1.0 - be) * q


def _stationary_loss_factor(z, al, be):
    """``B(z) = e^−3αz·(1 + 3α/(β(2 + s)))``, ``s = 1/(1 + e^−z)``: the optimal loss over c,
    per unit of ``K_G``."""
    e = np.exp(-np.abs(z))
    s = np.where(z < 0.0, e, 1.0) / (1.0 + e)
    return np.exp(-3.0 * al * z) * (1.0 + 3.0 * al / (be * (2.0 + s)))


def _z_of_w(w, al, be):
    """The root z of ``w(z) = w`` (vectorised), to rounding."""
    slope = 3.0 * al + 2.0 * be  # the least slope of w

    def fun(z):
        g, gp = _stationary_w(z, al, be)
        return g - w, gp

    z0 = (w - math.log(3.0)) / (3.0 * (al + be))
    first = fun(z0)
    width = np.abs(first[0]) / slope * (1.0 + 1e-9) + 1e-12
    return _newton(
        fun,
        z0,
        z0 - width,
        z0 + width,
        decreasing=False,
        first=first,
        tol=1e-15,
        curvature=0.25 / slope,
    )


def _root_table(al, be, w_lo, w_hi):
    """Interpolants of z(w) and B(z(w)) on cells covering ``[w_lo, w_hi]``.

    Returns ``(j0, dw, zc, bc)``: cell ``j`` spans ``[(j0 + j)·dw, (j0 + j + 1)·dw)`` and
    ``zc[k, j]``, ``bc[k, j]`` are its coefficients of ``u^k``, ``u = w/dw − j0 − j − 1/2`` in
    [−1/2, 1/2); or None where the cells would be too many or an edge check fails.
    """
    deg = _TABLE_DEGREE
    nodes = 0.5 * np.cos((2 * np.arange(deg + 1) + 1) * np.pi / (2 * deg + 2))
    nodes[deg // 2] = 0.0  # the centre (cos(π/2) rounds to 6e-17)
    off = np.arange(deg + 1) != deg // 2
    # coefficients 1..deg from the values minus the centre's (the centre's is coefficient 0)
    inverse = np.linalg.inv(nodes[off, None] ** np.arange(1, deg + 1))
    dw = 2.0 ** (math.floor(math.log2(3.0 * al + 2.0 * be)) - _TABLE_CELL_SHIFT)
    for _ in range(4):
        # a spare cell at each end: the callers' rounding of w/dw cannot leave the table
        j0, j1 = math.floor(w_lo / dw) - 1, math.floor(w_hi / dw) + 2
        cells = j1 - j0
        if cells > _TABLE_MAX_CELLS:
            return None
        centres = (np.arange(j0, j1) + 0.5) * dw
        edges = np.arange(j0, j1 + 1) * dw
        w = np.concatenate([(centres[:, None] + dw * nodes).ravel(), edges])
        with np.errstate(over="ignore", invalid="ignore"):
            z = _z_of_w(w, al, be)
            b = _stationary_loss_factor(z, al, be)
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(b)) and np.all(b > 0)):
            return None
        coef = []
        for v in (z, b):
            at = v[: cells * (deg + 1)].reshape(cells, deg + 1)
            centre = at[:, deg // 2]
            rest = (at[:, off] - centre[:, None]) @ inverse.T
            coef.append(np.concatenate([centre[None], rest.T]))
        zc, bc = coef
        z_edge, b_edge = z[cells * (deg + 1) :], b[cells * (deg + 1) :]
        z_tol = _TABLE_TOL * np.maximum(1.0, np.abs(z_edge))
        ok = True
        for u, sl in ((-0.5, slice(0, cells)), (0.5, slice(1, cells + 1))):
            pz = (zc * (u ** np.arange(deg + 1))[:, None]).sum(axis=0)
            pb = (bc * (u ** np.arange(deg + 1))[:, None]).sum(axis=0)
            ok &= bool(np.all(np.abs(pz - z_edge[sl]) <= z_tol[sl]))
            ok &= bool(np.all(np.abs(pb - b_edge[sl]) <= _TABLE_TOL * b_edge[sl]))
        if ok:
            return j0, dw, np.ascontiguousarray(zc), np.ascontiguousarray(bc)
        dw *= 0.5
    return None


def _unlimited(cons: Limits) -> bool:
    """Whether no limit applies (the unconstrained optimum is the answer)."""
    return (
        cons.memory is None
        and cons.max_total_params is None
        and cons.max_tokens is None
        and cons.max_choice is None
        and cons.params is None
        and not cons.inference_tokens
    )


def _table_optimum(setup: Setup, log_flops, granularities):
    """Unconstrained optima of budgets ``log_flops`` (1-D, ``ln F``) × ``granularities`` from
    the root table; None where the table declines.

    Returns ``(loss, best, x)``: the optimal loss per (budget, G), shape ``(budgets, G)``; the
    index of the best G per budget; and ``x = ln d_model`` at that G. Needs scalar
    coefficients and a router (``k > 0``); equals :func:`free_log_width` and :func:`loss_at`
    to ~1e-15 (tests/test_frontier_table.py).
    """
    al, be = float(setup.alpha), float(setup.beta)
    gr = np.asarray(granularities, float)
    lnA = np.log(setup.param_coefficient(gr))
    ln12cf = math.log(12.0 * setup.c_f)
    lnrho0 = np.log(setup.router_k(gr)) - ln12cf
    lnKN = math.log(setup.params_factor)
    m = 3.0 * (al + be)
    W = (
        math.log(3.0 * al / be)
        + lnA
        - al * lnKN
        - math.log(setup.b)
        + be * (math.log(setup.aspect_ratio) - ln12cf)
        - m * lnrho0
    )
    K = np.exp(lnA - al * lnKN - 3.0 * al * lnrho0)
    bl = be * np.asarray(log_flops, float)
    table = _root_table(al, be, float(W.min() + bl.min()), float(W.max() + bl.max()))
    if table is None:
        return None
    j0, dw, zc, bc = table
    # t = w/dw − j0: its integer part is the cell, the rest minus 1/2 the local variable u
    Wt, blt = W / dw - j0, bl / dw
    n, ng = bl.size, gr.size
    loss = np.empty((n, ng))
    rows = max(1, _TABLE_CHUNK // ng)
    t, acc, tmp = (np.empty((min(rows, n), ng)) for _ in range(3))
    index = np.empty(t.shape, dtype=np.intp)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        _interpolate(bc, np.add(blt[start:stop, None], Wt, out=t[: stop - start]), index, acc, tmp)
        np.multiply(acc[: stop - start], K, out=loss[start:stop])
    loss += setup.c
    if not np.all(np.isfinite(loss)):
        return None
    best = loss.argmin(axis=1)
    z = _interpolate(zc, Wt[best] + blt, np.empty(n, dtype=np.intp), np.empty(n), np.empty(n))
    return loss, best, z + lnrho0[best]


def _interpolate(coef, t, index, acc, tmp):
    """The table's interpolant at ``t = w/dw − j0`` (overwritten with u); the work arrays
    ``index``, ``acc``, ``tmp`` are at least as large as ``t``. Returns ``acc``'s part."""
    size = t.shape[0]
    i, acc, tmp = index[:size], acc[:size], tmp[:size]
    np.copyto(i, t, casting="unsafe")  # t >= 1 (a spare cell): truncation is the floor
    t -= i
    t -= 0.5
    deg = coef.shape[0] - 1
    coef[deg].take(i, out=acc, mode="clip")
    for k in range(deg - 1, -1, -1):
        acc *= t
        coef[k].take(i, out=tmp, mode="clip")
        acc += tmp
    return acc


def log_cost_per_token(setup: Setup, x, granularity):
    """``ln T(x)``: training FLOPs per token of the model of width ``e^x``."""
    lnk = _log(setup.router_k(granularity))
    return _lse(x, math.log(12.0 * setup.c_f), lnk) + 2.0 * x - math.log(setup.aspect_ratio)


def log_inference_cost_per_token(setup: Setup, x, granularity):
    """``ln T_inf(x)``: forward FLOPs per inference token (2 per active parameter + router)."""
    lnk = _log(ROUTER_FORWARD_FRACTION * setup.router_k(granularity))
    return (
        _lse(x, math.log(12.0 * INFERENCE_FLOPS_PER_PARAM), lnk)
        + 2.0 * x
        - math.log(setup.aspect_ratio)
    )


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
        t_inf_p = (
            36.0 * INFERENCE_FLOPS_PER_PARAM * e3 + 2.0 * ROUTER_FORWARD_FRACTION * k * e2
        ) / r
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

NO_CONSTRAINTS = NO_LIMITS


def memory_bytes(setup: Setup, d_model, n_blocks, granularity, cons: Limits):
    """Bytes to serve a model: weights (with router, and embeddings if the vocabulary is
    known) plus a KV cache of ``cons.kv_tokens`` tokens, at ``cons.bytes_per_param`` each."""
    d = np.asarray(d_model, float)
    n = np.asarray(n_blocks, float)
    _, n_total, router = setup.counts(d, n, granularity)
    weights = n_total + router
    if cons.vocab_size:
        with accounting.unchecked():
            weights = weights + accounting.embedding_params(
                d, cons.vocab_size, cons.tied_embeddings
            )
    kv = 2.0 * cons.kv_tokens * n * d
    return (weights + kv) * cons.bytes_per_param


def _bounds(setup: Setup, log_flops, granularity, cons: Limits):
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
        x = setup.solver_x((math.log(cons.max_total_params) - lnKN) / 3.0)
        upper["max_total_params"] = np.full(shape, x)
    if cons.memory is not None:
        bpp = cons.bytes_per_param
        w3 = bpp * setup.params_factor
        w2 = (
            bpp * (0.0 if setup.dense else setup.expansion_rate) * G / r
            + 2.0 * cons.kv_tokens * bpp / r
        )
        w1 = bpp * (1.0 if cons.tied_embeddings else 2.0) * (cons.vocab_size or 0.0)
        x = _solve_log_sum(
            math.log(cons.memory) + 0.0 * G,
            [(math.log(w3), 3), (_log(w2 + 0.0 * G), 2), (_log(w1 + 0.0 * G), 1)],
        )
        upper["memory"] = np.broadcast_to(setup.solver_x(x), shape)
    if cons.max_tokens is not None:
        # D(x) <= D_max  <=>  D_max·T(x) + D_inf·T_inf(x) >= F
        k = setup.router_k(G)
        w3 = (
            12.0 * setup.c_f * cons.max_tokens
            + 12.0 * INFERENCE_FLOPS_PER_PARAM * cons.inference_tokens
        )
        w2 = k * (cons.max_tokens + ROUTER_FORWARD_FRACTION * cons.inference_tokens)
        x = _solve_log_sum(
            np.asarray(log_flops, float) + lnr + 0.0 * G,
            [(math.log(w3) + 0.0 * G, 3), (_log(w2), 2)],
        )
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
    return _solve_log_sum(
        np.asarray(log_flops, float) + math.log(setup.aspect_ratio) + 0.0 * G,
        [(math.log(w3) + 0.0 * G, 3), (_log(w2), 2)],
    )


@dataclass(frozen=True, eq=False, repr=False)
class Solution(Record):
    """Per-(budget, granularity) optima; every field is an array of the broadcast shape."""

    granularity: np.ndarray
    log_width: np.ndarray  # x = ln d_model at the (constrained) optimum
    free_log_width: np.ndarray  # x without the bounds
    loss: np.ndarray  # +inf where infeasible
    feasible: np.ndarray
    lower_code: np.ndarray  # index into names of the bound that raised x (0: none)
    upper_code: np.ndarray  # index into names of the bound that lowered x (0: none)
    names: tuple = ("",)

    @property
    def lower_binding(self) -> np.ndarray:
        """Name of the bound that raised x ('' if none), per cell."""
        return np.array(self.names, dtype=object)[self.lower_code]

    @property
    def upper_binding(self) -> np.ndarray:
        """Name of the bound that lowered x ('' if none), per cell."""
        return np.array(self.names, dtype=object)[self.upper_code]


def solve(setup: Setup, log_flops, granularity, cons: Limits = NO_CONSTRAINTS) -> Solution:
    """Constrained compute-optimal ``ln d_model`` and loss for every (budget, G) pair.

    ``log_flops`` and ``granularity`` are broadcast together (and with array coefficients).
    The granularity cap ``cons.max_choice`` marks larger G infeasible.
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
    # binding bounds as small integer codes into ``names`` (object arrays of strings cost more
    # than the whole solve on a large frontier, issue 12)
    names = ("",) + tuple(
        dict.fromkeys([*lower, *upper] + (["max_tokens"] if soft is not None else []))
    )
    code = {name: np.int8(i) for i, name in enumerate(names)}
    x_lo = np.full(shape, -np.inf)
    lo_code = np.zeros(shape, dtype=np.int8)
    for name, v in lower.items():
        v = np.broadcast_to(v, shape)
        np.copyto(lo_code, code[name], where=v > x_lo)
        x_lo = np.maximum(x_lo, v)
    x_hi = np.full(shape, np.inf)
    hi_code = np.zeros(shape, dtype=np.int8)
    for name, v in upper.items():
        v = np.broadcast_to(v, shape)
        np.copyto(hi_code, code[name], where=v < x_hi)
        x_hi = np.minimum(x_hi, v)
    feasible = x_lo <= x_hi * (1 + 1e-15) + 1e-15
    if soft is not None:
        soft = np.broadcast_to(soft, shape)
        soft_eff = np.minimum(soft, x_hi)
        np.copyto(lo_code, code["max_tokens"], where=soft_eff > x_lo)
        x_lo = np.maximum(x_lo, soft_eff)
    if cap is not None:
        feasible &= x_lo < cap
    if cons.max_choice is not None:
        feasible &= np.broadcast_to(G <= cons.max_choice * (1 + 1e-12), shape)
    x = np.clip(x_free, x_lo, np.maximum(x_hi, x_lo))
    lo_code *= feasible & (x_free < x_lo)
    hi_code *= feasible & (x_free > x_hi)
    loss = loss_at(setup, log_flops, x, G, inf_tok, cons.max_tokens)
    bad = ~(feasible & np.isfinite(loss))
    if bad.any():
        loss = np.where(bad, np.inf, loss)
    feasible = ~bad
    return Solution(
        granularity=np.broadcast_to(G, shape),
        log_width=x,
        free_log_width=x_free,
        loss=loss,
        feasible=feasible,
        lower_code=lo_code,
        upper_code=hi_code,
        names=names,
    )


def best_index(loss) -> np.ndarray:
    """Index of the least loss along the last (granularity) axis."""
    return np.argmin(loss, axis=-1)


def take_best(arr, idx):
    """``arr[..., idx]`` for the per-row best index."""
    arr = np.asarray(arr)
    return np.take_along_axis(arr, np.expand_dims(idx, -1), axis=-1)[..., 0]


#: Up to this many budgets the real-valued best G is found on refined grids (few calls of
#: :func:`solve` on many points), beyond by golden section (many calls on one point each).
_GRID_MAX_BUDGETS = 16
_GRID_POINTS = 65


def zoom_root(above, lo, hi, points: int, rounds: int):
    """Elementwise bracket ``(a, b)`` in ``[lo, hi]`` (arrays) where ``above`` turns True
    (False below the point, True above it): ``points`` interior values per element along a new
    first axis of one call of ``above``, the bracket narrowed ``(points + 1)``-fold to the
    steps where it turns, ``rounds`` times. ``points = 1`` is bisection. Where ``above`` never
    turns the bracket closes on the end it points to."""
    a, b = (np.array(v, dtype=float) for v in np.broadcast_arrays(lo, hi))
    t = (np.arange(1.0, points + 1.0) / (points + 1.0)).reshape((-1,) + (1,) * a.ndim)
    for _ in range(rounds):
        X = a + t * (b - a)
        up = above(X)
        i = np.where(up.any(axis=0), np.argmax(up, axis=0), points)[None]
        ends = np.concatenate([a[None], X, b[None]])  # the root lies in [ends[i], ends[i+1]]
        a, b = np.take_along_axis(ends, i, 0)[0], np.take_along_axis(ends, i + 1, 0)[0]
    return a, b


def zoom_argmin(f, lo, hi, points: int, rounds: int, tol: float = 0.0, axis: int = -1):
    """Elementwise ``x`` in ``[lo, hi]`` (arrays) minimising ``f``: ``points`` values of ``x``
    per element along a new ``axis`` of one call of ``f``, then the bracket narrowed to the best
    point's neighbours (``(points - 1) / 2``-fold), ``rounds`` times or until two grid steps
    are below ``tol``. Assumes one minimum in the bracket, like golden section, but needs a
    few calls of ``f`` on many points instead of dozens on one each. NaN counts as +inf."""
    a, b = np.array(lo, dtype=float), np.array(hi, dtype=float)
    shape = [1] * (a.ndim + 1)
    shape[axis] = points
    t = np.linspace(0.0, 1.0, points).reshape(shape)
    best = a
    for _ in range(rounds):
        X = np.expand_dims(a, axis) + t * np.expand_dims(b - a, axis)
        F = f(X)
        i = np.argmin(np.where(np.isnan(F), np.inf, F), axis=axis)
        best = np.take_along_axis(X, np.expand_dims(i, axis), axis).squeeze(axis)
        step = (b - a) / (points - 1)
        if np.all(2.0 * step < tol):
            break
        a, b = np.maximum(best - step, a), np.minimum(best + step, b)
    return best


def _grid_granularity(setup: Setup, log_flops, g_lo, g_hi, cons, tol=1e-6):
    """:func:`golden_granularity` for a few budgets: the loss on a grid of 65 values of ln G
    in the bracket, the bracket narrowed to the best point's neighbours, repeated. Each round
    shrinks the bracket 32-fold, so ln G is within ``tol`` after five calls of :func:`solve`
    where golden section needs ~30 (one plan's start-up time, issue 12). Same assumption: the
    best loss is unimodal in G."""
    shape = log_flops.shape
    lf = log_flops[..., None]
    best = zoom_argmin(
        lambda lng: solve(setup, lf, np.exp(lng), cons).loss,
        np.broadcast_to(np.log(g_lo), shape),
        np.broadcast_to(np.log(g_hi), shape),
        _GRID_POINTS,
        rounds=40,
        tol=tol,
    )
    g = np.exp(best)
    # the ends are candidates too (the optimum may sit on a bound)
    cands = np.stack(
        [g, np.broadcast_to(g_lo, shape), np.broadcast_to(g_hi, shape)], axis=-1
    ).astype(float)
    losses = solve(setup, lf, cands, cons).loss
    i = best_index(losses)
    return take_best(cands, i), take_best(losses, i)


def golden_granularity(setup: Setup, log_flops, g_lo, g_hi, cons=NO_CONSTRAINTS, iters=80):
    """Real-valued best G in [g_lo, g_hi] by golden-section search over ln G (vectorised).

    Assumes the best loss is unimodal in G (router cost rises, the g/G^γ gain saturates).
    Returns (G, loss).
    """
    log_flops = np.asarray(log_flops, float)
    if log_flops.size <= _GRID_MAX_BUDGETS:
        return _grid_granularity(setup, log_flops, g_lo, g_hi, cons)
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
        c2, f2, c1, f1 = (
            np.where(left, c1, new),
            np.where(left, f1, fn),
            np.where(left, new, c2),
            np.where(left, fn, f2),
        )
        # ln G to 1e-6 puts the loss within ~1e-12 of its minimum (it is flat to second
        # order there); tighter costs start-up time and changes no printed digit
        if np.all(b - a < 1e-6):
            break
    g = np.exp(0.5 * (a + b))
    # the ends are candidates too (the optimum may sit on a bound)
    cands = np.stack(
        [np.exp(0.5 * (a + b)), np.broadcast_to(g_lo, g.shape), np.broadcast_to(g_hi, g.shape)],
        axis=-1,
    ).astype(float)
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


def compute_optimal_loss(
    law, flops, granularities=None, expansion_rate=None, aspect_ratio=None, c_f=None, c_r=None
):
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


def flops_to_reach(
    law, target_loss, granularities=None, expansion_rate=None, aspect_ratio=None, c_f=None, c_r=None
):
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
        raise InputError(
            f"target loss must be a finite number, got {target_loss!r}", param="target_loss"
        )
    if np.any(t <= setup.c):
        raise InfeasibleError(
            f"target loss {float(np.min(t)):g} is at or below the floor "
            f"c = {setup.c:g} of {setup.law_name}: no model reaches it; "
            f"choose a loss above {setup.c:g}"
        )
    if setup.dense:
        if granularities is not None:
            check_granularities(setup, granularities)
        out = chinchilla_flops_to_reach(
            t, setup.a, setup.alpha, setup.b, setup.beta, setup.c, setup.c_f
        )
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


@dataclass(frozen=True, eq=False, repr=False)
class Frontier(Record):
    """The compute-optimal frontier over many budgets (arrays shaped like ``flops``), any law.

    ``choice`` is the best value of the law's choice per budget (G, or E for the joint law;
    1 for a dense law) among ``choices``; ``loss_per_choice`` (alias ``loss_per_granularity``)
    has one more axis, the choices. ``n_active``/``n_total`` are non-embedding counts;
    infeasible budgets have ``loss = inf``.
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
    n_experts: np.ndarray | None = None
    choice_name: str | None = "granularity"

    @property
    def choices(self) -> np.ndarray:
        return self.granularities

    @property
    def choice(self) -> np.ndarray:
        return self.n_experts if self.choice_name == "n_experts" else self.granularity

    @property
    def loss_per_choice(self) -> np.ndarray:
        return self.loss_per_granularity

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}


def frontier(
    law,
    flops,
    granularities=None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    constraints: Limits | None = None,
) -> Frontier:
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
    cons = law_limits(law, constraints or NO_CONSTRAINTS)
    setup = resolve(
        law, expansion_rate, aspect_ratio, c_f, c_r, cons.vocab_size, cons.tied_embeddings
    )
    f = check_budget(flops)
    gr = check_granularities(setup, granularities)
    lnf = np.log(f).ravel()
    table = None
    if (
        lnf.size * gr.size >= _TABLE_MIN_PROBLEMS
        and not setup.dense
        and not setup.embedding
        and setup.c_r > 0
        and _unlimited(cons)
    ):
        table = _table_optimum(setup, lnf, gr)
    if table is not None:
        loss_per_g, i, x = table
        # flat indices: a tenth of take_along_axis's time on (budgets, 9)
        G, loss = gr[i], loss_per_g.take(np.arange(0, loss_per_g.size, gr.size) + i)
    else:
        x, G, loss = np.empty_like(lnf), np.empty_like(lnf), np.empty_like(lnf)
        loss_per_g = np.empty((lnf.size, gr.size))
        # in chunks of budgets: the Newton iterates stay in the CPU cache (5x faster on 100,000)
        for start in range(0, lnf.size, _CHUNK):
            part = slice(start, start + _CHUNK)
            sol = solve(setup, lnf[part, None], gr, cons)
            i = best_index(sol.loss)
            x[part], G[part] = take_best(sol.log_width, i), gr[i]
            loss[part] = take_best(sol.loss, i)
            loss_per_g[part] = sol.loss
    x, G, loss = x.reshape(f.shape), G.reshape(f.shape), loss.reshape(f.shape)
    lnf, loss_per_g = lnf.reshape(f.shape), loss_per_g.reshape(f.shape + gr.shape)
    d = setup.width(x)
    n = d / setup.aspect_ratio
    D = None
    if table is not None:
        # the budget over the FLOPs per token, (12·c_f·d + k)·d·n: no exp or log
        with np.errstate(over="ignore", under="ignore"):
            D = f / ((12.0 * setup.c_f * d + setup.router_k(G)) * d * n)
        if not (np.all(np.isfinite(D)) and np.all(D > 0)):
            D = None
    if D is None:
        D = np.exp(log_tokens(setup, lnf, x, G, cons.inference_tokens, cons.max_tokens))
    n_active, n_total, router = setup.counts(d, n, G)
    e = 1.0 if setup.dense else setup.expansion_rate
    return Frontier(
        flops=f,
        granularities=gr,
        granularity=G,
        d_model=d,
        n_blocks=n,
        n_active=n_active,
        n_total=n_total,
        tokens=D,
        router_flops=router * setup.c_r * D + 0.0 * D,
        loss=loss,
        loss_per_granularity=loss_per_g,
        n_experts=e * G,
        choice_name=None if setup.dense else "granularity",
    )

"""Precision bands (SPEC.md §8, issue 10 item 13): what the published rounding allows.

Each shipped set records the half-width of every coefficient's published rounding
(``Law.precision``); :func:`moeplan.precision.coefficient_samples` draws coefficient sets within
it (the published point first, the corners, then Latin-hypercube draws), or returns a law's
``fit --bootstrap`` samples. Here all of them are solved at once: a :class:`Setup` whose
coefficients are arrays along a leading sample axis goes through the same vectorised solver
as one law (no loop of solves), and each prediction's band is ``[min, max]`` over the samples.

The optimal loss is monotone in every coefficient (envelope theorem), so the corners bound
it; a compute multiplier compares two laws (MoE and dense), so the dense law's samples are
crossed with the MoE law's (every pair), which again contains every corner pair.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .._record import dataclass
from ..precision import band, coefficient_samples
from .limits import Limits
from .solve import (
    Setup,
    _flops_to_reach_per_g,
    best_index,
    log_tokens,
    solve,
    take_best,
    zoom_root,
)

#: Random draws per law on top of the published point and the corners (2**7 for the
#: fine-grained law): 1 + 128 + 64 = 193 coefficient sets. The bands are set by the corners
#: (the optimal loss is monotone in each coefficient); 128 draws gave the same bands at 1e20
#: and 1e25 and cost ~8 ms more per compare.
N_DRAWS = 64
_COEFS = ("a", "alpha", "b", "beta", "g", "gamma", "c")


def sample_setup(law, setup: Setup, ndim: int = 1, n_draws: int = N_DRAWS) -> Setup | None:
    """``setup`` with every coefficient an array of samples along axis 0 (then ``ndim - 1``
    axes of length 1 to broadcast against budgets and choices); None when the law records no
    precision and has no bootstrap samples (nothing to propagate)."""
    if not law.bootstrap and not any(float(v) > 0 for v in (law.precision or {}).values()):
        return None
    s = coefficient_samples(law, n_draws, method="halton")  # no numpy.random at start-up
    size = len(next(iter(s.values())))
    arrays = {
        k: np.asarray(s.get(k, np.full(size, float(np.ravel(getattr(setup, k))[0]))), float)
        for k in _COEFS
        if k in s or not setup.dense
    }
    ok = np.ones(size, bool)
    for k, v in arrays.items():
        ok &= np.isfinite(v) & ((v >= 0) if k == "c" else (v > 0))
    if ok.sum() < 2:
        return None
    shape = (-1,) + (1,) * (ndim - 1)
    return dataclasses.replace(setup, **{k: v[ok].reshape(shape) for k, v in arrays.items()})


def optimal_loss_samples(ssetup: Setup, budgets, gr, cons: Limits) -> np.ndarray:
    """(samples, budgets): each sample's best loss over the candidate ``gr`` (one list for
    every budget, or one row per budget), under limits."""
    lnf = np.log(np.asarray(budgets, float))[None, :, None]
    gr = np.asarray(gr, float)
    sol = solve(ssetup, lnf, gr[None, None, :] if gr.ndim == 1 else gr[None, :, :], cons)
    return np.min(np.where(sol.feasible, sol.loss, np.inf), axis=-1)


def _with_dims(ssetup: Setup, ndim: int) -> Setup:
    shape = (-1,) + (1,) * (ndim - 1)
    return dataclasses.replace(
        ssetup,
        **{k: np.reshape(getattr(ssetup, k), shape) for k in _COEFS if np.ndim(getattr(ssetup, k))},
    )


#: Bisection steps on ln F between the unconstrained budget and domain.MAX_FLOPS (at most
#: ~92 nats wide): 2^-32 of that, 2e-8 relative in F, is far below the bands' two printed
#: digits.
_BISECT_STEPS = 32


def flops_to_reach_under_limits(
    ssetup: Setup, target, gr, cons: Limits, steps: int = _BISECT_STEPS
) -> np.ndarray:
    """Least budget whose optimum over ``gr`` under the limits reaches ``target``, for every
    coefficient sample at once: ``ssetup`` has sample arrays of shape (S, 1, 1) and ``target``
    broadcasts against (S, B); nan where no budget reaches it. Bisection on ln F from the
    unconstrained budget (a lower bound: limits only raise the loss) to ``domain.MAX_FLOPS``,
    ``steps`` halvings (48, ~2e-13 relative in F, for the planner's own multipliers; a
    setup of plain numbers solves one problem per target)."""
    from .. import domain

    t = np.asarray(target, float)
    grid = np.asarray(gr, float)
    with np.errstate(all="ignore"):
        free = np.min(_flops_to_reach_per_g(ssetup, t[..., None], grid), axis=-1)
    lo = np.log(free)
    hi = np.full(lo.shape, math.log(domain.MAX_FLOPS))

    def above(lnf):  # the constrained optimum at exp(lnf) has not yet reached the target
        sol = solve(ssetup, lnf[..., None], grid[None, None, :], cons)
        return np.min(np.where(sol.feasible, sol.loss, np.inf), axis=-1) > t

    with np.errstate(all="ignore"), domain.unchecked():
        c = np.asarray(ssetup.c, float)
        reachable = np.isfinite(lo) & ~above(hi) & (t > (c[..., 0] if c.ndim else c))
        if not np.any(reachable):
            return np.full(reachable.shape, np.nan)
        # bisection: the least budget is the upper end of the last bracket
        _, hi = zoom_root(lambda lnf: ~above(lnf), np.where(reachable, lo, hi), hi, 1, steps)
    return np.where(reachable, np.exp(hi), np.nan)


@dataclass(frozen=True)
class CompareBands:
    """Per budget ``[low, high]`` (``[None, None]`` where nothing could be resolved)."""

    samples: int
    loss_opt: list
    loss_g1: list
    loss_dense: list
    g1_multiplier: list
    dense_multiplier: list


def compare_bands(
    law,
    setup: Setup,
    dense_law,
    dsetup: Setup | None,
    budgets,
    gr,
    cons: Limits,
    n_draws: int = N_DRAWS,
) -> CompareBands | None:
    """Bands of compare's losses and compute multipliers over the rounding (or bootstrap)
    samples of both laws, solved at once. Under limits each multiplier is a search in the
    budget per sample (:func:`flops_to_reach_under_limits`, all samples at once; the dense
    side at the MoE's extreme targets only, its FLOPs being monotone in the target).
    ``n_draws``: random draws on top of the point and the corners (which set the bands)."""
    s3 = sample_setup(law, setup, ndim=3, n_draws=n_draws)
    if s3 is None:
        return None
    budgets = np.asarray(budgets, float)
    nb = budgets.size
    with np.errstate(all="ignore"):
        l_opt = optimal_loss_samples(s3, budgets, gr, cons)  # (S, B)
        l_g1 = optimal_loss_samples(s3, budgets, [1.0], cons)
        free = not set(cons.active()) - {"max_choice"}
        g1_mult = dense_mult = None
        if free:
            s2 = _with_dims(s3, 2)
            g1_mult = _flops_to_reach_per_g(s2, l_opt, 1.0) / budgets  # (S, B)
            g1_mult[~(l_opt > s2.c)] = np.nan
        else:  # each sample's own G = 1 optimum to its own best MoE loss
            g1_mult = flops_to_reach_under_limits(s3, l_opt, [1.0], cons) / budgets
        l_dense = None
        if dense_law is not None and dsetup is not None:
            d3 = sample_setup(dense_law, dsetup, ndim=3, n_draws=n_draws)
            if d3 is not None:
                l_dense = optimal_loss_samples(d3, budgets, [1.0], cons)
                if free:
                    from ..laws.chinchilla import chinchilla_flops_to_reach

                    d = _with_dims(d3, 3)  # (Sd, 1, 1) x (1, S, B): every pair
                    t = l_opt[None, :, :]
                    f = chinchilla_flops_to_reach(t, d.a, d.alpha, d.b, d.beta, d.c, d.c_f)
                    dense_mult = np.where(t > d.c, f, np.nan) / budgets
                else:  # the dense FLOPs fall as the target rises: its extremes bound the band
                    ext = np.stack([np.min(l_opt, axis=0), np.max(l_opt, axis=0)])  # (2, B)
                    f = flops_to_reach_under_limits(d3, ext.reshape(1, -1), [1.0], cons)
                    dense_mult = f.reshape(-1, 2, nb) / budgets
    size = int(np.shape(s3.a)[0])

    def per_budget(v):
        """[low, high] per budget (the last axis) over the finite samples (all other axes)."""
        if v is None:
            return [[None, None]] * nb
        v = np.asarray(v, float).reshape(-1, nb)
        ok = np.isfinite(v)
        lo = np.min(np.where(ok, v, np.inf), axis=0)
        hi = np.max(np.where(ok, v, -np.inf), axis=0)
        return [[float(a), float(b)] if np.isfinite(a) else [None, None] for a, b in zip(lo, hi)]

    return CompareBands(
        samples=size,
        loss_opt=per_budget(l_opt),
        loss_g1=per_budget(l_g1),
        loss_dense=per_budget(l_dense),
        g1_multiplier=per_budget(g1_mult),
        dense_multiplier=per_budget(dense_mult),
    )


@dataclass(frozen=True)
class OptimizeBands:
    """``[low, high]`` of the optimum at one budget over the coefficient samples."""

    samples: int
    source: str  # "rounding" or "bootstrap"
    loss: list  # the optimal loss
    granularity: list  # the optimal candidate G
    n_total: list
    n_active: list
    tokens: list

    def to_dict(self) -> dict:
        return dict(dataclasses.asdict(self))


def optimize_bands(law, setup: Setup, F: float, gr, cons: Limits) -> OptimizeBands | None:
    """The optimum's loss, G, N and D over the samples at budget ``F`` (one vectorised solve)."""
    s2 = sample_setup(law, setup, ndim=2)
    if s2 is None:
        return None
    gr = np.asarray(gr, float)
    lnf = math.log(F)
    with np.errstate(all="ignore"):
        sol = solve(s2, lnf, gr[None, :], cons)
        loss = np.where(sol.feasible, sol.loss, np.inf)
        i = best_index(loss)
        best = take_best(loss, i)
        good = np.isfinite(best)
        if good.sum() < 1:
            return None
        x = take_best(sol.log_width, i)
        lnD = take_best(
            log_tokens(s2, lnf, sol.log_width, gr[None, :], cons.inference_tokens, cons.max_tokens),
            i,
        )
        d = setup.width(x)
        n_active, n_total, _ = setup.counts(d, d / setup.aspect_ratio, gr[i])

    def pick(v):
        return band(np.asarray(v, float)[good])

    return OptimizeBands(
        samples=int(good.sum()),
        source="bootstrap" if law.bootstrap else "rounding",
        loss=pick(best),
        granularity=pick(gr[i]),
        n_total=pick(n_total),
        n_active=pick(n_active),
        tokens=pick(np.exp(lnD)),
    )


def config_loss_range(law, setup: Setup, cfg) -> tuple | None:
    """``(low, high)`` of one configuration's predicted loss (its N, D and G held) over the
    samples."""
    s1 = sample_setup(law, setup, ndim=1)
    if s1 is None:
        return None
    with np.errstate(all="ignore"):
        n = setup.law_params(cfg.n_total, cfg.d_model)  # the law's N
        v = s1.loss(n, cfg.tokens, 1.0 if setup.dense else cfg.granularity)
    lo, hi = band(v)
    return None if lo is None else (lo, hi)


def law_loss_range(law, params, tokens, choice=1.0) -> tuple | None:
    """``(low, high)`` of the law's loss at one point (N as the law counts it, D, and its
    choice G or E) over the coefficient samples; any law form."""
    if not law.bootstrap and not any(float(v) > 0 for v in (law.precision or {}).values()):
        return None
    s = coefficient_samples(law, N_DRAWS, method="halton")
    with np.errstate(all="ignore"):
        irr, p, d = law.module.terms(params, tokens, choice, s)
    lo, hi = band(irr + p + d)
    return None if lo is None else (lo, hi)


def with_joint_loss_ranges(law, candidates) -> tuple:
    """The joint planner's candidates with ``loss_range`` on their continuous and whole
    configurations (each model's loss, its N_act with embeddings, D and E held)."""

    def banded(cfg):
        if cfg is None:
            return None
        rng = law_loss_range(law, cfg.n_active_with_embedding, cfg.tokens, cfg.n_experts)
        return dataclasses.replace(cfg, loss_range=rng)

    return tuple(
        dataclasses.replace(c, continuous=banded(c.continuous), realized=banded(c.realized))
        for c in candidates
    )


def joint_dense_multiplier_ranges(law, budgets, moe_experts) -> list | None:
    """Per budget ``[low, high]`` of the joint law's dense compute multiplier (FLOPs a dense
    model, E = 1, needs to reach the best MoE's compute-optimal loss, over the budget) within
    the published rounding; None when the law records no precision.

    For a fixed E the joint law is ``c + m·N^mu + n·D^nu`` (:func:`joint_chinchilla_coefficients`),
    a Chinchilla form with ``a = m, alpha = -mu, b = n, beta = -nu``: each sample's best MoE
    loss over ``moe_experts`` and its dense FLOPs to reach it are closed forms, all samples
    at once (the one-block minimum size is not applied: it binds only far below any budget
    worth comparing). Without limits only, as for the fine-grained law."""
    if not law.bootstrap and not any(float(v) > 0 for v in (law.precision or {}).values()):
        return None
    from ..laws import joint_chinchilla_coefficients
    from ..laws.chinchilla import chinchilla_flops_to_reach, chinchilla_optimum

    s = {k: v[:, None] for k, v in coefficient_samples(law, N_DRAWS, method="halton").items()}
    F = np.asarray(budgets, float)[None, :]
    c_f = float(law.c_f)
    with np.errstate(all="ignore"):
        best = np.full(np.broadcast(s["a"], F).shape, np.inf)
        for e in moe_experts:
            m, mu, n, nu = joint_chinchilla_coefficients(float(e), **s)
            n_opt, d_opt = chinchilla_optimum(F, m, -mu, n, -nu, c_f)
            best = np.minimum(best, s["c"] + m * n_opt**mu + n * d_opt**nu)
        m1, mu1, n1, nu1 = joint_chinchilla_coefficients(1.0, **s)
        f = chinchilla_flops_to_reach(best, m1, -mu1, n1, -nu1, s["c"], c_f)
        mult = np.where(best > s["c"], f, np.nan) / F
    out = []
    for j in range(F.shape[1]):
        lo, hi = band(mult[:, j])
        out.append(None if lo is None else (lo, hi))
    return out

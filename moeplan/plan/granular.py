"""The planner of the laws whose choice is the granularity G: the fine-grained MoE law and,
with ``G = E = 1`` and no router, the dense Chinchilla-form law (SPEC.md §4).

:func:`optimize` is a pipeline of small named steps: resolve the settings and limits
(:func:`_resolve`) → resolve the budget (:func:`_resolve_budget`) → solve every candidate G
(:func:`_solve_candidates`) → what each limit costs (:func:`_constraint_costs`) → realize
whole-number architectures (:func:`_realize`) → diagnose (:func:`_diagnose`). The solver is
:mod:`moeplan.plan.solve`; whole numbers come from :mod:`moeplan.plan.realize`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import domain
from .._record import Record, dataclass
from ..errors import InfeasibleError, InputError
from ..laws.chinchilla import embedding_warning
from .bands import compare_bands, config_loss_range, optimize_bands
from .limits import NO_LIMITS, Limits
from .ranges import config_values, expansion_warnings, law_params, row_warnings, sweep_warnings
from .realize import (
    PARAMS_TOLERANCE,
    SHAPE_TOLERANCE_DEFAULT,
    make_configuration,
    realizable_granularities,
    search,
    smallest_model,
    width_quantum,
)
from .results import (
    BootstrapRanges,
    Candidate,
    CompareResult,
    CompareRow,
    OptimizeResult,
    SweepResult,
    constraint_reports,
)
from .solve import (
    Setup,
    _bounds,
    _flops_to_reach_per_g,
    best_index,
    check_budget,
    check_granularities,
    flops_to_reach,
    frontier,
    golden_granularity,
    law_limits,
    log_tokens,
    memory_bytes,
    resolve,
    solve,
    take_best,
)

#: Largest --shape-tolerance: d_model / n_blocks within 100x of the aspect ratio already allows
#: every shape anyone builds; beyond, the searched grid of shapes overflows.
MAX_SHAPE_TOLERANCE = 100.0
MAX_SWEEP_POINTS = 100_000
#: Sweeps up to this many budgets carry precision bands (SPEC.md §8); longer ones do not (each
#: band solves ~200 coefficient sets per budget and candidate G).
MAX_BAND_POINTS = 1000


def _tuple(pair):
    """``(low, high)`` of a band, None when it could not be resolved."""
    return None if pair is None or pair[0] is None else (float(pair[0]), float(pair[1]))


def _fmt(v: float) -> str:
    from ..units import format_count

    return format_count(v)


def _best_loss(setup, log_flops, gr, cons) -> float:
    return float(np.min(solve(setup, log_flops, gr, cons).loss))


def _loss_limit(setup: Setup, gr, cons: Limits) -> float:
    """The least loss any budget can reach under the constraints (the asymptote)."""
    allowed = gr if cons.max_choice is None else gr[gr <= cons.max_choice * (1 + 1e-12)]
    if allowed.size == 0:
        return math.inf
    _, upper = _bounds(setup, 0.0, allowed, cons.only(["memory", "max_total_params", "params"]))
    p = np.zeros(allowed.shape)
    if upper:
        x_hi = np.min(np.stack([np.broadcast_to(v, allowed.shape) for v in upper.values()]), 0)
        p = setup.param_coefficient(allowed) * np.exp(
            -setup.alpha * (math.log(setup.params_factor) + 3.0 * x_hi)
        )
    q = setup.b * cons.max_tokens**-setup.beta if cons.max_tokens is not None else 0.0
    return float(setup.c + np.min(p) + q)


def _budget_for_target(setup: Setup, gr, cons: Limits, target: float) -> tuple:
    """Least budget whose constrained optimum reaches ``target``; (F, unconstrained F)."""
    if not math.isfinite(target):
        raise InputError(
            f"target loss must be a finite number, got {target!r}", param="target_loss"
        )
    if target <= setup.c:
        raise InfeasibleError(
            f"target loss {target:g} is at or below the floor c = {setup.c:g} "
            f"of {setup.law_name}: no model reaches it; choose a loss above "
            f"{setup.c:g}",
            param="target_loss",
        )
    allowed = gr if cons.max_choice is None else gr[gr <= cons.max_choice * (1 + 1e-12)]
    free = float(np.min(_flops_to_reach_per_g(setup, target, gr)))
    free_allowed = float(np.min(_flops_to_reach_per_g(setup, target, allowed)))
    if not set(cons.active()) - {"max_choice"}:
        return free_allowed, free
    limit = _loss_limit(setup, gr, cons)
    if target <= limit * (1 + 1e-12):
        names = ", ".join(cons.describe(n) for n in cons.active())
        raise InfeasibleError(
            f"target loss {target:g} cannot be reached with {names}: no budget "
            f"gets below {limit:.4f}; relax the constraints or aim higher"
        )

    from .bands import flops_to_reach_under_limits

    f = float(np.ravel(flops_to_reach_under_limits(setup, np.asarray(target), gr, cons, 48))[0])
    if not math.isfinite(f):
        raise InfeasibleError(
            f"target loss {target:g} needs more than {domain.MAX_FLOPS:g} FLOPs under the "
            f"constraints; relax them or aim higher"
        )
    return max(f, free_allowed), free


def _blocks(n) -> str:
    return "1 block" if n == 1 else f"{n:g} blocks"


def least_budget(
    setup: Setup,
    granularities,
    cons: Limits = NO_LIMITS,
    multiple_of: int = 64,
    realizable: bool = True,
):
    """FLOPs that train the smallest model (one block of the least width, the least G) on one
    token, plus its inference FLOPs: no budget below it describes a model.

    Returns (FLOPs, the smallest model as a Configuration, a short description of it).
    """
    g0 = float(np.min(granularities))
    d0, n0 = (
        smallest_model(setup, g0, multiple_of)
        if realizable
        else (float(width_quantum(multiple_of)), 1.0)
    )
    small = make_configuration(setup, d0, n0, g0, 1.0, cons, realizable=realizable)
    model = f"d_model {d0:g}, {_blocks(n0)}" + ("" if setup.dense else f", G = {g0:g}")
    return small.flops + small.inference_flops, small, model


def check_least_budget(setup: Setup, budgets, granularities) -> None:
    """InfeasibleError when a budget cannot give the smallest model one token (compare, sweep)."""
    real_g = realizable_granularities(setup, granularities)
    _check_least_budget(setup, float(np.min(budgets)), None, real_g, granularities, NO_LIMITS, 64)


def _check_least_budget(
    setup: Setup, F: float, target, real_g, allowed, cons: Limits, multiple_of: int
) -> None:
    """Refuse a budget (or target) outside what a model can do: more than the domain's
    largest budget, or less than the smallest realizable model needs for one token."""
    if target is not None and not F <= domain.MAX_FLOPS:
        raise InfeasibleError(
            f"target loss {target:g} needs more than {domain.MAX_FLOPS:g} "
            f"FLOPs; aim higher (the floor is c = {setup.c:g})"
        )
    f_min, small, model = least_budget(
        setup, real_g or allowed, cons, multiple_of, realizable=bool(real_g)
    )
    if F >= f_min:
        return
    if target is not None:
        raise InfeasibleError(
            f"target loss {target:g} is above the loss of the smallest model "
            f"({model}) trained on one token ({small.loss:.4g}); choose a "
            f"lower target"
        )
    extra = " with the inference tokens" if cons.inference_tokens else ""
    raise InfeasibleError(
        f"a budget of {F:.4g} FLOPs cannot train even the smallest model "
        f"({model}) on one token{extra}; use at least {f_min:.4g} FLOPs"
    )


def _bootstrap_ranges(law, setup: Setup, log_flops, gr, cons) -> BootstrapRanges | None:
    samples = law.bootstrap
    if not samples:
        return None
    names = (
        ("a", "alpha", "b", "beta", "c")
        if setup.dense
        else ("a", "alpha", "b", "beta", "g", "gamma", "c")
    )
    size = len(next(iter(samples.values())))
    arrays = {
        k: np.asarray(samples.get(k, (getattr(setup, k),) * size), dtype=float) for k in names
    }
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
    lnD = take_best(
        log_tokens(
            boot, log_flops, sol.log_width, gr[None, :], cons.inference_tokens, cons.max_tokens
        ),
        i,
    )[good]
    d = setup.width(x)
    n_active, n_total, _ = setup.counts(d, d / setup.aspect_ratio, G)
    pct = (10, 50, 90)

    def q(v):
        return tuple(float(t) for t in np.percentile(v, pct))

    return BootstrapRanges(
        samples=int(good.sum()),
        percentiles=pct,
        n_total=q(n_total),
        n_active=q(n_active),
        tokens=q(np.exp(lnD)),
        granularity=q(G),
        loss=q(loss[good]),
    )


def comparable_dense_law(law):
    """The dense law fitted on the same data as ``law`` (SPEC.md §2), or ``None``.

    ``krajewski2024-dense`` for ``krajewski2024-moe``; otherwise the first entry of the law's
    ``comparable_with`` that is a shipped or loadable Chinchilla-form set.
    """
    from ..coefficients import load_law
    from ..errors import MoeplanError

    if law.name == "krajewski2024-moe":
        return load_law("krajewski2024-dense")
    for name in law.comparable_with:
        try:
            cand = load_law(name)
        except MoeplanError:
            continue
        if cand.choice is None:
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
            warnings.append(
                f"no dense law fitted on the same data as {law.name} is known; the "
                f"dense {shown_as} is left out (pass --dense-law NAME|PATH)"
            )
    elif dense_law.choice is not None:
        raise InputError(
            f"dense_law must be a dense (Chinchilla-form) law; {dense_law.name} "
            f"is {dense_law.form}",
            param="dense_law",
        )
    elif (
        dense_law.name not in law.comparable_with
        and law.name not in dense_law.comparable_with
        and not (law.name == "krajewski2024-moe" and dense_law.name == "krajewski2024-dense")
    ):
        warnings.append(
            f"{dense_law.name} and {law.name} were not fitted on the same data: "
            f"their losses are not comparable"
        )
    return dense_law, warnings


def _check_tokens(setup: Setup, budgets, tokens, what: str = "the optimum") -> None:
    """InfeasibleError when an optimum trains on less than one token: only a law whose
    coefficients push the whole budget into parameters gets there (e.g. a = 1e30). ``what``
    names the configuration (the optimum, or compare's and sweep's G = 1 baseline)."""
    tokens = np.ravel(np.asarray(tokens, float))
    bad = ~(tokens >= 1.0)
    if np.any(bad):
        j = int(np.flatnonzero(bad)[0]) % len(np.ravel(budgets))
        raise InfeasibleError(
            f"at {float(np.ravel(budgets)[j]):.4g} FLOPs {what} of {setup.law_name} trains "
            f"on {float(tokens[bad][0]):.3g} tokens (fewer than one): its coefficients put "
            f"the budget into parameters; check the law"
        )


def _multiplier(law, target, budgets, **kw):
    """FLOPs the law's optimum needs to reach ``target``, per budget (compute multipliers)."""
    try:
        return flops_to_reach(law, target, **kw) / budgets
    except InfeasibleError:
        # a loss within rounding of the floor c: no multiplier can be resolved in doubles
        raise InfeasibleError(
            f"the optimal loss {float(np.min(target)):.6g} is within rounding of the floor "
            f"c = {law.floor:g} of {law.name}: the compute multiplier cannot be resolved; "
            f"check the law's coefficients or use smaller budgets"
        ) from None


# --------------------------------------------------------------------------------------------
# optimize(): resolve -> budget -> solve -> constraint costs -> realize -> diagnose
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class _Problem(Record):
    """The resolved question: law settings, candidate G, limits and realization settings."""

    law: object
    setup: Setup
    gr: np.ndarray
    allowed: np.ndarray
    real_g: list
    cons: Limits
    multiple_of: int
    tol: float
    tp: int = 1


def _resolve(
    law,
    granularities,
    expansion_rate,
    aspect_ratio,
    c_f,
    c_r,
    limits: Limits,
    multiple_of,
    shape_tolerance,
    tp=1,
) -> _Problem:
    """Settings, candidate G and limits, validated; the memory limit against the smallest
    model (InfeasibleError with the exact bytes to allow)."""

    limits = law_limits(law, limits)  # the embeddings a Chinchilla set's N counts
    setup = resolve(
        law, expansion_rate, aspect_ratio, c_f, c_r, limits.vocab_size, limits.tied_embeddings
    )
    gr = check_granularities(setup, granularities)
    if int(multiple_of) != multiple_of or multiple_of < 1:
        raise InputError(
            f"multiple_of must be a whole number >= 1, got {multiple_of!r}", param="multiple_of"
        )
    tol = SHAPE_TOLERANCE_DEFAULT if shape_tolerance is None else float(shape_tolerance)
    if shape_tolerance is None and limits.params is not None:
        tol = max(tol, 1.25)  # a fixed size needs some freedom of shape to be met closely
    if not math.isfinite(tol) or tol < 1 or tol > MAX_SHAPE_TOLERANCE:
        raise InputError(
            f"shape tolerance must be a factor from 1 to {MAX_SHAPE_TOLERANCE:g} "
            f"(e.g. 1.25), got {shape_tolerance!r}",
            param="shape_tolerance",
        )
    if setup.dense and limits.max_choice is not None:
        raise InputError(
            f"max_granularity applies to MoE laws; {setup.law_name} is dense",
            param="max_granularity",
        )
    cons = limits
    allowed = gr if cons.max_choice is None else gr[gr <= cons.max_choice * (1 + 1e-12)]
    if allowed.size == 0:
        raise InfeasibleError(
            f"max granularity {cons.max_choice:g} is below every candidate "
            f"granularity (the smallest is {gr[0]:g}); raise it or give "
            f"smaller granularities",
            param="max_granularity",
        )
    real_g = realizable_granularities(setup, allowed)
    if isinstance(tp, bool) or int(tp) != tp or not 1 <= tp <= 1024:
        raise InputError(f"tp must be a whole number from 1 to 1024, got {tp!r}", param="tp")
    _check_memory(setup, real_g, cons, int(multiple_of))
    return _Problem(law, setup, gr, allowed, real_g, cons, int(multiple_of), tol, int(tp))


def _check_memory(setup: Setup, real_g, cons: Limits, multiple_of: int = 64) -> None:
    """InfeasibleError (with the exact bytes to allow) when the memory limit is below the
    smallest realizable model."""
    from ..units import format_bytes

    if cons.memory is not None and real_g:
        smallest = []
        for G in real_g:
            d0, n0 = smallest_model(setup, G, multiple_of)
            smallest.append((float(memory_bytes(setup, d0, n0, G, cons)), G, d0, n0))
        need, G0, d0, n0 = min(smallest)
        if need > cons.memory:
            # "allow at least" exactly, rounded up: 4.49 MB may be short of 4,491,264 bytes
            raise InfeasibleError(
                f"memory {format_bytes(cons.memory)} is below the smallest model (d_model "
                f"{d0:g}, {_blocks(n0)}, G = {G0:g}: {format_bytes(need)} at {cons.bytes_per_param:g} "
                f"bytes per parameter"
                + (
                    f", KV cache of {_fmt(cons.kv_tokens)} tokens included"
                    if cons.kv_tokens
                    else ""
                )
                + f"); allow at least {math.ceil(need):,} bytes",
                param="memory",
            )


def _resolve_budget(p: _Problem, flops, target_loss):
    """(F, target, unconstrained F): the budget given, or the least one reaching the target."""
    if (flops is None) == (target_loss is None):
        raise InputError(
            "give either a budget (flops) or a target loss (target_loss), not both"
            if flops is not None
            else "give a budget (flops) or a target loss (target_loss)",
            param="flops",
        )
    unconstrained = None
    if target_loss is not None:
        target = float(target_loss)
        F, unconstrained = _budget_for_target(p.setup, p.gr, p.cons, target)
    else:
        target = None
        F = float(check_budget(flops))
    _check_least_budget(p.setup, F, target, p.real_g, p.allowed, p.cons, p.multiple_of)
    return F, target, unconstrained


def _solve_candidates(p: _Problem, F: float):
    """The continuous optimum at every candidate G (best first), the excluded G, the
    real-valued best G and the unconstrained optimum."""
    setup, gr, cons = p.setup, p.gr, p.cons
    lnF = math.log(F)
    sol = solve(setup, lnF, gr, cons)
    if not np.any(sol.feasible):
        alone = [
            n for n in cons.active() if not np.any(solve(setup, lnF, gr, cons.only([n])).feasible)
        ]
        names = alone or cons.active()
        raise InfeasibleError(
            f"no model satisfies {' and '.join(cons.describe(n) for n in names)} with a budget "
            f"of {F:.4g} FLOPs; relax the constraint or raise the budget"
        )
    free = solve(setup, lnF, gr, NO_LIMITS)
    order = [int(i) for i in np.argsort(sol.loss) if sol.feasible[i]]
    L = float(sol.loss[order[0]])
    r = setup.aspect_ratio

    def candidate(i):
        d = float(setup.width(sol.log_width[i]))
        D = math.exp(
            float(
                log_tokens(
                    setup, lnF, sol.log_width[i], gr[i], cons.inference_tokens, cons.max_tokens
                )
            )
        )
        binding = "+".join(b for b in (str(sol.lower_binding[i]), str(sol.upper_binding[i])) if b)
        cfg = make_configuration(
            setup,
            d,
            d / r,
            gr[i],
            D,
            cons,
            realizable=False,
            continuous_loss=L,
            feasible=True,
            binding=binding or None,
        )
        return Candidate(
            choice=float(gr[i]),
            feasible=True,
            continuous=cfg,
            unconstrained_loss=float(free.loss[i]),
        )

    candidates = tuple(candidate(i) for i in order)
    _check_tokens(setup, [F], [candidates[0].continuous.tokens])
    excluded = tuple(float(g) for g, ok in zip(gr, sol.feasible) if not ok)
    g_real, l_real = float(gr[order[0]]), L
    if p.allowed.size > 1:  # real-valued best G under the same limits
        g, loss = golden_granularity(setup, lnF, float(p.allowed[0]), float(p.allowed[-1]), cons)
        if float(loss) <= L:
            g_real, l_real = float(g), float(loss)
    return sol, candidates, excluded, (g_real, l_real), float(np.min(free.loss))


def _realize(p: _Problem, F, sol, L, target, n_alternatives, warnings) -> list:
    """The best whole-number configurations near the continuous optimum (best first)."""
    setup, gr, cons = p.setup, p.gr, p.cons
    if not p.real_g:
        warnings.append(
            "no candidate granularity gives whole-number top-k and n_experts = "
            "G*E; only the continuous optimum is reported"
        )
        return []
    feasible_g = [float(g) for g in gr[sol.feasible] if float(g) in p.real_g]
    centers = [float(setup.width(sol.log_width[list(gr).index(g)])) for g in feasible_g]
    kw = dict(multiple_of=p.multiple_of, continuous_loss=L, tp=p.tp)
    realizable = []
    # a fixed size: the shape rule itself first, then the wider shapes, then farther sizes
    attempts = (
        [(p.tol, 1)]
        if cons.params is None
        else [
            (SHAPE_TOLERANCE_DEFAULT, 1),
            (p.tol, 1),
            (p.tol, 2),
            (p.tol, 4),
            (p.tol, 10),
            (p.tol, 40),
        ]
    )
    for tol, widen in attempts:
        realizable = search(
            setup,
            F,
            feasible_g,
            centers,
            cons,
            shape_tolerance=tol,
            limit=max(1, int(n_alternatives)),
            params_tolerance=PARAMS_TOLERANCE * widen,
            target_loss=target,
            **kw,
        )
        if realizable or cons.params is None:
            break
    if realizable and cons.params is not None:
        off = abs(
            float(setup.law_params(realizable[0].n_total, realizable[0].d_model)) / cons.params - 1
        )
        if off > PARAMS_TOLERANCE:
            warnings.append(
                f"no realizable shape within {PARAMS_TOLERANCE:.0%} of the fixed "
                f"size; the recommendation's N is {off:.1%} off"
            )
    if not realizable:
        q, r = width_quantum(p.multiple_of), setup.aspect_ratio
        shape = (
            f"n_blocks the whole number nearest d_model/{r:g}"
            if p.tol == 1
            else f"d_model/n_blocks within {p.tol:g}x of {r:g}"
        )
        raise InfeasibleError(
            f"no realizable configuration (d_model a multiple of {q}, {shape}) satisfies "
            f"{' and '.join(cons.describe(n) for n in cons.active()) or 'the budget'} at "
            f"{F:.4g} FLOPs; relax the constraints or raise the budget"
        )
    rec = realizable[0]
    spent = rec.flops + rec.inference_flops
    if target is not None and spent > F * (1 + 1e-3):
        warnings.append(
            f"the best whole-number shape needs {spent / F:.4g}x the continuous "
            f"optimum's FLOPs to reach the target"
        )
    if rec.loss_penalty > 1e-3 * L and target is None:
        text = (
            f"the best whole-number shape costs {rec.loss_penalty:.3g} in loss against the "
            f"continuous optimum"
        )
        if p.tol < 1.25:
            wider = search(setup, F, feasible_g, centers, cons, shape_tolerance=1.25, limit=1, **kw)
            if wider and wider[0].loss < rec.loss - 1e-9:
                w = wider[0]
                text += (
                    f"; --shape-tolerance 1.25 finds {w.d_model:.0f} x {w.n_blocks:.0f} "
                    f"(G = {w.granularity:g}) at loss {w.loss:.4f}"
                )
        warnings.append(text)
    return realizable


def _diagnose(p: _Problem, F, target, rec, continuous, reports, range_factor) -> list:
    """Warnings: extrapolation, routing cost, tiny budgets, binding limits, unspent FLOPs."""
    out = list(
        p.law.range_warnings(
            params=law_params(p.law, rec),
            tokens=rec.tokens,
            granularity=None if p.setup.dense else rec.granularity,
            expansion_rate=None if p.setup.dense else p.setup.expansion_rate,
            factor=range_factor,
        )
    )
    if rec.router_flops > 8.0 / 12.0 * (rec.flops - rec.router_flops):
        out.append(f"routing costs more FLOPs than the experts at G = {rec.granularity:g}")
    if continuous.d_model < width_quantum(p.multiple_of):
        out.append(
            f"the compute-optimal model (d_model {continuous.d_model:.3g}) is narrower "
            f"than the smallest realizable width; the budget is tiny"
        )
    out += [rep.message for rep in reports if rep.binding]
    if not p.setup.dense:
        from ..shapes import top_k_warnings

        out += top_k_warnings(rec.top_k)
    spent = rec.flops + rec.inference_flops
    if target is None and spent < F * (1 - 1e-9):
        out.append(
            f"the constraints leave part of the budget unspent: the plan uses "
            f"{spent:.4g} of {F:.4g} FLOPs (tokens capped at {_fmt(rec.tokens)})"
        )
    return out


def optimize(
    law,
    flops=None,
    granularities=None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    *,
    target_loss=None,
    limits: Limits = NO_LIMITS,
    multiple_of=128,
    shape_tolerance=None,
    n_alternatives=5,
    use_bootstrap=True,
    range_factor=1.0,
    tp=1,
) -> OptimizeResult:
    """Plan the compute-optimal model for a budget (or the least budget for a target loss).

    The fine-grained law plans G (and the dense law a dense model, ``G = E = 1``); see
    :func:`moeplan.optimize` for the parameters.
    """
    p = _resolve(
        law,
        granularities,
        expansion_rate,
        aspect_ratio,
        c_f,
        c_r,
        limits,
        multiple_of,
        shape_tolerance,
        tp,
    )
    F, target, unconstrained_flops = _resolve_budget(p, flops, target_loss)
    sol, candidates, excluded, (g_real, l_real), L0 = _solve_candidates(p, F)
    continuous = candidates[0].continuous
    reports = constraint_reports(
        p.cons, L0, lambda lim: _best_loss(p.setup, math.log(F), p.gr, lim)
    )
    warnings: list[str] = embedding_warning(law, p.cons.vocab_size)
    realizable = _realize(p, F, sol, continuous.loss, target, n_alternatives, warnings)
    recommended = realizable[0] if realizable else None
    warnings += _diagnose(
        p, F, target, recommended or continuous, continuous, reports, range_factor
    )
    boot = None
    if use_bootstrap and law.bootstrap:
        boot = _bootstrap_ranges(law, p.setup, math.log(F), p.gr, p.cons)
        if boot is None:
            warnings.append(
                "the law's bootstrap samples could not be used (fewer than two valid samples)"
            )
    s, cons = p.setup, p.cons
    bands = optimize_bands(law, s, F, p.allowed, cons)
    if bands is not None:
        continuous = dataclasses.replace(continuous, loss_range=_tuple(bands.loss))
    # a configuration's own band holds its N, D and G: it needs no re-solve, so limits or not
    realizable = [
        dataclasses.replace(c, loss_range=config_loss_range(law, s, c)) for c in realizable
    ]
    recommended = realizable[0] if realizable else None
    settings = {
        "expansion_rate": None if s.dense else s.expansion_rate,
        "aspect_ratio": s.aspect_ratio,
        "c_f": s.c_f,
        "c_r": s.c_r,
        "choices": [float(g) for g in p.gr],
        "granularities": [float(g) for g in p.gr],
        "multiple_of": p.multiple_of,
        "tp": p.tp,
        "shape_tolerance": p.tol,
        "bytes_per_param": cons.bytes_per_param,
        "kv_tokens": cons.kv_tokens,
        "inference_tokens": cons.inference_tokens,
        "memory": cons.memory,
        "max_total_params": cons.max_total_params,
        "max_tokens": cons.max_tokens,
        "max_granularity": cons.max_choice,
        "params": cons.params,
        "vocab_size": cons.vocab_size,
        "dense": s.dense,
    }
    return OptimizeResult(
        law=s.law_name,
        choice=None if s.dense else "granularity",
        budget_flops=F,
        target_loss=target,
        recommended=recommended,
        continuous=continuous,
        candidates=candidates,
        excluded=excluded,
        realizable=tuple(realizable),
        unconstrained_loss=L0,
        unconstrained_flops=unconstrained_flops,
        constraints=tuple(reports),
        limits=cons,
        settings=settings,
        warnings=tuple(dict.fromkeys(warnings)),
        bootstrap=boot,
        bands=bands,
        best_real_choice=None if s.dense else g_real,
        best_real_choice_loss=None if s.dense else l_real,
    )


# --------------------------------------------------------------------------------------------
# compare and sweep: dense vs G = 1 vs optimal G
# --------------------------------------------------------------------------------------------


def _configs(setup: Setup, flops, gr, cons: Limits):
    """Continuous optimum (best candidate G) per budget as Configurations."""
    lnf = np.log(flops)
    sol = solve(setup, lnf[:, None], gr, cons)
    i = best_index(sol.loss)
    out = []
    for j in range(len(flops)):
        if not sol.feasible[j, i[j]]:
            raise InfeasibleError(
                f"no model satisfies {cons.description} at {flops[j]:.4g} "
                f"FLOPs; relax the limits or raise the budget"
            )
        x = float(sol.log_width[j, i[j]])
        D = math.exp(
            float(log_tokens(setup, lnf[j], x, gr[i[j]], cons.inference_tokens, cons.max_tokens))
        )
        d = float(setup.width(x))
        out.append(
            make_configuration(
                setup, d, d / setup.aspect_ratio, gr[i[j]], D, cons, realizable=False
            )
        )
    return out


def _multipliers(law, setup, target, budgets, gr, cons: Limits, **kw):
    """FLOPs the law's optimum (over ``gr``, under the limits) needs to reach ``target``, over
    the budget; None where no budget reaches it under the limits."""
    if not set(cons.active()) - {"max_choice"}:
        return list(_multiplier(law, target, budgets, granularities=gr, **kw))
    from .bands import flops_to_reach_under_limits

    grid = np.asarray([1.0] if gr is None else gr, float)
    # every budget at once (a bisection on ln F per budget, as _budget_for_target does one)
    f = np.ravel(flops_to_reach_under_limits(setup, np.asarray(target, float), grid, cons, 48))
    return [float(v / F) if np.isfinite(v) else None for v, F in zip(f, budgets)]


def _compared(law, budgets, dense_law, granularities, settings, limits: Limits, shown_as: str):
    """compare's and sweep's common start: the MoE law's setup (a dense law is refused), its
    candidate G, the budgets and memory checked against the smallest model, the dense law
    (:func:`resolve_dense_law`) with its warnings, and the settings as keywords."""
    if law.choice is None:
        raise InputError(
            f"compare needs an MoE law; {law.name} is dense (pass krajewski2024-moe, "
            f"and dense_law to pick the dense side)",
            param="law",
            mentions=("dense_law",),
        )
    setup = resolve(law, *settings)
    gr = check_granularities(setup, granularities)
    check_least_budget(setup, budgets, gr)
    _check_memory(setup, realizable_granularities(setup, gr), limits)
    dense_law, warnings = resolve_dense_law(law, dense_law, shown_as)
    kw = dict(
        expansion_rate=setup.expansion_rate,
        aspect_ratio=setup.aspect_ratio,
        c_f=setup.c_f,
        c_r=setup.c_r,
    )
    return setup, gr, dense_law, warnings, kw


def compare(
    law,
    flops,
    dense_law=None,
    granularities=None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    limits: Limits = NO_LIMITS,
) -> CompareResult:
    """Dense vs MoE with G = 1 vs MoE with the best G at each budget (SPEC.md §4), under the
    same limits; see :func:`moeplan.compare`."""
    budgets = np.atleast_1d(check_budget(flops)).ravel()
    setup, gr, dense_law, warnings, kw = _compared(
        law,
        budgets,
        dense_law,
        granularities,
        (expansion_rate, aspect_ratio, c_f, c_r),
        limits,
        "column",
    )
    opt = _configs(setup, budgets, gr, limits)
    g1 = _configs(setup, budgets, np.array([1.0]), limits)
    _check_tokens(setup, budgets, [c.tokens for c in opt])
    _check_tokens(setup, budgets, [c.tokens for c in g1], "the G = 1 baseline")
    target = np.array([c.loss for c in opt])
    g1_mult = _multipliers(law, setup, target, budgets, [1.0], limits, **kw)
    dense_rows = [None] * len(budgets)
    dense_mult = [None] * len(budgets)
    dsetup = None
    if dense_law is not None:
        dsetup = resolve(dense_law, c_f=setup.c_f)
        dense_rows = _configs(dsetup, budgets, np.array([1.0]), law_limits(dense_law, limits))
        warnings += embedding_warning(dense_law, limits.vocab_size)
        dense_mult = _multipliers(dense_law, dsetup, target, budgets, None, limits, c_f=setup.c_f)
    warnings += expansion_warnings(law, setup.expansion_rate)
    bands = compare_bands(law, setup, dense_law, dsetup, budgets, gr, limits)
    rows = []
    for j, F in enumerate(budgets):
        if bands is not None:
            opt[j] = dataclasses.replace(opt[j], loss_range=_tuple(bands.loss_opt[j]))
            g1[j] = dataclasses.replace(g1[j], loss_range=_tuple(bands.loss_g1[j]))
            if dense_rows[j] is not None:
                dense_rows[j] = dataclasses.replace(
                    dense_rows[j], loss_range=_tuple(bands.loss_dense[j])
                )
        o = opt[j]
        budget = f"{F:.3g}".replace("e+", "e")
        parts = [
            f"at {budget} FLOPs the compute-optimal MoE (G = {o.granularity:g}) reaches "
            f"loss {o.loss:.4f}"
        ]
        d_rng = None if bands is None else _tuple(bands.dense_multiplier[j])
        g_rng = None if bands is None else _tuple(bands.g1_multiplier[j])
        if dense_mult[j] is not None:
            parts.append(
                f"a dense model needs {dense_mult[j]:.1f}x the FLOPs to match it"
                + (
                    ""
                    if d_rng is None
                    else f" ({d_rng[0]:.3g}x to {d_rng[1]:.3g}x within the rounding of the "
                    f"published coefficients)"
                )
            )
        if g1_mult[j] is not None:
            parts.append(
                f"MoE with G = 1 needs {g1_mult[j]:.2f}x"
                + ("" if g_rng is None else f" ({g_rng[0]:.3g}x to {g_rng[1]:.3g}x)")
            )
        verdict = parts[0] + (": " + " and ".join(parts[1:]) if parts[1:] else "")
        rows.append(
            CompareRow(
                budget_flops=float(F),
                dense=dense_rows[j],
                moe_g1=g1[j],
                moe_opt=o,
                dense_compute_multiplier=None if dense_mult[j] is None else float(dense_mult[j]),
                g1_compute_multiplier=None if g1_mult[j] is None else float(g1_mult[j]),
                verdict=verdict,
                dense_law=None if dense_law is None else dense_law.name,
                dense_compute_multiplier_range=None
                if bands is None or dense_mult[j] is None
                else _tuple(bands.dense_multiplier[j]),
                g1_compute_multiplier_range=None
                if bands is None or g1_mult[j] is None
                else _tuple(bands.g1_multiplier[j]),
            )
        )
        at = f"at {budget} FLOPs"
        if dense_rows[j] is not None:
            warnings += row_warnings(
                dense_law,
                f"{at}, the dense baseline ({dense_law.name})",
                **config_values(dense_law, dense_rows[j]),
            )
        warnings += row_warnings(law, f"{at}, MoE with G = 1", **config_values(law, g1[j]))
        warnings += row_warnings(
            law, f"{at}, the optimal MoE (G = {o.granularity:g})", **config_values(law, o)
        )
    settings = dict(kw, granularities=[float(g) for g in gr], choices=[float(g) for g in gr])
    return CompareResult(
        law=law.name,
        dense_law=None if dense_law is None else dense_law.name,
        choice="granularity",
        rows=tuple(rows),
        limits=limits,
        settings=settings,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def sweep_budgets(flops_from, flops_to, points, min_points=1):
    """``points`` log-spaced budgets from ``flops_from`` to ``flops_to`` (both included)."""
    lo = float(domain.flops(flops_from, "first budget", param="flops_from"))
    hi = float(domain.flops(flops_to, "last budget", param="flops_to"))
    if lo > hi:
        raise InputError(
            f"flops_from {lo:g} is above flops_to {hi:g}; give the smaller budget first",
            param="flops_from",
            mentions=("flops_to",),
        )
    if (
        isinstance(points, bool)
        or int(points) != points
        or not min_points <= points <= MAX_SWEEP_POINTS
    ):
        raise InputError(
            f"points must be a whole number from {min_points} to "
            f"{MAX_SWEEP_POINTS:,}, got {points!r}",
            param="points",
        )
    points = int(points)
    if points == 1 and lo != hi:
        raise InputError(
            "one point needs flops_from equal to flops_to; use 2 points or more",
            param="points",
            mentions=("flops_from", "flops_to"),
        )
    budgets = np.logspace(math.log10(lo), math.log10(hi), points)
    if points > 1:
        budgets[0], budgets[-1] = lo, hi
    return budgets


def sweep(
    law,
    flops_from,
    flops_to,
    points=25,
    dense_law=None,
    granularities=None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    real_granularity=True,
    limits: Limits = NO_LIMITS,
) -> SweepResult:
    """The compute-optimal frontier on ``points`` log-spaced budgets (the paper's Figure 1);
    see :func:`moeplan.sweep`."""
    budgets = sweep_budgets(flops_from, flops_to, points)
    setup, gr, dense_law, warnings, kw = _compared(
        law,
        budgets[:1],
        dense_law,
        granularities,
        (expansion_rate, aspect_ratio, c_f, c_r),
        limits,
        "curve",
    )
    fr = frontier(law, budgets, gr, constraints=limits, **kw)
    g1 = frontier(law, budgets, [1.0], constraints=limits, **kw)
    if not np.all(np.isfinite(fr.loss)):
        raise InfeasibleError(
            f"no model satisfies {limits.description} at "
            f"{budgets[~np.isfinite(fr.loss)][0]:.4g} FLOPs; relax the limits "
            f"or start the sweep higher"
        )
    _check_tokens(setup, budgets, fr.tokens)
    _check_tokens(setup, budgets, g1.tokens, "the G = 1 baseline")
    g1_mult = _multipliers(law, setup, fr.loss, budgets, [1.0], limits, **kw)
    loss_dense = dense_mult = None
    if dense_law is not None:
        dense_fr = frontier(dense_law, budgets, c_f=setup.c_f, constraints=limits)
        warnings += embedding_warning(dense_law, limits.vocab_size)
        loss_dense = dense_fr.loss
        dense_mult = _multipliers(
            dense_law,
            resolve(dense_law, c_f=setup.c_f),
            fr.loss,
            budgets,
            None,
            limits,
            c_f=setup.c_f,
        )
    if real_granularity and gr.size > 1:
        g_real, _ = golden_granularity(setup, np.log(budgets), float(gr[0]), float(gr[-1]), limits)
    else:
        g_real = fr.granularity.copy()
    warnings += expansion_warnings(law, setup.expansion_rate)
    warnings += sweep_warnings(
        law, budgets, "optimal MoE", params=fr.n_total, tokens=fr.tokens, granularity=fr.granularity
    )
    warnings += sweep_warnings(
        law,
        budgets,
        "MoE with G = 1",
        params=g1.n_total,
        tokens=g1.tokens,
        granularity=g1.granularity,
    )
    if dense_law is not None:
        warnings += sweep_warnings(
            dense_law,
            budgets,
            f"dense baseline ({dense_law.name})",
            params=resolve(dense_law, c_f=setup.c_f).law_params(dense_fr.n_total, dense_fr.d_model),
            tokens=dense_fr.tokens,
        )

    def arr(v):
        return None if v is None else np.array([np.nan if x is None else x for x in v], float)

    band_cols = {}
    if budgets.size <= MAX_BAND_POINTS:  # a few hundred coefficient sets per point
        dsetup = None if dense_law is None else resolve(dense_law, c_f=setup.c_f)
        # kept cheap: the corners set the bands (monotone predictions), so one draw; and
        # each budget's best G with its neighbours (rounding moves the optimal G by at most
        # one step) instead of every candidate
        j = np.searchsorted(gr, fr.granularity).clip(0, gr.size - 1)
        near = gr[np.clip(j[:, None] + np.arange(-1, 2)[None, :], 0, gr.size - 1)]
        bands = compare_bands(law, setup, dense_law, dsetup, budgets, near, limits, n_draws=1)
        if bands is not None:
            for key, pairs, point in (
                ("loss", bands.loss_opt, fr.loss),
                ("g1_compute_multiplier", bands.g1_multiplier, g1_mult),
                ("dense_compute_multiplier", bands.dense_multiplier, dense_mult),
            ):
                if point is None:
                    continue
                v = np.array([[np.nan if x is None else x for x in p] for p in pairs], float)
                band_cols[f"{key}_low"], band_cols[f"{key}_high"] = v[:, 0], v[:, 1]

    columns = dict(
        granularity=fr.granularity,
        n_experts=fr.granularity * setup.expansion_rate,
        best_real_granularity=np.asarray(g_real, float),
        d_model=fr.d_model,
        n_blocks=fr.n_blocks,
        n_active=fr.n_active,
        n_total=fr.n_total,
        tokens=fr.tokens,
        tokens_per_active_param=fr.tokens / fr.n_active,
        router_flops=fr.router_flops,
        loss=fr.loss,
        loss_g1=g1.loss,
        loss_dense=loss_dense,
        g1_compute_multiplier=arr(g1_mult),
        dense_compute_multiplier=arr(dense_mult),
        **band_cols,
    )
    settings = dict(
        kw,
        granularities=[float(g) for g in gr],
        choices=[float(g) for g in gr],
        points=len(budgets),
    )
    return SweepResult(
        law=law.name,
        dense_law=None if dense_law is None else dense_law.name,
        choice="granularity",
        choices=tuple(float(g) for g in gr),
        flops=budgets,
        columns=columns,
        loss_by_choice=fr.loss_per_granularity,
        limits=limits,
        settings=settings,
        warnings=tuple(dict.fromkeys(warnings)),
    )

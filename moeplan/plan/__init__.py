"""One planner for every law: :func:`optimize`, :func:`compare`, :func:`sweep`, :func:`frontier`.

Each law's choice has its backend: granularity G (the fine-grained law, and the dense law with
``G = 1``) in :mod:`.granular` on the Newton solver of :mod:`.solve`; the number of experts E
(the joint law) in :mod:`.experts`. Both take the same :class:`~.limits.Limits` and return the
same result types (:mod:`.results`), so the JSON of every command has the same keys under every
law. Arguments a law does not plan are refused by name (``InputError.param``).
"""

from __future__ import annotations

from ..errors import InputError
from .limits import NO_LIMITS, Limits
from .results import (
    Candidate,
    CompareResult,
    CompareRow,
    Configuration,
    ConstraintReport,
    OptimizeResult,
    SweepResult,
)

__all__ = [
    "Candidate",
    "CompareResult",
    "CompareRow",
    "Configuration",
    "ConstraintReport",
    "Limits",
    "OptimizeResult",
    "SweepResult",
    "compare",
    "frontier",
    "make_limits",
    "optimize",
    "sweep",
]

_LIMIT_ARGS = (
    "memory",
    "kv_tokens",
    "bytes_per_param",
    "inference_tokens",
    "max_total_params",
    "max_tokens",
    "params",
    "vocab_size",
    "tied_embeddings",
)


def _law(law):
    from ..laws import Law

    if isinstance(law, Law):
        return law
    from ..coefficients import load_law

    return load_law(law)


def make_limits(limits: Limits | None = None, max_choice=None, **values) -> Limits:
    """A :class:`Limits` from keyword values (``None``/0 for unset), or ``limits`` updated."""
    import dataclasses

    given = {k: v for k, v in values.items() if v is not None}
    if max_choice is not None:
        given["max_choice"] = max_choice
    return dataclasses.replace(limits or NO_LIMITS, **given)


def _refuse(law, **given):
    """InputError naming the first argument that does not apply to ``law``."""
    for name, value in given.items():
        if value not in (None, False, [], ()):
            hint = (
                "; the number of experts is the choice of the joint law (ludziejewski2025-joint)"
                if name in ("experts", "max_experts")
                else ""
            )
            raise InputError(
                f"{name} does not apply to {law.name} ({law.form}): it plans "
                f"{law.choice or 'a dense model'}{hint}",
                param=name,
            )


def optimize(
    law,
    flops=None,
    granularities=None,
    *,
    experts=None,
    target_loss=None,
    limits: Limits | None = None,
    memory=None,
    kv_tokens=None,
    bytes_per_param=None,
    inference_tokens=None,
    max_total_params=None,
    max_tokens=None,
    params=None,
    vocab_size=None,
    tied_embeddings=None,
    max_granularity=None,
    max_experts=None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    multiple_of=128,
    shape_tolerance=None,
    n_alternatives=5,
    use_bootstrap=True,
    range_factor=1.0,
    tp=1,
) -> OptimizeResult:
    """The compute-optimal model for a budget under limits, for any law.

    Parameters
    ----------
    law : Law or str
        A coefficient set or its name (:func:`moeplan.load_law`).
    flops : float
        Total budget, FLOPs (training, plus inference when ``inference_tokens`` is set).
    granularities, experts : sequence of float, optional
        Candidate values of the law's choice: G for the fine-grained law (default the powers
        of two 1..256), E for the joint law (default 1, 2, 4, 8, 16, 32).
    target_loss : float, optional
        Instead of ``flops`` (G-laws): the least budget whose optimum reaches this loss.
    limits : Limits, optional
        All limits at once; the keyword limits below update it.
    memory, kv_tokens, bytes_per_param : float, optional
        Bytes to serve the model (weights, router, embeddings where known, and
        ``2·kv_tokens·n_blocks·d_model`` cached values), at ``bytes_per_param`` (2, bf16).
    inference_tokens : float, optional
        Lifetime inference tokens whose forward FLOPs come out of the budget.
    max_total_params : float, optional
        Cap on total non-embedding parameters (``n_total``), every law.
    max_tokens, params, vocab_size, tied_embeddings : optional
        Data available, a fixed model size N, embedding accounting (G-laws).
    max_granularity, max_experts : float, optional
        Largest G (or E) to consider.
    expansion_rate, aspect_ratio, c_f, c_r, multiple_of, shape_tolerance, n_alternatives,
    use_bootstrap, range_factor
        Settings of the G-laws (see :mod:`moeplan.plan.granular`). ``multiple_of``
        (default 128) and ``tp`` (default 1): the GPU-friendly shape rules of
        :mod:`moeplan.shapes` (heads divisible by ``tp``, d_expert a multiple of 64).

    Returns
    -------
    OptimizeResult
        ``recommended`` (whole numbers), ``continuous``, ``candidates`` (one per choice),
        ``realizable``, ``constraints`` (what each limit costs), ``warnings``.

    Raises
    ------
    InputError
        Bad values, or an argument the law does not plan (``param`` names it).
    InfeasibleError
        Limits that no model satisfies.

    Examples
    --------
    >>> import moeplan
    >>> plan = moeplan.optimize(moeplan.load_law("ludziejewski2025-joint"), 1e21, memory=16e9)
    >>> plan.recommended.n_experts
    16.0
    """
    law = _law(law)
    lim = make_limits(
        limits,
        max_choice=max_granularity if max_experts is None else max_experts,
        memory=memory,
        kv_tokens=kv_tokens,
        bytes_per_param=bytes_per_param,
        inference_tokens=inference_tokens,
        max_total_params=max_total_params,
        max_tokens=max_tokens,
        params=params,
        vocab_size=vocab_size,
        tied_embeddings=tied_embeddings,
    )
    if law.choice == "n_experts":
        from . import experts as backend

        _refuse(
            law,
            granularities=granularities,
            max_granularity=max_granularity,
            target_loss=target_loss,
            expansion_rate=expansion_rate,
            aspect_ratio=aspect_ratio,
            c_f=c_f,
            c_r=c_r,
            shape_tolerance=shape_tolerance,
            multiple_of=None if multiple_of == 128 else multiple_of,
            tp=None if tp == 1 else tp,
        )
        return backend.optimize(law, flops, experts, lim)
    from . import granular

    _refuse(law, experts=experts, max_experts=max_experts)
    return granular.optimize(
        law,
        flops,
        granularities,
        expansion_rate,
        aspect_ratio,
        c_f,
        c_r,
        target_loss=target_loss,
        limits=lim,
        multiple_of=multiple_of,
        shape_tolerance=shape_tolerance,
        n_alternatives=n_alternatives,
        use_bootstrap=use_bootstrap,
        range_factor=range_factor,
        tp=tp,
    )


def compare(
    law,
    flops,
    *,
    dense_law=None,
    granularities=None,
    experts=None,
    limits: Limits | None = None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    **limit_values,
) -> CompareResult:
    """Dense vs MoE at choice 1 vs the best MoE, at one or more budgets, under the same limits.

    Rows carry ``budget_flops``, the three configurations and the compute multipliers: how
    many times the budget the dense (and the G = 1) compute-optimal allocation needs to reach
    the best MoE's loss (SPEC.md §4). ``limit_values`` are the limits of :func:`optimize`.
    For the joint law the dense model is its E = 1 and rows add the paper's rule of thumb.
    """
    law, lim, kw = _compared_law(
        law,
        limits,
        limit_values,
        experts,
        dense_law,
        granularities,
        expansion_rate,
        aspect_ratio,
        c_f,
        c_r,
    )
    if law.choice == "n_experts":
        from . import experts as backend

        return backend.compare(law, flops, experts, lim)
    from . import granular

    return granular.compare(law, flops, _law_or_none(dense_law), limits=lim, **kw)


def sweep(
    law,
    flops_from,
    flops_to,
    points=25,
    *,
    dense_law=None,
    granularities=None,
    experts=None,
    limits: Limits | None = None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    real_granularity=True,
    **limit_values,
) -> SweepResult:
    """The optimum on ``points`` log-spaced budgets from ``flops_from`` to ``flops_to``.

    Rows carry ``budget_flops``, the best choice (G or E), the model, tokens, losses and the
    compute multipliers; ``loss_by_choice`` the loss of every candidate choice.
    """
    law, lim, kw = _compared_law(
        law,
        limits,
        limit_values,
        experts,
        dense_law,
        granularities,
        expansion_rate,
        aspect_ratio,
        c_f,
        c_r,
    )
    if law.choice == "n_experts":
        from . import experts as backend

        return backend.sweep(law, flops_from, flops_to, points, experts, lim)
    from . import granular

    return granular.sweep(
        law,
        flops_from,
        flops_to,
        points,
        _law_or_none(dense_law),
        limits=lim,
        **kw,
        real_granularity=real_granularity,
    )


def _compared_law(
    law,
    limits,
    limit_values,
    experts,
    dense_law,
    granularities,
    expansion_rate,
    aspect_ratio,
    c_f,
    c_r,
):
    """compare's and sweep's arguments resolved: (law, limits, the G-law settings as
    keywords), after refusing by name what the law's planner does not take (the G-law settings
    and a dense law for the joint law, expert counts for the others)."""
    law = _law(law)
    lim = make_limits(limits, **_limit_kw(limit_values))
    kw = dict(
        granularities=granularities,
        expansion_rate=expansion_rate,
        aspect_ratio=aspect_ratio,
        c_f=c_f,
        c_r=c_r,
    )
    if law.choice == "n_experts":
        _refuse(law, dense_law=dense_law, **kw)
    else:
        _refuse(law, experts=experts)
    return law, lim, kw


def _law_or_none(law):
    return None if law is None else _law(law)


def _limit_kw(values: dict) -> dict:
    unknown = set(values) - set(_LIMIT_ARGS) - {"max_granularity", "max_experts"}
    if unknown:
        name = sorted(unknown)[0]
        raise InputError(
            f"unknown argument {name!r}; limits are {', '.join(_LIMIT_ARGS)}", param=name
        )
    out = {k: v for k, v in values.items() if k in _LIMIT_ARGS}
    mc = values.get("max_granularity", values.get("max_experts"))
    return dict(out, max_choice=mc)


def frontier(
    law,
    flops,
    choices=None,
    *,
    limits: Limits | None = None,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    **limit_values,
):
    """The continuous optimum for every budget at once (vectorised), any law.

    Returns a :class:`~moeplan.plan.solve.Frontier` of arrays shaped like ``flops``: the best
    ``choice`` (G or E), ``d_model``, ``n_blocks``, ``n_active``/``n_total`` (non-embedding),
    ``tokens``, ``loss``, and ``loss_per_choice`` over ``choices``; ``loss`` is inf where no
    model satisfies the limits.
    """
    import numpy as np

    from .solve import Frontier
    from .solve import frontier as granular_frontier

    law = _law(law)
    lim = make_limits(limits, **_limit_kw(limit_values))
    if law.choice != "n_experts":
        return granular_frontier(
            law, flops, choices, expansion_rate, aspect_ratio, c_f, c_r, constraints=lim
        )
    from .experts import _check_limits, best_columns, joint_frontier

    _refuse(law, expansion_rate=expansion_rate, aspect_ratio=aspect_ratio, c_f=c_f, c_r=c_r)
    fr = joint_frontier(law, np.ravel(flops), choices, _check_limits(lim))
    best = best_columns(law, fr)
    best["loss"] = np.where(fr.best_index >= 0, best["loss"], np.inf)
    shape = np.shape(flops)
    out = {k: best[k].reshape(shape) for k in _FRONTIER_COLUMNS}
    loss_per = np.where(fr.feasible, fr.loss, np.inf)
    return Frontier(
        flops=np.asarray(flops, float),
        granularities=fr.experts,
        loss_per_granularity=loss_per.reshape(shape + (fr.experts.size,)),
        choice_name="n_experts",
        **out,
    )


#: The per-budget columns of a :class:`~moeplan.plan.solve.Frontier`.
_FRONTIER_COLUMNS = (
    "granularity",
    "n_experts",
    "d_model",
    "n_blocks",
    "n_active",
    "n_total",
    "tokens",
    "router_flops",
    "loss",
)

"""Extrapolation warnings for plans: every variable a law was fitted on, at any factor
(issue 10 items 7-9).

:meth:`moeplan.laws.base.Law.range_excess` says which values of one point fall outside the
law's fitted ranges (N, D, G or E, the expansion rate, tokens per parameter). Here that is
applied to the planner's outputs: one named row (:func:`row_warnings`: compare's dense
baseline, MoE with G = 1, optimal MoE) or every point of a sweep, summarised as one warning
per variable naming the span of budgets affected (:func:`sweep_warnings`).
"""

from __future__ import annotations

import numpy as np


def _budget(F: float) -> str:
    return f"{float(F):.3g}".replace("e+", "e")


def law_params(law, cfg) -> float:
    """N of a configuration as ``law`` counts it: with embeddings for a set whose N counts
    them (the Chinchilla sets: ``n_total_with_embedding``; the joint law:
    ``n_active_with_embedding``) where the vocabulary is known, else ``n_total``."""
    with_emb = {
        "total_with_embedding": cfg.n_total_with_embedding,
        "active_with_embedding": cfg.n_active_with_embedding,
    }.get(law.params_meaning)
    return float(cfg.n_total if with_emb is None else with_emb)


def config_values(law, cfg) -> dict:
    """The values of one planned configuration that ``law`` was fitted on (the expansion
    rate, a setting of the whole plan, is checked once: :func:`expansion_warnings`)."""
    dense = law.choice is None
    return dict(
        params=law_params(law, cfg),
        tokens=cfg.tokens,
        granularity=None if dense else cfg.granularity,
    )


def expansion_warnings(law, expansion_rate) -> list[str]:
    """A warning when the plan's expansion rate E is not the E ``law`` was fitted at (any
    factor): the fine-grained law has no E term."""
    if law.choice is None or expansion_rate is None:
        return []
    return law.range_warnings(expansion_rate=expansion_rate)


def row_warnings(law, row: str | None = None, **values) -> list[str]:
    """Warnings for one point, each prefixed with the row's name (``row: ...``) when given."""
    out = law.range_warnings(**values)
    return [f"{row}: {w}" for w in out] if row else out


def _outside(fitted, v) -> dict:
    """{"above": indices, "below": indices} where ``v`` is outside ``fitted = (low, high)``
    (None or 0: no bound on that side)."""
    lo, hi = fitted
    ok = np.isfinite(v)
    out = {}
    with np.errstate(invalid="ignore"):
        if hi is not None:
            out["above"] = np.flatnonzero(ok & (v > float(hi) * (1 + 1e-9)))
        if lo:
            out["below"] = np.flatnonzero(ok & (v < float(lo) * (1 - 1e-9)))
    return {k: i for k, i in out.items() if i.size}


def sweep_warnings(law, budgets, row: str | None = None, **columns) -> list[str]:
    """One warning per variable outside the fitted range anywhere along a sweep: the span of
    budgets affected and the largest factor (checks every point, not only the ends).

    ``columns`` are the keywords of :meth:`Law.range_excess`, each an array over ``budgets``
    (or a scalar, e.g. the expansion rate).
    """
    budgets = np.asarray(budgets, float).ravel()
    arrays = {
        k: None if v is None else np.broadcast_to(np.asarray(v, float), budgets.shape)
        for k, v in columns.items()
    }
    if arrays.get("params") is not None and arrays.get("tokens") is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            arrays["tokens_per_param"] = arrays["tokens"] / arrays["params"]
    worst: dict = {}
    where: dict = {}
    for key, v in arrays.items():
        if v is None or key not in law.fitted_range:
            continue
        for side, idx in _outside(law.fitted_range[key], v).items():
            j = int(idx[np.argmax(v[idx])] if side == "above" else idx[np.argmin(v[idx])])
            point = (
                {key: float(v[j])}
                if key != "tokens_per_param"
                else {"params": float(arrays["params"][j]), "tokens": float(arrays["tokens"][j])}
            )
            for e in law.range_excess(**point):
                if e["key"] == key and e["side"] == side:
                    worst[(key, side)], where[(key, side)] = e, idx
    prefix = f"{row}, " if row else ""
    return [
        f"{prefix}{span_text(budgets, where[key])}; worst: {law.range_text(e)}"
        for key, e in worst.items()
    ]


def span_text(budgets, idx) -> str:
    """Which budgets of a sweep a warning concerns: ``idx`` indexes ``budgets`` (ascending)."""
    budgets = np.asarray(budgets, float).ravel()
    if len(idx) == 1:
        return f"at {_budget(budgets[idx[0]])} FLOPs"
    ends = f"({_budget(budgets[idx[0]])} to {_budget(budgets[idx[-1]])} FLOPs)"
    if len(idx) < budgets.size:
        return f"at {len(idx)} of {budgets.size} budgets {ends}"
    return f"at every budget {ends}"

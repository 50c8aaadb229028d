"""The result types of the planner, the same for every law (CLI.md "Version 2").

Every configuration, whatever the law, has the same keys (:data:`CONFIG_KEYS`; ``None`` where
a law has no value); :class:`OptimizeResult`, :class:`CompareResult` and :class:`SweepResult`
have ``success``, ``message`` and ``warnings`` and the same keys under every law.
"""

from __future__ import annotations

import math
from dataclasses import field, fields

import numpy as np

from .._record import Record, dataclass
from .limits import Limits


@dataclass(frozen=True, eq=False, repr=False)
class Configuration(Record):
    """One model and its training run, in the papers' variables (any law).

    ``n_active``/``n_total`` are non-embedding counts, router excluded (``*_with_embedding``
    add the embeddings where the vocabulary is known; the joint law's N counts them).
    ``flops`` are training FLOPs (router included), ``inference_flops`` the lifetime
    inference FLOPs; ``memory_bytes`` the served model (weights, router, embeddings when
    known, KV cache, also alone as ``kv_cache_bytes``). ``loss_penalty`` is the loss above the
    continuous optimum under the same limits; ``binding`` the limit that shaped it.
    """

    granularity: float
    expansion_rate: float
    n_experts: float
    top_k: float
    d_model: float
    n_blocks: float
    d_expert: float
    n_active: float
    n_total: float
    router_params: float
    tokens: float
    flops: float
    router_flops: float
    router_share: float
    loss: float
    tokens_per_active_param: float
    memory_bytes: float
    aspect_ratio: float
    realizable: bool
    inference_flops: float = 0.0
    kv_cache_bytes: float = 0.0
    n_heads: float | None = None
    head_dim: float | None = None
    loss_penalty: float | None = None
    feasible: bool | None = None
    binding: str | None = None
    n_embedding: float | None = None
    n_active_with_embedding: float | None = None
    n_total_with_embedding: float | None = None
    inference_tokens: float = 0.0
    bytes_per_param: float | None = None
    learning_rate: float | None = None
    loss_range: tuple | None = None

    @property
    def binding_constraint(self) -> str | None:
        """Deprecated name of :attr:`binding` (the joint planner's)."""
        return self.binding

    @property
    def budget_flops(self) -> float:
        return self.flops + self.inference_flops

    @property
    def n_params(self) -> float:
        """A dense model's parameter count (its ``n_total``)."""
        return self.n_total

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["loss_range"] = None if self.loss_range is None else list(self.loss_range)
        out["binding_constraint"] = self.binding  # deprecated alias
        return out


#: The keys of every configuration object.
CONFIG_KEYS = tuple(f.name for f in fields(Configuration)) + ("binding_constraint",)


def empty_config(**values) -> dict:
    """A configuration object with every key None but ``values``."""
    out = dict.fromkeys(CONFIG_KEYS)
    out.update(values)
    return out


@dataclass(frozen=True, eq=False, repr=False)
class Candidate(Record):
    """The best model for one value of the law's choice (G or E): continuous and whole-number.

    Reads as its continuous configuration (``cand.loss``, ``cand.d_model``...).
    """

    choice: float
    feasible: bool
    continuous: Configuration | None
    realized: Configuration | None = None
    unconstrained_loss: float | None = None
    reason: str = ""

    def __getattr__(self, name):
        cfg = self.__dict__.get("continuous") or self.__dict__.get("realized")
        if cfg is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(cfg, name)

    @property
    def constraint_cost(self) -> float | None:
        """Loss the limits cost at this choice (continuous, vs no limit)."""
        if self.continuous is None or self.unconstrained_loss is None:
            return None
        return self.continuous.loss - self.unconstrained_loss

    @property
    def loss(self) -> float:
        best = self.realized or self.continuous
        return best.loss if best is not None else math.inf

    @property
    def all_to_all_bytes_per_token(self) -> float | None:
        """Bytes a training token sends through expert-parallel all-to-all per step (every
        copy counted: an upper bound; :func:`moeplan.shapes.all_to_all_bytes_per_token`), for
        the whole-number shape when there is one; None for a dense model."""
        from ..shapes import all_to_all_bytes_per_token

        cfg = self.realized or self.continuous
        if cfg is None or (cfg.n_experts or 1) <= 1:
            return None
        return float(all_to_all_bytes_per_token(cfg.d_model, cfg.top_k, cfg.n_blocks))

    def to_dict(self) -> dict:
        out = self.continuous.to_dict() if self.continuous is not None else empty_config()
        out.update(all_to_all_bytes_per_token=self.all_to_all_bytes_per_token)
        out.update(
            choice=self.choice,
            feasible=self.feasible,
            realized=None if self.realized is None else self.realized.to_dict(),
            unconstrained_loss=self.unconstrained_loss,
            constraint_cost=self.constraint_cost,
            reason=self.reason or None,
        )
        return out


@dataclass(frozen=True, eq=False, repr=False)
class ConstraintReport(Record):
    """What one limit does to the plan at the chosen budget.

    ``loss_cost`` is the optimal loss with this limit alone minus the unconstrained optimal
    loss (0 when it does not bind).
    """

    name: str
    limit: float
    binding: bool
    loss_cost: float
    message: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def constraint_reports(limits: Limits, unconstrained_loss: float, best_loss) -> list:
    """What each limit alone costs: ``best_loss(limits.only([name]))`` minus the unconstrained
    optimal loss, for every limit that is set."""
    reports = []
    for name in limits.active():
        cost = best_loss(limits.only([name])) - unconstrained_loss
        binding = cost > 1e-12 * unconstrained_loss
        text = limits.describe(name)
        msg = (
            f"serving {text} out of the budget costs {cost:.4g} in loss"
            if binding and name == "inference_tokens"
            else f"{text} binds: it costs {cost:.4g} in loss"
            if binding
            else f"{text} does not bind"
        )
        reports.append(
            ConstraintReport(
                name=name,
                limit=float(getattr(limits, name)),
                binding=binding,
                loss_cost=cost,
                message=msg,
            )
        )
    return reports


@dataclass(frozen=True, eq=False, repr=False)
class BootstrapRanges(Record):
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


@dataclass(frozen=True, eq=False, repr=False)
class OptimizeResult(Record):
    """The plan for one budget: recommendation, continuous optimum, alternatives, diagnostics.

    ``candidates`` holds one :class:`Candidate` per feasible value of the law's choice, best
    first; ``realizable`` the best whole-number configurations (``recommended`` is the first).
    """

    law: str
    choice: str | None
    budget_flops: float
    target_loss: float | None
    recommended: Configuration | None
    continuous: Configuration
    candidates: tuple
    excluded: tuple
    realizable: tuple
    unconstrained_loss: float
    unconstrained_flops: float | None
    constraints: tuple
    limits: Limits
    settings: dict
    warnings: tuple
    bootstrap: BootstrapRanges | None = None
    best_real_choice: float | None = None
    best_real_choice_loss: float | None = None
    learning_rate: dict | None = None
    success: bool = True
    message: str = "optimal"
    #: the optimum within the law's published rounding (moeplan.plan.bands.OptimizeBands)
    bands: object | None = None

    @property
    def problem(self) -> str:
        return self.limits.problem

    @property
    def plan_flops(self) -> float | None:
        """FLOPs the recommended model spends (training plus inference); for a target loss
        it may differ from ``budget_flops``, the continuous optimum's least budget."""
        r = self.recommended
        return None if r is None else r.flops + r.inference_flops

    # names of the fine-grained planner's first version
    @property
    def best_real_granularity(self):
        return self.best_real_choice

    @property
    def best_real_granularity_loss(self):
        return self.best_real_choice_loss

    @property
    def excluded_granularities(self):
        return self.excluded if self.choice == "granularity" else ()

    def to_dict(self) -> dict:
        cont = self.continuous.to_dict()
        g = self.choice == "granularity"
        cont["best_real_granularity"] = self.best_real_choice if g else None
        cont["best_real_granularity_loss"] = self.best_real_choice_loss if g else None
        return {
            "budget_flops": self.budget_flops,
            "law": self.law,
            "choice": self.choice,
            "problem": self.problem,
            "target_loss": self.target_loss,
            "unconstrained_flops": self.unconstrained_flops,
            "plan_flops": self.plan_flops,
            "recommended": None if self.recommended is None else self.recommended.to_dict(),
            "continuous": cont,
            "candidates": [c.to_dict() for c in self.candidates],
            "excluded_choices": list(self.excluded),
            "excluded_granularities": list(self.excluded_granularities),
            "realizable": [c.to_dict() for c in self.realizable],
            "unconstrained_loss": self.unconstrained_loss,
            "constraints": [c.to_dict() for c in self.constraints],
            "limits": self.limits.to_dict(),
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "learning_rate": self.learning_rate,
            "bands": None if self.bands is None else self.bands.to_dict(),
            "settings": dict(self.settings),
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
        }


def _pair(v):
    return None if v is None else [None if x is None else float(x) for x in v]


@dataclass(frozen=True, eq=False, repr=False)
class CompareRow(Record):
    """The dense model vs the MoE at choice 1 vs the best MoE, at one budget.

    ``dense``, ``moe_g1`` and ``moe_opt`` are configurations (the dense one's JSON also has
    ``n_params``, ``tokens_per_param`` and ``law``, the dense law's name). ``extra`` holds what
    one law adds (the joint law's rule of thumb); its keys are in every row, ``None``
    elsewhere.
    """

    budget_flops: float
    dense: Configuration | None
    moe_g1: Configuration
    moe_opt: Configuration
    dense_compute_multiplier: float | None
    g1_compute_multiplier: float | None
    verdict: str
    extra: dict = field(default_factory=dict)
    dense_law: str | None = None
    #: [low, high] of each multiplier within the laws' published rounding (SPEC.md §8)
    dense_compute_multiplier_range: tuple | None = None
    g1_compute_multiplier_range: tuple | None = None

    EXTRA_KEYS = ("best_n_experts", "loss_gain", "rule_of_thumb")

    def to_dict(self) -> dict:
        dense = None
        if self.dense is not None:
            dense = dict(
                self.dense.to_dict(),
                law=self.dense_law,
                n_params=self.dense.n_total,
                tokens_per_param=self.dense.tokens / self.dense.n_total,
            )
        out = {
            "budget_flops": self.budget_flops,
            "dense": dense,
            "moe_g1": self.moe_g1.to_dict(),
            "moe_opt": self.moe_opt.to_dict(),
            "dense_compute_multiplier": self.dense_compute_multiplier,
            "g1_compute_multiplier": self.g1_compute_multiplier,
            "dense_compute_multiplier_range": _pair(self.dense_compute_multiplier_range),
            "g1_compute_multiplier_range": _pair(self.g1_compute_multiplier_range),
            "verdict": self.verdict,
        }
        out.update({k: self.extra.get(k) for k in self.EXTRA_KEYS})
        return out


@dataclass(frozen=True, eq=False, repr=False)
class CompareResult(Record):
    """``compare``'s rows (one per budget) under one law, with the dense law beside it."""

    law: str
    dense_law: str | None
    choice: str | None
    rows: tuple
    limits: Limits
    settings: dict
    warnings: tuple
    success: bool = True
    message: str = "compared"

    def to_dict(self) -> dict:
        return {
            "law": self.law,
            "dense_law": self.dense_law,
            "choice": self.choice,
            "problem": self.limits.problem,
            "limits": self.limits.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
            "settings": dict(self.settings),
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, eq=False, repr=False)
class SweepResult(Record):
    """The optimum over budgets: arrays, one entry per budget (``None`` where a law has none).

    ``loss_by_choice`` has one more axis, the law's candidate choices (``choices``).
    """

    law: str
    dense_law: str | None
    choice: str | None
    choices: tuple
    flops: np.ndarray
    columns: dict
    loss_by_choice: np.ndarray
    limits: Limits
    settings: dict
    warnings: tuple
    success: bool = True
    message: str = "swept"

    COLUMNS = (
        "budget_flops",
        "flops",
        "granularity",
        "n_experts",
        "best_real_granularity",
        "d_model",
        "n_blocks",
        "n_active",
        "n_total",
        "n_active_with_embedding",
        "tokens",
        "tokens_per_active_param",
        "router_flops",
        "loss",
        "loss_g1",
        "loss_dense",
        "g1_compute_multiplier",
        "dense_compute_multiplier",
        "binding",
        "unconstrained_choice",
        # precision bands (SPEC.md §8): [low, high] within the published rounding
        "loss_low",
        "loss_high",
        "g1_compute_multiplier_low",
        "g1_compute_multiplier_high",
        "dense_compute_multiplier_low",
        "dense_compute_multiplier_high",
    )

    def __getattr__(self, name):
        cols = self.__dict__.get("columns") or {}
        if name in cols:
            return cols[name]
        if name in self.COLUMNS:
            return None
        raise AttributeError(name)

    @property
    def granularities(self):
        return self.choices

    def rows(self) -> list[dict]:
        """One mapping per budget with the :attr:`COLUMNS` keys (None where not available)."""
        out = []
        for j, F in enumerate(self.flops):
            row = {"budget_flops": float(F), "flops": float(F)}
            for k in self.COLUMNS[2:]:
                v = self.columns.get(k)
                x = None if v is None else v[j]
                if isinstance(x, str):
                    row[k] = x or None
                else:
                    row[k] = None if x is None or not np.isfinite(x) else float(x)
            row["loss_by_choice"] = {
                f"{c:g}": (None if not np.isfinite(v) else float(v))
                for c, v in zip(self.choices, self.loss_by_choice[j])
            }
            out.append(row)
        return out

    def to_dict(self) -> dict:
        return {
            "law": self.law,
            "dense_law": self.dense_law,
            "choice": self.choice,
            "choices": list(self.choices),
            "granularities": list(self.choices) if self.choice == "granularity" else [],
            "problem": self.limits.problem,
            "limits": self.limits.to_dict(),
            "rows": self.rows(),
            "settings": dict(self.settings),
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
        }

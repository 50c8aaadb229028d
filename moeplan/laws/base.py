"""A coefficient set (:class:`Law`): one law form behind one interface.

Each form lives in its own module (``fine_grained``, ``chinchilla``, ``joint``) with its
coefficient names, its discrete choice (``granularity``, ``n_experts`` or none), what its N
counts, and its terms; :class:`Law` looks the form up once in :data:`FORM_MODULES` instead of
branching on the form's name.

A Law is immutable: its coefficients and fitted ranges are read-only mappings, so a caller's
``law.coefficients["a"] = 99`` raises instead of changing what the next ``load_law`` returns
(load_law caches its laws).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from types import MappingProxyType

from .._record import dataclass
from ..domain import loss_arguments
from . import chinchilla, fine_grained, joint

#: The module of each law form.
FORM_MODULES = {"fine_grained_moe": fine_grained, "chinchilla": chinchilla, "joint_moe": joint}
FORMS = tuple(FORM_MODULES)
#: Coefficients each form requires, in display order.
COEFFICIENT_NAMES = {form: mod.NAMES for form, mod in FORM_MODULES.items()}
#: What N means, in words (for warnings).
_PARAMS_LABELS = {
    "total_non_embedding": "total parameters",
    "non_embedding": "parameters",
    "active_with_embedding": "active parameters (with embeddings)",
    "total_with_embedding": "parameters (with embeddings)",
}


def _frozen(mapping) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Law:
    """A coefficient set: the law's form, its coefficients and the conventions it belongs with.

    Load shipped sets and user files with :func:`moeplan.load_law`. ``coefficients`` and
    ``fitted_range`` are read-only mappings.
    """

    name: str
    form: str
    coefficients: Mapping = field(default_factory=dict)
    params_meaning: str = "total_non_embedding"
    c_f: float = 6.0
    c_r: float = 14.0
    expansion_rate: float | None = None
    aspect_ratio: float = 64.0
    vocab_size: float | None = None
    fitted_range: Mapping = field(default_factory=dict)
    comparable_with: tuple = ()
    citation: str = ""
    description: str = ""
    source: str = ""
    bootstrap: Mapping | None = None
    provenance: Mapping | None = None
    #: coefficient name -> half-width of its published rounding interval (moeplan.precision)
    precision: Mapping = field(default_factory=dict)
    loss_definition: str = ""  # what the loss is: data, tokenizer, routing
    notes: str = ""  # caveats shown by `moeplan laws NAME`
    fitted_range_source: str = ""  # the source table of fitted_range

    def __post_init__(self):
        object.__setattr__(self, "coefficients", _frozen(self.coefficients))
        object.__setattr__(
            self,
            "fitted_range",
            _frozen({k: tuple(v) for k, v in dict(self.fitted_range or {}).items()}),
        )
        if self.bootstrap is not None:
            object.__setattr__(
                self, "bootstrap", _frozen({k: tuple(v) for k, v in dict(self.bootstrap).items()})
            )
        if self.provenance is not None:
            object.__setattr__(self, "provenance", _frozen(self.provenance))
        object.__setattr__(self, "comparable_with", tuple(self.comparable_with))
        object.__setattr__(self, "precision", _frozen(self.precision))

    def __hash__(self):
        return hash((self.name, self.form, tuple(self.coefficients.items()), self.source))

    @property
    def module(self):
        """The module of this law's form (:mod:`moeplan.laws.fine_grained`, ...)."""
        return FORM_MODULES[self.form]

    @property
    def choice(self) -> str | None:
        """The discrete choice the law plans over: ``granularity``, ``n_experts`` or None."""
        return self.module.CHOICE

    @property
    def is_moe(self) -> bool:
        return self.choice is not None

    def terms(self, params, tokens, granularity=1.0, n_experts=1.0):
        """(irreducible, parameter, data) terms at N=params, D=tokens.

        ``granularity`` is used by the fine-grained form, ``n_experts`` by the joint form;
        the dense form ignores both.
        """
        choice = n_experts if self.choice == "n_experts" else granularity
        return self.module.terms(params, tokens, choice, dict(self.coefficients))

    def check_point(self, params, tokens, granularity=1.0, n_experts=1.0) -> None:
        """Raise :class:`~moeplan.errors.InputError` unless the law can be evaluated there.

        N and D are counts from 1 to 1e30, G and E from 1 to 1e6 (:mod:`moeplan.domain`):
        below one parameter or token the law's power terms describe nothing, and G or E
        below 1 would have more experts per token than experts.
        """
        from .. import domain

        domain.count(params, "parameters N", minimum=1.0)
        domain.count(tokens, "tokens D", minimum=1.0)
        if self.choice == "granularity":
            domain.experts(granularity, "granularity G")
        elif self.choice == "n_experts":
            domain.experts(n_experts, "number of experts E")

    def loss(self, params, tokens, granularity=1.0, n_experts=1.0):
        """Predicted loss (nats per token); vectorised over all arguments.

        Raises :class:`~moeplan.errors.InputError` naming the argument for a non-positive,
        non-finite or non-numeric N or D, or G / E outside 1 to 1e6.
        """
        params, tokens, granularity, n_experts = loss_arguments(
            params, tokens, granularity, n_experts
        )
        irr, p, d = self.terms(params, tokens, granularity, n_experts)
        return irr + p + d

    @property
    def router_c_r(self) -> float:
        """c_r for counting MoE FLOPs with this law: its own, or the default 14 when it has
        none (the dense sets store c_r = 0, as F = 6ND has no router)."""
        from ..accounting import C_R_DEFAULT

        return self.c_r if self.c_r > 0 else C_R_DEFAULT

    @property
    def floor(self) -> float:
        """The irreducible loss ``c``: no model reaches it."""
        return float(self.coefficients["c"])

    def range_excess(
        self,
        params=None,
        tokens=None,
        granularity=None,
        n_experts=None,
        expansion_rate=None,
        factor: float = 1.0,
    ) -> list[dict]:
        """Each value outside the fitted range by more than ``factor`` (1 = any amount), as
        ``{key, label, value, factor, side, low, high}`` (``factor``: how far outside, >= 1).

        Checks N, D, G or E (the law's choice), the expansion rate where the set was fitted at
        one, and tokens per parameter where the set states a limit.
        """
        out = []
        params_label = _PARAMS_LABELS.get(self.params_meaning, "parameters")
        checks = (
            ("params", params, params_label),
            ("tokens", tokens, "tokens"),
            ("granularity", granularity, "granularity"),
            ("n_experts", n_experts, "number of experts"),
            ("expansion_rate", expansion_rate, "expansion rate E"),
        )
        tpp = self.fitted_range.get("tokens_per_param")
        if tpp and params is not None and tokens is not None and float(params) > 0:
            checks += (("tokens_per_param", float(tokens) / float(params), "tokens per parameter"),)
        for key, value, label in checks:
            if value is None or key not in self.fitted_range:
                continue
            lo, hi = self.fitted_range[key]
            lo = float(lo or 0.0)
            v = float(value)
            if hi is not None and v > float(hi) * factor * (1 + 1e-9):
                side, far = "above", v / float(hi)
            elif lo > 0 and v < lo / factor * (1 - 1e-9):
                side, far = "below", lo / v
            else:
                continue
            out.append(
                dict(
                    key=key,
                    label=label,
                    value=v,
                    factor=far,
                    side=side,
                    low=lo,
                    high=None if hi is None else float(hi),
                )
            )
        return out

    def range_text(self, e: dict) -> str:
        """One :meth:`range_excess` entry in words, the factor included."""
        lo, hi = e["low"], e["high"]
        if e["key"] == "expansion_rate":
            fitted = f"{lo:g}" if lo == hi else f"{lo:g} to {hi:g}"
            return (
                f"expansion rate E = {e['value']:.3g} is {e['factor']:.3g}x {e['side']} the "
                f"E = {fitted} {self.name} was fitted at; the law does not model E, so the "
                f"prediction is an extrapolation"
            )
        if e["key"] == "tokens_per_param":
            where = f"up to {hi:.3g}" if e["side"] == "above" else f"from {lo:.3g}"
            return (
                f"{e['value']:.3g} tokens per parameter is {e['factor']:.3g}x {e['side']} "
                f"what {self.name} was fitted on ({where}): the prediction is an "
                f"extrapolation"
            )
        span = f"{lo:.3g} to {hi:.3g}" if lo > 0 else f"up to {hi:.3g}"
        return (
            f"{e['label']} {e['value']:.3g} is {e['factor']:.3g}x {e['side']} the range "
            f"{self.name} was fitted on ({span}): the prediction is an extrapolation"
        )

    def range_warnings(
        self,
        params=None,
        tokens=None,
        granularity=None,
        n_experts=None,
        factor: float = 1.0,
        expansion_rate=None,
    ) -> list[str]:
        """Warnings for values outside the fitted range by more than ``factor`` (1 = any),
        each naming how far outside (see :meth:`range_excess`)."""
        return [
            self.range_text(e)
            for e in self.range_excess(
                params, tokens, granularity, n_experts, expansion_rate, factor
            )
        ]

"""The loss laws (SPEC.md §2 and §7), vectorised with numpy.

Three forms:

``fine_grained_moe`` (Krajewski et al. 2024), N = total non-embedding parameters::

    L(N, D, G) = c + (g / G^gamma + a) / N^alpha + b / D^beta

``chinchilla`` (dense), N = non-embedding parameters::

    L(N, D) = c + a / N^alpha + b / D^beta

``joint_moe`` (Ludziejewski et al. 2025), N_act = active parameters with embeddings, E = experts::

    L(N_act, D, E) = a·Ê^delta·N_act^(alpha + gamma·ln Ê) + b·Ê^omega·D^(beta + zeta·ln Ê) + c
    1/Ê = 1 / (E − 1 + (1/E_start − 1/E_max)^(−1)) + 1/E_max

Coefficient names are the papers' lowercase names, e.g. ``alpha``, ``gamma``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FORMS = ("fine_grained_moe", "chinchilla", "joint_moe")

#: Coefficients each form requires, in display order.
COEFFICIENT_NAMES = {
    "fine_grained_moe": ("a", "alpha", "b", "beta", "g", "gamma", "c"),
    "chinchilla": ("a", "alpha", "b", "beta", "c"),
    "joint_moe": ("a", "alpha", "delta", "gamma", "b", "beta", "omega", "zeta",
                  "e_start", "e_max", "c"),
}


def fine_grained_terms(params, tokens, granularity, a, alpha, b, beta, g, gamma, c):
    """The three terms of the fine-grained MoE law: (irreducible, parameter, data).

    Parameters
    ----------
    params : float or array
        N, total non-embedding parameters (router excluded).
    tokens : float or array
        D, training tokens.
    granularity : float or array
        G (1 = experts as large as the dense FFN).
    """
    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    gr = np.asarray(granularity, dtype=float)
    param_term = (g / gr**gamma + a) / n**alpha
    data_term = b / d**beta
    irreducible = np.broadcast_to(np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape)
    return irreducible, param_term, data_term


def fine_grained_loss(params, tokens, granularity, a, alpha, b, beta, g, gamma, c):
    """Fine-grained MoE loss ``c + (g/G^gamma + a)/N^alpha + b/D^beta`` (nats per token)."""
    irr, p, d = fine_grained_terms(params, tokens, granularity, a, alpha, b, beta, g, gamma, c)
    return irr + p + d


def chinchilla_terms(params, tokens, a, alpha, b, beta, c):
    """The three terms of the dense Chinchilla-form law: (irreducible, parameter, data)."""
    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    param_term = a / n**alpha
    data_term = b / d**beta
    irreducible = np.broadcast_to(np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape)
    return irreducible, param_term, data_term


def chinchilla_loss(params, tokens, a, alpha, b, beta, c):
    """Dense loss ``c + a/N^alpha + b/D^beta`` (nats per token)."""
    irr, p, d = chinchilla_terms(params, tokens, a, alpha, b, beta, c)
    return irr + p + d


def joint_e_hat(n_experts, e_start, e_max):
    """The saturating transform Ê of the number of experts (SPEC.md §7).

    ``1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^(−1)) + 1/E_max``; Ê(1) = E_start and Ê → E_max.
    """
    e = np.asarray(n_experts, dtype=float)
    shift = 1.0 / (1.0 / e_start - 1.0 / e_max)
    return 1.0 / (1.0 / (e - 1.0 + shift) + 1.0 / e_max)


def joint_chinchilla_coefficients(n_experts, a, alpha, delta, gamma, b, beta, omega, zeta,
                                  e_start, e_max, c):
    """For fixed E the joint law is ``m·N^mu + n·D^nu + c``: returns (m, mu, n, nu)."""
    eh = joint_e_hat(n_experts, e_start, e_max)
    log_eh = np.log(eh)
    return a * eh**delta, alpha + gamma * log_eh, b * eh**omega, beta + zeta * log_eh


def joint_terms(active_params, tokens, n_experts, a, alpha, delta, gamma, b, beta, omega, zeta,
                e_start, e_max, c):
    """The three terms of the joint MoE law: (irreducible, parameter, data).

    ``active_params`` counts embeddings (SPEC.md §7); exponents are negative as written.
    """
    m, mu, n_coef, nu = joint_chinchilla_coefficients(
        n_experts, a, alpha, delta, gamma, b, beta, omega, zeta, e_start, e_max, c)
    param_term = m * np.asarray(active_params, dtype=float) ** mu
    data_term = n_coef * np.asarray(tokens, dtype=float) ** nu
    irreducible = np.broadcast_to(np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape)
    return irreducible, param_term, data_term


def joint_loss(active_params, tokens, n_experts, **coefficients):
    """Joint MoE loss (SPEC.md §7), nats per token."""
    irr, p, d = joint_terms(active_params, tokens, n_experts, **coefficients)
    return irr + p + d


@dataclass(frozen=True)
class Law:
    """A coefficient set: the law's form, its coefficients and the conventions it belongs with.

    Load shipped sets and user files with :func:`moeplan.load_law`.
    """

    name: str
    form: str
    coefficients: dict
    params_meaning: str = "total_non_embedding"
    c_f: float = 6.0
    c_r: float = 14.0
    expansion_rate: float | None = None
    aspect_ratio: float = 64.0
    vocab_size: float | None = None
    fitted_range: dict = field(default_factory=dict)
    comparable_with: tuple = ()
    citation: str = ""
    description: str = ""
    source: str = ""
    bootstrap: dict | None = None
    provenance: dict | None = None
    #: coefficient name -> half-width of its published rounding interval (moeplan.precision)
    precision: dict = field(default_factory=dict)
    loss_definition: str = ""     # what the loss is: data, tokenizer, routing
    notes: str = ""               # caveats shown by `moeplan laws NAME`
    fitted_range_source: str = ""  # the source table of fitted_range

    @property
    def is_moe(self) -> bool:
        return self.form in ("fine_grained_moe", "joint_moe")

    def terms(self, params, tokens, granularity=1.0, n_experts=1.0):
        """(irreducible, parameter, data) terms at N=params, D=tokens.

        ``granularity`` is used by the fine-grained form, ``n_experts`` by the joint form;
        the dense form ignores both.
        """
        k = self.coefficients
        if self.form == "fine_grained_moe":
            return fine_grained_terms(params, tokens, granularity, **k)
        if self.form == "chinchilla":
            return chinchilla_terms(params, tokens, **k)
        return joint_terms(params, tokens, n_experts, **k)

    def check_point(self, params, tokens, granularity=1.0, n_experts=1.0) -> None:
        """Raise :class:`~moeplan.errors.InputError` unless the law can be evaluated there.

        N and D are counts from 1 to 1e30, G and E from 1 to 1e6 (:mod:`moeplan.domain`):
        below one parameter or token the law's power terms describe nothing, and G or E
        below 1 would have more experts per token than experts.
        """
        from . import domain

        domain.count(params, "parameters N", minimum=1.0)
        domain.count(tokens, "tokens D", minimum=1.0)
        if self.form == "fine_grained_moe":
            domain.experts(granularity, "granularity G")
        if self.form == "joint_moe":
            domain.experts(n_experts, "number of experts E")

    def loss(self, params, tokens, granularity=1.0, n_experts=1.0):
        """Predicted loss (nats per token); vectorised over all arguments."""
        irr, p, d = self.terms(params, tokens, granularity, n_experts)
        return irr + p + d

    @property
    def router_c_r(self) -> float:
        """c_r for counting MoE FLOPs with this law: its own, or the default 14 when it has
        none (the dense sets store c_r = 0, as F = 6ND has no router)."""
        from .accounting import C_R_DEFAULT

        return self.c_r if self.c_r > 0 else C_R_DEFAULT

    @property
    def floor(self) -> float:
        """The irreducible loss ``c``: no model reaches it."""
        return float(self.coefficients["c"])

    def range_warnings(self, params=None, tokens=None, granularity=None, n_experts=None,
                       factor: float = 1.0) -> list[str]:
        """Warnings for values outside the fitted range by more than ``factor`` (1 = any)."""
        out = []
        params_label = {"total_non_embedding": "total parameters",
                        "non_embedding": "parameters",
                        "active_with_embedding": "active parameters (with embeddings)",
                        "total_with_embedding": "parameters (with embeddings)"}.get(
                            self.params_meaning, "parameters")
        checks = (("params", params, params_label), ("tokens", tokens, "tokens"),
                  ("granularity", granularity, "granularity"),
                  ("n_experts", n_experts, "number of experts"))
        for key, value, label in checks:
            if value is None or key not in self.fitted_range:
                continue
            lo, hi = self.fitted_range[key]
            v = float(value)
            span = f"{lo:.3g} to {hi:.3g}" if lo > 0 else f"up to {hi:.3g}"
            if v > hi * factor:
                out.append(f"{label} {v:.3g} is {v / hi:.3g}x above the range {self.name} was "
                           f"fitted on ({span}): the prediction is an extrapolation")
            elif lo > 0 and v < lo / factor:
                out.append(f"{label} {v:.3g} is {lo / v:.3g}x below the range {self.name} was "
                           f"fitted on ({lo:.3g} to {hi:.3g}): the prediction is an extrapolation")
        limit = self.fitted_range.get("tokens_per_param")
        if limit and params is not None and tokens is not None and float(params) > 0:
            ratio, (lo, hi) = float(tokens) / float(params), limit
            if ratio > hi * factor:
                out.append(f"{ratio:.3g} tokens per parameter is {ratio / hi:.3g}x above what "
                           f"{self.name} was fitted on (up to {hi:.3g}): the prediction is an "
                           f"extrapolation")
            elif lo > 0 and ratio < lo / factor:
                out.append(f"{ratio:.3g} tokens per parameter is {lo / ratio:.3g}x below what "
                           f"{self.name} was fitted on (from {lo:.3g}): the prediction is an "
                           f"extrapolation")
        return out

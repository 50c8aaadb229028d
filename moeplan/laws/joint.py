"""The Joint MoE law (Ludziejewski et al. 2025, SPEC.md §7), N_act = active parameters
WITH embeddings, the choice is the number of experts E::

    L(N_act, D, E) = a·Ê^delta·N_act^(alpha + gamma·ln Ê) + b·Ê^omega·D^(beta + zeta·ln Ê) + c
    1/Ê = 1 / (E − 1 + (1/E_start − 1/E_max)^(−1)) + 1/E_max
"""

from __future__ import annotations

from dataclasses import asdict, field

import numpy as np

from .._record import dataclass
from ..domain import checked_array, loss_arguments

NAMES = ("a", "alpha", "delta", "gamma", "b", "beta", "omega", "zeta", "e_start", "e_max", "c")
CHOICE = "n_experts"
PARAMS_MEANING = "active_with_embedding"
#: Exponents that are negative as written.
SIGNED = frozenset({"alpha", "delta", "gamma", "beta", "omega", "zeta"})


def joint_e_hat(n_experts, e_start, e_max):
    """The saturating transform Ê of the number of experts (SPEC.md §7).

    ``1/Ê = 1/(E − 1 + (1/E_start − 1/E_max)^(−1)) + 1/E_max``; Ê(1) = E_start and Ê → E_max.
    """
    e = checked_array(n_experts, "n_experts")
    e_start = checked_array(e_start, "e_start")
    e_max = checked_array(e_max, "e_max")
    shift = 1.0 / (1.0 / e_start - 1.0 / e_max)
    return 1.0 / (1.0 / (e - 1.0 + shift) + 1.0 / e_max)


def joint_chinchilla_coefficients(
    n_experts, a, alpha, delta, gamma, b, beta, omega, zeta, e_start, e_max, c
):
    """For fixed E the joint law is ``m·N^mu + n·D^nu + c``: returns (m, mu, n, nu)."""
    eh = joint_e_hat(n_experts, e_start, e_max)
    log_eh = np.log(eh)
    return a * eh**delta, alpha + gamma * log_eh, b * eh**omega, beta + zeta * log_eh


def joint_terms(
    active_params,
    tokens,
    n_experts,
    a,
    alpha,
    delta,
    gamma,
    b,
    beta,
    omega,
    zeta,
    e_start,
    e_max,
    c,
):
    """The three terms of the joint MoE law: (irreducible, parameter, data).

    ``active_params`` counts embeddings (SPEC.md §7); exponents are negative as written.
    """
    m, mu, n_coef, nu = joint_chinchilla_coefficients(
        n_experts, a, alpha, delta, gamma, b, beta, omega, zeta, e_start, e_max, c
    )
    param_term = m * np.asarray(active_params, dtype=float) ** mu
    data_term = n_coef * np.asarray(tokens, dtype=float) ** nu
    irreducible = np.broadcast_to(
        np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape
    )
    return irreducible, param_term, data_term


def joint_loss(active_params, tokens, n_experts, **coefficients):
    """Joint MoE loss (SPEC.md §7), nats per token."""
    active_params, tokens, _, n_experts = loss_arguments(active_params, tokens, n_experts=n_experts)
    irr, p, d = joint_terms(active_params, tokens, n_experts, **coefficients)
    return irr + p + d


def terms(params, tokens, choice, k):
    return joint_terms(params, tokens, choice, **k)


# --------------------------------------------------------------------------------------------
# The same paper's learning-rate rule
# --------------------------------------------------------------------------------------------

LR_SOURCE = 'Ludziejewski, Pióro, Krajewski et al. 2025, "Joint MoE Scaling Laws", arXiv:2502.05172'
LR_FORMULA = "LR = exp(8.39 - 0.81*ln(N_act_non_embedding) - 0.25*ln(E))"
#: The learning-rate rule's range (SPEC.md §7): its largest model has 2.7B active parameters
#: with embeddings, about 2.48B without (d_model ~2300 at V = 50,257), the N of the rule; it
#: was fitted on E in {1, 8} and validated at E = 4 and 32.
LR_MAX_ACTIVE = 2.48e9
LR_EXPERTS_RANGE = (1.0, 8.0)
LR_EXPERTS_VALIDATED = (4.0, 32.0)
LR_RANGE_TEXT = (
    "up to 2.48B active non-embedding parameters (2.7B with embeddings); "
    "fitted on E = 1 and 8, validated at E = 4 and 32"
)


def _domain():
    from .. import domain

    return domain


def learning_rate(n_active_non_embedding, n_experts):
    """The Joint MoE paper's learning-rate rule (SPEC.md §7).

    ``LR = exp(8.39 − 0.81·ln N_act − 0.25·ln E)`` with ``N_act`` the active non-embedding
    parameters. Fitted on models up to 2.48B active non-embedding parameters (2.7B with
    embeddings) with E = 1 and 8; validated at E = 4 and 32.

    Parameters
    ----------
    n_active_non_embedding : float or array
        Active non-embedding parameters (a count).
    n_experts : float or array
        Number of experts ``E`` (≥ 1).

    Returns
    -------
    float or ndarray
        Peak learning rate (dimensionless).

    Raises
    ------
    InputError
        If a count is not positive and finite, or ``E < 1``.
    """
    n = np.asarray(n_active_non_embedding, dtype=float)
    e = np.asarray(n_experts, dtype=float)
    for v in n[~((n >= 1) & (n <= _domain().MAX_COUNT))].ravel()[:1]:  # NaN fails both tests
        _domain().count(v, "active non-embedding parameters", minimum=1.0)
    for v in e[~((e >= 1) & (e <= _domain().MAX_EXPERTS))].ravel()[:1]:
        _domain().experts(v, "the number of experts (1 = dense)")
    out = np.exp(8.39 - 0.81 * np.log(n) - 0.25 * np.log(e))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class LearningRateAdvice:
    """A learning rate from the Joint MoE rule, with where it comes from and its range."""

    learning_rate: float
    n_active: float
    n_experts: float
    source: str = LR_SOURCE
    formula: str = LR_FORMULA
    fitted_range: dict = field(
        default_factory=lambda: {
            "n_active": [None, LR_MAX_ACTIVE],
            "n_experts": list(LR_EXPERTS_RANGE),
            "n_experts_validated": list(LR_EXPERTS_VALIDATED),
        }
    )
    warnings: tuple = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        return out


def learning_rate_advice(n_active_non_embedding: float, n_experts: float) -> LearningRateAdvice:
    """:func:`learning_rate` for one model, with warnings outside the fitted range."""
    lr = learning_rate(n_active_non_embedding, n_experts)
    n, e = float(n_active_non_embedding), float(n_experts)
    warnings = []
    if n > LR_MAX_ACTIVE:
        warnings.append(
            f"{n:.3g} active non-embedding parameters is {n / LR_MAX_ACTIVE:.3g}x "
            f"above the largest model the learning-rate rule was fitted on "
            f"({LR_MAX_ACTIVE:.3g}; 2.7B with embeddings): the learning rate is an "
            f"extrapolation"
        )
    hi, checked = LR_EXPERTS_RANGE[1], LR_EXPERTS_VALIDATED[1]
    if e > checked:
        warnings.append(
            f"{e:g} experts is beyond the learning-rate rule's data (fitted on E = 1 "
            f"and 8, validated up to E = {checked:g}): the learning rate is an "
            f"extrapolation"
        )
    elif hi < e < checked:
        warnings.append(
            f"{e:g} experts is above the E = 1 and 8 the learning-rate rule was "
            f"fitted on (it was validated at E = 4 and 32 only): treat the learning "
            f"rate as an estimate"
        )
    return LearningRateAdvice(learning_rate=lr, n_active=n, n_experts=e, warnings=tuple(warnings))

"""The Joint MoE law (Ludziejewski et al. 2025, SPEC.md §7), N_act = active parameters
WITH embeddings, the choice is the number of experts E::

    L(N_act, D, E) = a·Ê^delta·N_act^(alpha + gamma·ln Ê) + b·Ê^omega·D^(beta + zeta·ln Ê) + c
    1/Ê = 1 / (E − 1 + (1/E_start − 1/E_max)^(−1)) + 1/E_max
"""

from __future__ import annotations

import numpy as np

NAMES = ("a", "alpha", "delta", "gamma", "b", "beta", "omega", "zeta", "e_start", "e_max", "c")
CHOICE = "n_experts"
PARAMS_MEANING = "active_with_embedding"
#: Exponents that are negative as written.
SIGNED = frozenset({"alpha", "delta", "gamma", "beta", "omega", "zeta"})


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


def terms(params, tokens, choice, k):
    return joint_terms(params, tokens, choice, **k)

"""The loss laws (SPEC.md §2 and §7), vectorised with numpy: one module per form.

``fine_grained_moe`` (Krajewski et al. 2024, :mod:`.fine_grained`), N = total non-embedding
parameters, choice G::

    L(N, D, G) = c + (g / G^gamma + a) / N^alpha + b / D^beta

``chinchilla`` (dense, :mod:`.chinchilla`), N = non-embedding parameters (all parameters,
embeddings included, for the Chinchilla sets: ``variables.params: total_with_embedding``), no
choice::

    L(N, D) = c + a / N^alpha + b / D^beta

``joint_moe`` (Ludziejewski et al. 2025, :mod:`.joint`), N_act = active parameters with
embeddings, choice E::

    L(N_act, D, E) = a·Ê^delta·N_act^(alpha + gamma·ln Ê) + b·Ê^omega·D^(beta + zeta·ln Ê) + c

Coefficient names are the papers' lowercase names, e.g. ``alpha``, ``gamma``.
"""

from __future__ import annotations

from .base import COEFFICIENT_NAMES, FORM_MODULES, FORMS, Law
from .chinchilla import (
    chinchilla_flops_to_reach,
    chinchilla_loss,
    chinchilla_optimum,
    chinchilla_terms,
)
from .fine_grained import fine_grained_loss, fine_grained_terms
from .joint import joint_chinchilla_coefficients, joint_e_hat, joint_loss, joint_terms

__all__ = [
    "COEFFICIENT_NAMES",
    "FORMS",
    "FORM_MODULES",
    "Law",
    "chinchilla_flops_to_reach",
    "chinchilla_loss",
    "chinchilla_optimum",
    "chinchilla_terms",
    "fine_grained_loss",
    "fine_grained_terms",
    "joint_chinchilla_coefficients",
    "joint_e_hat",
    "joint_loss",
    "joint_terms",
]

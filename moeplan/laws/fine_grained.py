"""The fine-grained MoE law (Krajewski et al. 2024, SPEC.md §2), N = total non-embedding
parameters, the choice is the granularity G::

    L(N, D, G) = c + (g / G^gamma + a) / N^alpha + b / D^beta
"""

from __future__ import annotations

import numpy as np

from ..domain import loss_arguments

NAMES = ("a", "alpha", "b", "beta", "g", "gamma", "c")
CHOICE = "granularity"
PARAMS_MEANING = "total_non_embedding"


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
    irreducible = np.broadcast_to(
        np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape
    )
    return irreducible, param_term, data_term


def fine_grained_loss(params, tokens, granularity, a, alpha, b, beta, g, gamma, c):
    """Fine-grained MoE loss ``c + (g/G^gamma + a)/N^alpha + b/D^beta`` (nats per token)."""
    params, tokens, granularity, _ = loss_arguments(params, tokens, granularity)
    irr, p, d = fine_grained_terms(params, tokens, granularity, a, alpha, b, beta, g, gamma, c)
    return irr + p + d


def terms(params, tokens, choice, k):
    return fine_grained_terms(params, tokens, choice, **k)

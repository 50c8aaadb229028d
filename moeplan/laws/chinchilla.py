"""The dense Chinchilla-form law (SPEC.md §2), N = non-embedding parameters, no choice::

    L(N, D) = c + a / N^alpha + b / D^beta

and its compute-optimal closed form (Hoffmann et al. 2022), written once here: the planner,
``fit`` and the joint law at a fixed number of experts use it.
"""

from __future__ import annotations

import numpy as np

from ..domain import loss_arguments

NAMES = ("a", "alpha", "b", "beta", "c")
CHOICE = None
PARAMS_MEANING = "non_embedding"


def chinchilla_terms(params, tokens, a, alpha, b, beta, c):
    """The three terms of the dense Chinchilla-form law: (irreducible, parameter, data)."""
    n = np.asarray(params, dtype=float)
    d = np.asarray(tokens, dtype=float)
    param_term = a / n**alpha
    data_term = b / d**beta
    irreducible = np.broadcast_to(
        np.asarray(c, dtype=float), np.broadcast(param_term, data_term).shape
    )
    return irreducible, param_term, data_term


def chinchilla_loss(params, tokens, a, alpha, b, beta, c):
    """Dense loss ``c + a/N^alpha + b/D^beta`` (nats per token)."""
    params, tokens, _, _ = loss_arguments(params, tokens)
    irr, p, d = chinchilla_terms(params, tokens, a, alpha, b, beta, c)
    return irr + p + d


def terms(params, tokens, choice, k):
    return chinchilla_terms(params, tokens, **k)


def chinchilla_optimum(flops, a, alpha, b, beta, c_f=6.0):
    """N, D minimising ``a/N^α + b/D^β`` with ``c_f·N·D = F`` (vectorised over everything).

    ``N* = (αa/(βb))^(1/(α+β)) · (F/c_f)^(β/(α+β))``, ``D* = F/(c_f·N*)``.
    """
    al, be = np.asarray(alpha, float), np.asarray(beta, float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        n = (al * a / (be * b)) ** (1.0 / (al + be)) * (np.asarray(flops, float) / c_f) ** (
            be / (al + be)
        )
        d = np.asarray(flops, float) / (c_f * n)
    return n, d


def chinchilla_flops_to_reach(loss, a, alpha, b, beta, c, c_f=6.0):
    """Least FLOPs ``c_f·N·D`` whose optimum reaches ``loss`` (> c): at the optimum
    ``α·a/N^α = β·b/D^β``, so ``L − c = (a/N^α)(1 + α/β)``."""
    p = (np.asarray(loss, float) - c) / (1.0 + alpha / beta)
    n = (a / p) ** (1.0 / alpha)
    d = (b / (alpha * p / beta)) ** (1.0 / beta)
    return c_f * n * d

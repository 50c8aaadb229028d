"""The dense Chinchilla-form law (SPEC.md §2), no choice::

    L(N, D) = c + a / N^alpha + b / D^beta

and its compute-optimal closed form (Hoffmann et al. 2022), written once here: the planner,
``fit`` and the joint law at a fixed number of experts use it.

What N counts is the set's ``variables.params``: non-embedding parameters by default (the
Krajewski dense set), all parameters for the Chinchilla sets (``total_with_embedding``:
Hoffmann et al. 2022 counted every parameter, embeddings included, SPEC.md §1). For those the
planner's N is ``12·d_model²·n_blocks + V·d_model`` (:func:`embedding_convention`) and the
FLOPs are ``c_f·N·D`` with that N (Hoffmann et al.'s ``C = 6ND``).
"""

from __future__ import annotations

import numpy as np

from ..domain import loss_arguments

NAMES = ("a", "alpha", "b", "beta", "c")
CHOICE = None
PARAMS_MEANING = "non_embedding"

#: Whether the Chinchilla sets' N counts ONE ``V·d_model`` matrix (tied input embedding and
#: output head) rather than two. Hoffmann et al.'s Table A9 sizes are ``13·d_model²·n_layers +
#: 32,000·d_model`` to the million (44M: d_model 512, 8 layers, 27.3M + 16.4M; 251M: d_model
#: 1024, 16 layers, 218.1M + 32.8M; the 13th d² per block is the relative-position projection
#: of their Gopher-style attention); a second V·d_model would put the 44M model at 60M.
#: Pearce & Song 2024 ("Reconciling Kaplan and Chinchilla Scaling Laws", arXiv:2406.12907)
#: reconstruct the same totals as ``N_T = N_non-embedding + 32,000·d_model``.
TIED_EMBEDDINGS_DEFAULT = True
#: The meaning of ``variables.params`` whose N counts the embeddings of a dense model.
WITH_EMBEDDING = "total_with_embedding"


def counts_embeddings(law) -> bool:
    """True for a dense law whose N counts all parameters, embeddings included."""
    return law.choice is None and law.params_meaning == WITH_EMBEDDING


def embedding_warning(law, vocab_size=None) -> list[str]:
    """A warning when the law's N counts embeddings but no vocabulary is known (a fitted file
    without ``variables.vocab_size``): N is then planned without them."""
    if not counts_embeddings(law) or vocab_size is not None or law.vocab_size is not None:
        return []
    return [
        f"{law.name} counts embeddings in N (variables.params: {WITH_EMBEDDING}) but states "
        f"no vocabulary: N is planned without them; give vocab_size (--vocab-size) or "
        f"variables.vocab_size in the law file"
    ]


def embedding_convention(law, vocab_size=None, tied_embeddings=None):
    """``(V, tied)`` of the embeddings the law's N counts, for planning a dense model.

    ``(None, None)`` when the law's N excludes embeddings (or when it counts them and no
    vocabulary is known: the caller warns). ``vocab_size`` and ``tied_embeddings`` override
    the set's own (its ``variables.vocab_size``; :data:`TIED_EMBEDDINGS_DEFAULT`).
    """
    if not counts_embeddings(law):
        return None, None
    vocab = vocab_size if vocab_size is not None else law.vocab_size
    if vocab is None:
        return None, None
    tied = TIED_EMBEDDINGS_DEFAULT if tied_embeddings is None else bool(tied_embeddings)
    return float(vocab), tied


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

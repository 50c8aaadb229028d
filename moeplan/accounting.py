"""Parameter and FLOPs accounting for the paper's idealised MoE Transformer (SPEC.md §1, §3).

Every function is vectorised: arguments may be numpy arrays (broadcast together) or scalars.
Counts exclude embeddings and the router unless the name says otherwise, as in the paper.

A block of width ``d_model`` has attention with ``4·d_model²`` parameters and a feed-forward
part; the dense FFN has ``d_ff = 4·d_model`` (``8·d_model²`` parameters). An MoE block with
expansion rate ``E`` and granularity ``G`` holds ``n_experts = G·E`` experts of hidden size
``d_expert = 4·d_model/G``; each token visits ``top_k = G`` of them, so the active count does
not depend on ``G``.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from . import domain
from ._record import dataclass
from .errors import InputError

#: FLOPs per active parameter per token for a training step (2 forward + 4 backward).
C_F_DEFAULT = 6.0
#: FLOPs per router parameter per token (SPEC.md §3: seven 2-FLOP items); the paper's range is 6..20.
C_R_DEFAULT = 14.0
#: Total expert parameters of a layer over those of the dense FFN (the paper's fixed E).
EXPANSION_RATE_DEFAULT = 64.0
#: d_model = aspect_ratio · n_blocks (the paper's shape rule).
ASPECT_RATIO_DEFAULT = 64.0
#: Forward FLOPs per active parameter per inference token (every law family).
INFERENCE_FLOPS_PER_PARAM = 2.0
#: Share of the router's training FLOPs (c_r) spent in the forward pass. c_r = 14 is seven
#: 2-FLOP items, of which three are forward (router logits, dispatch, combine): 3/7, i.e.
#: 6 FLOPs per router parameter per inference token at the default c_r.
ROUTER_FORWARD_FRACTION = 3.0 / 7.0
#: Training sequence length (tokens) for attention-score FLOPs and activations (SPEC §10).
SEQ_LEN_DEFAULT = 4096
#: Vocabulary of the GPT-2 tokenizer the fine-grained and joint laws were fitted with.
GPT2_VOCAB_SIZE = 50_257


#: Validates one (possibly array) argument; see moeplan.domain.checked_array.
_arg = domain.checked_array
#: The same formulas without argument checks, for the planner's grids (domain.unchecked).
unchecked = domain.unchecked


def active_params(d_model, n_blocks):
    """Active non-embedding parameters, router excluded: ``12·d_model²·n_blocks``."""
    d = _arg(d_model, "d_model")
    return 12.0 * d * d * _arg(n_blocks, "n_blocks")


def total_params(d_model, n_blocks, expansion_rate=EXPANSION_RATE_DEFAULT):
    """Total non-embedding parameters, router excluded: ``d_model²·(8E + 4)·n_blocks``.

    This is the ``N`` of the fine-grained MoE loss law. With ``E = 1`` it equals the dense count.
    """
    d = _arg(d_model, "d_model")
    e = _arg(expansion_rate, "expansion_rate", "experts")
    return d * d * (8.0 * e + 4.0) * _arg(n_blocks, "n_blocks")


def router_params(d_model, n_blocks, expansion_rate, granularity):
    """Router parameters: one ``d_model × n_experts`` map per block, ``d_model·E·G·n_blocks``."""
    return (
        _arg(d_model, "d_model")
        * _arg(expansion_rate, "expansion_rate", "experts")
        * _arg(granularity, "granularity", "experts")
        * _arg(n_blocks, "n_blocks")
    )


def n_experts(expansion_rate, granularity):
    """Experts per MoE layer, ``G·E``."""
    return _arg(expansion_rate, "expansion_rate", "experts") * _arg(
        granularity, "granularity", "experts"
    )


def d_expert(d_model, granularity):
    """Hidden size of one expert, ``4·d_model/G`` (may be fractional for unrealizable shapes)."""
    return 4.0 * _arg(d_model, "d_model") / _arg(granularity, "granularity", "experts")


def embedding_params(d_model, vocab_size, tied=False):
    """Input embedding plus output head: ``2·V·d_model``, or ``V·d_model`` when tied."""
    factor = 1.0 if tied else 2.0
    return factor * _arg(vocab_size, "vocab_size") * _arg(d_model, "d_model")


def flops_per_token_per_block(
    d_model, expansion_rate, granularity, c_f=C_F_DEFAULT, c_r=C_R_DEFAULT
):
    """Training FLOPs per token per block: ``12·d_model²·c_f + d_model·E·G·c_r``."""
    d = _arg(d_model, "d_model")
    c_f = _arg(c_f, "c_f", "c_f")
    c_r = _arg(c_r, "c_r", "c_r")
    return (
        12.0 * d * d * c_f
        + d
        * _arg(expansion_rate, "expansion_rate", "experts")
        * _arg(granularity, "granularity", "experts")
        * c_r
    )


def moe_flops(
    d_model,
    n_blocks,
    tokens,
    expansion_rate=EXPANSION_RATE_DEFAULT,
    granularity=1.0,
    c_f=C_F_DEFAULT,
    c_r=C_R_DEFAULT,
):
    """Training FLOPs of an MoE model, router included (SPEC.md §3).

    ``F = (12·d_model²·c_f + d_model·E·G·c_r) · D · n_blocks``

    Parameters
    ----------
    d_model, n_blocks : float or array
        Width and depth.
    tokens : float or array
        Training tokens ``D``.
    expansion_rate, granularity : float or array
        ``E`` and ``G``.
    c_f, c_r : float
        FLOPs per active parameter per token, and per router parameter per token.

    Returns
    -------
    float or ndarray
        FLOPs (floating-point operations, not per second).
    """
    return flops_per_token_per_block(d_model, expansion_rate, granularity, c_f, c_r) * (
        _arg(tokens, "tokens") * _arg(n_blocks, "n_blocks")
    )


def dense_flops(params, tokens, c_f=C_F_DEFAULT):
    """Training FLOPs of a dense model, ``c_f·N·D`` (``6ND``)."""
    return _arg(c_f, "c_f", "c_f") * _arg(params, "params") * _arg(tokens, "tokens")


def tokens_for_flops(
    flops,
    d_model,
    n_blocks,
    expansion_rate=EXPANSION_RATE_DEFAULT,
    granularity=1.0,
    c_f=C_F_DEFAULT,
    c_r=C_R_DEFAULT,
):
    """Tokens that spend ``flops`` on the given MoE model (inverse of :func:`moe_flops`)."""
    per_token = flops_per_token_per_block(d_model, expansion_rate, granularity, c_f, c_r) * (
        _arg(n_blocks, "n_blocks")
    )
    return _arg(flops, "flops") / per_token


@dataclass(frozen=True)
class FlopsBreakdown:
    """Parameter counts and training FLOPs of one MoE configuration, split by part.

    All FLOPs are totals over ``tokens`` training tokens; ``*_per_token`` are per token.
    Parameter counts exclude embeddings (``n_embedding`` is given separately when the
    vocabulary is known).
    """

    d_model: float
    n_blocks: float
    expansion_rate: float
    granularity: float
    tokens: float
    c_f: float
    c_r: float
    n_experts: float
    top_k: float
    d_expert: float
    n_active: float
    n_total: float
    router_params: float
    attention_flops: float
    expert_flops: float
    router_flops: float
    flops: float
    flops_per_token: float
    router_share: float
    vocab_size: float | None = None
    n_embedding: float | None = None
    n_active_with_embedding: float | None = None
    n_total_with_embedding: float | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _check_positive(name, value):
    _arg(value, name)


def flops_breakdown(
    d_model,
    n_blocks,
    tokens,
    expansion_rate=EXPANSION_RATE_DEFAULT,
    granularity=1.0,
    c_f=C_F_DEFAULT,
    c_r=C_R_DEFAULT,
    vocab_size=None,
    tied_embeddings=False,
) -> FlopsBreakdown:
    """Count parameters and training FLOPs of one MoE model, router included.

    Attention is ``4·d_model²·c_f`` FLOPs per token per block, the active experts
    ``8·d_model²·c_f`` and the router ``d_model·E·G·c_r``; they add up to SPEC.md §3's ``F``.
    Embedding FLOPs are excluded, as in the paper.

    Raises
    ------
    InputError
        If any size is not positive and finite.
    """
    for name, value in (
        ("d_model", d_model),
        ("n_blocks", n_blocks),
        ("tokens", tokens),
        ("expansion_rate", expansion_rate),
        ("granularity", granularity),
        ("c_f", c_f),
    ):
        _check_positive(name, value)
    _arg(c_r, "c_r", "c_r")
    if vocab_size is not None:
        _arg(vocab_size, "vocab_size")
    # the domain (moeplan.domain): no product below overflows, every model is buildable
    domain.experts(expansion_rate, "expansion rate E")
    domain.experts(granularity, "granularity G")
    domain.flops_per_param(c_f, "c_f")
    domain.flops_per_param(c_r, "c_r", allow_zero=True)
    d, n, D = float(d_model), float(n_blocks), float(tokens)
    E, G = float(expansion_rate), float(granularity)
    attention = 4.0 * d * d * c_f * D * n
    experts = 8.0 * d * d * c_f * D * n
    router = d * E * G * c_r * D * n
    total = attention + experts + router
    if not math.isfinite(total):
        raise InputError(
            f"the training FLOPs of d_model {d:g} x n_blocks {n:g} on {D:g} tokens "
            f"overflow a double (above 1e308); check the sizes"
        )
    n_act = float(active_params(d, n))
    n_tot = float(total_params(d, n, E))
    emb = None if vocab_size is None else float(embedding_params(d, vocab_size, tied_embeddings))
    return FlopsBreakdown(
        d_model=d,
        n_blocks=n,
        expansion_rate=E,
        granularity=G,
        tokens=D,
        c_f=float(c_f),
        c_r=float(c_r),
        n_experts=E * G,
        top_k=G,
        d_expert=4.0 * d / G,
        n_active=n_act,
        n_total=n_tot,
        router_params=float(router_params(d, n, E, G)),
        attention_flops=attention,
        expert_flops=experts,
        router_flops=router,
        flops=total,
        flops_per_token=total / D,
        router_share=router / total,
        vocab_size=None if vocab_size is None else float(vocab_size),
        n_embedding=emb,
        n_active_with_embedding=None if emb is None else n_act + emb,
        n_total_with_embedding=None if emb is None else n_tot + emb,
    )

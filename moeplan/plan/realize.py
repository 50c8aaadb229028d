"""Realizable architectures: whole-number configurations near the continuous optimum.

The continuous optimum of :mod:`moeplan.plan.solve` has a real-valued ``d_model`` and
``n_blocks``. A model you can build needs

- an integer ``n_blocks`` and a shape that suits GPUs, by the one set of rules in
  :class:`moeplan.shapes.ShapeRules`: ``d_model`` a multiple of ``multiple_of`` (default 128),
  head dimension 128 (64 below ``d_model`` 2048) with ``n_heads`` divisible by the
  tensor-parallel degree ``tp`` (default 1), ``d_expert = 4·d_model/G`` a multiple of 64;
- ``top_k = G`` and ``n_experts = G·E`` whole numbers;
- the tokens recomputed so the FLOPs equal the budget exactly (minus inference FLOPs when
  inference tokens share the budget).

Shape choice (written down, as SPEC.md asks): the law only sees ``N``, ``D`` and ``G``, so any
``(d_model, n_blocks)`` with the same ``N`` predicts the same loss, while the router's FLOPs
``d_model·E·G·c_r·n_blocks = E·G·c_r·N/((8E+4)·d_model)`` fall as the model gets wider and
shallower. Left free, a search ranked by the law's loss exploits this and always lands on the
widest shape it may use (at 1e22 FLOPs and G = 32, a 25% wider-than-rule model "gains" 7e-4
in loss purely from routing savings the law was never fitted to judge). So by default the
realizable shapes follow the law's shape rule as exactly as whole numbers allow: ``n_blocks``
is the whole number nearest to ``d_model/aspect_ratio`` (below or above), with ``d_model``
stepping by :meth:`moeplan.shapes.ShapeRules.width_step`.
``shape_tolerance`` (``--shape-tolerance``) widens this to any ``d_model/n_blocks`` within
that factor of the aspect ratio, e.g. 1.25 for 51 to 80; depth/width ratios in such a band
change real losses by well under 1% (Kaplan et al. 2020, Figure 5). With a fixed model size
(``params``) the planner takes a shape that follows the rule exactly when one is within
:data:`PARAMS_TOLERANCE` of the size, else one within 1.25 (then farther sizes); each shape
is judged as if it had the size asked for (its loss minus what its own size would give the
rule's shape, plus what the size asked for gives), so that none wins by being bigger (issue
10 item 2). When wider shapes are allowed a realizable configuration can beat the continuous
optimum (which follows the rule exactly) by a hair: its ``loss_penalty`` is then negative.

Configurations are ranked by the law's loss; the best one is the recommendation. For the
inverse question (a target loss) every shape gets the tokens that reach the target and they
are ranked by the FLOPs that takes.
"""

from __future__ import annotations

import math

import numpy as np

from ..accounting import (
    INFERENCE_FLOPS_PER_PARAM,
    ROUTER_FORWARD_FRACTION,
    flops_breakdown,
    flops_per_token_per_block,
)
from ..shapes import ShapeRules, _width_ok
from .limits import Limits
from .results import Configuration
from .solve import Setup, memory_bytes

#: d_model / n_blocks may differ from the law's aspect ratio by at most this factor (1: only
#: the whole n_blocks nearest to d_model / aspect_ratio).
SHAPE_TOLERANCE_DEFAULT = 1.0
#: With a fixed model size (``params``), realizable configurations are within this share of it
#: (the planner widens it step by step only when no shape comes this close).
PARAMS_TOLERANCE = 0.03
#: Multiple of d_model (hardware-friendly widths; shapes.py's rule).
MULTIPLE_OF_DEFAULT = 128
#: Head dimensions we accept, preferred first.
HEAD_DIMS = (128, 64)


def shape_rules(multiple_of=MULTIPLE_OF_DEFAULT, tp=1) -> ShapeRules:
    """The GPU-friendly shape rules (:class:`moeplan.shapes.ShapeRules`) of the planner."""
    return ShapeRules(multiple_of=int(multiple_of), tp=int(tp))


#: Rough cap on the (n_blocks × d_model) grid searched per granularity.
_MAX_N_VALUES = 120
_MAX_D_VALUES = 200


def make_configuration(
    setup: Setup,
    d_model,
    n_blocks,
    granularity,
    tokens,
    cons: Limits,
    *,
    realizable: bool,
    continuous_loss=None,
    feasible=None,
    binding=None,
    tp=1,
) -> Configuration:
    """Build a :class:`Configuration` from a shape and a token count (counts via accounting).

    For a law whose N counts embeddings (``setup.embedding``, the Chinchilla sets) the loss is
    the law's at ``n_total + embedding·d_model`` and the FLOPs are ``c_f`` times that N per
    token (training) and 2 times it (inference), the law's own convention.
    """
    d, n, G, D = float(d_model), float(n_blocks), float(granularity), float(tokens)
    E = 1.0 if setup.dense else setup.expansion_rate
    c_r = 0.0 if setup.dense else setup.c_r
    fb = flops_breakdown(d, n, D, E, G, setup.c_f, c_r, cons.vocab_size, cons.tied_embeddings)
    law_emb = setup.embedding * d  # embeddings counted in the law's N (0 for most laws)
    loss = float(setup.loss(fb.n_total + law_emb, D, G))
    flops = fb.flops + setup.c_f * law_emb * D
    inf = 0.0
    if cons.inference_tokens:
        inf = cons.inference_tokens * (
            INFERENCE_FLOPS_PER_PARAM * (fb.n_active + law_emb)
            + ROUTER_FORWARD_FRACTION * c_r * fb.router_params
        )
    heads = head_dim = None
    if realizable:
        head_dim = float(shape_rules(tp=tp).head_dim_for(int(d)))
        if d % head_dim == 0:
            heads = d / head_dim
        else:  # a width the rules do not give (e.g. the smallest model of --multiple-of 64)
            head_dim = next((h for h in HEAD_DIMS if d % h == 0), None)
            heads = None if head_dim is None else d / head_dim
    return Configuration(
        granularity=G,
        expansion_rate=E,
        n_experts=fb.n_experts,
        top_k=fb.top_k,
        d_model=d,
        n_blocks=n,
        d_expert=fb.d_expert,
        n_active=fb.n_active,
        n_total=fb.n_total,
        router_params=0.0 if setup.dense else fb.router_params,
        tokens=D,
        flops=flops,
        router_flops=fb.router_flops,
        router_share=fb.router_flops / flops,
        loss=loss,
        tokens_per_active_param=D / fb.n_active,
        memory_bytes=float(memory_bytes(setup, d, n, G, cons)),
        aspect_ratio=d / n,
        realizable=realizable,
        inference_flops=inf,
        kv_cache_bytes=2.0 * cons.kv_tokens * n * d * cons.bytes_per_param,
        n_heads=heads,
        head_dim=head_dim,
        loss_penalty=None if continuous_loss is None else loss - continuous_loss,
        feasible=feasible,
        binding=binding,
        n_embedding=fb.n_embedding,
        inference_tokens=cons.inference_tokens,
        bytes_per_param=cons.bytes_per_param,
        n_active_with_embedding=fb.n_active_with_embedding,
        n_total_with_embedding=fb.n_total_with_embedding,
    )


def _sorted_unique(values) -> np.ndarray:
    # not np.unique: its first call imports numpy.ma, ~14 ms of start-up for one command
    return np.array(sorted(set(values)), dtype=float)


def _is_whole(v, tol=1e-9):
    return abs(v - round(v)) <= tol * max(1.0, abs(v))


def realizable_granularities(setup: Setup, granularities) -> list[float]:
    """Candidate G whose top-k and n_experts = G·E are whole numbers."""
    E = 1.0 if setup.dense else setup.expansion_rate
    return [float(G) for G in np.ravel(granularities) if _is_whole(G) and _is_whole(G * E)]


def width_quantum(multiple_of: int) -> int:
    """d_model must be a multiple of this: lcm(multiple_of, 64), so a head of 64 divides it."""
    return math.lcm(int(multiple_of), min(HEAD_DIMS))


def smallest_model(setup: Setup, granularity, multiple_of=MULTIPLE_OF_DEFAULT, tp=1):
    """(d_model, n_blocks) of the smallest realizable model: the least width the shape rules
    allow at this granularity (:func:`shape_rules`) with the fewest blocks the shape rule
    allows there, ``max(1, floor(d_model / aspect_ratio))`` (1 up to width 127 at 64)."""
    G = float(granularity)
    if not _is_whole(G):
        q = width_quantum(multiple_of)
        d = q
        while not _is_whole(4.0 * d / G):
            d += q
        return float(d), 1.0
    rules = shape_rules(multiple_of, tp)
    step = rules.width_step(int(round(G)))
    d = step
    while not _width_ok(rules, d):
        d += step
    return float(d), float(max(1, math.floor(d / setup.aspect_ratio)))


def _per_token(setup: Setup, d, n, E, G, c_r, cons: Limits):
    """(training FLOPs per token, inference FLOPs of the whole inference workload) of shapes
    ``(d, n)``: the blocks (router included) plus, for a law whose N counts embeddings,
    ``c_f`` (training) and 2 (inference) per embedding parameter it counts."""
    law_emb = setup.embedding * np.asarray(d, float)
    train = flops_per_token_per_block(d, E, G, setup.c_f, c_r) * n + setup.c_f * law_emb
    inference = cons.inference_tokens * (
        flops_per_token_per_block(d, E, G, INFERENCE_FLOPS_PER_PARAM, ROUTER_FORWARD_FRACTION * c_r)
        * n
        + INFERENCE_FLOPS_PER_PARAM * law_emb
    )
    return train, inference


def _rule_shape(setup: Setup, N, G, budget, cons: Limits, target_loss=None):
    """Loss (or, for a target, FLOPs) of the continuous model of ``N`` parameters that
    follows the shape rule exactly (``d_model = aspect_ratio·n_blocks``), at ``budget``."""
    E = 1.0 if setup.dense else setup.expansion_rate
    c_r = 0.0 if setup.dense else setup.c_r
    d = setup.width_for_params(N)  # N as the law counts it
    n = d / setup.aspect_ratio
    train, inference = _per_token(setup, d, n, E, G, c_r, cons)
    if target_loss is None:
        D = np.maximum(float(budget) - inference, 1.0) / train
        if cons.max_tokens is not None:
            D = np.minimum(D, cons.max_tokens)
        return setup.loss(N, D, G)
    gap = target_loss - setup.c - setup.param_coefficient(G) / np.asarray(N, float) ** setup.alpha
    D = (setup.b / np.where(gap > 0, gap, np.nan)) ** (1.0 / setup.beta)
    return train * D + inference


def search(
    setup: Setup,
    budget: float,
    granularities,
    centers,
    cons: Limits,
    *,
    multiple_of=MULTIPLE_OF_DEFAULT,
    shape_tolerance=SHAPE_TOLERANCE_DEFAULT,
    continuous_loss=None,
    limit=5,
    params_tolerance=PARAMS_TOLERANCE,
    target_loss=None,
    tp=1,
) -> list[Configuration]:
    """Best realizable configurations near the continuous optimum at each granularity.

    Parameters
    ----------
    setup : Setup
    budget : float
        Total FLOPs (training plus inference, when inference tokens are set).
    granularities : sequence of float
        Granularities to search (only whole-number ones are used).
    centers : sequence of float
        Continuous optimal ``d_model`` for each granularity (search centre).
    cons : Constraints
    multiple_of, tp : int
        Shape rules (:func:`shape_rules`): d_model a multiple of ``multiple_of``, heads of
        128 (64 below d_model 2048) divisible by ``tp``, d_expert a multiple of 64.
    shape_tolerance : float
        ``d_model/n_blocks`` within this factor of the aspect ratio (the nearest whole
        ``n_blocks`` is always allowed).
    continuous_loss : float, optional
        For each configuration's ``loss_penalty``.
    limit : int
        How many to return.
    params_tolerance : float
        With a fixed model size (``cons.params``), the largest relative deviation of N.
    target_loss : float, optional
        Inverse question: each shape gets the tokens that reach this loss (its own FLOPs,
        possibly a little above ``budget``) and shapes are ranked by FLOPs instead of loss.

    Returns
    -------
    list of Configuration
        Best (least loss) first; empty if none satisfies the constraints.
    """
    r = setup.aspect_ratio
    E = 1.0 if setup.dense else setup.expansion_rate
    c_r = 0.0 if setup.dense else setup.c_r
    tol = float(shape_tolerance)
    rules = shape_rules(multiple_of, tp)
    rows = []
    for G, d_star in zip(granularities, centers):
        G = float(G)
        if not (_is_whole(G) and _is_whole(G * E)) or not np.isfinite(d_star):
            continue
        q = rules.width_step(int(round(G)))
        n_star = max(d_star / r, 1.0)
        n_lo = max(1, int(math.floor(n_star / 1.5)))
        n_hi = max(n_lo, int(math.ceil(n_star * 1.5)))
        step = max(1, math.ceil((n_hi - n_lo + 1) / _MAX_N_VALUES))
        ns = _sorted_unique(
            list(range(n_lo, n_hi + 1, step))
            + [max(1, math.floor(n_star)), max(1, math.ceil(n_star))]
        )
        k_lo = max(1, int(math.floor(r * ns[0] / tol / q)))
        k_hi = max(k_lo, int(math.ceil(r * ns[-1] * tol / q)))
        kstep = max(1, math.ceil((k_hi - k_lo + 1) / _MAX_D_VALUES))
        k_star = d_star / q
        ks = _sorted_unique(
            list(range(k_lo, k_hi + 1, kstep))
            + [max(1, math.floor(k_star)), max(1, math.ceil(k_star))]
        )
        dk = ks * q
        d, n = np.meshgrid(dk, ns, indexing="ij")
        d, n = d.ravel(), n.ravel()
        ratio = d / n
        n_floor, n_ceil = np.maximum(1.0, np.floor(d / r)), np.maximum(1.0, np.ceil(d / r))
        ok = (ratio >= r / tol * (1 - 1e-12)) & (ratio <= r * tol * (1 + 1e-12))
        ok &= (n != n_floor) & (n != n_ceil)
        # the whole n_blocks nearest to d_model/r is always allowed, for every width searched
        # (added per width: a strided grid of n_blocks may miss them when d_model steps by 128)
        nf, nc = np.maximum(1.0, np.floor(dk / r)), np.maximum(1.0, np.ceil(dk / r))
        two = nc != nf
        d = np.concatenate([d[ok], dk, dk[two]])
        n = np.concatenate([n[ok], nf, nc[two]])
        ok = np.ones(d.shape, dtype=bool)
        # heads of head_dim_for(d) tile d and divide by tp (shapes._width_ok, vectorised)
        head = np.where(d < rules.small_d_model, rules.small_head_dim, rules.head_dim)
        ok &= (d % head == 0) & ((d // head) % rules.tp == 0)
        d, n = d[ok], n[ok]
        if d.size == 0:
            continue
        _, n_total, _ = setup.counts(d, n, G)
        N = setup.law_params(n_total, d)  # the law's N (embeddings included where it counts them)
        train, inference = _per_token(setup, d, n, E, G, c_r, cons)
        if target_loss is None:
            rest = float(budget) - inference
            ok = rest > 0
            D = np.where(ok, rest, 1.0) / train
            if cons.max_tokens is not None:  # data-limited: the rest of the budget stays unspent
                D = np.minimum(D, cons.max_tokens)
        else:
            # tokens reaching the target: b/D^β = target − c − (g/G^γ + a)/N^α
            gap = target_loss - setup.c - setup.param_coefficient(G) / N**setup.alpha
            ok = gap > 0
            D = (setup.b / np.where(ok, gap, 1.0)) ** (1.0 / setup.beta)
            if cons.max_tokens is not None:
                ok &= D <= cons.max_tokens * (1 + 1e-12)
        if cons.max_total_params is not None:  # a cap on non-embedding parameters
            ok &= n_total <= cons.max_total_params * (1 + 1e-12)
        if cons.params is not None:
            ok &= np.abs(N / cons.params - 1.0) <= params_tolerance
        if cons.memory is not None:
            ok &= memory_bytes(setup, d, n, G, cons) <= cons.memory * (1 + 1e-12)
        if not np.any(ok):
            continue
        d, n, D, N = d[ok], n[ok], D[ok], N[ok]
        if target_loss is None:
            key = setup.loss(N, D, G)
        else:
            key = train[ok] * D + inference[ok]  # least FLOPs reaching the target
        if cons.params is not None:
            # a fixed size: judge each shape at the size asked for, so that a shape does not
            # win by being bigger (or smaller) than asked (issue 10 item 2)
            at_size = _rule_shape(setup, np.array([cons.params]), G, budget, cons, target_loss)
            at_own = _rule_shape(setup, N, G, budget, cons, target_loss)
            key = key - at_own + at_size[0] if target_loss is None else key / at_own * at_size[0]
        off_shape = np.abs(np.log(d / n / r))
        for i in np.lexsort((off_shape, key))[:limit]:
            rows.append(
                (float(key[i]), float(off_shape[i]), G, float(d[i]), float(n[i]), float(D[i]))
            )
    rows.sort()
    return [
        make_configuration(
            setup, d, n, G, D, cons, realizable=True, continuous_loss=continuous_loss, tp=tp
        )
        for _, _, G, d, n, D in rows[:limit]
    ]

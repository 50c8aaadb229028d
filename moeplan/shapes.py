"""Shapes that suit GPUs: buildable MoE architectures near a continuous optimum.

The planner's continuous optimum has a real-valued ``d_model`` and ``n_blocks`` (SPEC.md §1, §4).
A team builds whole numbers that its kernels and parallel layout like. The rules
(:class:`ShapeRules`, all settings):

- ``d_model`` is a multiple of ``multiple_of`` (default 128);
- the head dimension is ``head_dim`` (128) from ``small_d_model`` (2048) upwards and
  ``small_head_dim`` (64) below it, and ``n_heads = d_model / head_dim`` is divisible by the
  tensor-parallel degree ``tp``. Why 2048: at ``d_model < 2048`` a 128-wide head leaves fewer than
  16 heads (8 at width 1024), fewer than GPT-2/3 and Pythia use at those widths, and with ``tp = 8``
  only ``d_model`` = 1024 would be left below 2048; 64-wide heads keep 16 to 32 heads there (GPT-3
  1.3B/2.7B: 2048/2560 wide with 128/80-wide heads; Pythia 410M-1B: 1024-2048 wide, 64-256-wide
  heads), and Flash-Attention kernels run both at full speed;
- ``top_k = G`` (whole), ``d_expert = 4·d_model/G`` a whole multiple of ``expert_multiple_of``
  (64), so ``d_model`` is a multiple of ``16·G``;
- ``n_experts = G·E`` whole and divisible by the expert-parallel degree ``ep``;
- ``n_blocks`` is a whole number nearest to ``d_model / aspect_ratio`` (the whole number below
  and the one above), so the shape follows the law's shape rule as closely as whole numbers allow
  (see :mod:`moeplan.realize` for why a search that may leave the rule exploits the router term).

:func:`enumerate_shapes` lists the buildable shapes nearest a continuous ``d_model``;
:func:`best_shape` picks, for a law and a budget, the buildable shape whose predicted loss at the
budget is lowest (tokens = budget / training FLOPs per token, router included, SPEC.md §3).
"""

from __future__ import annotations

import math
from dataclasses import asdict, field

import numpy as np

from . import accounting
from ._record import dataclass
from .errors import InputError

#: d_model multiple (tensor-core tiles and TP shards of 128 columns).
MULTIPLE_OF_DEFAULT = 128
#: Head dimension for d_model >= SMALL_D_MODEL, and below it.
HEAD_DIM_DEFAULT = 128
SMALL_HEAD_DIM_DEFAULT = 64
SMALL_D_MODEL_DEFAULT = 2048
#: d_expert multiple (grouped-GEMM tiles).
EXPERT_MULTIPLE_OF_DEFAULT = 64
#: top-k above which routing is unlike any model trained at scale (warned).
TOP_K_WARN = 16
#: Candidate granularities of :func:`best_shape`: the powers of two 1..256, as the planner's.
GRANULARITIES_DEFAULT = tuple(float(2**i) for i in range(9))
#: Buildable widths listed on each side of the continuous d_model.
WIDTHS_EACH_SIDE_DEFAULT = 3
#: Multiples of the width step searched on each side before giving up (keeps loops bounded).
_MAX_STEPS = 10_000


@dataclass(frozen=True)
class ShapeRules:
    """What makes a shape buildable (see the module docstring).

    Attributes
    ----------
    multiple_of : int
        ``d_model`` is a multiple of this (default 128).
    head_dim, small_head_dim, small_d_model : int
        Head dimension at ``d_model >= small_d_model`` and below it (128, 64, 2048).
    tp : int
        Tensor-parallel degree: ``n_heads`` is divisible by it (default 1).
    ep : int
        Expert-parallel degree: ``n_experts`` is divisible by it (default 1).
    expert_multiple_of : int
        ``d_expert`` is a multiple of this (default 64).
    """

    multiple_of: int = MULTIPLE_OF_DEFAULT
    head_dim: int = HEAD_DIM_DEFAULT
    small_head_dim: int = SMALL_HEAD_DIM_DEFAULT
    small_d_model: int = SMALL_D_MODEL_DEFAULT
    tp: int = 1
    ep: int = 1
    expert_multiple_of: int = EXPERT_MULTIPLE_OF_DEFAULT

    def __post_init__(self):
        for name in (
            "multiple_of",
            "head_dim",
            "small_head_dim",
            "small_d_model",
            "tp",
            "ep",
            "expert_multiple_of",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 or v > 2**20:
                raise InputError(f"{name} must be a whole number from 1 to 2**20, got {v!r}")

    def head_dim_for(self, d_model: int) -> int:
        """The head dimension the rules give a model of width ``d_model``."""
        return self.small_head_dim if d_model < self.small_d_model else self.head_dim

    def width_step(self, granularity: int) -> int:
        """Every buildable ``d_model`` at this granularity is a multiple of this step."""
        # d_expert = 4·d/G a multiple of m  <=>  d a multiple of m·G / gcd(4, m·G)
        mg = self.expert_multiple_of * granularity
        return math.lcm(self.multiple_of, mg // math.gcd(4, mg))

    def violations(self, shape: Shape) -> list[str]:
        """The rules ``shape`` breaks (empty when it is buildable); used by the tests too."""
        out = []
        if shape.d_model % self.multiple_of:
            out.append(f"d_model {shape.d_model} is not a multiple of {self.multiple_of}")
        if shape.head_dim != self.head_dim_for(shape.d_model):
            out.append(f"head_dim {shape.head_dim} is not {self.head_dim_for(shape.d_model)}")
        if shape.n_heads * shape.head_dim != shape.d_model:
            out.append("n_heads x head_dim is not d_model")
        if shape.n_heads % self.tp:
            out.append(f"n_heads {shape.n_heads} is not divisible by tp {self.tp}")
        if shape.d_expert * shape.top_k != 4 * shape.d_model:
            out.append("d_expert x top_k is not 4 x d_model")
        if shape.d_expert % self.expert_multiple_of:
            out.append(f"d_expert {shape.d_expert} is not a multiple of {self.expert_multiple_of}")
        if shape.n_experts % self.ep:
            out.append(f"n_experts {shape.n_experts} is not divisible by ep {self.ep}")
        if shape.n_experts < shape.top_k or shape.n_blocks < 1:
            out.append("fewer experts than top-k, or no blocks")
        return out


DEFAULT_RULES = ShapeRules()


@dataclass(frozen=True)
class Shape:
    """A buildable MoE architecture in the paper's variables (all whole numbers).

    ``granularity = top_k`` and ``expansion_rate = n_experts / top_k`` (SPEC.md §1). Parameter
    counts exclude embeddings and the router, as the law's N.
    """

    d_model: int
    n_blocks: int
    n_heads: int
    head_dim: int
    d_expert: int
    n_experts: int
    top_k: int

    @property
    def granularity(self) -> float:
        return float(self.top_k)

    @property
    def expansion_rate(self) -> float:
        return self.n_experts / self.top_k

    @property
    def n_active(self) -> float:
        return float(accounting.active_params(self.d_model, self.n_blocks))

    @property
    def n_total(self) -> float:
        return float(accounting.total_params(self.d_model, self.n_blocks, self.expansion_rate))

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(
            granularity=self.granularity,
            expansion_rate=self.expansion_rate,
            n_active=self.n_active,
            n_total=self.n_total,
        )
        return out


def _whole(value, name: str, lo: float = 1.0) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < lo or v > 2**40 or v != round(v):
        raise InputError(f"{name} must be a whole number >= {lo:g}, got {value!r}")
    return round(v)


def _positive(value, name: str, hi: float = 1e12) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0 or v > hi:
        raise InputError(f"{name} must be positive and at most {hi:g}, got {value!r}")
    return v


def _shape(rules: ShapeRules, d: int, n: int, g: int, n_exp: int) -> Shape:
    hd = rules.head_dim_for(d)
    return Shape(
        d_model=d,
        n_blocks=n,
        n_heads=d // hd,
        head_dim=hd,
        d_expert=4 * d // g,
        n_experts=n_exp,
        top_k=g,
    )


def _width_ok(rules: ShapeRules, d: int) -> bool:
    hd = rules.head_dim_for(d)
    return d % hd == 0 and (d // hd) % rules.tp == 0


def buildable_widths(
    d_model: float,
    granularity,
    rules: ShapeRules = DEFAULT_RULES,
    each_side: int = WIDTHS_EACH_SIDE_DEFAULT,
) -> list[int]:
    """The ``each_side`` buildable widths at or below ``d_model`` and as many above, ascending.

    A width is buildable at granularity ``G`` when it is a multiple of
    :meth:`ShapeRules.width_step` and its heads divide by ``tp``.
    """
    d_model = _positive(d_model, "d_model")
    g = _whole(granularity, "granularity G (top-k)")
    each_side = _whole(each_side, "each_side")
    step = rules.width_step(g)
    base = math.floor(d_model / step)
    below: list[int] = []
    above: list[int] = []
    k = base
    while len(below) < each_side and k >= 1 and base - k < _MAX_STEPS:
        if _width_ok(rules, k * step):
            below.append(k * step)
        k -= 1
    k = base + 1
    while len(above) < each_side and k - base < _MAX_STEPS:
        if _width_ok(rules, k * step):
            above.append(k * step)
        k += 1
    return sorted(below) + above


def enumerate_shapes(
    d_model: float,
    granularity,
    expansion_rate=accounting.EXPANSION_RATE_DEFAULT,
    aspect_ratio=accounting.ASPECT_RATIO_DEFAULT,
    rules: ShapeRules = DEFAULT_RULES,
    each_side: int = WIDTHS_EACH_SIDE_DEFAULT,
) -> list[Shape]:
    """Buildable shapes nearest a continuous optimum, nearest ``d_model`` first.

    Parameters
    ----------
    d_model : float
        The continuous optimum's width.
    granularity : int
        ``G`` = top-k (whole).
    expansion_rate : float
        ``E``; ``n_experts = G·E`` must be whole and divisible by ``rules.ep``.
    aspect_ratio : float
        ``d_model / n_blocks`` of the law's shape rule (64 in the paper).
    rules : ShapeRules
        What is buildable.
    each_side : int
        Buildable widths taken at or below and above ``d_model`` (each with the whole
        ``n_blocks`` just below and just above ``d_model / aspect_ratio``).

    Returns
    -------
    list of Shape
        Sorted by ``|d_model - target|``, then ``n_blocks``; empty when ``G·E`` is not a whole
        number divisible by ``rules.ep`` (no width can fix that).
    """
    g = _whole(granularity, "granularity G (top-k)")
    e = _positive(expansion_rate, "expansion rate E", hi=1e6)
    ar = _positive(aspect_ratio, "aspect_ratio", hi=1e4)
    n_exp_f = g * e
    if abs(n_exp_f - round(n_exp_f)) > 1e-9 or round(n_exp_f) % rules.ep or n_exp_f < g:
        return []
    n_exp = round(n_exp_f)
    shapes = []
    for d in buildable_widths(d_model, g, rules, each_side):
        ideal = d / ar
        for n in sorted({max(1, math.floor(ideal)), max(1, math.ceil(ideal))}):
            shapes.append(_shape(rules, d, n, g, n_exp))
    target = float(d_model)
    shapes.sort(key=lambda s: (abs(s.d_model - target), s.d_model, s.n_blocks))
    return shapes


# --------------------------------------------------------------------------- all-to-all


def all_to_all_bytes_per_token(d_model, top_k, n_moe_layers, bytes_per_elem=2, ep=None):
    """Bytes one training token sends through expert-parallel all-to-all, per step.

    ``bytes = 4 · top_k · d_model · bytes_per_elem · n_moe_layers``: in each MoE layer the
    token's hidden state (``d_model`` elements) goes to each of its ``top_k`` experts (dispatch)
    and each expert's output comes back (combine), in the forward pass; the backward pass sends
    the gradients of both the opposite way. That is 4 transfers of ``top_k·d_model`` elements.
    With ``ep`` given, only the share ``(ep - 1)/ep`` that lands on another GPU is counted
    (experts spread evenly, routing uniform); without it every copy counts (an upper bound).
    Vectorised; bytes (not per second).
    """
    out = (
        4.0
        * np.asarray(top_k, dtype=float)
        * np.asarray(d_model, dtype=float)
        * float(bytes_per_elem)
        * np.asarray(n_moe_layers, dtype=float)
    )
    if ep is not None:
        ep_ = np.asarray(ep, dtype=float)
        if np.any(ep_ < 1):
            raise InputError(f"ep must be >= 1, got {ep}")
        out = out * (ep_ - 1.0) / ep_
    return out


def top_k_warnings(top_k) -> list[str]:
    """A warning when top-k exceeds 16 (:data:`TOP_K_WARN`); an empty list otherwise."""
    k = float(top_k)
    if k > TOP_K_WARN:
        return [
            (
                f"top-k {k:g} routes every token to more than {TOP_K_WARN} experts; public MoE "
                f"models route to 1 to 8 (Mixtral 2, DeepSeek-V3 8, Qwen3 8, OLMoE 8): "
                f"all-to-all traffic and small expert GEMMs grow with top-k, so this shape runs "
                f"well below the throughput its FLOP count suggests"
            )
        ]
    return []


# --------------------------------------------------------------------------- best shape


@dataclass(frozen=True)
class ShapeCandidate:
    """One buildable shape scored at a budget: tokens that spend it and the law's loss."""

    shape: Shape
    tokens: float
    loss: float
    flops: float

    def to_dict(self) -> dict:
        return {
            **self.shape.to_dict(),
            "tokens": self.tokens,
            "loss": self.loss,
            "flops": self.flops,
        }


@dataclass(frozen=True)
class ShapeChoice:
    """The buildable shape with the lowest predicted loss at a budget, and its rivals."""

    best: ShapeCandidate
    candidates: tuple = field(default_factory=tuple)  # ShapeCandidate, best first
    budget_flops: float = 0.0
    law: str = ""
    rules: ShapeRules = DEFAULT_RULES
    warnings: tuple = ()

    def to_dict(self) -> dict:
        return {
            "budget_flops": self.budget_flops,
            "law": self.law,
            "best": self.best.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "rules": asdict(self.rules),
            "warnings": list(self.warnings),
        }


def _law_setup(law, expansion_rate, aspect_ratio, c_f, c_r):
    if getattr(law, "form", None) != "fine_grained_moe":
        raise InputError(
            f"best_shape needs a fine-grained MoE law (the loss depends on G); "
            f"{getattr(law, 'name', law)!r} has form {getattr(law, 'form', None)!r}"
        )
    e = (
        expansion_rate
        if expansion_rate is not None
        else (law.expansion_rate or accounting.EXPANSION_RATE_DEFAULT)
    )
    ar = (
        aspect_ratio
        if aspect_ratio is not None
        else (law.aspect_ratio or accounting.ASPECT_RATIO_DEFAULT)
    )
    cf = c_f if c_f is not None else law.c_f
    cr = c_r if c_r is not None else law.router_c_r
    return float(e), float(ar), float(cf), float(cr)


def optimal_width(law, flops, g, e, ar, cf, cr) -> float:
    """The continuous loss-optimal d_model at granularity g, to ~0.1% (a vectorised scan).

    Only the neighbourhood to search is needed here; the planner owns the exact optimum.
    """
    d = np.exp(np.linspace(math.log(16.0), math.log(2.0**19), 6000))
    n = d / ar
    per_token = accounting.flops_per_token_per_block(d, e, g, cf, cr) * n
    tokens = flops / per_token
    params = accounting.total_params(d, n, e)
    ok = tokens >= 1.0
    loss = np.where(ok, law.loss(params, np.maximum(tokens, 1.0), g), np.inf)
    return float(d[int(np.argmin(loss))])


def score_shapes(
    law, flops: float, shapes, c_f: float | None = None, c_r: float | None = None
) -> list[ShapeCandidate]:
    """Tokens that spend ``flops`` on each shape and the law's loss there (vectorised).

    ``tokens = flops / ((12·d²·c_f + d·E·G·c_r)·n_blocks)`` (SPEC.md §3, via
    :func:`moeplan.accounting.tokens_for_flops`); loss ``L(N, D, G)`` with N the shape's total
    non-embedding parameters. Returned in the order given.
    """
    shapes = list(shapes)
    if not shapes:
        return []
    cf = float(c_f if c_f is not None else law.c_f)
    cr = float(c_r if c_r is not None else law.router_c_r)
    d = np.array([s.d_model for s in shapes], dtype=float)
    n = np.array([s.n_blocks for s in shapes], dtype=float)
    g = np.array([s.granularity for s in shapes], dtype=float)
    e = np.array([s.expansion_rate for s in shapes], dtype=float)
    tokens = accounting.tokens_for_flops(flops, d, n, e, g, cf, cr)
    params = accounting.total_params(d, n, e)
    loss = law.loss(params, tokens, g)
    return [
        ShapeCandidate(shape=s, tokens=float(t), loss=float(lo), flops=float(flops))
        for s, t, lo in zip(shapes, tokens, loss)
    ]


def best_shape(
    law,
    flops: float,
    granularities=None,
    expansion_rate=None,
    aspect_ratio=None,
    rules: ShapeRules = DEFAULT_RULES,
    c_f=None,
    c_r=None,
    each_side: int = WIDTHS_EACH_SIDE_DEFAULT,
    widths=None,
    accept=None,
) -> ShapeChoice:
    """The buildable shape with the lowest predicted loss for a FLOPs budget.

    For each candidate granularity, the buildable shapes around the continuous loss-optimal
    width (from ``widths``, a mapping ``G -> d_model`` the planner passes, or from a vectorised
    scan of the law) are scored with :func:`score_shapes`; the lowest loss wins.

    Parameters
    ----------
    law : Law
        A fine-grained MoE law (:func:`moeplan.load_law`).
    flops : float
        Budget, FLOPs (training, router included).
    granularities : sequence of int, optional
        Candidate G (top-k); default the powers of two 1..256.
    expansion_rate, aspect_ratio, c_f, c_r : float, optional
        Overrides of the law's values.
    rules : ShapeRules
        What is buildable (``tp``, ``ep``, multiples, head dims).
    each_side : int
        Buildable widths tried on each side of the continuous width, per G.
    widths : mapping, optional
        Continuous optimal ``d_model`` per G (skips the scan), e.g. the optimum under a
        memory limit.
    accept : callable, optional
        ``accept(shape) -> bool``: shapes it refuses are passed over (e.g. those whose
        training memory does not fit); called lowest loss first, until one is accepted.

    Raises
    ------
    InputError
        For a budget that is not positive and finite, a law without granularity, or when no
        candidate granularity has a buildable shape (e.g. ``G·E`` never divisible by ``ep``).
    """
    f = _positive(flops, "flops", hi=1e40)
    e, ar, cf, cr = _law_setup(law, expansion_rate, aspect_ratio, c_f, c_r)
    grs = GRANULARITIES_DEFAULT if granularities is None else tuple(granularities)
    shapes = []
    for g in grs:
        gi = _whole(g, "granularity G (top-k)")
        d0 = (
            widths[g]
            if widths is not None and g in widths
            else optimal_width(law, f, gi, e, ar, cf, cr)
        )
        shapes.extend(enumerate_shapes(d0, gi, e, ar, rules, each_side))
    scored = [c for c in score_shapes(law, f, shapes, cf, cr) if c.tokens >= 1.0]
    if not scored:
        raise InputError(
            f"no buildable shape at {f:.4g} FLOPs for granularities "
            f"{', '.join(f'{g:g}' for g in grs)} with tp {rules.tp}, ep {rules.ep}: "
            f"n_experts = G·E must be whole and divisible by ep"
        )
    scored.sort(key=lambda c: c.loss)
    best = scored[0] if accept is None else next((c for c in scored if accept(c.shape)), None)
    if best is None:
        raise InputError(
            f"none of the {len(scored)} buildable shapes near the optimum at "
            f"{f:.4g} FLOPs is accepted (e.g. none fits in memory)"
        )
    return ShapeChoice(
        best=best,
        candidates=tuple(scored),
        budget_flops=f,
        law=getattr(law, "name", ""),
        rules=rules,
        warnings=tuple(top_k_warnings(best.shape.top_k)),
    )

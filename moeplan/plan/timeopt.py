"""Plan by wall-clock on measured hardware (issue 16): the time-optimal model for GPU time.

The papers count cost in FLOPs. On a GPU, narrow experts (large granularity G) are small
matrix products that run far below peak, so the model that is best for a FLOPs budget is not
the best for a GPU-time budget. Here the budget is GPU-seconds ``S`` (GPUs x days x 86,400,
or GPU-hours x 3,600) and a candidate of width ``d`` trains on

    D(d) = S / t(d)     tokens,   t(d) = sum over parts of FLOPs per token / measured rate

with ``t`` from :mod:`moeplan.timing` (the profile's throughputs interpolated in
log d_model / log d_expert / log expansion rate; extrapolation flagged). For each candidate
choice (G for the fine-grained law, E for the joint law, the one dense model) the
**time-optimal** width minimises ``L(N(d), D(d), choice)``. ``t`` is a piecewise power law (the
rates are piecewise linear in logs), so the FLOP solver's closed forms do not apply: the
width is found by a dense grid over ``ln d`` (``n_blocks >= 1`` up to d_model 2^20) and a
refinement around the best grid point (finer grids, 16 times narrower each round), vectorised
over the candidates.

The **FLOP-optimal** plan for comparison is the paper's: the best (choice, width) for a FLOPs
budget ``F``, where ``F`` is the budget the same GPU time buys at that plan's own measured
speed: ``F = T(d*) · S / t(d*)`` with ``T`` the law's FLOPs per token (SPEC.md counting), a
fixed point solved on ``ln F`` by grids that narrow around it. Its ``loss_at_same_time`` is its loss trained for
the same GPU time, which by construction is its loss at ``F``; per choice the same is done
with that choice alone. The time-optimal loss is never above the FLOP-optimal one at the same
time (both minimise the same function of ``d``; the FLOP plan just picks a different ``d``).

Not measured: communication between GPUs. ``a2a_bandwidth`` adds a *model* of the
expert-parallel all-to-all (:func:`moeplan.timing.a2a_seconds_per_token`), off by default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..accounting import GPT2_VOCAB_SIZE as VOCAB_DEFAULT  # default vocabulary (head)
from ..accounting import SEQ_LEN_DEFAULT  # default sequence length (attention)
from ..errors import InputError
from .results import Configuration
from .solve import zoom_argmin, zoom_root

if TYPE_CHECKING:
    from ..training import TrainingMemory

#: Widths searched: d_model from the one-block model up to 2^20.
_LN_D_MAX = math.log(2.0**20)
_GRID_POINTS = 721
#: The refinement around the best grid point: 33 widths per round, the bracket 16 times
#: narrower each round; 9 rounds take the two grid steps (0.027 in ln d) to 4e-13. The fixed
#: point in ln F: 33 values per round, 32 times narrower each; 9 rounds take its 18.4 nats to
#: 5e-13.
_ZOOM_POINTS = 33
_ZOOM_ROUNDS = 9
#: Law-FLOP rates bracketing the fixed point F = S · rate: 1 GFLOP/s to 1e17 FLOP/s per GPU.
_RATE_LO, _RATE_HI = 1e9, 1e17
_DAY, _HOUR = 86_400.0, 3_600.0
#: The joint law's SwiGLU expert (3 matrices d x 3d) as the profile's two-matrix expert of the
#: same FLOPs: hidden size 4.5·d.
SWIGLU_AS_TWO_MATRICES = 4.5
COMMUNICATION_NOTE = (
    "communication between GPUs (the all-to-all of expert parallelism, "
    "gradient all-reduce) is not measured"
)


# --------------------------------------------------------------------------------------------
# Budget
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBudget:
    """GPU time: ``gpu_seconds = gpus × days × 86,400`` or ``gpu_hours × 3,600``."""

    gpu_seconds: float
    gpus: int | None  # None: a GPU-hours budget without a number of GPUs
    days: float | None
    gpu_hours: float
    description: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def time_budget(gpus=None, days=None, gpu_hours=None) -> TimeBudget:
    """The GPU-time budget from ``gpus`` and ``days`` or from ``gpu_hours`` (validated as
    :func:`moeplan.hardware.budget_from_hardware` validates them)."""
    from ..hardware import _check_gpus, _check_time

    if (days is None) == (gpu_hours is None):
        raise InputError(
            "a time budget needs exactly one of days (with gpus) and gpu_hours, "
            f"got days={days!r}, gpu_hours={gpu_hours!r}",
            param="days",
        )
    if days is not None:
        if gpus is None:
            raise InputError("days go with gpus: the budget is gpus x days", param="gpus")
        n, t = _check_gpus(gpus), _check_time(days, "days")
        hours = n * t * 24.0
        desc = f"{n} GPUs x {t:g} days = {hours:,.0f} GPU-hours"
        return TimeBudget(
            gpu_seconds=hours * _HOUR, gpus=n, days=t, gpu_hours=hours, description=desc
        )
    n_gpus = None if gpus is None else _check_gpus(gpus)
    hours = _check_time(gpu_hours, "gpu_hours")
    return TimeBudget(
        gpu_seconds=hours * _HOUR,
        gpus=n_gpus,
        days=None if n_gpus is None else hours / n_gpus / 24.0,
        gpu_hours=hours,
        description=f"{hours:,.6g} GPU-hours",
    )


def _check_bandwidth(a2a_bandwidth):
    if a2a_bandwidth is None:
        return None
    if (
        isinstance(a2a_bandwidth, bool)
        or not isinstance(a2a_bandwidth, (int, float))
        or not math.isfinite(a2a_bandwidth)
        or not 0 < a2a_bandwidth <= 1e15
    ):
        raise InputError(
            f"a2a bandwidth must be positive bytes per second per GPU, e.g. 50e9, "
            f"got {a2a_bandwidth!r}",
            param="a2a_bandwidth",
        )
    return float(a2a_bandwidth)


def peak_flops_of(profile) -> float | None:
    """The datasheet bf16 dense peak of the profile's GPU, when moeplan knows it."""
    from ..hardware import ACCELERATORS

    text = f"{profile.name} {profile.gpu}".lower()
    for key in sorted(ACCELERATORS, key=len, reverse=True):
        if key in text.split() or key in text.replace("nvidia", "").replace(" ", ""):
            return ACCELERATORS[key].peak_flops
    return None


# --------------------------------------------------------------------------------------------
# Laws as families of models of one width variable
# --------------------------------------------------------------------------------------------


class _Granular:
    """The fine-grained law (choice G) or a dense law (the one choice G = 1)."""

    def __init__(self, law, choices, expansion_rate, aspect_ratio, c_f, c_r):
        from .solve import GRANULARITIES_DEFAULT, check_granularities, resolve

        self.law = law
        self.setup = resolve(law, expansion_rate, aspect_ratio, c_f, c_r)
        if self.setup.dense:
            if choices:
                raise InputError(
                    f"{law.name} is a dense law: it has no granularity", param="granularities"
                )
            self.choices = np.array([1.0])
        else:
            self.choices = check_granularities(self.setup, choices or GRANULARITIES_DEFAULT)
        self.choice_name = None if self.setup.dense else "granularity"
        self.r = float(self.setup.aspect_ratio)

    def loss(self, d, tokens):
        s = self.setup  # the law's N: embeddings included for the Chinchilla sets
        return s.loss(s.law_params(s.params_factor * d**3, d), tokens, self.choices)

    def law_flops_per_token(self, d):
        from .solve import log_cost_per_token

        x = self.setup.solver_x(np.log(d))
        return np.exp(log_cost_per_token(self.setup, x, self.choices))

    def time_shape(self, d):
        G = self.choices
        if self.setup.dense:
            return d / self.r, 4.0 * d, 1.0, 1.0
        return d / self.r, 4.0 * d / G, G, self.setup.expansion_rate * G

    def training_bytes(self, d, gpus: int, seq_len: float, vocab: float):
        """Least training bytes per GPU of width ``d`` (any layout, :mod:`moeplan.training`)."""
        from ..training import min_bytes_per_gpu

        e = 1.0 if self.setup.dense else float(self.setup.expansion_rate)
        return min_bytes_per_gpu(
            d,
            np.maximum(d / self.r, 1.0),
            e,
            self.choices,
            gpus,
            int(seq_len),
            vocab_size=int(vocab),
        )

    def flop_optimal_d(self, log_flops):
        from .solve import free_log_width

        s = self.setup
        x_min = s.solver_x(math.log(self.r))  # at least one block
        return s.width(np.maximum(free_log_width(s, log_flops, self.choices), x_min))

    def config(self, i, d, n_blocks, tokens, realizable):
        from .limits import NO_LIMITS
        from .realize import make_configuration
        from .solve import law_limits

        return make_configuration(
            self.setup,
            d,
            n_blocks,
            self.choices[i],
            tokens,
            law_limits(self.law, NO_LIMITS),
            realizable=realizable,
        )

    def settings(self) -> dict:
        s = self.setup
        return {
            "expansion_rate": None if s.dense else s.expansion_rate,
            "aspect_ratio": s.aspect_ratio,
            "c_f": s.c_f,
            "c_r": None if s.dense else s.c_r,
        }


class _Joint:
    """The joint law (choice E; top-1 SwiGLU experts, embeddings counted in N)."""

    def __init__(self, law, choices):
        from .experts import _vocab, parse_experts

        self.law = law
        self.choices = np.asarray(parse_experts(choices), dtype=float)
        self.choice_name = "n_experts"
        self.r = float(law.aspect_ratio)
        self.vocab = _vocab(law)

    def _n_act(self, d):
        from .experts import active_params_with_embedding

        return active_params_with_embedding(d, self.vocab, self.r)

    def loss(self, d, tokens):
        irr, p, q = self.law.terms(self._n_act(d), tokens, n_experts=self.choices)
        return irr + p + q

    def law_flops_per_token(self, d):
        return float(self.law.c_f) * self._n_act(d) + 0.0 * self.choices

    def time_shape(self, d):
        return d / self.r, SWIGLU_AS_TWO_MATRICES * d, 1.0, self.choices

    def training_bytes(self, d, gpus: int, seq_len: float, vocab: float):
        """Least training bytes per GPU: E top-1 SwiGLU experts of 9·d² parameters each."""
        from ..training import min_bytes_per_gpu

        return min_bytes_per_gpu(
            d,
            np.maximum(d / self.r, 1.0),
            self.choices,
            1.0,
            gpus,
            int(seq_len),
            vocab_size=int(vocab),
            expert_width=SWIGLU_AS_TWO_MATRICES,
        )

    def flop_optimal_d(self, log_flops):
        """For fixed E the law is ``m·N^mu + n·D^nu + c`` with ``D = F/(c_f·N)``: the optimum
        is ``N^(mu+nu) = nu·n·(F/c_f)^nu / (mu·m)`` (at least one block)."""
        from ..laws import joint_chinchilla_coefficients
        from .experts import active_params_with_embedding, d_model_for_active

        m, mu, n, nu = joint_chinchilla_coefficients(self.choices, **self.law.coefficients)
        lf = np.asarray(log_flops, dtype=float) - math.log(float(self.law.c_f))
        ln_n = (np.log(nu * n / (mu * m)) + nu * lf) / (mu + nu)
        n_min = active_params_with_embedding(self.r, self.vocab, self.r)
        return d_model_for_active(np.maximum(np.exp(ln_n), n_min), self.vocab, self.r)

    def config(self, i, d, n_blocks, tokens, realizable):
        from .experts import make_config

        return make_config(self.law, d, self.choices[i], tokens, realizable=realizable)

    def settings(self) -> dict:
        return {
            "expansion_rate": None,
            "aspect_ratio": self.r,
            "c_f": float(self.law.c_f),
            "c_r": None,
        }


def _family(law, choices, expansion_rate=None, aspect_ratio=None, c_f=None, c_r=None):
    if law.choice == "n_experts":
        for name, value in (
            ("expansion_rate", expansion_rate),
            ("aspect_ratio", aspect_ratio),
            ("c_f", c_f),
            ("c_r", c_r),
        ):
            if value is not None:
                raise InputError(
                    f"{name} does not apply to {law.name}: it plans the number of experts",
                    param=name,
                )
        return _Joint(law, choices)
    return _Granular(law, choices, expansion_rate, aspect_ratio, c_f, c_r)


# --------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------


class _Objective:
    """Loss, time per token and tokens of width ``d`` for every budget and candidate: ``d``
    broadcasts as (..., B, C) against the budgets ``S`` (B, 1) and the candidates (C,)."""

    def __init__(self, fam, model, gpu_seconds, seq_len, vocab, a2a_bandwidth):
        self.S_flat = np.atleast_1d(np.asarray(gpu_seconds, dtype=float))
        self.fam, self.model, self.S = fam, model, self.S_flat[:, None]
        self.seq_len, self.vocab, self.bw = seq_len, vocab, a2a_bandwidth
        from ..timing import C_R_DEFAULT

        # the joint law neglects the router in its FLOPs; on the GPU it still takes time
        self.c_r = fam.setup.c_r if isinstance(fam, _Granular) else C_R_DEFAULT

    def step(self, d):
        nb, de, k, ne = self.fam.time_shape(d)
        return self.model.step_time(
            d, nb, de, k, ne, self.seq_len, self.vocab, c_r=self.c_r, a2a_bandwidth=self.bw
        )

    def seconds_per_token(self, d):
        return self.step(d).seconds_per_token

    def loss(self, d):
        from .. import domain

        tokens = self.S / self.seconds_per_token(d)
        with domain.unchecked(), np.errstate(all="ignore"):
            loss = self.fam.loss(d, tokens)
        return np.where(tokens >= 1.0, loss, np.inf)


def time_optimal_widths(obj: _Objective, x_hi=None):
    """ln d_model minimising the loss at each time budget, per candidate (arrays (B, C)):
    (x, loss, at_edge, at_smallest, at_cap). ``x_hi`` (B, C) caps ln d_model (training
    memory); the search stops there and ``at_cap`` marks the cells whose best width is the cap.
    ``at_edge`` marks the cells with no answer (d_model 2^20, no token, nothing fits)."""
    B, C = obj.S_flat.size, obj.fam.choices.size
    x_lo = math.log(obj.fam.r)
    top = np.full((B, C), _LN_D_MAX) if x_hi is None else np.asarray(x_hi, dtype=float)
    capped = top < _LN_D_MAX
    nothing = ~(top >= x_lo)  # nan (nothing fits) or a cap below the one-block model
    top = np.where(nothing, x_lo, top)
    t = np.linspace(0.0, 1.0, _GRID_POINTS)[:, None, None]
    X = x_lo + t * (top - x_lo)  # (P, B, C)
    L = obj.loss(np.exp(X))
    L = np.where(np.isnan(L), np.inf, L)
    i = np.argmin(L, axis=0)
    last = _GRID_POINTS - 1
    lo = np.take_along_axis(X, np.maximum(i - 1, 0)[None], 0)[0]
    hi = np.take_along_axis(X, np.minimum(i + 1, last)[None], 0)[0]
    x = zoom_argmin(lambda x: obj.loss(np.exp(x)), lo, hi, _ZOOM_POINTS, _ZOOM_ROUNDS, axis=0)
    loss = obj.loss(np.exp(x))
    found = np.isfinite(np.take_along_axis(L, i[None], 0)[0])
    at_cap = capped & (i == last) & ~nothing
    if np.any(at_cap):  # the cap itself, not a point a grid step below it
        x = np.where(at_cap, top, x)
        loss = np.where(at_cap, obj.loss(np.exp(top)), loss)
    at_edge = ((i == last) & ~capped) | ~found | nothing
    return x, loss, at_edge, (i == 0), at_cap


#: Whole-block steps below the memory cap tried for a shape whose exact layout fits.
_FIT_STEPS = 16
#: Widths scanned for the training-memory cap (0.46% steps from the one-block model to 2^20).
_CAP_POINTS = 2100


def _gpu_memory_bytes(prof) -> float | None:
    """Memory per GPU of the profile's device: the catalogue's (as ``optimize --gpu``) when the
    profile is named after a known accelerator, else the measured total in its provenance."""
    from ..hardware import ACCELERATORS

    acc = ACCELERATORS.get(str(prof.name).lower())
    if acc is not None:
        return float(acc.memory_bytes)
    measured = prof.provenance.get("gpu_memory_bytes")
    return float(measured) if measured else None


def width_caps(fam, budgets, gpu_memory, seq_len, vocab) -> np.ndarray:
    """ln of the largest d_model whose training fits each budget's GPUs, per candidate (B, C):
    :func:`moeplan.training.min_bytes_per_gpu` (mixed-precision Adam, ZeRO-1, the least
    model-parallel layout; selective recomputation, micro-batch 1) at most ``gpu_memory``.
    ``_LN_D_MAX`` where the GPU count or memory is unknown (GPU-hours), nan where no width fits."""
    B, C = len(budgets), fam.choices.size
    caps = np.full((B, C), _LN_D_MAX)
    if not gpu_memory:
        return caps
    x = np.linspace(math.log(fam.r), _LN_D_MAX, _CAP_POINTS)
    per_gpus: dict[int, np.ndarray] = {}
    for b, budget in enumerate(budgets):
        if not budget.gpus:
            continue
        n = int(budget.gpus)
        if n not in per_gpus:
            with np.errstate(all="ignore"):
                ok = fam.training_bytes(np.exp(x)[:, None], n, seq_len, vocab) <= gpu_memory
            last = x.size - 1 - np.argmax(ok[::-1], axis=0)
            per_gpus[n] = np.where(ok.any(axis=0), x[last], np.nan)
        caps[b] = per_gpus[n]
    return caps


def _consistent_log_flops(obj: _Objective, best: bool = False, x_hi=None):
    """ln F with ``F = T(d*(F)) · S / t(d*(F))``: per candidate, or (``best``) for the
    FLOP-optimal candidate at F (the paper's plan over all candidates). ``x_hi`` (B, C) caps
    ln d* (training memory), as the FLOP planner caps the width of a model that must fit its
    GPUs. Returns (ln F, d*, j)."""
    from .. import domain

    fam = obj.fam
    C = fam.choices.size
    S = obj.S_flat if best else obj.S
    lo = np.log(S * _RATE_LO) + (0.0 if best else np.zeros(C))
    hi = lo + math.log(_RATE_HI / _RATE_LO)
    d_hi = np.inf if x_hi is None else np.exp(np.where(x_hi < _LN_D_MAX, x_hi, np.inf))

    def state(lnf):  # lnf: (..., B, C), or (..., B) for the best candidate
        if not best:
            d = np.minimum(fam.flop_optimal_d(lnf), d_hi)
            return d, fam.law_flops_per_token(d), obj.seconds_per_token(d), None
        lnf_c = np.broadcast_to(lnf[..., None], lnf.shape + (C,))
        d = np.minimum(fam.flop_optimal_d(lnf_c), d_hi)
        T = fam.law_flops_per_token(d)
        with domain.unchecked(), np.errstate(all="ignore"):
            loss = fam.loss(d, np.exp(lnf_c) / T)
        j = np.argmin(np.where(np.isnan(loss), np.inf, loss), axis=-1)
        d = np.take_along_axis(d, j[..., None], -1)[..., 0]
        T = np.take_along_axis(np.broadcast_to(T, lnf_c.shape), j[..., None], -1)[..., 0]
        return d, T, _seconds_for_choice(obj, d, j), j

    def above(lnf):  # ln F above the fixed point (it falls as ln F rises past it)
        _, T, t, _ = state(lnf)
        return lnf > np.log(S * T / t)

    a, b = zoom_root(above, lo, hi, _ZOOM_POINTS - 2, _ZOOM_ROUNDS)
    lnf = 0.5 * (a + b)
    d, _, _, j = state(lnf)
    return lnf, d, j


def _seconds_for_choice(obj: _Objective, d, j):
    """Seconds per token of width ``d[...]`` at candidate index ``j[...]`` (same shapes)."""
    d = np.asarray(d, dtype=float)
    full = obj.seconds_per_token(np.broadcast_to(d[..., None], d.shape + (obj.fam.choices.size,)))
    return np.take_along_axis(full, np.asarray(j)[..., None], -1)[..., 0]


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimedPlan:
    """One model trained for the GPU-time budget, with its measured speed."""

    choice: float
    config: Configuration
    seconds_per_token: float
    tflops: float  # achieved TFLOP/s (time model's FLOPs, compute parts)
    efficiency: float | None  # tflops / datasheet peak
    parts_seconds_per_token: dict
    communication_seconds_per_token: float | None
    extrapolated: bool
    extrapolated_parts: tuple
    budget_flops: float  # the law's training FLOPs it executes in the time

    def to_dict(self) -> dict:
        out = self.config.to_dict()
        out.update(
            choice=self.choice,
            seconds_per_token=self.seconds_per_token,
            achieved_tflops=self.tflops,
            efficiency=self.efficiency,
            parts_seconds_per_token=dict(self.parts_seconds_per_token),
            communication_seconds_per_token=self.communication_seconds_per_token,
            profile_extrapolated=self.extrapolated,
            profile_extrapolated_parts=list(self.extrapolated_parts),
            flops_in_time=self.budget_flops,
        )
        return out


@dataclass(frozen=True)
class TimeCandidate:
    """Per candidate choice: the FLOP-optimal width and the time-optimal width, same time."""

    choice: float
    time_optimal: TimedPlan
    flops_optimal: TimedPlan

    def to_dict(self) -> dict:
        return {
            "choice": self.choice,
            "time_optimal": self.time_optimal.to_dict(),
            "flops_optimal": self.flops_optimal.to_dict(),
            "loss_time_optimal": self.time_optimal.config.loss,
            "loss_flops_optimal_at_same_time": self.flops_optimal.config.loss,
        }


@dataclass(frozen=True)
class TimeOptimizeResult:
    """``recommended`` is the time-optimal plan; ``flops_optimal`` the paper's FLOP-optimal
    plan at the FLOPs it executes in the same GPU time, with ``loss_at_same_time``."""

    law: str
    choice: str | None
    budget: TimeBudget
    profile: dict
    recommended: TimedPlan
    continuous: TimedPlan
    flops_optimal: TimedPlan
    candidates: tuple
    settings: dict
    warnings: tuple = ()
    success: bool = True
    message: str = "optimal"
    #: the recommended model's training memory on the budget's GPUs (None for GPU-hours)
    training_memory: TrainingMemory | None = None
    #: training memory capped the time-optimal width
    memory_bound: bool = False

    @property
    def loss_at_same_time(self) -> float:
        return self.flops_optimal.config.loss

    def to_dict(self) -> dict:
        fo = self.flops_optimal.to_dict()
        fo["loss_at_same_time"] = self.loss_at_same_time
        return {
            "law": self.law,
            "choice": self.choice,
            "objective": "time",
            "budget": self.budget.to_dict(),
            "budget_flops": self.recommended.budget_flops,
            "profile": dict(self.profile),
            "recommended": self.recommended.to_dict(),
            "continuous": self.continuous.to_dict(),
            "flops_optimal": fo,
            "loss_gain_vs_flops_optimal": self.loss_at_same_time - self.recommended.config.loss,
            "candidates": [c.to_dict() for c in self.candidates],
            "settings": dict(self.settings),
            "communication": self.settings.get("communication"),
            "training_memory": None
            if self.training_memory is None
            else self.training_memory.to_dict(),
            "memory_bound": self.memory_bound,
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
        }


def _loss_range(law, cfg: Configuration):
    """The configuration's loss over the published rounding of the law's coefficients (its own
    N, D and choice held), as the FLOP planner reports it (moeplan.plan.bands)."""
    from .bands import law_loss_range
    from .ranges import law_params

    if law.choice == "n_experts":
        return law_loss_range(law, cfg.n_active_with_embedding, cfg.tokens, cfg.n_experts)
    return law_loss_range(law, law_params(law, cfg), cfg.tokens, cfg.granularity or 1.0)


def _plan_from(
    obj: _Objective,
    st,
    b: int,
    i: int,
    d: float,
    n_blocks: float,
    realizable: bool,
    peak: float | None,
) -> TimedPlan:
    """A :class:`TimedPlan` from a step time ``st`` computed on a (B, C) array of widths."""
    fam = obj.fam
    t = float(st.seconds_per_token[b, i])
    cfg = fam.config(i, d, n_blocks, obj.S_flat[b] / t, realizable)
    cfg = dataclasses.replace(cfg, loss_range=_loss_range(fam.law, cfg))
    tflops = float(st.effective_tflops[b, i])
    comm = None if st.communication_model is None else float(st.communication_model[b, i])
    ext = tuple(
        p
        for p, flag in st.extrapolated_parts.items()
        if bool(np.broadcast_to(flag, st.seconds_per_token.shape)[b, i])
    )
    return TimedPlan(
        choice=float(fam.choices[i]),
        config=cfg,
        seconds_per_token=t,
        tflops=tflops,
        efficiency=None if peak is None else tflops * 1e12 / peak,
        parts_seconds_per_token={
            p: float(np.broadcast_to(v, st.seconds_per_token.shape)[b, i])
            for p, v in st.parts.items()
        },
        communication_seconds_per_token=comm,
        extrapolated=bool(ext),
        extrapolated_parts=ext,
        budget_flops=float(cfg.flops),
    )


def _timed(
    obj: _Objective, b: int, i: int, d: float, n_blocks: float, realizable: bool, peak: float | None
) -> TimedPlan:
    """Budget ``b``'s plan of width ``d`` at candidate ``i``."""
    B, C = obj.S_flat.size, obj.fam.choices.size
    return _plan_from(obj, obj.step(np.full((B, C), float(d))), b, i, d, n_blocks, realizable, peak)


def _realized(
    obj: _Objective, b: int, i: int, d: float, peak, d_cap: float | None = None
) -> TimedPlan:
    """The better of the two whole n_blocks next to ``d / r`` (d_model = r · n_blocks), the
    wider one only when it is within ``d_cap`` (training memory)."""
    r = obj.fam.r
    best: TimedPlan | None = None
    if r != int(r):
        return _timed(obj, b, i, d, d / r, False, peak)
    blocks = {max(1, math.floor(d / r)), max(1, math.ceil(d / r))}
    if d_cap is not None:
        blocks = {n for n in blocks if r * n <= d_cap * (1.0 + 1e-9)} or {min(blocks)}
    for n in sorted(blocks):
        _, d_expert, _, _ = obj.fam.time_shape(np.asarray(r * n, dtype=float))
        de = float(np.ravel(np.broadcast_to(d_expert, obj.fam.choices.shape))[i])
        whole = isinstance(obj.fam, _Joint) or de == int(de)
        plan = _timed(obj, b, i, r * n, float(n), whole, peak)
        if best is None or plan.config.loss < best.config.loss:
            best = plan
    assert best is not None
    return best


def _law_range_warnings(law, fam, cfg) -> list[str]:
    """The law's own extrapolation warnings for the recommended model (as the FLOP planner)."""
    if isinstance(fam, _Joint):
        from .experts import _range_warnings

        return list(_range_warnings(law, cfg))
    from .ranges import law_params

    return list(
        law.range_warnings(
            params=law_params(law, cfg),
            tokens=cfg.tokens,
            granularity=None if fam.setup.dense else cfg.granularity,
        )
    )


def _check_seq_len(seq_len) -> float:
    if (
        isinstance(seq_len, bool)
        or not isinstance(seq_len, (int, float))
        or not math.isfinite(seq_len)
        or not 1 <= seq_len <= 1e8
    ):
        raise InputError(
            f"seq_len must be a number of tokens from 1 to 1e8, got {seq_len!r}", param="seq_len"
        )
    return float(seq_len)


def plan_budgets(
    law,
    profile,
    budgets,
    choices=None,
    *,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    seq_len: float = SEQ_LEN_DEFAULT,
    vocab: float | None = None,
    a2a_bandwidth: float | None = None,
) -> list:
    """:func:`optimize_time` for several :class:`TimeBudget` at once (vectorised search)."""
    from ..profiles import Profile, load_profile
    from ..timing import TimeModel
    from . import _law

    law = _law(law)
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    budgets = list(budgets)
    if not budgets:
        raise InputError("give at least one time budget", param="days")
    bw = _check_bandwidth(a2a_bandwidth)
    sl = _check_seq_len(seq_len)
    fam = _family(law, choices, expansion_rate, aspect_ratio, c_f, c_r)
    V = float(vocab or getattr(law, "vocab_size", None) or VOCAB_DEFAULT)
    obj = _Objective(fam, TimeModel(prof), [b.gpu_seconds for b in budgets], sl, V, bw)
    peak = peak_flops_of(prof)
    gpu_mem = _gpu_memory_bytes(prof)
    caps = width_caps(fam, budgets, gpu_mem, sl, V)
    x, _, at_edge, at_lo, at_cap = time_optimal_widths(obj, caps)
    # where memory binds, the width and loss the GPU time would buy without that limit
    free = time_optimal_widths(obj) if np.any(at_cap) else None
    _, d_f, _ = _consistent_log_flops(obj, x_hi=caps)
    lnf_best, d_fo, j_fo = _consistent_log_flops(obj, best=True, x_hi=caps)
    d_t = np.exp(x)
    st_t, st_f = obj.step(d_t), obj.step(d_f)
    profile_info = {
        "name": prof.name,
        "gpu": prof.gpu,
        "source": prof.source,
        "date": prof.provenance.get("date"),
    }
    results = []
    for b, budget in enumerate(budgets):
        too_big = np.isnan(caps[b])
        if np.all(too_big):
            raise InputError(
                f"{budget.description}: no model of {law.name} fits {budget.gpus} x "
                f"{prof.gpu} in training (mixed-precision Adam, ZeRO-1, sequence {sl:g}, "
                "micro-batch 1); use more GPUs or a shorter sequence",
                param="gpus",
            )
        if np.all(at_edge[b]):
            raise InputError(
                f"{budget.description}: no model of {law.name} trains on at least "
                "one token in that GPU time (or the best width is above d_model "
                "2^20); give more GPU time",
                param="days",
            )
        warnings: list[str] = []
        cands = []
        for i in range(fam.choices.size):
            if too_big[i]:
                warnings.append(
                    f"{_sym(fam)} = {fam.choices[i]:g}: no width fits {budget.gpus} x "
                    f"{prof.gpu} in training; skipped"
                )
                continue
            if at_edge[b, i]:
                warnings.append(
                    f"{_sym(fam)} = {fam.choices[i]:g}: the best width is at the "
                    "edge of the searched range (d_model 2^20 or no token); skipped"
                )
                continue
            cands.append(
                TimeCandidate(
                    choice=float(fam.choices[i]),
                    time_optimal=_plan_from(
                        obj, st_t, b, i, float(d_t[b, i]), float(d_t[b, i]) / fam.r, False, peak
                    ),
                    flops_optimal=_plan_from(
                        obj, st_f, b, i, float(d_f[b, i]), float(d_f[b, i]) / fam.r, False, peak
                    ),
                )
            )
        cands.sort(key=lambda c: c.time_optimal.config.loss)
        i_best = int(np.nonzero(fam.choices == cands[0].choice)[0][0])
        continuous = cands[0].time_optimal
        d_cap = math.exp(caps[b, i_best]) if caps[b, i_best] < _LN_D_MAX else None
        recommended = _realized(obj, b, i_best, continuous.config.d_model, peak, d_cap)
        memory_bound = bool(at_cap[b, i_best])
        memory = _training_memory(recommended.config, budget, prof, gpu_mem, sl, V)
        # the cap relaxes the layout (any tp, fractional stages): step down to a shape that fits
        steps = 0
        while memory_bound and memory is not None and not memory.fits and steps < _FIT_STEPS:
            n_blocks = float(recommended.config.n_blocks) - 1.0
            if n_blocks < 1.0:
                break
            recommended = _timed(obj, b, i_best, fam.r * n_blocks, n_blocks, True, peak)
            memory = _training_memory(recommended.config, budget, prof, gpu_mem, sl, V)
            steps += 1
        if memory_bound and free is not None:
            rc = recommended.config
            warnings.append(
                f"training memory binds: the time-optimal model (d_model "
                f"{math.exp(free[0][b, i_best]):.0f}, loss {free[1][b, i_best]:.4f}) does not "
                f"fit {budget.gpus} x {prof.gpu} in training, so the plan is the widest "
                f"buildable model that fits (d_model {rc.d_model:.0f}, loss {rc.loss:.4f}); "
                "more GPUs for less time lift the limit"
            )
        if memory is not None and not memory.fits:
            warnings.append(f"the recommended model does not fit in training: {memory.reason}")
        j = int(j_fo[b])
        flops_optimal = _timed(obj, b, j, float(d_fo[b]), float(d_fo[b]) / fam.r, False, peak)
        if at_lo[b, i_best]:
            warnings.append(
                "the time-optimal model is the smallest one (one block): the budget "
                "is below what the law describes"
            )
        for plan, what in (
            (recommended, "the time-optimal plan"),
            (flops_optimal, "the FLOP-optimal plan"),
        ):
            if plan.extrapolated:
                cfg = plan.config
                warnings.append(
                    f"{what} is outside the profile's measured grid "
                    f"({', '.join(plan.extrapolated_parts)}: d_model {cfg.d_model:.0f}, "
                    f"d_expert {cfg.d_expert:.0f}, expansion rate {cfg.n_experts / cfg.top_k:g})"
                    "; its speed is the nearest measured edge, not a measurement"
                )
        warnings += _law_range_warnings(law, fam, recommended.config)
        if memory is None:
            warnings.append(
                "training memory is not checked: a budget in GPU-hours does not say how "
                "many GPUs hold the model (give --gpus N --days T)"
            )
        warnings.append(
            (
                "the all-to-all time is a model (bytes per token / --a2a-bandwidth, no "
                "overlap), not a measurement; other " + COMMUNICATION_NOTE
            )
            if bw is not None
            else COMMUNICATION_NOTE
        )
        settings = dict(
            fam.settings(),
            seq_len=sl,
            vocab=V,
            a2a_bandwidth=bw,
            peak_flops=peak,
            communication=(
                "model: all-to-all at --a2a-bandwidth" if bw is not None else "not measured"
            ),
            flops_budget_for_flops_optimal=float(np.exp(lnf_best[b])),
        )
        results.append(
            TimeOptimizeResult(
                law=law.name,
                choice=fam.choice_name,
                budget=budget,
                profile=profile_info,
                recommended=recommended,
                continuous=continuous,
                flops_optimal=flops_optimal,
                candidates=tuple(cands),
                settings=settings,
                warnings=tuple(warnings),
                training_memory=memory,
                memory_bound=memory_bound,
            )
        )
    return results


def _training_memory(cfg, budget: TimeBudget, prof, gpu_memory, seq_len, vocab):
    """The realized plan's training memory on the budget's GPUs (the least model-parallel layout
    that fits, :func:`moeplan.training.training_memory`); None without a GPU count."""
    from .. import training
    from .hardware import memory_shape

    shape = memory_shape(cfg)
    if not budget.gpus or not gpu_memory or shape is None:
        return None
    try:
        return training.training_memory(
            shape,
            str(prof.name),
            int(budget.gpus),
            int(seq_len),
            recompute="selective",
            vocab_size=int(vocab),
            gpu_memory_bytes=gpu_memory,
        )
    except InputError:  # no layout suits the heads and blocks on these GPUs
        return None


def optimize_time(
    law,
    profile,
    gpus=None,
    days=None,
    gpu_hours=None,
    choices=None,
    *,
    expansion_rate=None,
    aspect_ratio=None,
    c_f=None,
    c_r=None,
    seq_len: float = SEQ_LEN_DEFAULT,
    vocab: float | None = None,
    a2a_bandwidth: float | None = None,
) -> TimeOptimizeResult:
    """The time-optimal model for a GPU-time budget on a measured profile, any law.

    Parameters
    ----------
    law : Law or str
    profile : Profile or str
        A measured profile (:func:`moeplan.profiles.load_profile`) or its name/path.
    gpus, days, gpu_hours
        The budget: ``gpus`` x ``days``, or ``gpu_hours``.
    choices : sequence, optional
        Candidate G (fine-grained law) or E (joint law); the planner's defaults otherwise.
    seq_len, vocab
        Sequence length (attention time) and vocabulary (output-head time; default the law's
        vocabulary, else 50,257).
    a2a_bandwidth : float, optional
        Bytes per second per GPU for the all-to-all *model* (off by default).

    Returns
    -------
    TimeOptimizeResult
    """
    return plan_budgets(
        law,
        profile,
        [time_budget(gpus, days, gpu_hours)],
        choices,
        expansion_rate=expansion_rate,
        aspect_ratio=aspect_ratio,
        c_f=c_f,
        c_r=c_r,
        seq_len=seq_len,
        vocab=vocab,
        a2a_bandwidth=a2a_bandwidth,
    )[0]


def _sym(fam) -> str:
    return {"granularity": "G", "n_experts": "E"}.get(fam.choice_name, "choice")


# --------------------------------------------------------------------------------------------
# Sweep and compare by GPU time
# --------------------------------------------------------------------------------------------

#: Most budgets in one time sweep (each is a search over widths x candidates).
MAX_TIME_SWEEP_POINTS = 200


def _row(res: TimeOptimizeResult) -> dict:
    rec, fo, cfg = res.recommended, res.flops_optimal, res.recommended.config
    return {
        "days": res.budget.days,
        "gpus": res.budget.gpus,
        "gpu_hours": res.budget.gpu_hours,
        "gpu_seconds": res.budget.gpu_seconds,
        "choice": rec.choice,
        "granularity": cfg.granularity if res.choice == "granularity" else None,
        "n_experts": cfg.n_experts if res.choice == "n_experts" else None,
        "d_model": cfg.d_model,
        "n_blocks": cfg.n_blocks,
        "n_active": cfg.n_active,
        "n_total": cfg.n_total,
        "tokens": cfg.tokens,
        "loss": cfg.loss,
        "flops": cfg.flops,
        "seconds_per_token": rec.seconds_per_token,
        "achieved_tflops": rec.tflops,
        "efficiency": rec.efficiency,
        "profile_extrapolated": rec.extrapolated,
        "flops_optimal_choice": fo.choice,
        "flops_optimal_d_model": fo.config.d_model,
        "flops_optimal_flops": fo.budget_flops,
        "loss_at_same_time": fo.config.loss,
        "loss_by_choice": {f"{c.choice:g}": c.time_optimal.config.loss for c in res.candidates},
        "memory_bound": res.memory_bound,
    }


@dataclass(frozen=True)
class TimeSweepResult:
    """The time-optimal plan (and the FLOP-optimal one at the same time) per GPU-time budget."""

    law: str
    choice: str | None
    profile: dict
    results: tuple
    warnings: tuple

    COLUMNS = (
        "days",
        "gpus",
        "gpu_hours",
        "choice",
        "d_model",
        "n_blocks",
        "n_active",
        "n_total",
        "tokens",
        "loss",
        "flops",
        "achieved_tflops",
        "efficiency",
        "profile_extrapolated",
        "flops_optimal_choice",
        "loss_at_same_time",
        "flops_optimal_flops",
    )

    def rows(self) -> list[dict]:
        return [_row(r) for r in self.results]

    def to_dict(self) -> dict:
        return {
            "law": self.law,
            "choice": self.choice,
            "objective": "time",
            "profile": dict(self.profile),
            "rows": self.rows(),
            "communication": self.results[0].settings["communication"],
            "settings": dict(self.results[0].settings, flops_budget_for_flops_optimal=None),
            "success": True,
            "message": "optimal",
            "warnings": list(self.warnings),
        }


def _merge_warnings(results) -> tuple:
    out: list[str] = []
    for r in results:
        for w in r.warnings:
            if w not in out:
                out.append(w)
    return tuple(out)


def sweep_time(
    law, profile, gpus, days_from, days_to, points=10, choices=None, **kwargs
) -> TimeSweepResult:
    """The time-optimal plan on ``points`` log-spaced wall-clock budgets of ``gpus`` GPUs,
    from ``days_from`` to ``days_to`` days (both included). ``kwargs`` as
    :func:`optimize_time`."""
    from . import _law

    first_days = float(time_budget(gpus, days_from).days or 0.0)
    last_days = float(time_budget(gpus, days_to).days or 0.0)
    if first_days > last_days:
        raise InputError(
            f"days_from {first_days:g} is above days_to {last_days:g}; give the shorter time first",
            param="days_from",
        )
    if (
        isinstance(points, bool)
        or int(points) != points
        or not 1 <= points <= MAX_TIME_SWEEP_POINTS
    ):
        raise InputError(
            f"points must be a whole number from 1 to {MAX_TIME_SWEEP_POINTS}, got {points!r}",
            param="points",
        )
    if int(points) == 1 and first_days != last_days:
        raise InputError(
            "one point needs days_from equal to days_to; use 2 points or more", param="points"
        )
    days = np.logspace(math.log10(first_days), math.log10(last_days), int(points))
    if points > 1:
        days[0], days[-1] = first_days, last_days
    law = _law(law)
    results = plan_budgets(
        law, profile, [time_budget(gpus, float(t)) for t in days], choices, **kwargs
    )
    warnings = [w for w in _merge_warnings(results) if not w.startswith("training memory binds")]
    bound = [r.budget.days for r in results if r.memory_bound]
    if bound:  # one line for the sweep, not one per budget
        warnings.insert(
            0,
            f"training memory binds at {len(bound)} of {len(results)} budgets (from "
            f"{min(bound):.3g} to {max(bound):.3g} days): the time-optimal model does not fit "
            f"{gpus} GPUs in training there, so those rows are the widest buildable model that "
            "fits (memory_bound on each --json row)",
        )
    return TimeSweepResult(
        law=law.name,
        choice=results[0].choice,
        profile=results[0].profile,
        results=tuple(results),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class TimeCompareRow:
    """At one GPU-time budget: dense vs MoE at choice 1 vs the time-optimal MoE vs the
    FLOP-optimal MoE, every one trained for the same GPU time at its measured speed."""

    budget: TimeBudget
    dense: TimedPlan | None
    moe_choice1: TimedPlan | None
    moe_opt: TimedPlan
    moe_flops_optimal: TimedPlan

    def to_dict(self) -> dict:
        def d(p):
            return None if p is None else p.to_dict()

        return {
            "budget": self.budget.to_dict(),
            "dense": d(self.dense),
            "moe_g1": d(self.moe_choice1),
            "moe_opt": d(self.moe_opt),
            "moe_flops_optimal": d(self.moe_flops_optimal),
            "loss_gain_vs_dense": None
            if self.dense is None
            else self.dense.config.loss - self.moe_opt.config.loss,
            "loss_gain_vs_flops_optimal": self.moe_flops_optimal.config.loss
            - self.moe_opt.config.loss,
        }


@dataclass(frozen=True)
class TimeCompareResult:
    law: str
    dense_law: str | None
    choice: str | None
    profile: dict
    rows: tuple
    warnings: tuple

    def to_dict(self) -> dict:
        return {
            "law": self.law,
            "dense_law": self.dense_law,
            "choice": self.choice,
            "objective": "time",
            "profile": dict(self.profile),
            "rows": [r.to_dict() for r in self.rows],
            "success": True,
            "message": "optimal",
            "warnings": list(self.warnings),
        }


def compare_time(
    law, profile, budgets, dense_law=None, choices=None, **kwargs
) -> TimeCompareResult:
    """Dense vs MoE at G = 1 (E = 1 is the joint law's dense model) vs the time-optimal MoE vs
    the FLOP-optimal MoE, each for the same GPU time (``budgets``: :class:`TimeBudget`s)."""
    from . import _law
    from .granular import resolve_dense_law

    law = _law(law)
    budgets = list(budgets)
    results = plan_budgets(law, profile, budgets, choices, **kwargs)
    warnings = list(_merge_warnings(results))
    dense_results = [None] * len(budgets)
    dense_name = None
    if law.choice == "granularity":
        dl, w = resolve_dense_law(law, None if dense_law is None else _law(dense_law), "model")
        warnings += w
        if dl is not None:
            dense_name = dl.name
            dkw = {k: v for k, v in kwargs.items() if k not in ("expansion_rate", "c_r")}
            dense_results = plan_budgets(dl, profile, budgets, **dkw)
    elif dense_law is not None:
        raise InputError(
            f"dense_law does not apply to {law.name}: its dense model is E = 1", param="dense_law"
        )
    rows = []
    for res, dres in zip(results, dense_results):
        one = next((c.time_optimal for c in res.candidates if c.choice == 1.0), None)
        dense = None if dres is None else dres.recommended
        if law.choice == "n_experts":
            dense, one = one, None
        rows.append(
            TimeCompareRow(
                budget=res.budget,
                dense=dense,
                moe_choice1=one,
                moe_opt=res.recommended,
                moe_flops_optimal=res.flops_optimal,
            )
        )
    return TimeCompareResult(
        law=law.name,
        dense_law=dense_name if law.choice != "n_experts" else law.name + " (E = 1)",
        choice=results[0].choice,
        profile=results[0].profile,
        rows=tuple(rows),
        warnings=tuple(dict.fromkeys(warnings)),
    )

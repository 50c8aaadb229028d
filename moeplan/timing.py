"""Time per training token on measured hardware (SPEC.md §10): the planner's time model.

A candidate's time per token is the sum over the parts of a training step of
``FLOPs per token / measured throughput for that shape``:

==================  ==========================================  ===============================
part                FLOPs per token (counted as SPEC.md counts)  throughput looked up by
==================  ==========================================  ===============================
``experts``         ``6·n_blocks·top_k·2·d_model·d_expert``      expansion rate, d_model,
                                                                 d_expert (dense FFN rate when
                                                                 ``n_experts == 1``)
``attention_proj``  ``6·n_blocks·4·d_model²``                    d_model
``attention``       ``12·n_blocks·seq_len·d_model``              d_model (measured at seq 4096)
``router``          ``c_r·n_blocks·d_model·n_experts``           expansion rate, d_model,
                                                                 d_expert
``head``            ``6·d_model·vocab``                          d_model
==================  ==========================================  ===============================

Interpolation. Throughputs are interpolated in logs: log TFLOP/s is piecewise linear in
log d_expert along each measured d_model, then linear in log d_model between the two
measured d_models around the candidate, then linear in log expansion rate
(``n_experts / top_k``) between the measured expansion rates. So a measured point is
reproduced exactly and, between grid points, the value lies between its neighbours (monotone
along each axis). ``top_k`` is not an axis of its own: in the measured family
``top_k = 4·d_model/d_expert`` (G = top_k at equal active FLOPs), so top_k is implied by the
shape; a candidate outside that family gets the rate of its (d_model, d_expert, expansion
rate). Outside the measured ranges the nearest edge value is used (never a linear
extrapolation) and the candidate is flagged ``extrapolated`` (per part and overall). Attention
throughput is taken at the measured sequence length whatever ``seq_len`` is (not flagged).

Not measured: communication between GPUs. :func:`a2a_seconds_per_token` is a simple *model*
of the expert-parallel all-to-all (bytes per token / bandwidth), off unless asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError

#: FLOPs per router parameter per token (SPEC.md §3).
C_R_DEFAULT = 14.0
PARTS = ("experts", "attention_proj", "attention", "router", "head")
_EPS = 1e-9


@dataclass
class StepTime:
    """Time per training token of each candidate (numpy arrays, broadcast over candidates)."""

    seconds_per_token: np.ndarray
    parts: dict = field(default_factory=dict)  # part -> seconds per token
    flops_per_token: dict = field(default_factory=dict)  # part -> FLOPs per token
    tflops: dict = field(default_factory=dict)  # part -> TFLOP/s used
    extrapolated_parts: dict = field(default_factory=dict)  # part -> bool array
    extrapolated: np.ndarray = None  # any part outside the measured grid
    communication_model: np.ndarray | None = None  # a2a model seconds per token, if asked

    @property
    def total_flops_per_token(self) -> np.ndarray:
        return sum(self.flops_per_token.values())

    @property
    def effective_tflops(self) -> np.ndarray:
        """FLOPs per token over time per token (compute parts only), TFLOP/s."""
        compute = sum(self.parts.values())
        return self.total_flops_per_token / compute / 1e12


class _Table1D:
    """log rate as a piecewise linear function of log d_model."""

    def __init__(self, points: list[tuple[float, float]], what: str):
        if not points:
            raise InputError(f"the profile has no measured {what} point")
        pts = sorted(points)
        self.x = np.log(np.array([p[0] for p in pts], dtype=float))
        self.y = np.log(np.array([p[1] for p in pts], dtype=float))

    def __call__(self, d_model):
        lx = np.log(d_model)
        out = np.interp(lx, self.x, self.y)
        extrap = (lx < self.x[0] - _EPS) | (lx > self.x[-1] + _EPS)
        return np.exp(out), extrap


class _Table2D:
    """log rate over (log d_model, log d_expert): along d_expert per d_model row, then across."""

    def __init__(self, points: list[tuple[float, float, float]]):
        rows: dict[float, list[tuple[float, float]]] = {}
        for d, de, rate in points:
            rows.setdefault(float(d), []).append((math.log(de), math.log(rate)))
        self.d = np.log(np.array(sorted(rows), dtype=float))
        self.rows = []
        for d in sorted(rows):
            r = sorted(rows[d])
            self.rows.append((np.array([p[0] for p in r]), np.array([p[1] for p in r])))

    def __call__(self, ld, lde):
        """log rate and extrapolation flags for arrays of log d_model and log d_expert."""
        vals = np.stack([np.interp(lde, xs, ys) for xs, ys in self.rows])
        outside = np.stack([(lde < xs[0] - _EPS) | (lde > xs[-1] + _EPS) for xs, _ in self.rows])
        n = len(self.d)
        if n == 1:
            return vals[0], outside[0] | (np.abs(ld - self.d[0]) > _EPS)
        i1 = np.clip(np.searchsorted(self.d, ld), 1, n - 1)
        i0 = i1 - 1
        t = np.clip((ld - self.d[i0]) / (self.d[i1] - self.d[i0]), 0.0, 1.0)
        cols = np.arange(np.size(ld))

        def flat(a):
            return a.reshape(n, -1)

        v0, v1 = flat(vals)[i0.ravel(), cols], flat(vals)[i1.ravel(), cols]
        o0, o1 = flat(outside)[i0.ravel(), cols], flat(outside)[i1.ravel(), cols]
        tt = t.ravel()
        value = (1 - tt) * v0 + tt * v1
        extrap = (o0 & (tt < 1 - _EPS)) | (o1 & (tt > _EPS))
        extrap |= ((ld < self.d[0] - _EPS) | (ld > self.d[-1] + _EPS)).ravel()
        return value.reshape(np.shape(ld)), extrap.reshape(np.shape(ld))


class _Table3D:
    """log rate over log expansion rate, then (log d_model, log d_expert) per expansion rate."""

    def __init__(self, points: list[tuple[float, float, float, float]], what: str):
        if not points:
            raise InputError(f"the profile has no measured {what} point")
        series: dict[float, list] = {}
        for e, d, de, rate in points:
            series.setdefault(float(e), []).append((d, de, rate))
        self.e = np.log(np.array(sorted(series), dtype=float))
        self.tables = [_Table2D(series[e]) for e in sorted(series)]

    def __call__(self, expansion_rate, d_model, d_expert):
        le, ld, lde = (
            np.log(np.asarray(a, dtype=float))
            for a in np.broadcast_arrays(expansion_rate, d_model, d_expert)
        )
        results = [t(ld, lde) for t in self.tables]
        vals = np.stack([r[0] for r in results])
        outside = np.stack([r[1] for r in results])
        n = len(self.e)
        if n == 1:
            value, extrap = vals[0], outside[0] | (np.abs(le - self.e[0]) > _EPS)
            return np.exp(value), extrap
        i1 = np.clip(np.searchsorted(self.e, le), 1, n - 1)
        i0 = i1 - 1
        t = np.clip((le - self.e[i0]) / (self.e[i1] - self.e[i0]), 0.0, 1.0)
        v0 = np.take_along_axis(vals, i0[None], 0)[0]
        v1 = np.take_along_axis(vals, i1[None], 0)[0]
        o0 = np.take_along_axis(outside, i0[None], 0)[0]
        o1 = np.take_along_axis(outside, i1[None], 0)[0]
        value = (1 - t) * v0 + t * v1
        extrap = (o0 & (t < 1 - _EPS)) | (o1 & (t > _EPS))
        extrap |= (le < self.e[0] - _EPS) | (le > self.e[-1] + _EPS)
        return np.exp(value), extrap


class TimeModel:
    """Interpolation tables built once from a :class:`~moeplan.profiles.Profile`."""

    def __init__(self, profile):
        self.profile = profile
        self.experts = _Table3D(
            [
                (r["expansion_rate"], r["d_model"], r["d_expert"], r["tflops"])
                for r in profile.ok("expert")
            ],
            "expert",
        )
        self.router = _Table3D(
            [
                (r["expansion_rate"], r["d_model"], 4.0 * r["d_model"] / r["top_k"], r["tflops"])
                for r in profile.ok("router")
            ],
            "router",
        )
        self.dense = {
            part: _Table1D(
                [(r["d_model"], r["tflops"]) for r in profile.ok("dense", part=part)], part
            )
            for part in ("attention_proj", "ffn", "head")
        }
        self.attention = _Table1D(
            [(r["d_model"], r["tflops"]) for r in profile.ok("attention")], "attention"
        )

    def expert_tflops(self, d_model, d_expert, expansion_rate):
        """Interpolated routed-expert TFLOP/s and the extrapolation flag."""
        return self.experts(expansion_rate, d_model, d_expert)

    def step_time(
        self,
        d_model,
        n_blocks,
        d_expert,
        top_k,
        n_experts,
        seq_len,
        vocab,
        c_r: float = C_R_DEFAULT,
        a2a_bandwidth: float | None = None,
        bytes_per_value: float = 2.0,
    ) -> StepTime:
        """Seconds per training token of each candidate (all arguments broadcast)."""
        names = ("d_model", "n_blocks", "d_expert", "top_k", "n_experts", "seq_len", "vocab")
        arrays = np.broadcast_arrays(
            *(
                np.asarray(a, dtype=float)
                for a in (d_model, n_blocks, d_expert, top_k, n_experts, seq_len, vocab)
            )
        )
        for name, a in zip(names, arrays):
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise InputError(f"{name} must be positive and finite")
        d, nb, de, k, ne, s, v = arrays
        if np.any(ne < k):
            raise InputError("n_experts must be at least top_k")
        if not (math.isfinite(c_r) and c_r >= 0):
            raise InputError("c_r must be zero or positive")
        moe = ne > 1
        flops = {
            "experts": 6.0 * nb * k * 2.0 * d * de,
            "attention_proj": 6.0 * nb * 4.0 * d * d,
            "attention": 12.0 * nb * s * d,
            "router": np.where(moe, c_r * nb * d * ne, 0.0),
            "head": 6.0 * d * v,
        }
        rate_moe, ext_moe = self.experts(ne / k, d, de)
        rate_ffn, ext_ffn = self.dense["ffn"](d)
        rate_router, ext_router = self.router(ne / k, d, de)
        rate_proj, ext_proj = self.dense["attention_proj"](d)
        rate_attn, ext_attn = self.attention(d)
        rate_head, ext_head = self.dense["head"](d)
        rates = {
            "experts": np.where(moe, rate_moe, rate_ffn),
            "attention_proj": rate_proj,
            "attention": rate_attn,
            "router": rate_router,
            "head": rate_head,
        }
        extrap = {
            "experts": np.where(moe, ext_moe, ext_ffn),
            "attention_proj": ext_proj,
            "attention": ext_attn,
            "router": moe & ext_router,
            "head": ext_head,
        }
        parts = {p: flops[p] / (rates[p] * 1e12) for p in PARTS}
        total = sum(parts.values())
        comm = None
        if a2a_bandwidth is not None:
            comm = np.where(
                moe, a2a_seconds_per_token(d, nb, k, a2a_bandwidth, bytes_per_value), 0.0
            )
            total = total + comm
        any_extrap = np.zeros(np.shape(d), dtype=bool)
        for flag in extrap.values():
            any_extrap = any_extrap | flag
        return StepTime(
            seconds_per_token=total,
            parts=parts,
            flops_per_token=flops,
            tflops=rates,
            extrapolated_parts=extrap,
            extrapolated=any_extrap,
            communication_model=comm,
        )


def step_time(
    profile, d_model, n_blocks, d_expert, top_k, n_experts, seq_len=4096, vocab=50_257, **kwargs
) -> StepTime:
    """Seconds per training token on a profile (see :class:`TimeModel.step_time`)."""
    return TimeModel(profile).step_time(
        d_model, n_blocks, d_expert, top_k, n_experts, seq_len, vocab, **kwargs
    )


def a2a_seconds_per_token(
    d_model, n_blocks, top_k, bandwidth, bytes_per_value=2.0, remote_fraction=1.0
):
    """A MODEL, not a measurement: expert-parallel all-to-all time per token.

    Each token's activation (``d_model`` values of ``bytes_per_value``) goes to each of its
    ``top_k`` experts and back (dispatch and combine), forward and backward: ``4 · n_blocks ·
    top_k · d_model · bytes_per_value · remote_fraction`` bytes per token, at ``bandwidth``
    bytes/s per GPU, with no overlap with compute and no latency term. ``remote_fraction`` is
    the share of experts on other GPUs (1 - 1/EP with uniform routing).
    """
    bw = np.asarray(bandwidth, dtype=float)
    if np.any(~np.isfinite(bw)) or np.any(bw <= 0):
        raise InputError("bandwidth must be positive (bytes per second per GPU)")
    rf = np.asarray(remote_fraction, dtype=float)
    if np.any(rf < 0) or np.any(rf > 1):
        raise InputError("remote_fraction must be between 0 and 1")
    nbytes = (
        4.0
        * np.asarray(n_blocks, dtype=float)
        * np.asarray(top_k, dtype=float)
        * np.asarray(d_model, dtype=float)
        * bytes_per_value
        * rf
    )
    return nbytes / bw

"""The checks behind ``moeplan check``: a proposed training run against the scaling law.

For a proposal (see :mod:`moeplan.proposal`) or a Hugging Face config plus a token count, this
computes the training FLOPs with the router (SPEC.md §3), the predicted loss, the best loss the
law reaches with the same FLOPs (the continuous optimum of :func:`moeplan.frontier`,
at the proposal's expansion rate, c_f and c_r), the loss gap, the compute efficiency (SPEC.md §4's compute
multiplier against the compute-optimal allocation: the FLOPs the optimum needs to reach the
proposal's loss, :func:`moeplan.plan.solve.flops_to_reach`, divided by the proposal's FLOPs), the
optimal granularity, tokens per parameter and the memory of the weights. Each limit is one named
:class:`Check`.

Default limits, which always apply (see :data:`DEFAULT_LIMITS`): ``max_loss_gap: 0.02`` and
``min_compute_efficiency: 0.8``. Both are deliberately loose: they fail proposals that waste a
fifth or more of their compute, or sit 0.02 nats above the frontier, and leave finer tolerances
to the team's own ``limits``. A file's ``limits`` add to them, replace one by name, or disable
one (``max_loss_gap: null``); ``--limit NAME=VALUE`` (or ``NAME=null``) does the same on top.
Every check says where its limit came from (``default``, ``file``, ``command line``).

Real models (config.json) are mapped as in SPEC.md §6: N = total non-embedding parameters,
G = top-k, E = routed experts / top-k, and their FLOPs are the law's convention
``(c_f·n_active + c_r·router_params)·D`` (no embedding or attention-score FLOPs), so they are
comparable with the law's optimum.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from . import domain
from .accounting import active_params, embedding_params, router_params, total_params
from .coefficients import load_law
from .errors import InputError, MoeplanError
from .laws.chinchilla import counts_embeddings, embedding_convention, embedding_warning
from .proposal import Limit, Proposal
from .units import format_bytes, format_count

#: Limits that always apply unless replaced or disabled by name.
DEFAULT_LIMITS = (
    Limit("max_loss_gap", 0.02, source="default"),
    Limit("min_compute_efficiency", 0.8, source="default"),
)
#: Words for where limits came from, in CheckResult.limits_from.
_ORIGIN_WORDS = {"default": "defaults", "file": "file", "command line": "command line"}

#: Labels of the checks, for reports.
CHECK_TITLES = {
    "max_loss_gap": "loss gap vs the compute-optimal loss at the same FLOPs",
    "min_compute_efficiency": "compute efficiency (optimum's FLOPs for this loss / FLOPs)",
    "max_flops": "training FLOPs",
    "max_total_params": "total parameters",
    "max_memory": "memory of the weights",
    "max_memory_per_gpu": "training memory per GPU (with hardware:)",
}


@dataclass(frozen=True)
class Check:
    """One named check: the measured value against its limit."""

    name: str
    passed: bool
    value: float
    limit: float
    message: str
    line: int | None = None
    source: str = "file"  # where the limit came from: default, file or command line

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "value": self.value,
            "limit": self.limit,
            "message": self.message,
            "line": self.line,
            "source": self.source,
        }


@dataclass(frozen=True)
class CheckResult:
    """Everything ``check`` reports about one file."""

    source: str
    name: str
    law: str
    checks: tuple
    proposal: dict
    optimal: dict
    suggestion: str | None
    limits_from: str  # sources of the limits, e.g. "defaults + file"
    warnings: tuple = field(default_factory=tuple)
    law_choice: str | None = None  # why this law, when moeplan chose it (moeplan.lawpick)
    limits_disabled: tuple = ()  # names of limits switched off with null

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "file": self.source,
            "name": self.name,
            "law": self.law,
            "passed": self.passed,
            "checks": [c.to_dict() for c in self.checks],
            "proposal": dict(self.proposal),
            "optimal": dict(self.optimal),
            "suggestion": self.suggestion,
            "limits_from": self.limits_from,
            "limits_disabled": list(self.limits_disabled),
            "warnings": list(self.warnings),
            "law_choice": self.law_choice,
        }


@dataclass(frozen=True)
class _Subject:
    """What the checks need, however the model was described."""

    n_total: float  # the law's N
    n_active: float
    router_params: float
    granularity: float
    expansion_rate: float
    tokens: float
    flops: float
    router_flops: float
    n_params: float  # everything we know to be stored: N + router (+ embeddings)
    memory_bytes: float
    c_f: float
    c_r: float
    describe: dict
    law_n: float | None = None  # the N the law sees, where it is not n_total (joint: N_act)
    #: (V, tied) of the embeddings a Chinchilla set's N counts (None: the law counts none)
    law_embedding: tuple | None = None


def _c_r(law, override: float | None = None) -> float:
    """FLOPs per router parameter per token: the proposal's, else the law's, else SPEC.md §3's
    14 (a dense law stores c_r = 0, yet a model checked against it may have a router)."""
    if override is not None:
        return override
    return law.router_c_r


def _joint_subject(p: Proposal, law) -> _Subject:
    """A proposal for the joint law (SPEC.md §7): E experts of 3·d_model, top-1, embeddings
    counted in the law's N_act; FLOPs ``c_f·N_act·D``."""
    from .plan.experts import _vocab

    if p.n_experts is None:
        raise InputError(
            f"{p.source}: model.n_experts is missing; {law.name} needs the number "
            f"of experts E (model: {{d_model, n_blocks, n_experts}})"
        )
    d, n, E = p.d_model, p.n_blocks, p.n_experts
    c_f = law.c_f if p.c_f is None else p.c_f
    emb = 2.0 * d * _vocab(law)
    n_active, n_total = 13.0 * d * d * n, (4.0 + 9.0 * E) * d * d * n
    tokens = p.tokens if p.tokens is not None else p.flops / (c_f * (n_active + emb))
    describe = {
        "d_model": d,
        "n_blocks": n,
        "granularity": 1.0,
        "expansion_rate": E,
        "n_experts": E,
        "top_k": 1.0,
        "d_expert": 3.0 * d,
        "vocab_size": _vocab(law),
        "n_embedding": emb,
        "n_active_with_embedding": n_active + emb,
        "n_total_with_embedding": n_total + emb,
    }
    return _Subject(
        n_total,
        n_active,
        0.0,
        1.0,
        E,
        tokens,
        c_f * (n_active + emb) * tokens,
        0.0,
        n_total + emb,
        (n_total + emb) * p.bytes_per_param,
        c_f,
        0.0,
        describe,
        law_n=n_active + emb,
    )


def _subject_from_shape(p: Proposal, law) -> _Subject:
    if law.choice == "n_experts":
        return _joint_subject(p, law)
    if p.n_experts is not None:
        raise InputError(
            f"{p.source}: model.n_experts alone is the joint law's E; for "
            f"{law.name} give model.n_experts with model.top_k"
        )
    dense = law.choice is None
    d, n = p.d_model, p.n_blocks
    if dense:
        if p.granularity not in (None, 1.0) or p.expansion_rate not in (None, 1.0):
            raise InputError(
                f"{p.source}: {law.name} is a dense law; remove the MoE settings "
                f"(granularity, expansion_rate, n_experts, top_k) or use an MoE law"
            )
        E = G = 1.0
    else:
        if p.granularity is None:
            raise InputError(
                f"{p.source}: model.granularity (or n_experts + top_k) is missing; "
                f"an MoE law needs G"
            )
        G = p.granularity
        E = p.expansion_rate if p.expansion_rate is not None else (law.expansion_rate or 64.0)
    c_f = law.c_f if p.c_f is None else p.c_f
    c_r = 0.0 if dense else _c_r(law, p.c_r)
    domain.experts(E, "expansion rate E")  # before counting: no overflow past the domain
    domain.experts(G, "granularity G")
    n_active = float(active_params(d, n))
    n_total = float(total_params(d, n, E))
    router = 0.0 if dense else float(router_params(d, n, E, G))
    # a Chinchilla set's N counts the embeddings (the proposal's vocabulary, else the set's)
    law_vocab, law_tied = embedding_convention(law, p.vocab_size, p.tied_embeddings)
    law_emb = 0.0 if law_vocab is None else float(embedding_params(d, law_vocab, law_tied))
    per_token = c_f * (n_active + law_emb) + c_r * router
    tokens = p.tokens if p.tokens is not None else p.flops / per_token
    flops = per_token * tokens
    vocab, tied = (p.vocab_size, p.tied_embeddings) if law_vocab is None else (law_vocab, law_tied)
    emb = 0.0 if vocab is None else float(embedding_params(d, vocab, tied))
    n_params = n_total + router + emb
    describe = {
        "d_model": d,
        "n_blocks": n,
        "granularity": G,
        "expansion_rate": E,
        "n_experts": E * G,
        "top_k": G,
        "d_expert": 4.0 * d / G,
    }
    if vocab is not None:
        describe.update(
            vocab_size=vocab,
            n_embedding=emb,
            n_active_with_embedding=n_active + router + emb,
            n_total_with_embedding=n_params,
        )
    return _Subject(
        n_total,
        n_active,
        router,
        G,
        E,
        tokens,
        flops,
        c_r * router * tokens,
        n_params,
        n_params * p.bytes_per_param,
        c_f,
        c_r,
        describe,
        law_n=None if law_vocab is None else n_total + law_emb,
        law_embedding=None if law_vocab is None else (law_vocab, law_tied),
    )


def _subject_from_hf(model, law, tokens, flops, bytes_per_param) -> _Subject:
    if law.choice == "n_experts":
        raise InputError(
            f"{law.name} judges proposals written as model: {{d_model, n_blocks, "
            f"n_experts}}; a config.json is judged by the fine-grained laws"
        )
    if law.choice is None and model.is_moe:
        raise InputError(
            f"{law.name} is a dense law and {model.name} is an MoE model; use an "
            f"MoE law such as krajewski2024-moe"
        )
    c_f, c_r = model.c_f, (0.0 if law.choice is None else model.c_r)
    # a Chinchilla set's N counts the model's own embeddings (tied or not, as the config says)
    law_emb = float(model.n_embedding) if counts_embeddings(law) else 0.0
    per_token = c_f * (model.n_active + law_emb) + c_r * model.router_params
    tokens = tokens if tokens is not None else flops / per_token
    describe = {
        "family": model.family,
        "model": model.name,
        "d_model": model.d_model,
        "n_blocks": model.n_blocks,
        "granularity": model.granularity,
        "expansion_rate": model.expansion_rate,
        "n_experts": model.n_experts,
        "top_k": model.top_k,
        "d_expert": model.d_expert,
        "vocab_size": model.vocab_size,
        "n_embedding": model.n_embedding,
        "n_active_with_embedding": model.n_active_with_embedding,
        "n_total_with_embedding": model.n_total_with_embedding,
    }
    n_params = float(model.n_total_with_embedding)
    return _Subject(
        float(model.n_total),
        float(model.n_active),
        float(model.router_params),
        model.granularity,
        model.expansion_rate,
        tokens,
        per_token * tokens,
        c_r * model.router_params * tokens,
        n_params,
        n_params * bytes_per_param,
        c_f,
        c_r,
        describe,
        law_n=float(model.n_total) + law_emb if law_emb else None,
        law_embedding=(float(model.vocab_size), bool(model.tied_embeddings)) if law_emb else None,
    )


def _check_domain(s: _Subject) -> None:
    """The subject inside moeplan's domain (:mod:`moeplan.domain`): at least one training token,
    no more FLOPs than the planner plans for, E and G from 1 to a million."""
    domain.experts(s.granularity, "granularity G")
    domain.experts(s.expansion_rate, "expansion rate E")
    domain.count(s.tokens, "training tokens", minimum=1.0)
    domain.flops(s.flops, "training FLOPs")


def _law_loss(law, s: _Subject) -> float:
    return float(
        law.loss(
            s.n_total if s.law_n is None else s.law_n,
            s.tokens,
            granularity=s.granularity,
            n_experts=s.expansion_rate,
        )
    )


def _settings(law, s: _Subject) -> dict:
    """The planner's settings for the subject (the proposal's E, c_f and c_r for G-laws)."""
    if law.choice == "n_experts":
        return {}
    if law.choice is None:
        return {"c_f": s.c_f}
    return {"expansion_rate": s.expansion_rate, "c_r": s.c_r, "c_f": s.c_f}


def _optimum(law, s: _Subject) -> dict:
    """The compute-optimal configuration at the subject's FLOPs.

    The continuous optimum (real-valued width and depth on the shape rule) gives the reference
    loss; the planner's realizable recommendation (whole numbers), when it has one for this
    expansion rate, is attached as ``recommended`` and used for the suggestion.
    """
    from .plan import frontier  # the planner; numpy only

    kw = _settings(law, s)
    if s.law_embedding is not None:  # the optimum counts the same embeddings as the proposal
        kw.update(vocab_size=s.law_embedding[0], tied_embeddings=s.law_embedding[1])
    fr = frontier(law, s.flops, **kw)
    out = {
        k: float(getattr(fr, k))
        for k in (
            "granularity",
            "d_model",
            "n_blocks",
            "n_active",
            "n_total",
            "tokens",
            "router_flops",
            "loss",
        )
    }
    out["flops"] = s.flops
    out["n_experts"] = float(fr.n_experts)
    out["expansion_rate"] = {None: 1.0, "n_experts": float(fr.n_experts)}.get(
        law.choice, s.expansion_rate
    )
    out["tokens_per_active_param"] = out["tokens"] / out["n_active"]
    out["recommended"] = _recommended(law, s, kw)
    return out


def _recommended(law, s: _Subject, kw: dict) -> dict | None:
    """The planner's whole-number configuration at the same FLOPs, or None without one (e.g. a
    fractional expansion rate, where no granularity gives a whole number of experts)."""
    from .plan import optimize

    try:
        # use_bootstrap=False: check reports no percentiles, so the law's samples go unused
        extra = {} if law.choice == "n_experts" else {"use_bootstrap": False}
        rec = optimize(law, s.flops, **kw, **extra).to_dict().get("recommended")
    except MoeplanError:
        return None
    return dict(rec) if rec else None


def _flops_to_reach(law, loss: float, s: _Subject) -> float:
    """Least FLOPs whose optimum reaches ``loss`` (any candidate G, or E for the joint law)."""
    if law.choice == "n_experts":
        from .plan.experts import DEFAULT_EXPERTS, flops_to_reach_joint

        return min(float(flops_to_reach_joint(law, loss, e)) for e in DEFAULT_EXPERTS)
    from .plan.solve import flops_to_reach

    return float(flops_to_reach(law, loss, **_settings(law, s)))


def _fmt_gap(x: float) -> str:
    return f"{x:+.3f}".replace("-", "\u2212")


def _run_check(limit: Limit, m: dict) -> Check:
    name, lim = limit.name, limit.value
    if name == "max_loss_gap":
        v = m["loss_gap"]
        ok = v <= lim
        where = f"{v:.4f} above" if v >= 0 else f"{-v:.4f} below"
        msg = (
            f"predicted loss {m['loss']:.4f} is {where} the compute-optimal "
            f"{m['optimal_loss']:.4f} at the same FLOPs (limit {lim:g})"
        )
    elif name == "min_compute_efficiency":
        v = m["compute_efficiency"]
        ok = v >= lim
        msg = (
            f"the compute-optimal allocation reaches this loss with {v:.1%} of the FLOPs "
            f"(limit: at least {lim:.1%})"
        )
    elif name == "max_flops":
        v = m["flops"]
        ok = v <= lim
        msg = f"training FLOPs {v:.4g} (router included; limit {lim:.4g})"
    elif name == "max_total_params":
        v = m["n_params"]
        ok = v <= lim
        msg = f"total parameters {format_count(v)} (limit {format_count(lim)})"
    elif name == "max_memory":
        v = m["memory_bytes"]
        ok = v <= lim
        msg = f"weights take {format_bytes(v)} (limit {format_bytes(lim)})"
    else:  # pragma: no cover - parse_limits rejects unknown names
        raise InputError(f"unknown limit {name!r}")
    return Check(name, bool(ok), float(v), float(lim), msg, limit.line, limit.source)


def _suggestion(s: _Subject, m: dict, opt: dict, choice: str | None) -> str | None:
    """ "G=16 with 25.3B tokens (d_model 1664 x 26 blocks, 37.1B params): -0.140 loss at the same
    FLOPs", from the realizable recommendation when there is one, else the continuous optimum."""
    rec = opt.get("recommended")
    target = rec if rec and rec.get("loss") is not None else opt
    gain = m["loss"] - float(target["loss"])
    if not math.isfinite(gain) or gain <= 5e-4:
        return None
    if target is rec:
        shape = f"d_model {target['d_model']:,.0f} x {target['n_blocks']:,.0f} blocks"
    else:
        shape = f"d_model {target['d_model']:,.0f} x {target['n_blocks']:.1f} blocks, continuous"
    shape += f", {format_count(float(target['n_total']))} params"
    head = {None: "", "n_experts": f"E={float(target['n_experts']):g} "}.get(
        choice, f"G={float(target['granularity']):g} "
    )
    return (
        f"{head}with {format_count(float(target['tokens']))} tokens ({shape}): "
        f"{_fmt_gap(-gain)} loss at the same FLOPs"
    )


def evaluate(s: _Subject, law, limits: tuple) -> tuple[dict, dict, tuple, str | None]:
    """Metrics, optimum, checks and suggestion for one subject."""
    loss = _law_loss(law, s)
    opt = _optimum(law, s)  # its continuous optimum's loss is the compute-optimal loss
    opt_loss = opt["loss"]
    needed = _flops_to_reach(law, loss, s)
    m = dict(s.describe)
    m.update(
        n_active=s.n_active,
        n_total=s.n_total,
        router_params=s.router_params,
        tokens=s.tokens,
        flops=s.flops,
        router_flops=s.router_flops,
        loss=loss,
        optimal_loss=opt_loss,
        loss_gap=loss - opt_loss,
        compute_efficiency=needed / s.flops,
        flops_to_reach_loss=needed,
        tokens_per_active_param=s.tokens / s.n_active,
        tokens_per_param=s.tokens / s.n_total,
        n_params=s.n_params,
        memory_bytes=s.memory_bytes,
        c_f=s.c_f,
        c_r=s.c_r,
    )
    m["optimal_granularity"] = opt["granularity"]
    checks = tuple(_run_check(limit, m) for limit in limits)
    return m, opt, checks, _suggestion(s, m, opt, law.choice)


def _merge_limits(file_limits, overrides):
    """(limits, where from): the defaults, then the file's limits, then the command line's,
    each replacing an earlier one of the same name; a None value disables that limit.

    ``where from`` names the sources of the limits that apply, e.g. "defaults + file"
    ("none" when every limit is disabled).
    """
    merged = {lim.name: lim for lim in DEFAULT_LIMITS}
    for source, limits in (("file", file_limits or ()), ("command line", overrides or ())):
        for lim in limits:
            merged.pop(lim.name, None)  # re-inserted last: file order, then command-line order
            merged[lim.name] = dataclasses.replace(lim, source=source)
    active = tuple(lim for lim in merged.values() if lim.value is not None)
    used = [w for key, w in _ORIGIN_WORDS.items() if any(lim.source == key for lim in active)]
    return active, " + ".join(used) or "none"


def _disabled(file_limits, overrides) -> tuple:
    """Names of the limits switched off (a null value as the last word on them)."""
    last = {}
    for limits in (file_limits or (), overrides or ()):
        for lim in limits:
            last[lim.name] = lim.value
    return tuple(name for name, value in last.items() if value is None)


def _warnings(law, s: _Subject) -> list[str]:
    from .hf import expansion_rate_warnings

    out = []
    if law.choice == "granularity":
        out += law.range_warnings(params=s.n_total, tokens=s.tokens, granularity=s.granularity)
        out += expansion_rate_warnings(law, s.expansion_rate)
    elif law.choice is None:
        out += law.range_warnings(params=s.law_n or s.n_total, tokens=s.tokens)
        if s.law_n is None:
            out += embedding_warning(law)
    else:
        out += law.range_warnings(params=s.law_n, tokens=s.tokens, n_experts=s.expansion_rate)
    if s.router_flops > 0 and s.router_flops > s.flops / 2:
        out.append(
            f"routing costs {s.router_flops / s.flops:.0%} of the FLOPs: granularity "
            f"{s.granularity:g} is too high for this width"
        )
    return out


#: Where a limit that is not written in the file (a default or --limit) is annotated: the
#: first of these keys the file has. Training length for the compute checks, model otherwise.
_ANCHORS = {
    "max_loss_gap": ("training.tokens", "training.flops", "training"),
    "min_compute_efficiency": ("training.tokens", "training.flops", "training"),
    "max_flops": ("training.tokens", "training.flops", "training"),
    "max_total_params": ("model",),
    "max_memory": ("model",),
    "max_memory_per_gpu": ("hardware", "model"),
}


def _anchor(limits: tuple, proposal: Proposal) -> tuple:
    out = []
    for lim in limits:
        if lim.line is None:
            line = next(
                (proposal.lines[k] for k in _ANCHORS.get(lim.name, ()) if k in proposal.lines), None
            )
            lim = dataclasses.replace(lim, line=line)
        out.append(lim)
    return tuple(out)


def check_proposal(proposal: Proposal, law=None, limit_overrides: tuple = ()) -> CheckResult:
    """Run the checks on a validated proposal.

    Parameters
    ----------
    proposal : Proposal
        From :func:`moeplan.proposal.load_proposal`.
    law : Law, optional
        Overrides the proposal's ``law`` (default ``krajewski2024-moe``).
    limit_overrides : tuple of Limit
        Limits that replace (by name) or add to the file's limits or the defaults.

    Raises
    ------
    MoeplanError
        For a model or law that cannot be checked (named in the message).
    """
    from .hf import architecture_warnings, load_config

    choice = None
    if law is None and proposal.law is None and proposal.config_path is not None:
        law, choice = _chosen_law(load_config(proposal.config_path))
    law = law or load_law(proposal.law)
    limits, origin = _merge_limits(proposal.limits, limit_overrides)
    limits = _anchor(limits, proposal)
    warnings: list[str] = []
    if proposal.config_path is not None:
        model = load_config(
            proposal.config_path,
            c_f=law.c_f if proposal.c_f is None else proposal.c_f,
            c_r=_c_r(law, proposal.c_r),
        )
        s = _subject_from_hf(model, law, proposal.tokens, proposal.flops, proposal.bytes_per_param)
        warnings += architecture_warnings(model, None)
    else:
        s = _subject_from_shape(proposal, law)
    _check_domain(s)
    warnings += _warnings(law, s)
    per_gpu = [lim for lim in limits if lim.name == "max_memory_per_gpu"]
    limits = tuple(lim for lim in limits if lim.name != "max_memory_per_gpu")
    m, opt, checks, suggestion = evaluate(s, law, limits)
    if proposal.hardware is not None:
        checks += (_memory_per_gpu_check(proposal, law, m, per_gpu[-1] if per_gpu else None),)
    elif per_gpu:
        raise InputError(
            "max_memory_per_gpu needs a hardware: section in the proposal (gpu, "
            "gpus; optional seq_len, micro_batch)"
        )
    suggestion, warnings = _far_from_fits(choice, opt, suggestion, warnings)
    return CheckResult(
        source=proposal.source,
        name=proposal.name,
        law=law.name,
        checks=checks,
        proposal=m,
        optimal=opt,
        suggestion=suggestion,
        limits_from=origin,
        warnings=tuple(warnings),
        law_choice=choice and choice.reason,
        limits_disabled=_disabled(proposal.limits, limit_overrides),
    )


def _memory_per_gpu_check(p: Proposal, law, m: dict, limit: Limit | None) -> Check:
    """Training memory per GPU of the proposal on its ``hardware:`` (SPEC.md §9; the layout
    :func:`moeplan.training.training_memory` chooses) against ``max_memory_per_gpu`` (default:
    the GPU's memory). ``m["training_memory"]`` gets the layout and bytes."""
    from .shapes import Shape
    from .training import VOCAB_SIZE_DEFAULT, training_memory

    if law.choice == "n_experts":
        raise InputError(
            f"{p.source}: hardware: is checked for the fine-grained and dense laws; "
            f"{law.name}'s experts are not the 2-matrix experts of the memory model"
        )
    hw = p.hardware
    d = int(m["d_model"])
    head = 128 if d >= 2048 and d % 128 == 0 else 64 if d % 64 == 0 else d
    shape = Shape(
        d_model=d,
        n_blocks=int(m["n_blocks"]),
        n_heads=d // head,
        head_dim=head,
        d_expert=int(m["d_expert"]),
        n_experts=int(round(m["n_experts"])),
        top_k=int(round(m["top_k"])),
    )
    vocab = int(p.vocab_size) if p.vocab_size is not None else VOCAB_SIZE_DEFAULT
    tm = training_memory(
        shape, hw["gpu"], hw["gpus"], hw["seq_len"], hw["micro_batch"], vocab_size=vocab
    )
    m["training_memory"] = tm.to_dict()
    cap = tm.gpu_memory_bytes if limit is None else float(limit.value)
    total, lay = tm.per_gpu_bytes.total, tm.layout
    ok = total <= cap
    msg = (
        f"training takes {format_bytes(total)} per GPU on {tm.n_gpus} x {tm.gpu} (TP "
        f"{lay.tp} x PP {lay.pp} x DP {lay.dp}, EP {lay.ep}, ZeRO-1; limit "
        f"{format_bytes(cap)})"
    )
    if not tm.fits and limit is None:
        msg += f": {tm.reason}"
    return Check(
        "max_memory_per_gpu",
        bool(ok),
        float(total),
        float(cap),
        msg,
        limit.line if limit is not None and limit.line is not None else p.line_of("hardware"),
        "default" if limit is None else limit.source,
    )


def check_config(
    path,
    tokens=None,
    flops=None,
    law=None,
    limit_overrides: tuple = (),
    bytes_per_param: float = 2.0,
) -> CheckResult:
    """Check a Hugging Face ``config.json`` trained on ``tokens`` (or with ``flops``).

    The default limits apply, with ``limit_overrides`` replacing them by name.
    """
    from .hf import architecture_warnings, load_config

    if tokens is None and flops is None:
        raise InputError(
            f"{path}: a config.json needs the training length: give tokens "
            f"(e.g. 1.4T) or flops (e.g. 1e23)",
            mentions=("tokens", "flops"),
        )
    if tokens is not None and flops is not None:
        raise InputError(
            f"{path}: give tokens or flops, not both (the other follows from the FLOPs formula)",
            mentions=("tokens", "flops"),
        )
    choice = None
    if law is None:  # moeplan.lawpick: the set fitted nearest the model's E
        law, choice = _chosen_law(load_config(path))
    model = load_config(path, c_f=law.c_f, c_r=_c_r(law))
    if law.form == "joint_moe":  # N = active with embeddings, E = experts (moeplan.lawpick)
        return _check_config_joint(
            path, model, law, tokens, flops, limit_overrides, bytes_per_param
        )
    s = _subject_from_hf(model, law, tokens, flops, bytes_per_param)
    _check_domain(s)
    limits, origin = _merge_limits(None, limit_overrides)
    warnings = architecture_warnings(model, None) + _warnings(law, s)
    m, opt, checks, suggestion = evaluate(s, law, limits)
    suggestion, warnings = _far_from_fits(choice, opt, suggestion, warnings)
    return CheckResult(
        source=str(path),
        name=model.name,
        law=law.name,
        checks=checks,
        proposal=m,
        optimal=opt,
        suggestion=suggestion,
        limits_from=origin,
        warnings=tuple(warnings),
        law_choice=choice and choice.reason,
        limits_disabled=_disabled((), limit_overrides),
    )


def _check_config_joint(path, model, law, tokens, flops, limit_overrides, bytes_per_param):
    """A real model under the joint law, through :func:`moeplan.lawpick.joint_evaluation`."""
    from .hf import architecture_warnings
    from .lawpick import joint_evaluation

    ev = joint_evaluation(model, law, tokens=tokens, flops=flops, bytes_per_param=bytes_per_param)
    m, opt, jm = ev["proposal"], ev["optimal"], ev["mapping"]
    domain.count(m["tokens"], "training tokens", minimum=1.0)
    domain.flops(m["flops"], "training FLOPs")
    limits, origin = _merge_limits(None, limit_overrides)
    checks = tuple(_run_check(limit, m) for limit in limits)
    warnings = [
        w for w in architecture_warnings(model, None) if not w.startswith("experts are SwiGLU")
    ]
    warnings += [f"joint law: {n}" for n in jm.notes]
    warnings += law.range_warnings(params=m["n_active"], tokens=m["tokens"], n_experts=jm.n_experts)
    if jm.n_experts > 1:  # E = 1: the total is the active count, checked above
        from .plan.experts import total_params_warning

        total = total_params_warning(law, m["n_total_with_embedding"])
        warnings += [total] if total else []
    suggestion = None
    gain = m["loss"] - opt["loss"]
    if ev["suggest"] and math.isfinite(gain) and gain > 5e-4:
        suggestion = (
            f"E={jm.n_experts} with {format_count(opt['tokens'])} tokens "
            f"(N_act {format_count(opt['n_active'])} with embeddings, d_model "
            f"{opt['d_model']:,.0f}, continuous): {_fmt_gap(-gain)} loss at the same "
            f"FLOPs"
        )
    elif not ev["suggest"]:
        warnings.append(
            f"E = {jm.n_experts} experts, top-{jm.top_k}: the joint law was fitted "
            f"on 1 to 32 experts with top-1 routing; its optimum is shown, no "
            f"suggestion"
        )
    return CheckResult(
        source=str(path),
        name=model.name,
        law=law.name,
        checks=checks,
        proposal=m,
        optimal=opt,
        suggestion=suggestion,
        limits_from=origin,
        warnings=tuple(warnings),
        limits_disabled=_disabled((), limit_overrides),
    )


def _chosen_law(model):
    """(law, LawChoice) for a real model when no law is named: :func:`moeplan.lawpick.choose_law`."""
    from .lawpick import choose_law

    choice = choose_law(model)
    return load_law(choice.name), choice


def _far_from_fits(choice, opt: dict, suggestion, warnings):
    """No suggestion and no recommended run where no shipped fit is near the model's E."""
    if choice is None or not choice.far:
        return suggestion, list(warnings)
    opt["recommended"] = None
    note = (
        f"law choice: {choice.reason}; the optimum shown is the law's figure, not a recommendation"
    )
    return None, [*warnings, note]

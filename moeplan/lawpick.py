"""Which shipped law judges a real model, and the joint law's reading of a real model.

The fine-grained law (Krajewski et al. 2024) has no expansion-rate term: it was fitted at one E.
moeplan ships two fits of it, at E = 64 (``krajewski2024-moe``, the paper's Table 1) and at
E = 16 (``krajewski2024-moe-e16``, its Appendix D), and a dense fit on the same data
(``krajewski2024-dense``). When neither a proposal nor ``--law`` names a law, a real model is
judged by:

- a dense model (no experts): the dense set;
- an MoE: the set fitted nearest its expansion rate in log E. E is read with the top-k mapping of
  SPEC.md §6 (G = routed experts per token, E = routed experts / top-k). A tie in log E (E = 32
  is 2x from both 16 and 64) goes to the E = 16 set: of the two it weights the data term more
  (β = 0.169 against 0.147), so it is the one that asks for more tokens per parameter rather
  than fewer, the safer error for a suggestion.

When E is more than :data:`FAR_FACTOR` (2x) away from the nearest fitted E (E < 8 or E > 128),
no fit describes the model: its figures are still given under the nearest set, marked as such,
and ``check`` gives no suggestion (no recommended run) rather than a wrong one.

Mapping choices, stated in every output: by top-k (the default, SPEC.md §6) as above; by size,
a SwiGLU expert of width f has 3·d·f parameters, the same as a 2-matrix expert of width 1.5·f, so
G_size = 8·d² / (expert params) and E_size = (routed expert params per block) / (8·d²). Shared
experts count in N and N_act and in neither G nor E.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The shipped fine-grained sets and the expansion rate each was fitted at.
FITTED_SETS = (("krajewski2024-moe-e16", 16.0), ("krajewski2024-moe", 64.0))
#: The dense set fitted on the same data as the fine-grained sets.
DENSE_SET = "krajewski2024-dense"
#: Beyond this factor in E from the nearest fitted E no shipped fit describes the model.
FAR_FACTOR = 2.0

MAPPING_TOP_K = (
    "by top-k (SPEC.md section 6): G = routed experts per token, E = routed "
    "experts / top-k, N = total non-embedding parameters (router excluded); "
    "shared experts count in N, not in G or E"
)


@dataclass(frozen=True)
class LawChoice:
    """The shipped law chosen for a model, and why.

    ``far`` is True when E is more than :data:`FAR_FACTOR` from every fitted E: the figures are
    then the nearest set's, unsupported by any fit, and no run is recommended.
    """

    name: str
    reason: str
    far: bool
    fitted_expansion_rate: float | None
    expansion_rate: float
    mapping: str

    def to_dict(self) -> dict:
        return {
            "law": self.name,
            "reason": self.reason,
            "far": self.far,
            "fitted_expansion_rate": self.fitted_expansion_rate,
            "expansion_rate": self.expansion_rate,
            "mapping": self.mapping,
        }


def nearest_fitted(expansion_rate: float) -> tuple[str, float]:
    """(set name, fitted E) of the shipped fine-grained set nearest ``expansion_rate`` in log E;
    a tie goes to the first of :data:`FITTED_SETS` (the E = 16 set)."""
    if not (
        isinstance(expansion_rate, (int, float))
        and math.isfinite(expansion_rate)
        and expansion_rate > 0
    ):
        raise ValueError(f"expansion_rate must be a positive number, got {expansion_rate!r}")
    # a tiny tolerance so that E = 32 (exactly 2x from both) is a tie, whatever the rounding
    return min(FITTED_SETS, key=lambda s: round(abs(math.log(expansion_rate / s[1])), 12))


def choose_law(model) -> LawChoice:
    """The shipped set that judges ``model`` (a :class:`moeplan.hf.HFModel`), with the reason.

    See the module docstring for the rule.
    """
    if not model.is_moe:
        return LawChoice(
            DENSE_SET,
            "dense model (no experts): the dense set fitted on the same data as the MoE sets",
            False,
            None,
            1.0,
            "dense: E = G = 1",
        )
    E = float(model.expansion_rate)
    name, fitted = nearest_fitted(E)
    factor = max(E / fitted, fitted / E)
    away = "exactly this E" if factor == 1 else f"{factor:.3g}x away"
    where = (
        f"E = {model.n_experts}/{model.top_k} = {E:.4g} (routed experts / top-k); "
        f"nearest fitted E in log E is {fitted:g} ({away})"
    )
    if factor > FAR_FACTOR * (1 + 1e-9):
        reason = (
            f"{where}, more than {FAR_FACTOR:g}x from every fitted E (16, 64): no shipped "
            f"fit describes this model; figures from {name}, no suggestion"
        )
        return LawChoice(name, reason, True, fitted, E, MAPPING_TOP_K)
    tie = abs(math.log(E / 16.0)) == abs(math.log(64.0 / E)) or math.isclose(E, 32.0)
    reason = f"{where}: {name}" + (
        " (a tie; the E = 16 set asks for more tokens per parameter)" if tie else ""
    )
    return LawChoice(name, reason, False, fitted, E, MAPPING_TOP_K)


# --------------------------------------------------------------------------- the joint law


@dataclass(frozen=True)
class JointMapping:
    """A real model in the joint law's variables (Ludziejewski et al. 2025, SPEC.md §7).

    ``n_active`` is N_act *with* embeddings (input embedding and output head, the law's
    convention); ``n_experts`` is E, the number of routed experts; the law's FLOPs are
    ``6·N_act·D`` (router neglected).
    """

    n_active: int
    n_total: int
    n_experts: int
    top_k: int
    flops_per_token: float
    notes: tuple

    def to_dict(self) -> dict:
        return {
            "params": self.n_active,
            "n_active_with_embedding": self.n_active,
            "n_total_with_embedding": self.n_total,
            "n_experts": self.n_experts,
            "top_k": self.top_k,
            "flops_per_token": self.flops_per_token,
            "rule": "N = active parameters with embeddings (input embedding and output "
            "head); E = routed experts per MoE block; FLOPs = 6 N D",
            "notes": list(self.notes),
        }


def joint_mapping(model, c_f: float = 6.0) -> JointMapping:
    """Map ``model`` (a :class:`moeplan.hf.HFModel`) to the joint law's N_act, E and FLOPs."""
    notes = []
    n_e = model.n_experts if model.is_moe else 1
    if model.is_moe and model.top_k > 1:
        notes.append(
            f"the joint law was fitted with top-1 routing (Switch, experts of the dense "
            f"FFN's size); this model routes each token to {model.top_k} of {n_e} "
            f"experts, so N_act counts all {model.top_k} and E = {n_e} is read as the "
            f"number of experts: the law never saw top-k > 1, the figures are an "
            f"extrapolation in kind"
        )
    if model.n_shared_experts:
        notes.append(
            "shared experts count in N_act (every token visits them); the joint law's "
            "models have none"
        )
    if model.is_moe and model.n_dense_blocks:
        notes.append(
            f"{model.n_dense_blocks} dense block(s) count in N_act; the joint law's "
            f"models are MoE in every block"
        )
    n_act = int(model.n_active_with_embedding)
    return JointMapping(
        n_act,
        int(model.n_total_with_embedding),
        int(n_e),
        int(model.top_k if model.is_moe else 1),
        float(c_f) * n_act,
        tuple(notes),
    )


#: Beyond this many experts (2x the joint law's fitted 32) check gives no suggestion.
JOINT_FAR_EXPERTS = 64


def joint_evaluation(model, law, tokens=None, flops=None, bytes_per_param: float = 2.0) -> dict:
    """A real model judged by the joint law (``law.form == "joint_moe"``) through
    :func:`joint_mapping`: its loss, the compute-optimal loss at the same FLOPs and the same E
    (the joint frontier at that E), the compute efficiency (FLOPs the optimum at that E needs
    for the model's loss / the model's FLOPs) and the optimum's configuration.

    Returns a dict with ``proposal`` (metrics), ``optimal``, ``mapping`` (:class:`JointMapping`)
    and ``suggest`` (False where no suggestion should be made: E beyond
    :data:`JOINT_FAR_EXPERTS`, or top-k > 1, which the law never saw).
    """
    import numpy as np

    from .plan.experts import joint_frontier
    from .plan.experts import total_params_with_embedding as total_params

    jm = joint_mapping(model, c_f=law.c_f)
    N, E = float(jm.n_active), jm.n_experts
    D = float(tokens) if tokens is not None else float(flops) / (law.c_f * N)
    F = law.c_f * N * D
    loss = float(law.loss(N, D, n_experts=E))
    grid = F * np.logspace(-4.0, 4.0, 801)
    fr = joint_frontier(law, grid, experts=[E])
    losses = fr.loss[:, 0]
    i = 400  # grid[400] == F
    needed = float("nan")
    ok = np.isfinite(losses)
    if ok.any() and losses[ok].min() <= loss <= losses[ok].max():
        order = np.argsort(losses[ok])
        needed = float(np.exp(np.interp(loss, losses[ok][order], np.log(grid[ok][order]))))
    opt = {
        "loss": float(losses[i]),
        "flops": F,
        "n_active": float(fr.n_active_with_embedding[i, 0]),
        "n_active_with_embedding": float(fr.n_active_with_embedding[i, 0]),
        "tokens": float(fr.tokens[i, 0]),
        "d_model": float(fr.d_model[i, 0]),
        "n_blocks": float(fr.d_model[i, 0]) / (law.aspect_ratio or 64.0),
        "n_experts": E,
        "expansion_rate": float(E),
        "granularity": 1.0,
        "router_flops": 0.0,
        "recommended": None,
    }
    opt["n_total"] = float(
        total_params(
            opt["d_model"],
            E,
            vocab_size=law.vocab_size or 50257,
            aspect_ratio=law.aspect_ratio or 64.0,
        )
    )
    opt["tokens_per_active_param"] = opt["tokens"] / opt["n_active"]
    m = {
        "family": model.family,
        "model": model.name,
        "d_model": model.d_model,
        "n_blocks": model.n_blocks,
        "n_experts": E,
        "top_k": jm.top_k,
        "granularity": 1.0,
        "expansion_rate": float(E),
        "n_active": N,
        "n_active_with_embedding": N,
        "n_total": float(jm.n_total),
        "n_total_with_embedding": float(jm.n_total),
        "router_params": float(model.router_params),
        "tokens": D,
        "flops": F,
        "router_flops": 0.0,
        "loss": loss,
        "optimal_loss": opt["loss"],
        "loss_gap": loss - opt["loss"],
        "compute_efficiency": needed / F,
        "flops_to_reach_loss": needed,
        "tokens_per_active_param": D / N,
        "tokens_per_param": D / jm.n_total,
        "n_params": float(jm.n_total),
        "memory_bytes": float(jm.n_total) * bytes_per_param,
        "c_f": law.c_f,
        "c_r": 0.0,
        "optimal_granularity": 1.0,
        "law_mapping": jm.to_dict(),
    }
    return {
        "proposal": m,
        "optimal": opt,
        "mapping": jm,
        "suggest": E <= JOINT_FAR_EXPERTS and jm.top_k == 1,
    }

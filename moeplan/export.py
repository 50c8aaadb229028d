"""Export a planned architecture as a Hugging Face ``config.json`` (model_type ``qwen3_moe``).

Qwen3-MoE is the closest family transformers ships to the paper's block: every layer is an MoE
layer of many small routed experts with top-k softmax routing and no shared expert. Mapping
(written into :attr:`HFExport.notes`):

- ``num_experts = n_experts = G·E``, ``num_experts_per_tok = top_k = G``, ``hidden_size =
  d_model``, ``num_hidden_layers = n_blocks``, ``num_attention_heads = num_key_value_heads =
  n_heads`` (multi-head attention, as in the paper), ``head_dim``.
- Experts: the paper's expert is two matrices of width ``d_expert`` (``2·d_model·d_expert``
  parameters); Qwen3-MoE's are SwiGLU (gate, up, down: ``3·d_model·m``). ``moe_intermediate_size
  = m`` is the multiple of 64 nearest ``2/3·d_expert`` when that keeps the expert's parameters
  within 1% of the paper's; otherwise the nearest multiple of 32, 16 or 8 that does, else the
  nearest whole number. Active and total parameters then match the plan to about 1% (the family
  also adds per-head query/key norms: ``2·head_dim`` per block).
- ``intermediate_size`` (the dense MLP of ``mlp_only_layers``) is unused (no such layers); it is set
  to the SwiGLU equivalent of a ``4·d_model`` FFN so the file describes a sensible dense variant.
- ``vocab_size`` defaults to 50,257 (the paper's GPT-2 tokenizer), untied embeddings,
  ``max_position_embeddings`` the training sequence length.

:func:`write_hf_config` writes atomically: a temporary file in the same folder, then
``os.replace``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from . import accounting
from .errors import InputError

#: Multiples tried for the SwiGLU expert width, preferred first.
SWIGLU_MULTIPLES = (64, 32, 16, 8)
#: Largest relative change of an expert's parameters accepted at a coarser multiple.
SWIGLU_TOLERANCE = 0.01
VOCAB_SIZE_DEFAULT = int(accounting.GPT2_VOCAB_SIZE)
MAX_POSITION_DEFAULT = 4096
ROPE_THETA_DEFAULT = 10_000.0
RMS_NORM_EPS_DEFAULT = 1e-6


def swiglu_width(d_expert: int) -> tuple[int, int]:
    """SwiGLU hidden width ``m ≈ 2/3·d_expert`` and the multiple it was rounded to (1: none).

    ``3·d·m`` matches the paper's ``2·d·d_expert`` within :data:`SWIGLU_TOLERANCE` when a
    multiple of 64, 32, 16 or 8 allows it; otherwise ``m`` is the nearest whole number.
    """
    target = 2.0 * d_expert / 3.0
    for mult in SWIGLU_MULTIPLES:
        m = max(mult, mult * round(target / mult))
        if abs(3.0 * m / (2.0 * d_expert) - 1.0) <= SWIGLU_TOLERANCE:
            return m, mult
    return max(1, round(target)), 1


@dataclass(frozen=True)
class HFExport:
    """A ``config.json`` as a dict, and what the mapping changed."""

    config: dict
    notes: tuple
    swiglu_intermediate: int
    expert_params_ratio: float  # SwiGLU expert parameters / the paper's expert parameters

    def to_dict(self) -> dict:
        return {
            "config": self.config,
            "notes": list(self.notes),
            "swiglu_intermediate": self.swiglu_intermediate,
            "expert_params_ratio": self.expert_params_ratio,
        }


def _whole(value, name: str, lo: int = 1) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value != int(value)
        or value < lo
        or value > 2**31
    ):
        raise InputError(f"{name} must be a whole number from {lo} to 2**31, got {value!r}")
    return int(value)


def hf_config(
    shape,
    vocab_size: int = VOCAB_SIZE_DEFAULT,
    max_position_embeddings: int = MAX_POSITION_DEFAULT,
    rope_theta: float = ROPE_THETA_DEFAULT,
    rms_norm_eps: float = RMS_NORM_EPS_DEFAULT,
    tie_word_embeddings: bool = False,
) -> HFExport:
    """The ``qwen3_moe`` config of ``shape`` (a :class:`moeplan.shapes.Shape`).

    Raises
    ------
    InputError
        For a shape or setting that is not whole/positive, or heads that do not tile d_model.
    """
    d = _whole(shape.d_model, "d_model")
    n = _whole(shape.n_blocks, "n_blocks")
    heads = _whole(shape.n_heads, "n_heads")
    hd = _whole(shape.head_dim, "head_dim")
    de = _whole(shape.d_expert, "d_expert")
    ne = _whole(shape.n_experts, "n_experts")
    k = _whole(shape.top_k, "top_k")
    v = _whole(vocab_size, "vocab_size")
    ctx = _whole(max_position_embeddings, "max_position_embeddings")
    if heads * hd != d:
        raise InputError(f"n_heads x head_dim ({heads} x {hd}) must equal d_model {d}")
    if k > ne:
        raise InputError(f"top_k {k} is more than n_experts {ne}")
    for name, x in (("rope_theta", rope_theta), ("rms_norm_eps", rms_norm_eps)):
        if not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
            raise InputError(f"{name} must be positive, got {x!r}")
    m, mult = swiglu_width(de)
    dense_m, _ = swiglu_width(4 * d)
    ratio = 3.0 * m / (2.0 * de)
    config = {
        "architectures": ["Qwen3MoeForCausalLM"],
        "model_type": "qwen3_moe",
        "vocab_size": v,
        "hidden_size": d,
        "intermediate_size": dense_m,
        "moe_intermediate_size": m,
        "num_hidden_layers": n,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "head_dim": hd,
        "num_experts": ne,
        "num_experts_per_tok": k,
        "decoder_sparse_step": 1,
        "mlp_only_layers": [],
        "norm_topk_prob": True,
        "output_router_logits": False,
        "router_aux_loss_coef": 0.001,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "max_position_embeddings": ctx,
        "rope_theta": float(rope_theta),
        "rope_scaling": None,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": n,
        "rms_norm_eps": float(rms_norm_eps),
        "initializer_range": 0.02,
        "use_cache": True,
        "tie_word_embeddings": bool(tie_word_embeddings),
        "torch_dtype": "bfloat16",
    }
    how = (
        f"a multiple of {mult}"
        if mult > 1
        else "the nearest whole number (no multiple of 8 came within 1%)"
    )
    notes = (
        (
            f"experts: the paper's 2-matrix expert of width {de} ({2 * de}·d parameters) is a "
            f"SwiGLU expert of width {m} ({3 * m}·d parameters, {100 * (ratio - 1):+.2f}%): about "
            f"2/3·d_expert, {how}"
        ),
        (
            f"{ne} experts, top-{k}, multi-head attention ({heads} heads of {hd}); qwen3_moe adds "
            f"per-head query/key norms"
        ),
        f"intermediate_size {dense_m} is unused (no dense layers)",
    )
    return HFExport(config=config, notes=notes, swiglu_intermediate=m, expert_params_ratio=ratio)


def write_hf_config(path, shape, **kwargs) -> HFExport:
    """Write :func:`hf_config` of ``shape`` to ``path`` as JSON, atomically.

    The JSON goes to a temporary file in the target folder and replaces ``path`` with
    ``os.replace``, so a reader never sees half a file and a failure leaves no partial file.

    Raises
    ------
    InputError
        When the folder does not exist or ``path`` is a folder.
    """
    export = hf_config(shape, **kwargs)
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"folder {str(folder)!r} for the config does not exist")
    if target.is_dir():
        raise InputError(f"{str(target)!r} is a folder; give a file name such as config.json")
    from .fileio import atomic_write

    atomic_write(target, json.dumps(export.config, indent=2) + "\n", param="hf_config")
    return export

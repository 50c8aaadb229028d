"""Exact parameter and FLOPs counts of real models from a Hugging Face style ``config.json``.

Each supported ``model_type`` (a *family*) has a reader that turns the config into a list of
:class:`BlockCount` groups (identical Transformer blocks), counted tensor by tensor as the
family's modelling code builds them: SwiGLU experts are three matrices, grouped-query attention
has ``n_kv_heads`` key/value heads, biases, query/key norms, attention sinks and layer norms are
counted where the family has them, ``head_dim`` is taken from the config when it gives it.

Conventions (CLI.md, SPEC.md §1 and §6):

- ``n_total`` / ``n_active`` are *non-embedding* counts with the router excluded, like the
  paper's N and N_act; ``router_params`` is given separately.
- ``n_embedding`` is the input embedding plus the output head (a tied matrix counted once).
- ``n_total_with_embedding`` = ``n_total + router_params + n_embedding``: every parameter of
  the main model, the figure vendors publish as "total". ``n_active_with_embedding`` is
  everything a token touches (input embedding row and output head included), which is the
  convention of Mixtral's and OLMoE's published "active" figures; ``n_active_with_output_head``
  leaves the input embedding out (lookups do no arithmetic), the convention of DeepSeek's and
  OpenAI's figures.
- A multi-token-prediction module (DeepSeek-V3) is reported separately and is in no total.
- Mapping to the fine-grained law (SPEC.md §6): G = routed experts per token (top-k),
  E = routed experts / top-k, N = ``n_total``. Dense models map to E = G = 1.

FLOPs per token count every matrix multiply at 2 FLOPs per weight in the forward pass
(norm and bias parameters are counted like weights, a negligible overcount); training is
``c_f`` per weight (6: forward, input gradient, weight gradient) and ``c_r`` per router weight
(SPEC.md §3). Attention scores (``QKᵀ`` and ``AV``) cost ``2·n_heads·(d_qk + d_v)·ctx`` forward
FLOPs per token per block with ``ctx = min(seq_len, sliding window)``, the full context as in
Kaplan et al. 2020 and the PaLM MFU formula (no halving for the causal mask); training is 3×.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import domain
from .accounting import C_F_DEFAULT, C_R_DEFAULT, SEQ_LEN_DEFAULT
from .errors import FileFormatError
from .yamlio import load_json_file

#: Upper bounds that keep a malicious config from making us loop for ever.
_MAX_LAYERS = 100_000
_MAX_DIM = 2**31


@dataclass(frozen=True)
class BlockCount:
    """One group of identical Transformer blocks, counted exactly.

    Parameter fields are per block; ``count`` is how many such blocks the model has.
    ``attention`` includes biases, query/key norms and sinks; ``ffn_total``/``ffn_active`` hold
    the feed-forward part (routed experts, shared experts or the dense MLP) without the router.
    """

    kind: str  # "moe" or "dense"
    count: int
    attention: int
    norms: int
    routed_total: int = 0  # all routed experts of the block (weights and biases)
    routed_active: int = 0  # the top-k routed experts a token visits
    shared: int = 0  # shared experts (every token visits them)
    dense_mlp: int = 0  # the MLP of a dense block
    router: int = 0  # router (gate) weights and biases, incl. shared-expert gates
    score_dims: int = 0  # n_heads·(d_qk + d_v): attention-score FLOPs per context token / 2
    window: int | None = None  # sliding-window length, None for full attention

    @property
    def total(self) -> int:
        return self.attention + self.norms + self.routed_total + self.shared + self.dense_mlp

    @property
    def active(self) -> int:
        return self.attention + self.norms + self.routed_active + self.shared + self.dense_mlp


@dataclass(frozen=True)
class HFModel:
    """Parameter counts, FLOPs per token and the law mapping of one real model.

    Counts are exact integers; FLOPs are floats. See the module docstring for conventions.
    """

    family: str
    name: str
    vocab_size: int
    d_model: int
    n_blocks: int
    n_moe_blocks: int
    n_dense_blocks: int
    tied_embeddings: bool
    n_experts: int  # routed experts per MoE block (1 for a dense model)
    top_k: int  # routed experts per token (1 for a dense model)
    n_shared_experts: int
    d_expert: int  # hidden size of one routed expert (d_ff of a dense model)
    gated_experts: bool  # SwiGLU-style three-matrix experts
    granularity: float  # law G = top_k
    expansion_rate: float  # law E = n_experts / top_k
    granularity_by_size: float  # 8·d_model² / (params of one expert): G implied by expert size
    expansion_rate_by_size: float  # routed expert params per block / (8·d_model²)
    n_total: int
    n_active: int
    router_params: int
    n_embedding: int
    n_input_embedding: int
    n_output_head: int
    n_total_with_embedding: int
    n_active_with_embedding: int
    n_active_with_output_head: int
    breakdown: dict  # part -> {"total": int, "active": int}
    mtp_params: int  # multi-token prediction module(s), own parameters, in no total
    mtp_params_in_checkpoint: int  # the same plus the embedding/head copies checkpoints store
    seq_len: int
    c_f: float
    c_r: float
    flops_per_token: float  # training, router, attention scores and output head included
    flops_per_token_forward: float
    flops_breakdown: dict  # forward FLOPs per token by part, and the law's convention
    law_flops_per_token: float  # c_f·n_active + c_r·router_params (SPEC.md §3 convention)
    is_moe: bool
    notes: tuple = field(default_factory=tuple)  # architecture differences from the paper

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        out["law_mapping"] = {
            "granularity": self.granularity,
            "expansion_rate": self.expansion_rate,
            "n_experts": self.n_experts,
            "top_k": self.top_k,
            "params": self.n_total,
            "rule": "G = routed experts per token (top-k); E = routed experts / top-k; "
            "N = total non-embedding parameters, router excluded",
        }
        return out


# --------------------------------------------------------------------------- config access


class _Config:
    """Typed, named access to a config mapping; every problem names the key and the file."""

    def __init__(self, data: dict, source: str, family: str, prefix: str = ""):
        self.data = data
        self.source = source
        self.family = family
        self.prefix = prefix

    def _where(self, key):
        return f"{self.source}: {self.prefix}{key}"

    def has(self, key) -> bool:
        return self.data.get(key) is not None

    def int(self, key, default=None, *, minimum=1, maximum=_MAX_DIM) -> int:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise FileFormatError(
                    f"{self._where(key)} is missing; a {self.family} config needs it"
                )
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise FileFormatError(f"{self._where(key)} must be a whole number, got {value!r}")
        value = int(value)
        if not minimum <= value <= maximum:
            raise FileFormatError(
                f"{self._where(key)} must be between {minimum} and {maximum}, got {value}"
            )
        return value

    def opt_int(self, key, *, minimum=1) -> int | None:
        return self.int(key, 0, minimum=minimum) if self.has(key) else None

    def bool(self, key, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise FileFormatError(f"{self._where(key)} must be true or false, got {value!r}")
        return value

    def int_list(self, key) -> list[int]:
        value = self.data.get(key)
        if value is None:
            return []
        if (
            not isinstance(value, list)
            or len(value) > _MAX_LAYERS
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            raise FileFormatError(f"{self._where(key)} must be a list of layer indices")
        return value

    def str_list(self, key) -> list[str]:
        value = self.data.get(key)
        if value is None:
            return []
        if (
            not isinstance(value, list)
            or len(value) > _MAX_LAYERS
            or not all(isinstance(v, str) for v in value)
        ):
            raise FileFormatError(f"{self._where(key)} must be a list of strings")
        return value

    def sub(self, key) -> _Config:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise FileFormatError(
                f"{self._where(key)} must be an object (a {self.family} config nests it)"
            )
        return _Config(value, self.source, self.family, prefix=f"{self.prefix}{key}.")

    def head_dim(self, hidden: int, n_heads: int) -> int:
        # Several families give head_dim explicitly and it need not be hidden/n_heads
        # (Qwen3: 128 with 32 heads at width 2048; gpt-oss: 64 with 64 heads at width 2880).
        if self.has("head_dim"):
            return self.int("head_dim")
        if hidden % n_heads:
            raise FileFormatError(
                f"{self.source}: hidden size {hidden} is not divisible by "
                f"{n_heads} attention heads and no head_dim is given"
            )
        return hidden // n_heads


# --------------------------------------------------------------------------- building blocks


def _gqa(
    h, n_heads, n_kv, head_dim, *, qkv_bias=False, o_bias=False, qk_norm=None, sinks=False
) -> tuple[int, int]:
    """Grouped-query attention: (parameters, score dims n_heads·(d_qk + d_v)).

    ``qk_norm`` is None, ``"per_head"`` (one norm of head_dim for q and one for k, Qwen3) or
    ``"full"`` (over the whole q and k projection widths, OLMoE).
    """
    q, kv = n_heads * head_dim, n_kv * head_dim
    params = h * q + 2 * h * kv + q * h
    if qkv_bias:
        params += q + 2 * kv
    if o_bias:
        params += h
    if qk_norm == "per_head":
        params += 2 * head_dim
    elif qk_norm == "full":
        params += q + kv
    if sinks:
        params += n_heads
    return params, n_heads * 2 * head_dim


def _mla(c: _Config, h: int) -> tuple[int, int]:
    """DeepSeek multi-head latent attention: (parameters, score dims).

    Queries go through an optional low-rank bottleneck (q_a_proj, its norm, q_b_proj); keys and
    values share a compressed latent (kv_a_proj_with_mqa, which also emits the shared rotary
    key, its norm, and kv_b_proj that expands it per head).
    """
    n_heads = c.int("num_attention_heads")
    q_lora = c.opt_int("q_lora_rank")
    kv_lora = c.int("kv_lora_rank")
    rope = c.int("qk_rope_head_dim")
    nope = c.int("qk_nope_head_dim")
    v_dim = c.int("v_head_dim")
    bias = c.bool("attention_bias", False)
    qk = nope + rope
    if q_lora:
        params = h * q_lora + q_lora + q_lora * n_heads * qk + (q_lora if bias else 0)
    else:
        params = h * n_heads * qk
    params += h * (kv_lora + rope) + (kv_lora + rope if bias else 0)  # kv_a_proj_with_mqa
    params += kv_lora  # kv_a_layernorm
    params += kv_lora * n_heads * (nope + v_dim)  # kv_b_proj
    params += n_heads * v_dim * h + (h if bias else 0)  # o_proj
    return params, n_heads * (qk + v_dim)


def _mlp(h: int, d_ff: int, gated: bool = True, bias: bool = False) -> int:
    """A feed-forward network: SwiGLU (gate, up, down) or the classic two matrices."""
    n = (3 if gated else 2) * h * d_ff
    if bias:
        n += (2 * d_ff if gated else d_ff) + h
    return n


def _moe_block(
    count,
    attention,
    score_dims,
    norms,
    *,
    h,
    n_experts,
    top_k,
    expert,
    router,
    shared=0,
    window=None,
) -> BlockCount:
    return BlockCount(
        kind="moe",
        count=count,
        attention=attention,
        norms=norms,
        routed_total=n_experts * expert,
        routed_active=top_k * expert,
        shared=shared,
        router=router,
        score_dims=score_dims,
        window=window,
    )


def _dense_block(count, attention, score_dims, norms, mlp, window=None) -> BlockCount:
    return BlockCount(
        kind="dense",
        count=count,
        attention=attention,
        norms=norms,
        dense_mlp=mlp,
        score_dims=score_dims,
        window=window,
    )


def _group(blocks: list[BlockCount]) -> list[BlockCount]:
    """Merge identical blocks so the result lists each distinct block once with its count."""
    merged: dict = {}
    for b in blocks:
        key = tuple(v for k, v in asdict(b).items() if k != "count")
        if key in merged:
            old = merged[key]
            merged[key] = BlockCount(**{**asdict(old), "count": old.count + b.count})
        else:
            merged[key] = b
    return list(merged.values())


@dataclass(frozen=True)
class _Arch:
    """What a family reader returns: blocks plus the model-wide facts."""

    blocks: list
    vocab_size: int
    d_model: int
    tied: bool
    final_norm: int
    n_experts: int
    top_k: int
    n_shared_experts: int
    d_expert: int
    expert_params: int  # parameters of one routed expert (0 for dense)
    gated: bool
    notes: tuple
    mtp_params: int = 0
    mtp_params_in_checkpoint: int = 0
    head_bias: int = 0  # a bias on the output head (Phi-3.5-MoE's lm_head_bias)


# --------------------------------------------------------------------------- families


def _common(c: _Config):
    h = c.int("hidden_size")
    n_layers = c.int("num_hidden_layers", maximum=_MAX_LAYERS)
    n_heads = c.int("num_attention_heads")
    n_kv = c.int("num_key_value_heads", n_heads)
    if n_heads % n_kv:
        raise FileFormatError(
            f"{c.source}: num_attention_heads {n_heads} is not a multiple of "
            f"num_key_value_heads {n_kv}"
        )
    return h, n_layers, n_heads, n_kv, c.head_dim(h, n_heads)


def _check_top_k(c: _Config, n_experts, top_k, key_e, key_k):
    if top_k > n_experts:
        raise FileFormatError(f"{c.source}: {key_k} {top_k} is more than {key_e} {n_experts}")


def _mixtral(c: _Config) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_e = c.int("intermediate_size")
    n_e, k = c.int("num_local_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "num_local_experts", "num_experts_per_tok")
    attn, sd = _gqa(h, n_heads, n_kv, hd)
    window = c.opt_int("sliding_window")
    expert = _mlp(h, d_e)
    block = _moe_block(
        n_layers,
        attn,
        sd,
        2 * h,
        h=h,
        n_experts=n_e,
        top_k=k,
        expert=expert,
        router=h * n_e,
        window=window,
    )
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        0,
        d_e,
        expert,
        True,
        (),
    )


def _olmoe(c: _Config) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_e = c.int("intermediate_size")
    n_e, k = c.int("num_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "num_experts", "num_experts_per_tok")
    bias = c.bool("attention_bias", False)
    # OLMoE normalises queries and keys over the whole projection width, not per head.
    attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias, qk_norm="full")
    expert = _mlp(h, d_e)
    block = _moe_block(
        n_layers, attn, sd, 2 * h, h=h, n_experts=n_e, top_k=k, expert=expert, router=h * n_e
    )
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        0,
        d_e,
        expert,
        True,
        ("query/key normalisation (QK-norm)",),
    )


def _qwen_moe(c: _Config, *, version: int) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    n_e, k = c.int("num_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "num_experts", "num_experts_per_tok")
    d_e = c.int("moe_intermediate_size")
    step = c.int("decoder_sparse_step", 1)
    mlp_only = set(c.int_list("mlp_only_layers"))
    if version == 2:
        attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=c.bool("qkv_bias", True))
        d_shared = c.int("shared_expert_intermediate_size", 0, minimum=0)
    else:
        bias = c.bool("attention_bias", False)
        attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias, qk_norm="per_head")
        d_shared = 0
    expert = _mlp(h, d_e)
    # Qwen2-MoE gates its shared expert with a sigmoid of a 1-output linear map: a router part.
    shared, shared_gate = (_mlp(h, d_shared), h) if d_shared else (0, 0)
    blocks = []
    n_dense_needed = False
    for i in range(n_layers):
        if i not in mlp_only and (i + 1) % step == 0:
            blocks.append(
                _moe_block(
                    1,
                    attn,
                    sd,
                    2 * h,
                    h=h,
                    n_experts=n_e,
                    top_k=k,
                    expert=expert,
                    router=h * n_e + shared_gate,
                    shared=shared,
                )
            )
        else:
            n_dense_needed = True
            blocks.append(_dense_block(1, attn, sd, 2 * h, _mlp(h, c.int("intermediate_size"))))
    notes = []
    if d_shared:
        notes.append(f"a shared expert of hidden size {d_shared} that every token visits")
    if version == 3:
        notes.append("per-head query/key normalisation (QK-norm)")
    if n_dense_needed:
        notes.append("some blocks are dense (mlp_only_layers / decoder_sparse_step)")
    return _Arch(
        _group(blocks),
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        1 if d_shared else 0,
        d_e,
        expert,
        True,
        tuple(notes),
    )


def _deepseek(c: _Config, *, version: int) -> _Arch:
    h = c.int("hidden_size")
    n_layers = c.int("num_hidden_layers", maximum=_MAX_LAYERS)
    n_e, k = c.int("n_routed_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "n_routed_experts", "num_experts_per_tok")
    d_e = c.int("moe_intermediate_size")
    n_shared = c.int("n_shared_experts", 0, minimum=0)
    first_dense = c.int("first_k_dense_replace", 0, minimum=0, maximum=_MAX_LAYERS)
    freq = c.int("moe_layer_freq", 1)
    attn, sd = _mla(c, h)
    expert = _mlp(h, d_e)
    shared = _mlp(h, d_e * n_shared) if n_shared else 0
    # V3's aux-loss-free balancing adds a per-expert bias to the routing scores.
    router = h * n_e + (n_e if c.data.get("topk_method") == "noaux_tc" else 0)
    moe = _moe_block(
        1, attn, sd, 2 * h, h=h, n_experts=n_e, top_k=k, expert=expert, router=router, shared=shared
    )
    dense = _dense_block(1, attn, sd, 2 * h, _mlp(h, c.int("intermediate_size")))
    blocks = [moe if (i >= first_dense and i % freq == 0) else dense for i in range(n_layers)]
    notes = [
        "multi-head latent attention (low-rank compressed keys/values"
        + (" and queries)" if c.opt_int("q_lora_rank") else ")")
    ]
    if n_shared:
        notes.append(f"{n_shared} shared expert(s) of hidden size {d_e} that every token visits")
    if any(b.kind == "dense" for b in blocks):
        notes.append(
            f"{sum(b.kind == 'dense' for b in blocks)} dense block(s) at the bottom "
            f"(first_k_dense_replace)"
        )
    return _arch_with_mtp(c, blocks, h, n_e, k, n_shared, d_e, expert, notes, moe)


def _dbrx(c: _Config) -> _Arch:
    h = c.int("d_model")
    n_layers = c.int("n_layers", maximum=_MAX_LAYERS)
    n_heads = c.int("n_heads")
    attn_cfg, ffn_cfg = c.sub("attn_config"), c.sub("ffn_config")
    n_kv = attn_cfg.int("kv_n_heads", n_heads)
    if h % n_heads:
        raise FileFormatError(f"{c.source}: d_model {h} is not divisible by n_heads {n_heads}")
    hd = h // n_heads
    d_e = ffn_cfg.int("ffn_hidden_size")
    n_e, k = ffn_cfg.int("moe_num_experts"), ffn_cfg.int("moe_top_k")
    _check_top_k(c, n_e, k, "ffn_config.moe_num_experts", "ffn_config.moe_top_k")
    attn, sd = _gqa(h, n_heads, n_kv, hd)  # fused Wqkv, no biases
    expert = _mlp(h, d_e)  # w1, v1, w2
    # Two LayerNorms without bias per block (weights only).
    block = _moe_block(
        n_layers, attn, sd, 2 * h, h=h, n_experts=n_e, top_k=k, expert=expert, router=h * n_e
    )
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        0,
        d_e,
        expert,
        True,
        ("LayerNorm without bias; query/key/value clipping",),
    )


def _granitemoe(c: _Config, *, shared_family: bool = False) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_e = c.int("intermediate_size")
    n_e, k = c.int("num_local_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "num_local_experts", "num_experts_per_tok")
    bias = c.bool("attention_bias", False)
    attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias)
    # Experts are stored fused (input_linear holds gate and up: 2·d_e × h; output_linear d_e×h).
    expert = _mlp(h, d_e)
    d_shared = c.int("shared_intermediate_size", 0, minimum=0) if shared_family else 0
    shared = _mlp(h, d_shared) if d_shared else 0
    block = _moe_block(
        n_layers,
        attn,
        sd,
        2 * h,
        h=h,
        n_experts=n_e,
        top_k=k,
        expert=expert,
        router=h * n_e,
        shared=shared,
    )
    notes = ("embedding, attention, residual and logit multipliers (no parameters)",)
    if d_shared:
        notes += (f"a shared expert of hidden size {d_shared} that every token visits",)
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        1 if d_shared else 0,
        d_e,
        expert,
        True,
        notes,
    )


def _gpt_oss(c: _Config) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_e = c.int("intermediate_size")
    n_e = c.int("num_local_experts")
    k = c.int("num_experts_per_tok") if c.has("num_experts_per_tok") else c.int("experts_per_token")
    _check_top_k(c, n_e, k, "num_local_experts", "num_experts_per_tok")
    bias = c.bool("attention_bias", True)
    attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias, sinks=True)
    expert = _mlp(h, d_e, bias=True)  # gate_up_proj (+bias), down_proj (+bias)
    router = h * n_e + n_e  # the router has a bias
    window = c.opt_int("sliding_window")
    types = c.str_list("layer_types")
    if types and len(types) != n_layers:
        raise FileFormatError(
            f"{c.source}: layer_types has {len(types)} entries for {n_layers} layers"
        )
    if not types:  # the released models alternate, starting with a sliding-window layer
        types = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n_layers)]
    blocks = [
        _moe_block(
            1,
            attn,
            sd,
            2 * h,
            h=h,
            n_experts=n_e,
            top_k=k,
            expert=expert,
            router=router,
            window=window if t == "sliding_attention" else None,
        )
        for t in types
    ]
    notes = (
        "biases in attention, experts and router",
        "attention sinks (one per head)",
        "sliding-window attention in alternate blocks",
        "clamped SwiGLU experts (swiglu_limit)",
    )
    return _Arch(
        _group(blocks),
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        0,
        d_e,
        expert,
        True,
        notes,
    )


def _phimoe(c: _Config) -> _Arch:
    """Phi-3.5-MoE (transformers' PhimoeForCausalLM): Mixtral's blocks with biased attention
    projections (attention_bias), LayerNorms with bias instead of RMSNorm, and an output head
    with a bias (lm_head_bias)."""
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_e = c.int("intermediate_size")
    n_e, k = c.int("num_local_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "num_local_experts", "num_experts_per_tok")
    bias = c.bool("attention_bias", False)
    attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias)
    window = c.opt_int("sliding_window")
    expert = _mlp(h, d_e)
    block = _moe_block(
        n_layers,
        attn,
        sd,
        2 * 2 * h,
        h=h,
        n_experts=n_e,
        top_k=k,
        expert=expert,
        router=h * n_e,
        window=window,
    )
    head_bias = c.int("vocab_size") if c.bool("lm_head_bias", False) else 0
    notes = [
        "LayerNorm with bias (weight and bias) instead of RMSNorm",
        "sparsemixer top-2 routing",
    ]
    if bias:
        notes.append("biases on the attention projections")
    if head_bias:
        notes.append("a bias on the output head")
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        2 * h,
        n_e,
        k,
        0,
        d_e,
        expert,
        True,
        tuple(notes),
        head_bias=head_bias,
    )


def _arch_with_mtp(c: _Config, blocks, h, n_e, k, n_shared, d_e, expert, notes, moe) -> _Arch:
    """The architecture of a DeepSeek-V3-style MoE (deepseek_v3, kimi_k2, glm4_moe): its
    multi-token-prediction layers counted apart (:func:`_mtp`)."""
    vocab = c.int("vocab_size")
    mtp, mtp_ckpt, note = _mtp(c, h, vocab, moe)
    if note:
        notes.append(note)
    return _Arch(
        _group(blocks),
        vocab,
        h,
        c.bool("tie_word_embeddings", False),
        h,
        n_e,
        k,
        n_shared,
        d_e,
        expert,
        True,
        tuple(notes),
        mtp,
        mtp_ckpt,
    )


def _mtp(c: _Config, h: int, vocab: int, moe: BlockCount) -> tuple[int, int, str | None]:
    """Multi-token-prediction modules (DeepSeek-V3 §2.2; GLM-4.5 uses the same layout).

    Each module: norms of the hidden state and of the next token's embedding, a 2h -> h
    projection, one Transformer block (an MoE block: its index is past first_k_dense_replace)
    and a final norm; embedding and head are shared with the main model, but the released
    checkpoints store a copy of both per module. transformers does not build these modules.
    """
    n_mtp = c.int("num_nextn_predict_layers", 0, minimum=0, maximum=_MAX_LAYERS)
    if not n_mtp:
        return 0, 0, None
    own = 2 * h + 2 * h * h + moe.total + moe.router + h
    mtp = n_mtp * own
    return (
        mtp,
        n_mtp * (own + 2 * vocab * h),
        (
            f"{n_mtp} multi-token-prediction module(s), {mtp:,} parameters, reported separately "
            f"and not in the totals (transformers does not build them)"
        ),
    )


def _glm4_moe(c: _Config, *, family: str) -> _Arch:
    """GLM-4.5/4.6 (glm4_moe) and dots.llm1 (dots1): DeepSeek-V3's MoE layout (sigmoid router
    with a per-expert score-correction bias, shared experts of moe_intermediate_size x
    n_shared_experts, the first first_k_dense_replace blocks dense) under grouped-query
    attention. GLM biases q, k and v (attention_bias) and normalises queries and keys per head
    when use_qk_norm is set; dots1 uses Qwen3's attention (per-head QK-norm, biases on all four
    projections when attention_bias is set)."""
    h, n_layers, n_heads, n_kv, hd = _common(c)
    n_e, k = c.int("n_routed_experts"), c.int("num_experts_per_tok")
    _check_top_k(c, n_e, k, "n_routed_experts", "num_experts_per_tok")
    d_e = c.int("moe_intermediate_size")
    n_shared = c.int("n_shared_experts", 0, minimum=0)
    first_dense = c.int("first_k_dense_replace", 0, minimum=0, maximum=_MAX_LAYERS)
    bias = c.bool("attention_bias", False)
    if family == "glm4_moe":
        qk_norm = c.bool("use_qk_norm", False)
        attn, sd = _gqa(
            h, n_heads, n_kv, hd, qkv_bias=bias, qk_norm="per_head" if qk_norm else None
        )
    else:
        qk_norm = True
        attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=bias, o_bias=bias, qk_norm="per_head")
    expert = _mlp(h, d_e)
    shared = _mlp(h, d_e * n_shared) if n_shared else 0
    router = h * n_e + n_e  # weight and e_score_correction_bias
    moe = _moe_block(
        1, attn, sd, 2 * h, h=h, n_experts=n_e, top_k=k, expert=expert, router=router, shared=shared
    )
    dense = _dense_block(1, attn, sd, 2 * h, _mlp(h, c.int("intermediate_size")))
    blocks = [dense if i < first_dense else moe for i in range(n_layers)]
    notes = [
        (
            "sigmoid router with a per-expert score-correction bias (a buffer in "
            "transformers, stored in the checkpoint; counted in the router)"
        )
    ]
    if bias:
        notes.append("biases on the query, key and value projections")
    if qk_norm:
        notes.append("per-head query/key normalisation (QK-norm)")
    if n_shared:
        notes.append(f"{n_shared} shared expert(s) of hidden size {d_e} that every token visits")
    if first_dense:
        notes.append(
            f"{min(first_dense, n_layers)} dense block(s) at the bottom (first_k_dense_replace)"
        )
    return _arch_with_mtp(c, blocks, h, n_e, k, n_shared, d_e, expert, notes, moe)


def _dense(c: _Config, *, family: str) -> _Arch:
    h, n_layers, n_heads, n_kv, hd = _common(c)
    d_ff = c.int("intermediate_size")
    if family == "qwen2":
        attn, sd = _gqa(h, n_heads, n_kv, hd, qkv_bias=True)
    else:
        bias = c.bool("attention_bias", False)
        attn, sd = _gqa(
            h,
            n_heads,
            n_kv,
            hd,
            qkv_bias=bias,
            o_bias=bias,
            qk_norm="per_head" if family == "qwen3" else None,
        )
    mlp = _mlp(h, d_ff, bias=c.bool("mlp_bias", False))
    window = c.opt_int("sliding_window") if family == "mistral" else None
    block = _dense_block(n_layers, attn, sd, 2 * h, mlp, window=window)
    return _Arch(
        [block],
        c.int("vocab_size"),
        h,
        c.bool("tie_word_embeddings", False),
        h,
        1,
        1,
        0,
        d_ff,
        0,
        True,
        ("dense model: no experts and no router",),
    )


FAMILIES = {
    "mixtral": _mixtral,
    "olmoe": _olmoe,
    "qwen2_moe": lambda c: _qwen_moe(c, version=2),
    "qwen3_moe": lambda c: _qwen_moe(c, version=3),
    "deepseek_v2": lambda c: _deepseek(c, version=2),
    "deepseek_v3": lambda c: _deepseek(c, version=3),
    "dbrx": _dbrx,
    "granitemoe": _granitemoe,
    "granitemoeshared": lambda c: _granitemoe(c, shared_family=True),
    "gpt_oss": _gpt_oss,
    "phimoe": _phimoe,
    "glm4_moe": lambda c: _glm4_moe(c, family="glm4_moe"),
    "dots1": lambda c: _glm4_moe(c, family="dots1"),
    # Kimi K2 is DeepSeek-V3's architecture under its own model_type (moonshotai's README)
    "kimi_k2": lambda c: _deepseek(c, version=3),
    "llama": lambda c: _dense(c, family="llama"),
    "mistral": lambda c: _dense(c, family="mistral"),
    "qwen2": lambda c: _dense(c, family="qwen2"),
    "qwen3": lambda c: _dense(c, family="qwen3"),
}


def supported_families() -> list[str]:
    """The ``model_type`` values :func:`count_config` understands, sorted."""
    return sorted(FAMILIES)


# --------------------------------------------------------------------------- counting


def count_config(
    config: dict,
    source: str = "config.json",
    seq_len: int = SEQ_LEN_DEFAULT,
    c_f: float = C_F_DEFAULT,
    c_r: float = C_R_DEFAULT,
    name: str | None = None,
    as_family: str | None = None,
) -> HFModel:
    """Count the parameters and FLOPs per token of a model from its parsed ``config.json``.

    Parameters
    ----------
    config : dict
        The parsed config (a Hugging Face ``config.json``), with a ``model_type``.
    source : str
        Where it came from, for messages.
    name : str, optional
        Display name when the config has no ``_name_or_path``.
    seq_len : int
        Context length (tokens) for the attention-score FLOPs.
    c_f, c_r : float
        Training FLOPs per weight per token, and per router weight per token.
    as_family : str, optional
        Read the config as this family whatever its ``model_type`` says (an unknown
        ``model_type`` of a known architecture, e.g. a fine-tune's own name).

    Returns
    -------
    HFModel
        Exact parameter counts (integers), FLOPs per token and the mapping to the law.

    Raises
    ------
    FileFormatError
        For an unknown ``model_type`` (the message lists the supported ones), or a missing or
        ill-typed field (named).
    """
    if not isinstance(config, dict):
        raise FileFormatError(
            f"{source}: expected a JSON object (a Hugging Face config.json), "
            f"got {type(config).__name__}"
        )
    if as_family is not None and as_family not in FAMILIES:
        raise FileFormatError(
            f"as_family {as_family!r} is not a supported family; supported "
            f"families: {', '.join(supported_families())}",
            param="as_family",
        )
    family = as_family or config.get("model_type")
    if family is None:
        raise FileFormatError(
            f"{source}: no model_type; a Hugging Face config.json names its "
            f"family, one of: {', '.join(supported_families())}"
        )
    if not isinstance(family, str) or family not in FAMILIES:
        raise FileFormatError(
            f"{source}: model_type {family!r} is not supported; supported "
            f"families: {', '.join(supported_families())} (read a model "
            f"of a known architecture with as_family FAMILY)",
            mentions=("as_family",),
        )
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise FileFormatError(f"seq_len must be a whole number >= 1, got {seq_len!r}")
    domain.flops_per_param(c_f, "c_f")
    domain.flops_per_param(c_r, "c_r", allow_zero=True)
    arch = FAMILIES[family](_Config(config, source, family))
    blocks = arch.blocks
    h, V = arch.d_model, arch.vocab_size

    def tot(attr):
        return sum(getattr(b, attr) * b.count for b in blocks)

    n_blocks = sum(b.count for b in blocks)
    n_moe = sum(b.count for b in blocks if b.kind == "moe")
    n_total = tot("total") + arch.final_norm
    n_active = tot("active") + arch.final_norm
    router = tot("router")
    n_input = V * h
    n_head = V * h + arch.head_bias
    n_embedding = n_input + arch.head_bias if arch.tied else n_input + n_head
    breakdown = {
        "attention": {"total": tot("attention"), "active": tot("attention")},
        "routed_experts": {"total": tot("routed_total"), "active": tot("routed_active")},
        "shared_experts": {"total": tot("shared"), "active": tot("shared")},
        "dense_mlp": {"total": tot("dense_mlp"), "active": tot("dense_mlp")},
        "norms": {
            "total": tot("norms") + arch.final_norm,
            "active": tot("norms") + arch.final_norm,
        },
        "router": {"total": router, "active": router},
        "input_embedding": {"total": n_input, "active": n_input},
        "output_head": {
            "total": arch.head_bias if arch.tied else n_head,
            "active": arch.head_bias if arch.tied else n_head,
        },
    }

    scores = 2.0 * sum(b.count * b.score_dims * min(seq_len, b.window or seq_len) for b in blocks)
    fwd_weights = 2.0 * n_active
    fwd_router = 2.0 * router
    fwd_head = 2.0 * V * h  # the logits are computed whether or not the head is tied
    forward = fwd_weights + fwd_router + fwd_head + scores
    training = c_f * (n_active + n_head) + c_r * router + 3.0 * scores
    law_flops = c_f * n_active + c_r * router

    is_moe = n_moe > 0
    if is_moe:
        G, E = float(arch.top_k), arch.n_experts / arch.top_k
        g_size = 8.0 * h * h / arch.expert_params
        e_size = arch.n_experts * arch.expert_params / (8.0 * h * h)
    else:
        G = E = g_size = e_size = 1.0
    name = str(config.get("_name_or_path") or name or family)
    notes = arch.notes
    if as_family is not None and as_family != config.get("model_type"):
        notes = (f"model_type {config.get('model_type')!r} read as {as_family}",) + notes
    return HFModel(
        family=family,
        name=name,
        vocab_size=V,
        d_model=h,
        n_blocks=n_blocks,
        n_moe_blocks=n_moe,
        n_dense_blocks=n_blocks - n_moe,
        tied_embeddings=arch.tied,
        n_experts=arch.n_experts if is_moe else 1,
        top_k=arch.top_k if is_moe else 1,
        n_shared_experts=arch.n_shared_experts,
        d_expert=arch.d_expert,
        gated_experts=arch.gated,
        granularity=G,
        expansion_rate=E,
        granularity_by_size=g_size,
        expansion_rate_by_size=e_size,
        n_total=n_total,
        n_active=n_active,
        router_params=router,
        n_embedding=n_embedding,
        n_input_embedding=n_input,
        n_output_head=n_head,
        n_total_with_embedding=n_total + router + n_embedding,
        n_active_with_embedding=n_active + router + n_embedding,
        n_active_with_output_head=n_active + router + n_head,
        breakdown=breakdown,
        mtp_params=arch.mtp_params,
        mtp_params_in_checkpoint=arch.mtp_params_in_checkpoint,
        seq_len=seq_len,
        c_f=float(c_f),
        c_r=float(c_r),
        flops_per_token=training,
        flops_per_token_forward=forward,
        flops_breakdown={
            "forward": {
                "weights": fwd_weights,
                "router": fwd_router,
                "output_head": fwd_head,
                "attention_scores": scores,
                "total": forward,
            },
            "training": training,
            "law": law_flops,
        },
        law_flops_per_token=law_flops,
        is_moe=is_moe,
        notes=notes,
    )


def load_config(
    path: str | os.PathLike,
    seq_len: int = SEQ_LEN_DEFAULT,
    c_f: float = C_F_DEFAULT,
    c_r: float = C_R_DEFAULT,
    as_family: str | None = None,
) -> HFModel:
    """Read a ``config.json`` safely (size and depth limits) and count it; see :func:`count_config`."""
    data = load_json_file(path, what="config")
    return count_config(
        data,
        source=f"config {str(path)!r}",
        seq_len=seq_len,
        c_f=c_f,
        c_r=c_r,
        name=Path(path).name,
        as_family=as_family,
    )


def architecture_warnings(model: HFModel, law=None) -> list[str]:
    """Where the model differs from the paper's idealised MoE block, and where it lies outside
    the law's fitted range, worded for users."""
    out = []
    if not model.is_moe:
        out.append(
            "dense model (no experts): it maps to E = G = 1; a dense law such as "
            "krajewski2024-dense describes it better than an MoE law"
        )
    else:
        if model.gated_experts:
            out.append(
                "experts are SwiGLU (3 matrices of d_model x d_expert); the paper's experts "
                "are 2-matrix FFNs, so G and E by size differ from the top-k mapping"
            )
        if model.n_shared_experts:
            out.append(
                f"{model.n_shared_experts} shared expert(s) every token visits; the "
                f"paper has none (they count in N but not in G or E)"
            )
        if model.n_dense_blocks:
            out.append(
                f"{model.n_dense_blocks} of {model.n_blocks} blocks are dense; the paper's "
                f"blocks are all MoE"
            )
        ratio = model.granularity_by_size / model.granularity
        if not 0.5 <= ratio <= 2.0:
            out.append(
                f"experts are {'larger' if ratio < 1 else 'smaller'} than the paper's at "
                f"this G: the top-k mapping gives G = {model.granularity:g}, expert size "
                f"gives G = 8*d_model^2/expert params = {model.granularity_by_size:.3g}"
            )
    attn_paper = 4 * model.d_model**2 * model.n_blocks
    attn = model.breakdown["attention"]["total"]
    if not 0.8 <= attn / attn_paper <= 1.25:
        out.append(
            f"attention has {attn / attn_paper:.2f}x the paper's 4*d_model^2 parameters "
            f"per block (grouped-query or latent attention, or head_dim != d_model/heads)"
        )
    if model.mtp_params:
        out.append(
            f"multi-token-prediction module ({model.mtp_params:.3g} parameters) is not "
            f"in the totals"
        )
    if law is not None and law.form == "fine_grained_moe":
        out += law.range_warnings(
            params=model.n_total, granularity=model.granularity if model.is_moe else None
        )
        if model.is_moe:
            out += expansion_rate_warnings(law, model.expansion_rate)
    return out


def expansion_rate_warnings(law, expansion_rate: float) -> list[str]:
    """A warning when the expansion rate E is more than 1.5x away from the E the fine-grained
    law was fitted at (SPEC.md §2: E = 64, or 16 for the E = 16 set): the law has no E term."""
    fitted_e = law.fitted_range.get("expansion_rate") or (
        (law.expansion_rate, law.expansion_rate) if law.expansion_rate else None
    )
    if not fitted_e or fitted_e[0] / 1.5 <= expansion_rate <= fitted_e[1] * 1.5:
        return []
    fitted = (
        f"{fitted_e[0]:g}" if fitted_e[0] == fitted_e[1] else f"{fitted_e[0]:g} to {fitted_e[1]:g}"
    )
    return [
        f"expansion rate E = {expansion_rate:.3g} is far from the E = {fitted} that "
        f"{law.name} was fitted at; the law does not model E"
    ]

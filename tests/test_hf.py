"""Parameter counting of real models (moeplan.hf) against published counts and hand formulas.

Published figures are rounded, so each model has its own tolerance, stated beside it. Exact
counts are checked against closed forms written out here from the architectures, independently
of moeplan.hf's block-by-block code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.coefficients import load_law
from moeplan.errors import FileFormatError
from moeplan.hf import (
    SEQ_LEN_DEFAULT,
    architecture_warnings,
    count_config,
    load_config,
    supported_families,
)

from conftest import data_path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"


def fixture(name):
    return load_config(FIXTURES / name)


def cfg(name):
    return json.loads((FIXTURES / name).read_text())


# ---------------------------------------------------------------- the shared, real fixtures


def test_mixtral_matches_published_counts():
    # Mistral AI: 46.7B total, 12.9B active (everything a token touches); README counting notes.
    m = load_config(data_path("hf-configs", "mixtral-8x7b-v0.1.config.json"))
    assert m.n_total_with_embedding == pytest.approx(46.7e9, rel=0.01)
    assert m.n_active_with_embedding == pytest.approx(12.9e9, rel=0.01)
    # the published figures are 3 significant digits: our exact counts round to them
    assert round(m.n_total_with_embedding / 1e8) == 467
    assert round(m.n_active_with_embedding / 1e8) == 129


def test_mixtral_exact_closed_form():
    m = load_config(data_path("hf-configs", "mixtral-8x7b-v0.1.config.json"))
    h, L, V, ff, E, k = 4096, 32, 32000, 14336, 8, 2
    attn = h * 32 * 128 + 2 * h * 8 * 128 + 32 * 128 * h  # q, k, v (GQA, 8 kv heads), o
    expert = 3 * h * ff  # SwiGLU: gate, up, down
    norms = 2 * h
    assert m.n_total == L * (attn + E * expert + norms) + h
    assert m.n_active == L * (attn + k * expert + norms) + h
    assert m.router_params == L * h * E
    assert m.n_embedding == 2 * V * h
    assert m.n_total_with_embedding == 46_702_792_704
    assert (m.granularity, m.expansion_rate, m.n_experts, m.top_k) == (2, 4, 8, 2)


def test_olmoe_matches_published_counts():
    # allenai: 6.9B total, 1.3B active. Exact active is 1.282B: "1.3B" is two significant
    # digits, so the active tolerance is the rounding (1.25B..1.35B), 1.4% here; the total is
    # within 0.3%.
    m = load_config(data_path("hf-configs", "olmoe-1b-7b-0924.config.json"))
    assert m.n_total_with_embedding == pytest.approx(6.9e9, rel=0.01)
    assert m.n_active_with_embedding == pytest.approx(1.3e9, rel=0.015)
    assert round(m.n_active_with_embedding / 1e8) == 13
    assert round(m.n_total_with_embedding / 1e8) == 69


def test_olmoe_exact_closed_form_with_full_width_qk_norm():
    m = load_config(data_path("hf-configs", "olmoe-1b-7b-0924.config.json"))
    h, L, _V, ff, E, k = 2048, 16, 50304, 1024, 64, 8
    attn = 4 * h * h + h + h  # q, k, v, o, and q_norm/k_norm over the full width
    per_block_total = attn + E * 3 * h * ff + 2 * h
    assert m.n_total == L * per_block_total + h
    assert m.n_active == L * (attn + k * 3 * h * ff + 2 * h) + h
    assert m.n_active_with_embedding == 1_282_017_280
    assert (m.granularity, m.expansion_rate) == (8, 8)


# ---------------------------------------------------------------- configs written for the tests

# file, published total, tolerance, published active, which convention it uses, tolerance, source
PUBLISHED = [
    # Qwen blog: 14.3B total, 2.7B activated (embeddings included).
    ("qwen1.5-moe-a2.7b.config.json", 14.3e9, 0.005, 2.7e9, "with_embedding", 0.01),
    # Qwen3 model card: 30.5B total, 3.3B activated; exact 3.353B -> 2% (they round down).
    ("qwen3-30b-a3b.config.json", 30.5e9, 0.005, 3.3e9, "with_embedding", 0.02),
    # Qwen3 model card: 235B total, 22B activated.
    ("qwen3-235b-a22b.config.json", 235e9, 0.005, 22e9, "with_embedding", 0.015),
    # DeepSeek-V2 paper: V2-Lite 15.7B total, 2.4B activated (input embedding not counted;
    # exact 2.451B, so they truncate: 2.5%).
    ("deepseek-v2-lite.config.json", 15.7e9, 0.005, 2.4e9, "with_output_head", 0.025),
    # DeepSeek-V2 paper: 236B total, 21B activated.
    ("deepseek-v2.config.json", 236e9, 0.005, 21e9, "with_output_head", 0.01),
    # DeepSeek-V3 report: 671B total (MTP excluded), 37B activated.
    ("deepseek-v3.config.json", 671e9, 0.001, 37e9, "with_output_head", 0.015),
    # Databricks: 132B total, 36B active.
    ("dbrx-base.config.json", 132e9, 0.005, 36e9, "with_output_head", 0.01),
    # IBM: granite-3.0-3b-a800m, 3.3B total, 800M active (non-embedding).
    ("granite-3.0-3b-a800m.config.json", 3.3e9, 0.005, 0.8e9, "non_embedding", 0.01),
    # OpenAI gpt-oss model card, 4 significant digits: 20.91B total, 3.61B active;
    # 116.83B total, 5.13B active (active counts the unembedding, not the embedding).
    ("gpt-oss-20b.config.json", 20.91e9, 0.0005, 3.61e9, "with_output_head", 0.002),
    ("gpt-oss-120b.config.json", 116.83e9, 0.0001, 5.13e9, "with_output_head", 0.002),
    # Meta: Llama-3-8B, 8.03B parameters (dense, so active = total).
    ("llama-3-8b.config.json", 8.03e9, 0.0005, 8.03e9, "with_embedding", 0.0005),
    # Mistral-7B-v0.1: 7.24B parameters.
    ("mistral-7b-v0.1.config.json", 7.24e9, 0.001, 7.24e9, "with_embedding", 0.001),
    # Qwen2.5-7B model card: 7.61B parameters, 6.53B non-embedding.
    ("qwen2.5-7b.config.json", 7.61e9, 0.001, 6.53e9, "non_embedding", 0.001),
    # Qwen3-8B model card: 8.2B parameters, 6.95B non-embedding.
    ("qwen3-8b.config.json", 8.2e9, 0.005, 6.95e9, "non_embedding", 0.001),
]


@pytest.mark.parametrize(
    "name, total, tol_total, active, convention, tol_active",
    PUBLISHED,
    ids=[p[0].split(".config")[0] for p in PUBLISHED],
)
def test_published_counts(name, total, tol_total, active, convention, tol_active):
    m = fixture(name)
    assert m.n_total_with_embedding == pytest.approx(total, rel=tol_total)
    got = {
        "with_embedding": m.n_active_with_embedding,
        "with_output_head": m.n_active_with_output_head,
        "non_embedding": m.n_active,
    }[convention]
    assert got == pytest.approx(active, rel=tol_active)


def test_every_supported_family_is_tested():
    families = {json.loads(p.read_text())["model_type"] for p in FIXTURES.glob("*.json")}
    families |= {
        json.loads(p.read_text())["model_type"]  # real configs of the newer families
        for p in (FIXTURES.parent.parent / "data" / "hf-configs").glob("*.json")
    }
    # mixtral and olmoe: the shared fixtures; granitemoeshared: the closed-form test below
    assert families | {"mixtral", "olmoe", "granitemoeshared"} == set(supported_families())


def test_granitemoeshared_closed_form():
    # No published count at hand for this family: the HF layout written out instead
    # (GraniteMoe plus a shared SwiGLU MLP, input_linear h -> 2*s, output_linear s -> h).
    config = dict(
        cfg("granite-3.0-3b-a800m.config.json"),
        model_type="granitemoeshared",
        shared_intermediate_size=1024,
    )
    m = count_config(config)
    h, L = 1536, 32
    attn = 2 * h * h + 2 * h * 512
    assert m.n_total == L * (attn + 40 * 3 * h * 512 + 3 * h * 1024 + 2 * h) + h
    assert m.n_active == L * (attn + 8 * 3 * h * 512 + 3 * h * 1024 + 2 * h) + h
    assert m.n_shared_experts == 1


def test_qwen3_uses_the_configs_head_dim():
    # 32 heads x 128 = 4096 != hidden 2048: deriving head_dim would undercount attention.
    m = fixture("qwen3-30b-a3b.config.json")
    h, hd, nh, nkv = 2048, 128, 32, 4
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 2 * hd  # + per-head q/k norms
    assert m.breakdown["attention"]["total"] == 48 * attn
    derived = dict(cfg("qwen3-30b-a3b.config.json"))
    del derived["head_dim"]
    assert (
        count_config(derived).breakdown["attention"]["total"] != m.breakdown["attention"]["total"]
    )
    # non-embedding figure Qwen publishes: 29.9B (router included there)
    assert m.n_total + m.router_params == pytest.approx(29.9e9, rel=0.005)


def test_qwen2_moe_shared_expert_and_qkv_bias():
    m = fixture("qwen1.5-moe-a2.7b.config.json")
    h, L = 2048, 24
    attn = 4 * h * h + 3 * h  # q, k, v with biases; o without
    routed = 60 * 3 * h * 1408
    shared = 3 * h * 5632
    assert m.breakdown["attention"]["total"] == L * attn
    assert m.breakdown["shared_experts"]["total"] == L * shared
    assert m.router_params == L * (h * 60 + h)  # router + the shared expert's gate
    assert m.n_total == L * (attn + routed + shared + 2 * h) + h
    assert (m.granularity, m.expansion_rate, m.n_shared_experts) == (4, 15, 1)


def test_deepseek_v3_mla_dense_layers_and_mtp():
    m = fixture("deepseek-v3.config.json")
    h, nh, ql, kvl, rope, nope, vd, V = 7168, 128, 1536, 512, 64, 128, 128, 129280
    attn = (
        h * ql
        + ql
        + ql * nh * (nope + rope)  # q_a, q_a_layernorm, q_b
        + h * (kvl + rope)
        + kvl  # kv_a_proj_with_mqa, kv_a_layernorm
        + kvl * nh * (nope + vd)
        + nh * vd * h
    )  # kv_b, o
    dense_mlp = 3 * h * 18432
    expert = 3 * h * 2048
    moe_total = 256 * expert + expert  # routed + 1 shared
    router = h * 256 + 256  # gate + e_score_correction_bias
    assert m.breakdown["attention"]["total"] == 61 * attn
    assert m.breakdown["dense_mlp"]["total"] == 3 * dense_mlp
    assert m.n_total == 3 * (attn + dense_mlp + 2 * h) + 58 * (attn + moe_total + 2 * h) + h
    assert m.n_active == (3 * (attn + dense_mlp + 2 * h) + 58 * (attn + 9 * expert + 2 * h) + h)
    assert m.router_params == 58 * router
    assert (m.n_dense_blocks, m.n_moe_blocks, m.granularity, m.expansion_rate) == (3, 58, 8, 32)
    mtp_own = 2 * h + 2 * h * h + (attn + moe_total + 2 * h) + router + h
    assert m.mtp_params == mtp_own
    # Hugging Face lists 685B for the checkpoint: 671B + the MTP module with its copies of the
    # embedding and the output head.
    assert m.mtp_params_in_checkpoint == mtp_own + 2 * V * h
    assert m.n_total_with_embedding + m.mtp_params_in_checkpoint == pytest.approx(685e9, rel=0.005)
    # the MTP module is in no total
    assert m.n_total_with_embedding == m.n_total + m.router_params + 2 * V * h


def test_deepseek_v2_lite_without_query_compression():
    m = fixture("deepseek-v2-lite.config.json")
    h, nh = 2048, 16
    attn = h * nh * 192 + h * 576 + 512 + 512 * nh * 256 + nh * 128 * h
    assert m.breakdown["attention"]["total"] == 27 * attn
    assert m.breakdown["shared_experts"]["total"] == 26 * 3 * h * (2 * 1408)
    assert m.router_params == 26 * h * 64  # no correction bias in V2
    assert m.expansion_rate == pytest.approx(64 / 6)


def test_dbrx_nested_configs():
    m = fixture("dbrx-base.config.json")
    d, L = 6144, 40
    attn = d * (d + 2 * 8 * 128) + d * d  # fused Wqkv with 8 kv heads, out_proj
    assert m.n_total == L * (attn + 16 * 3 * d * 10752 + 2 * d) + d
    assert (m.granularity, m.expansion_rate) == (4, 4)


def test_granite_tied_embedding_counted_once():
    m = fixture("granite-3.0-3b-a800m.config.json")
    assert m.tied_embeddings
    assert m.n_embedding == 49155 * 1536
    assert m.n_total_with_embedding == m.n_total + m.router_params + 49155 * 1536
    untied = dict(cfg("granite-3.0-3b-a800m.config.json"), tie_word_embeddings=False)
    assert count_config(untied).n_embedding == 2 * 49155 * 1536
    # without the key, Hugging Face's default for the family (untied) applies
    unspecified = cfg("granite-3.0-3b-a800m.config.json")
    del unspecified["tie_word_embeddings"]
    assert count_config(unspecified).n_embedding == 2 * 49155 * 1536


def test_gpt_oss_biases_sinks_and_sliding_window_flops():
    m = fixture("gpt-oss-20b.config.json")
    h, L, nh, nkv, hd, ff, E, _k, V = 2880, 24, 64, 8, 64, 2880, 32, 4, 201088
    attn = (h * nh * hd + nh * hd) + 2 * (h * nkv * hd + nkv * hd) + (nh * hd * h + h) + nh
    expert = 3 * h * ff + 2 * ff + h
    assert m.breakdown["attention"]["total"] == L * attn
    assert m.n_total == L * (attn + E * expert + 2 * h) + h
    assert m.router_params == L * (h * E + E)
    # attention scores: half the blocks see 128 tokens, the others the full seq_len
    seq = 4096
    scores = 2 * nh * (hd + hd) * (12 * 128 + 12 * seq)
    fwd = 2 * m.n_active + 2 * m.router_params + 2 * V * h + scores
    assert m.flops_per_token_forward == pytest.approx(fwd, rel=1e-12)
    assert m.flops_per_token == pytest.approx(
        6 * (m.n_active + V * h) + 14 * m.router_params + 3 * scores, rel=1e-12
    )


def test_llama_dense_maps_to_e_g_one():
    m = fixture("llama-3-8b.config.json")
    assert not m.is_moe and m.router_params == 0
    assert (m.granularity, m.expansion_rate, m.n_experts, m.top_k) == (1, 1, 1, 1)
    assert m.n_active == m.n_total
    h = 4096
    attn = 2 * h * h + 2 * h * (8 * 128)  # q, o; k, v with 8 kv heads of 128
    assert m.n_total == 32 * (attn + 3 * h * 14336 + 2 * h) + h
    warnings = architecture_warnings(m, load_law("krajewski2024-moe"))
    assert any("dense model" in w for w in warnings)


def test_law_flops_and_seq_len():
    m1 = load_config(FIXTURES / "qwen3-30b-a3b.config.json", seq_len=1024)
    m2 = load_config(FIXTURES / "qwen3-30b-a3b.config.json", seq_len=2048)
    assert m1.law_flops_per_token == 6 * m1.n_active + 14 * m1.router_params
    assert m1.law_flops_per_token == m2.law_flops_per_token
    s1 = m1.flops_breakdown["forward"]["attention_scores"]
    s2 = m2.flops_breakdown["forward"]["attention_scores"]
    assert s2 == pytest.approx(2 * s1) and s1 == 2 * 48 * 32 * 256 * 1024
    assert m1.seq_len == 1024 and SEQ_LEN_DEFAULT == 4096


def test_warnings_name_the_differences():
    law = load_law("krajewski2024-moe")
    w = " | ".join(architecture_warnings(fixture("deepseek-v3.config.json"), law))
    for needle in (
        "SwiGLU",
        "shared expert",
        "dense",
        "multi-token",
        "above the range",
        "expansion rate E = 32",
    ):
        assert needle in w
    w = " | ".join(
        architecture_warnings(
            load_config(data_path("hf-configs", "mixtral-8x7b-v0.1.config.json")), law
        )
    )
    assert "experts are larger than the paper's" in w


# ---------------------------------------------------------------- invariants (Hypothesis)


@given(
    h=st.integers(1, 64).map(lambda x: 64 * x),
    layers=st.integers(1, 64),
    kv_div=st.sampled_from([1, 2, 4]),
    ff=st.integers(1, 20000),
    n_experts=st.integers(1, 256),
    data=st.data(),
)
def test_mixtral_like_closed_form_and_invariants(h, layers, kv_div, ff, n_experts, data):
    k = data.draw(st.integers(1, n_experts))
    nh = h // 64
    nkv = max(1, nh // kv_div) if nh % max(1, nh // kv_div) == 0 else nh
    config = {
        "model_type": "mixtral",
        "hidden_size": h,
        "num_hidden_layers": layers,
        "num_attention_heads": nh,
        "num_key_value_heads": nkv,
        "intermediate_size": ff,
        "num_local_experts": n_experts,
        "num_experts_per_tok": k,
        "vocab_size": 1000,
    }
    m = count_config(config)
    attn = 2 * h * nh * 64 + 2 * h * nkv * 64
    assert m.n_total == layers * (attn + n_experts * 3 * h * ff + 2 * h) + h
    assert m.n_active == layers * (attn + k * 3 * h * ff + 2 * h) + h
    assert m.n_active <= m.n_total
    assert (m.n_active == m.n_total) == (k == n_experts)
    assert m.n_total_with_embedding == m.n_total + m.router_params + m.n_embedding
    assert m.n_active_with_embedding - m.n_active_with_output_head == m.n_input_embedding
    assert m.expansion_rate * m.granularity == pytest.approx(n_experts)


# ---------------------------------------------------------------- bad input


def write(tmp_path, obj, name="config.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_unknown_family_lists_the_supported_ones(tmp_path):
    with pytest.raises(FileFormatError) as err:
        load_config(write(tmp_path, {"model_type": "mamba", "hidden_size": 8}))
    msg = str(err.value)
    assert "'mamba'" in msg and "mixtral" in msg and "deepseek_v3" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda c: c.pop("num_local_experts"), "num_local_experts is missing"),
        (lambda c: c.update(hidden_size="4096"), "hidden_size must be a whole number"),
        (lambda c: c.update(hidden_size=4096.5), "hidden_size must be a whole number"),
        (lambda c: c.update(hidden_size=True), "hidden_size must be a whole number"),
        (lambda c: c.update(num_hidden_layers=0), "num_hidden_layers must be between"),
        (lambda c: c.update(num_hidden_layers=10**9), "num_hidden_layers must be between"),
        (lambda c: c.update(num_experts_per_tok=9), "more than num_local_experts"),
        (lambda c: c.update(num_key_value_heads=7), "not a multiple"),
        (lambda c: c.update(tie_word_embeddings="yes"), "true or false"),
        (lambda c: c.pop("model_type"), "no model_type"),
    ],
)
def test_bad_fields_are_named(tmp_path, mutate, needle):
    config = json.loads(data_path("hf-configs", "mixtral-8x7b-v0.1.config.json").read_text())
    mutate(config)
    with pytest.raises(FileFormatError) as err:
        load_config(write(tmp_path, config))
    assert needle in str(err.value)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("{", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"a": NaN}', "NaN"),
        ("[" * 200 + "]" * 200, "nested"),
    ],
)
def test_malformed_json(tmp_path, text, needle):
    with pytest.raises(FileFormatError) as err:
        load_config(write(tmp_path, text))
    assert needle in str(err.value)


def test_dbrx_needs_its_nested_objects(tmp_path):
    config = cfg("dbrx-base.config.json")
    config["ffn_config"] = 3
    with pytest.raises(FileFormatError, match="ffn_config must be an object"):
        load_config(write(tmp_path, config))
    config = cfg("dbrx-base.config.json")
    del config["ffn_config"]["moe_top_k"]
    with pytest.raises(FileFormatError, match="ffn_config.moe_top_k is missing"):
        load_config(write(tmp_path, config))

"""Real MoEs judged right (issue 14): the law fitted nearest E, new families, --as, the joint
law's mapping. Expected values are written out here from the architectures and the rule, not
taken from the code under test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.check import check_config
from moeplan.cli import flag_message
from moeplan.coefficients import load_law
from moeplan.errors import FileFormatError
from moeplan.hf import count_config, load_config
from moeplan.lawpick import choose_law, joint_mapping, nearest_fitted

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "hf-configs"
OLD = ROOT / "tests" / "fixtures" / "hf"


def run_cli(*args):
    """``moeplan ARGS`` in-process (nothing here needs a process of its own): exit code and
    streams as the script gives them; an uncaught exception fails the test here."""
    from types import SimpleNamespace

    from moeplan.cli import app

    import fuzz_support

    r = fuzz_support.run(app, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


# ------------------------------------------------------------------ nearest fitted E


@pytest.mark.parametrize(
    "E, name",
    [
        (16, "krajewski2024-moe-e16"),
        (64, "krajewski2024-moe"),
        (8, "krajewski2024-moe-e16"),
        (20, "krajewski2024-moe-e16"),
        (48, "krajewski2024-moe"),
        (128, "krajewski2024-moe"),
        (32, "krajewski2024-moe-e16"),
    ],
)  # 32: a tie, to E = 16
def test_nearest_fitted_set(E, name):
    assert nearest_fitted(E)[0] == name


@given(st.floats(min_value=1.0, max_value=1e6, allow_nan=False))
def test_nearest_is_nearest_in_log_e(E):
    _, fitted = nearest_fitted(E)
    other = 64.0 if fitted == 16.0 else 16.0
    # independent of the implementation: distance in log E, ties to 16
    assert abs(math.log(E) - math.log(fitted)) <= abs(math.log(E) - math.log(other)) + 1e-9
    if fitted == 64.0:
        assert E > 32.0


def _model(n_experts, top_k, name="x"):
    cfg = {
        "model_type": "mixtral",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 32,
        "num_local_experts": n_experts,
        "num_experts_per_tok": top_k,
        "vocab_size": 100,
    }
    return count_config(cfg, name=name)


@pytest.mark.parametrize(
    "n_e, k, far",
    [
        (8, 2, True),
        (64, 8, False),
        (128, 8, False),
        (256, 8, False),
        (512, 4, False),
        (1024, 4, True),
        (16, 1, False),
        (24, 4, True),
    ],
)
def test_far_threshold_is_more_than_2x(n_e, k, far):
    # E = n_e/k; fitted 16 and 64: supported E from 8 to 128 inclusive
    E = n_e / k
    assert choose_law(_model(n_e, k)).far is far
    assert far == (E < 8 or E > 128)


def test_dense_model_gets_the_dense_set():
    m = load_config(OLD / "llama-3-8b.config.json")
    c = choose_law(m)
    assert c.name == "krajewski2024-dense" and not c.far


# ------------------------------------------------------------------ check on real models


@pytest.mark.parametrize(
    "path, tokens, law",
    [
        (OLD / "qwen3-30b-a3b.config.json", 36e12, "krajewski2024-moe-e16"),  # E = 128/8 = 16
        (OLD / "deepseek-v3.config.json", 14.8e12, "krajewski2024-moe-e16"),  # E = 256/8 = 32, tie
        (DATA / "olmoe-1b-7b-0924.config.json", 5e12, "krajewski2024-moe-e16"),  # E = 64/8 = 8
    ],
)
def test_check_real_moe_is_sane(path, tokens, law):
    res = check_config(path, tokens=tokens)
    d = res.to_dict()
    assert d["law"] == law
    assert "E = " in d["law_choice"] and law in d["law_choice"]
    assert d["suggestion"]
    # a practitioner's sanity band: tens of tokens per active parameter, not 4
    opt = d["optimal"]
    assert 10 <= opt["tokens_per_active_param"] <= 100
    rec = opt["recommended"]
    assert rec and 10 <= rec["tokens"] / rec["n_active"] <= 100
    assert opt["loss"] <= d["proposal"]["loss"] + 1e-12


def test_check_picks_the_e64_set_above_e32():
    # Kimi K2: E = 384/8 = 48, 1.33x from 64 and 3x from 16
    d = check_config(DATA / "kimi-k2-instruct.config.json", tokens=15.5e12).to_dict()
    assert d["law"] == "krajewski2024-moe" and "1.33x away" in d["law_choice"]
    assert d["suggestion"]


def test_check_far_from_every_fit_gives_no_suggestion():
    res = check_config(DATA / "mixtral-8x7b-v0.1.config.json", tokens=8e12)  # E = 4
    d = res.to_dict()
    assert d["suggestion"] is None and d["optimal"]["recommended"] is None
    assert "no suggestion" in d["law_choice"]
    assert any("not a recommendation" in w for w in d["warnings"])
    assert d["optimal"]["loss"] > 0  # the law's figures are still given


def test_named_law_is_used_as_is():
    res = check_config(
        OLD / "qwen3-30b-a3b.config.json", tokens=36e12, law=load_law("krajewski2024-moe")
    )
    assert res.law == "krajewski2024-moe" and res.law_choice is None


def test_check_json_has_law_choice():
    r = run_cli("check", str(OLD / "deepseek-v3.config.json"), "--tokens", "14.8T", "--json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["law"] == "krajewski2024-moe-e16" and "tie" in d["law_choice"]


# ------------------------------------------------------------------ families


def test_phimoe_closed_form():
    m = load_config(DATA / "phi-3.5-moe-instruct.config.json")
    h, L, V, ff, E, k, hd = 4096, 32, 32064, 6400, 16, 2, 128
    q, kv = 32 * hd, 8 * hd
    attn = h * q + q + 2 * (h * kv + kv) + q * h + h  # all four projections biased
    norms = 2 * (2 * h)  # two LayerNorms, weight + bias
    assert m.n_total == L * (attn + norms + E * 3 * h * ff) + 2 * h
    assert m.n_active == L * (attn + norms + k * 3 * h * ff) + 2 * h
    assert m.router_params == L * h * E
    assert m.n_embedding == V * h + (V * h + V)  # untied; head with a bias
    # Microsoft: 41.9B total, 6.6B active
    assert round(m.n_total_with_embedding / 1e8) == 419
    assert round(m.n_active_with_embedding / 1e8) == 66


def test_glm45_air_closed_form_and_mtp():
    m = load_config(DATA / "glm-4.5-air.config.json")
    h, hd, Er, de, dff = 4096, 128, 128, 1408, 10944  # 46 blocks: 1 dense, 45 MoE
    q, kv = 96 * hd, 8 * hd
    attn = h * q + q + 2 * (h * kv + kv) + q * h  # q, k, v biased; o not; no QK-norm
    moe = attn + 2 * h + Er * 3 * h * de + 3 * h * de  # routed + one shared expert
    dense = attn + 2 * h + 3 * h * dff
    router = h * Er + Er  # weight + score-correction bias
    assert m.n_total == 1 * dense + 45 * moe + h
    assert m.router_params == 45 * router
    assert m.n_dense_blocks == 1 and m.n_shared_experts == 1
    # one MTP layer: enorm, hnorm, eh_proj (2h -> h), an MoE block, final norm
    assert m.mtp_params == 2 * h + 2 * h * h + moe + router + h
    assert m.expansion_rate == 16 and m.granularity == 8


def test_glm45_qk_norm_and_dense_bottom():
    m = load_config(DATA / "glm-4.5.config.json")
    h, hd = 5120, 128
    q, kv = 96 * hd, 8 * hd
    attn = h * q + q + 2 * (h * kv + kv) + q * h + 2 * hd  # per-head QK-norm
    assert m.breakdown["attention"]["total"] == 92 * attn
    assert m.n_dense_blocks == 3


def test_kimi_k2_is_deepseek_v3():
    cfg = json.loads((DATA / "kimi-k2-instruct.config.json").read_text())
    a = count_config(cfg)
    b = count_config({**cfg, "model_type": "deepseek_v3"})
    assert a.n_total_with_embedding == b.n_total_with_embedding
    assert a.family == "kimi_k2"
    # moonshotai: 1T total, 32B activated
    assert round(a.n_total_with_embedding / 1e12) == 1
    assert round(a.n_active_with_output_head / 1e9) == 32


def test_dots1_published_counts():
    m = load_config(DATA / "dots.llm1.base.config.json")
    # rednote-hilab: 142B total, 14B activated
    assert 142e9 <= m.n_total_with_embedding < 143e9
    assert round(m.n_active_with_embedding / 1e9) == 14
    assert m.n_shared_experts == 2 and m.top_k == 6


# ------------------------------------------------------------------ --as FAMILY


def test_as_family_reads_an_unknown_model_type():
    cfg = json.loads((DATA / "mixtral-8x7b-v0.1.config.json").read_text())
    renamed = {**cfg, "model_type": "my_finetune"}
    with pytest.raises(FileFormatError, match="with as_family FAMILY") as info:
        count_config(renamed)
    assert flag_message(info.value).endswith("with --as FAMILY)")
    m = count_config(renamed, as_family="mixtral")
    assert m.n_total_with_embedding == 46_702_792_704
    assert any("read as mixtral" in n for n in m.notes)
    with pytest.raises(FileFormatError, match="not a supported family"):
        count_config(renamed, as_family="nonesuch")


def test_inspect_as_cli(tmp_path):
    cfg = json.loads((DATA / "olmoe-1b-7b-0924.config.json").read_text())
    p = tmp_path / "config.json"
    p.write_text(json.dumps({**cfg, "model_type": "olmoe_custom"}))
    r = run_cli("inspect", str(p), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--as" in r.stderr
    r = run_cli("inspect", str(p), "--as", "olmoe", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["family"] == "olmoe" and d["n_total_with_embedding"] == 6_919_161_856
    assert d["default_check_law"]["law"] == "krajewski2024-moe-e16"
    r = run_cli("inspect", str(p), "--as", "nonesuch")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: --as 'nonesuch' is not a supported family" in r.stderr


# ------------------------------------------------------------------ the joint law


def test_joint_mapping_variables():
    m = load_config(DATA / "olmoe-1b-7b-0924.config.json")
    jm = joint_mapping(m)
    # everything a token touches: blocks, router, input embedding and output head
    assert jm.n_active == m.n_active + m.router_params + m.n_embedding
    assert round(jm.n_active / 1e6) == 1282  # OLMoE's exact 1.282B
    assert jm.n_experts == 64 and jm.top_k == 8
    assert jm.flops_per_token == 6 * jm.n_active
    assert any("top-1" in n for n in jm.notes)


def test_inspect_under_joint_law():
    r = run_cli(
        "inspect",
        str(DATA / "phi-3.5-moe-instruct.config.json"),
        "--law",
        "ludziejewski2025-joint",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    lm = d["law_mapping"]
    assert lm["params"] == d["n_active_with_embedding"]
    assert lm["n_experts"] == 16 and lm["top_k"] == 2
    assert lm["flops_per_token"] == 6 * d["n_active_with_embedding"]
    assert "E = routed experts" in lm["rule"]


def test_check_config_under_joint_law():
    path = DATA / "olmoe-1b-7b-0924.config.json"
    m = load_config(path)
    d = check_config(path, tokens=5e12, law=load_law("ludziejewski2025-joint")).to_dict()
    p = d["proposal"]
    assert p["n_active"] == m.n_active_with_embedding and p["n_experts"] == 64
    assert p["flops"] == pytest.approx(6 * m.n_active_with_embedding * 5e12, rel=1e-12)
    # the optimum at the same FLOPs and E is at least as good, so efficiency <= 1
    assert d["optimal"]["loss"] <= p["loss"] + 1e-9
    assert 0 < p["compute_efficiency"] <= 1 + 1e-6
    assert d["suggestion"] is None  # top-8: outside the joint law's top-1 data

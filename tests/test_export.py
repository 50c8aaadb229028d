"""Export to a Hugging Face config.json (moeplan.export) and the read-back by moeplan.hf."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moeplan import load_law
from moeplan.errors import InputError
from moeplan.export import hf_config, swiglu_width, write_hf_config
from moeplan.hf import count_config, load_config
from moeplan.shapes import Shape, ShapeRules, best_shape, enumerate_shapes

FIXTURES = Path(__file__).parent / "fixtures" / "export"
DATA = Path(__file__).parent / "data"

# The arguments of transformers' Qwen3MoeConfig.__init__ (transformers 4.51-4.57,
# src/transformers/models/qwen3_moe/configuration_qwen3_moe.py), written out by hand.
QWEN3_MOE_KEYS = {
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "use_cache",
    "tie_word_embeddings",
    "rope_theta",
    "rope_scaling",
    "attention_bias",
    "use_sliding_window",
    "sliding_window",
    "max_window_layers",
    "attention_dropout",
    "decoder_sparse_step",
    "moe_intermediate_size",
    "num_experts_per_tok",
    "num_experts",
    "norm_topk_prob",
    "output_router_logits",
    "router_aux_loss_coef",
    "mlp_only_layers",
    "head_dim",
}


def shape(d=2048, n=32, g=8, e=64, head=128):
    return Shape(
        d_model=d,
        n_blocks=n,
        n_heads=d // head,
        head_dim=head,
        d_expert=4 * d // g,
        n_experts=g * e,
        top_k=g,
    )


def test_config_has_every_qwen3_moe_key_and_the_mapping():
    ex = hf_config(shape(d=2048, n=32, g=8, e=64))
    c = ex.config
    assert QWEN3_MOE_KEYS <= set(c)
    assert c["model_type"] == "qwen3_moe" and c["architectures"] == ["Qwen3MoeForCausalLM"]
    assert (
        c["hidden_size"],
        c["num_hidden_layers"],
        c["num_attention_heads"],
        c["num_key_value_heads"],
        c["head_dim"],
    ) == (2048, 32, 16, 16, 128)
    assert (c["num_experts"], c["num_experts_per_tok"]) == (512, 8)
    # d_expert 1024 -> 2/3 of it is 682.7; 704 (a multiple of 64) is 3.1% off, 688 (16) 0.8%
    assert c["moe_intermediate_size"] == 688 and ex.swiglu_intermediate == 688
    assert c["vocab_size"] == 50_257 and c["tie_word_embeddings"] is False
    assert c["mlp_only_layers"] == [] and c["decoder_sparse_step"] == 1
    assert "SwiGLU" in ex.notes[0] and "2/3" in ex.notes[0] and "multiple of 16" in ex.notes[0]
    json.dumps(c)  # plain JSON


@pytest.mark.parametrize(
    "d_expert, width, multiple",
    [
        (192, 128, 64),
        (576, 384, 64),
        (1536, 1024, 64),
        (3072, 2048, 64),
        (1024, 688, 16),
        (512, 344, 8),
        (640, 424, 8),
        (256, 171, 1),
    ],
)
def test_swiglu_width_by_hand(d_expert, width, multiple):
    m, mult = swiglu_width(d_expert)
    assert (m, mult) == (width, multiple)
    if mult > 1:
        assert m % mult == 0 and abs(3 * m / (2 * d_expert) - 1) <= 0.01


@settings(max_examples=30)  # each example counts up to 4 configs layer by layer
@given(
    d=st.floats(300, 9000),
    g=st.sampled_from([1, 2, 4, 8, 16, 32, 64]),
    e=st.sampled_from([8, 16, 64]),
    tp=st.sampled_from([1, 8]),
)
def test_inspect_reads_back_the_plan_within_2_percent(d, g, e, tp):
    """The issue's bar: moeplan inspect reads the export back to n_total and n_active within 2%."""
    for s in enumerate_shapes(d, g, e, 64, ShapeRules(tp=tp), each_side=1):
        model = count_config(hf_config(s).config)
        n_active = 12 * s.d_model**2 * s.n_blocks  # SPEC §1, written out
        n_total = s.d_model**2 * (8 * e + 4) * s.n_blocks
        assert abs(model.n_total / n_total - 1) <= 0.02
        assert abs(model.n_active / n_active - 1) <= 0.02
        assert (model.n_experts, model.top_k, model.d_model, model.n_blocks) == (
            g * e,
            g,
            s.d_model,
            s.n_blocks,
        )
        assert model.router_params == s.d_model * g * e * s.n_blocks


def test_write_is_atomic_and_round_trips(tmp_path):
    s = shape(d=1024, n=16, g=8, e=64, head=64)
    path = tmp_path / "config.json"
    path.write_text("old")
    ex = write_hf_config(path, s)
    assert json.loads(path.read_text()) == ex.config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no temp left
    assert path.stat().st_mode & 0o044  # readable like a plain open() would make it
    model = load_config(path)
    assert model.n_experts == 512 and model.top_k == 8


def test_write_refuses_bad_places_and_leaves_nothing(tmp_path):
    s = shape()
    with pytest.raises(InputError, match="does not exist"):
        write_hf_config(tmp_path / "missing" / "config.json", s)
    with pytest.raises(InputError, match="folder"):
        write_hf_config(tmp_path, s)
    assert list(tmp_path.iterdir()) == []


def test_bad_shapes_are_refused():
    with pytest.raises(InputError, match="n_heads x head_dim"):
        hf_config(
            Shape(
                d_model=1000,
                n_blocks=4,
                n_heads=7,
                head_dim=128,
                d_expert=500,
                n_experts=64,
                top_k=8,
            )
        )
    with pytest.raises(InputError, match="vocab_size"):
        hf_config(shape(), vocab_size=0)
    with pytest.raises(InputError, match="top_k"):
        hf_config(
            Shape(
                d_model=1024,
                n_blocks=4,
                n_heads=8,
                head_dim=128,
                d_expert=64,
                n_experts=32,
                top_k=64,
            )
        )


@pytest.mark.parametrize("flops, name", [(1e19, "1e19"), (1e21, "1e21"), (1e23, "1e23")])
def test_shipped_export_fixtures_are_what_export_writes(flops, name, tmp_path):
    """The files tools/check_export.py checks with transformers are today's exports."""
    s = best_shape(load_law("krajewski2024-moe"), flops, rules=ShapeRules(tp=8)).best.shape
    fixture = FIXTURES / f"moe-{name}-tp8.config.json"
    assert json.loads(fixture.read_text()) == hf_config(s).config
    write_hf_config(tmp_path / "c.json", s)
    assert (tmp_path / "c.json").read_text() == fixture.read_text()


def test_transformers_counts_when_recorded():
    """tools/check_export.py's record (transformers on the meta device) agrees with inspect."""
    path = DATA / "export_meta_counts.json"
    if not path.exists():
        pytest.skip(
            "tests/data/export_meta_counts.json not recorded yet (run tools/check_export.py)"
        )
    doc = json.loads(path.read_text())
    assert doc["models"], "the record holds no model"
    for key, entry in doc["models"].items():
        assert entry["status"] == "ok", key
        model = load_config(Path(__file__).parent.parent / key)
        assert model.n_total == entry["n_total"] and model.n_active == entry["n_active"], key
        assert abs(entry["n_total"] / entry["plan_n_total"] - 1) <= 0.02, key
        assert os.path.basename(key).endswith(".config.json")

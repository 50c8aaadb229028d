"""`moeplan inspect` against transformers' own counts (tests/data/hf_param_counts.json).

tools/count_params.py instantiates every fixture config with transformers on the meta device and
freezes the exact counts; this test compares moeplan's reading of the same files: the total to
the parameter, and the active count through the routed-expert share (transformers has no notion
of "active": active = total - routed + routed·top_k/n_experts). It skips only while that file
does not exist (it is generated where torch and transformers are installed).

moeplan counts what a checkpoint stores; transformers' ``parameters()`` leave out persistent
buffers, so the comparison is with parameters + persistent buffers (DeepSeek-V3's, Kimi K2's,
GLM's and dots1's per-expert ``e_score_correction_bias``). Multi-token-prediction layers are in
neither count.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from moeplan.hf import load_config

ROOT = Path(__file__).resolve().parent.parent
COUNTS = ROOT / "tests" / "data" / "hf_param_counts.json"
CONFIG_DIRS = (ROOT / "tests" / "data" / "hf-configs", ROOT / "tests" / "fixtures" / "hf")
FIXTURES = sorted(str(p.relative_to(ROOT)) for d in CONFIG_DIRS for p in d.glob("*.json"))


@pytest.fixture(scope="module")
def truth():
    if not COUNTS.is_file():
        pytest.skip(
            "tests/data/hf_param_counts.json not generated yet: run "
            "tools/count_params.py where torch and transformers are installed"
        )
    return json.loads(COUNTS.read_text())


def _entry(truth, key):
    entry = truth["models"].get(key)
    assert entry is not None, f"{key} has no entry: rerun tools/count_params.py"
    if entry.get("status") == "not in transformers" and "counted_as" not in entry:
        pytest.skip(
            f"{key}: {entry['model_type']} is not in transformers {truth['transformers_version']}"
        )
    assert entry.get("status") in ("ok", "not in transformers"), (
        f"{key}: transformers failed: {entry.get('error')}"
    )
    return entry


def test_every_fixture_was_counted(truth):
    assert set(FIXTURES) <= set(truth["models"]), (
        f"fixtures without a ground-truth count: {sorted(set(FIXTURES) - set(truth['models']))}"
    )
    assert truth["script"] == "tools/count_params.py"
    assert truth["transformers_version"] and truth["torch_version"] and truth["date"]


@pytest.mark.parametrize("key", FIXTURES)
def test_total_to_the_parameter(truth, key):
    entry = _entry(truth, key)
    m = load_config(ROOT / key)
    stored = entry["n_parameters"] + entry["n_persistent_buffers"]
    assert m.n_total_with_embedding == stored, (
        f"{key}: moeplan {m.n_total_with_embedding:,} vs transformers {entry['n_parameters']:,} "
        f"parameters + {entry['n_persistent_buffers']:,} persistent buffers "
        f"({entry['persistent_buffer_kinds']})"
    )


@pytest.mark.parametrize("key", FIXTURES)
def test_routed_experts_and_embeddings(truth, key):
    entry = _entry(truth, key)
    m = load_config(ROOT / key)
    routed = m.breakdown["routed_experts"]["total"]
    assert routed == entry["routed_expert_params"], key
    assert m.n_input_embedding == entry["input_embedding_params"], key
    assert m.tied_embeddings == entry["tied_embeddings"], key
    head = m.n_output_head if not m.tied_embeddings else m.breakdown["output_head"]["total"]
    assert head == entry["output_head_params"], key
    if entry.get("n_layers_built") is not None:
        assert m.n_blocks == entry["n_layers_built"], key


@pytest.mark.parametrize("key", FIXTURES)
def test_active_through_the_routed_share(truth, key):
    entry = _entry(truth, key)
    m = load_config(ROOT / key)
    total = entry["n_parameters"] + entry["n_persistent_buffers"]
    routed = entry["routed_expert_params"]
    share = Fraction(m.top_k, m.n_experts) if m.is_moe else Fraction(1)
    active = total - routed + routed * share
    assert active.denominator == 1, f"{key}: routed params not a whole number per expert"
    assert m.n_active_with_embedding == int(active), (
        f"{key}: moeplan active {m.n_active_with_embedding:,} vs {int(active):,} from "
        f"transformers' total and routed-expert share"
    )

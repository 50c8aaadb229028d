#!/usr/bin/env python
"""Ground truth for `moeplan inspect`: the exact parameter counts transformers builds.

For every fixture config (tests/data/hf-configs/*.json and tests/fixtures/hf/*.json) this
instantiates the model on the meta device (no memory, no weights, no network):

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)

and counts every parameter, the persistent buffers (saved in checkpoints, e.g. DeepSeek-V3's
and GLM's ``e_score_correction_bias``), the routed-expert parameters (module names containing
``.experts.``, and GraniteMoE's fused ``input_linear``/``output_linear``), the input embedding
and the output head. It writes one JSON (default tests/data/hf_param_counts.json) with the
transformers and torch versions, the date and this script's name; tests/test_hf_ground_truth.py
compares `moeplan inspect` against it.

Robust by design: a family that fails is recorded with its error and the run goes on; a
model_type transformers does not know is recorded as "not in transformers" (and, where moeplan
reads it as a known architecture, e.g. kimi_k2 as deepseek_v3, counted as that architecture too).
Layers transformers does not build (multi-token prediction, ``num_nextn_predict_layers``) are
not in its counts; the JSON says so per model.

Usage (on a machine with torch and transformers >= 4.54):

    python tools/count_params.py --out tests/data
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIRS = (ROOT / "tests" / "data" / "hf-configs", ROOT / "tests" / "fixtures" / "hf")
#: model_types transformers lacks that are a known architecture under another name.
ALIASES = {"kimi_k2": "deepseek_v3"}
#: Keys dropped before building: they change how weights are stored, not how many there are.
DROP_KEYS = ("quantization_config", "auto_map")
ROUTED = (
    re.compile(r"(^|\.)experts\."),
    re.compile(r"\.block_sparse_moe\.(input|output)_linear\."),
)
ROUTER = re.compile(r"(\.gate\.|\.router\.|shared_expert_gate\.|\.router\.layer\.)")


def _persistent_buffers(model):
    seen, total, names = set(), 0, []
    for mod_name, module in model.named_modules():
        skip = getattr(module, "_non_persistent_buffers_set", set())
        for name, buf in module._buffers.items():
            if buf is None or name in skip or id(buf) in seen:
                continue
            seen.add(id(buf))
            total += buf.numel()
            names.append(f"{mod_name}.{name}" if mod_name else name)
    kinds = sorted({re.sub(r"\.\d+\.", ".N.", n) for n in names})
    return total, kinds


def count_model(model) -> dict:
    params = dict(model.named_parameters())  # shared (tied) tensors appear once
    n_params = sum(p.numel() for p in params.values())
    routed = sum(p.numel() for n, p in params.items() if any(r.search(n) for r in ROUTED))
    router = sum(
        p.numel()
        for n, p in params.items()
        if ROUTER.search(n) and not any(r.search(n) for r in ROUTED)
    )
    emb = model.get_input_embeddings()
    head = model.get_output_embeddings()
    n_emb = sum(p.numel() for p in emb.parameters())
    tied = head is not None and head.weight is emb.weight
    n_head = (
        0
        if head is None
        else sum(p.numel() for n, p in head.named_parameters() if not (tied and n == "weight"))
    )
    buffers, buffer_kinds = _persistent_buffers(model)
    base = getattr(model, "model", None) or getattr(model, "transformer", None)
    layers = getattr(base, "layers", None) or getattr(base, "blocks", None)
    return {
        "n_parameters": n_params,
        "n_persistent_buffers": buffers,
        "persistent_buffer_kinds": buffer_kinds,
        "routed_expert_params": routed,
        "router_params_by_name": router,
        "input_embedding_params": n_emb,
        "output_head_params": n_head,
        "tied_embeddings": bool(tied),
        "n_layers_built": None if layers is None else len(layers),
        "model_class": type(model).__name__,
    }


def _as_float(data, key):
    """A copy of ``data`` with every int under ``key`` (at any depth) made a float."""
    if isinstance(data, dict):
        return {
            k: (
                float(v)
                if k == key and isinstance(v, int) and not isinstance(v, bool)
                else _as_float(v, key)
            )
            for k, v in data.items()
        }
    return data


def _build_config(cls, cfg_dict: dict, entry: dict):
    """The config object; where a strict transformers release rejects a published int for a
    float field (DBRX's ``moe_normalize_expert_weights: 1``), retry with that field as a float
    and record it (the value is the same number; no count depends on it)."""
    coerced = []
    for _ in range(8):
        try:
            config = cls.from_dict(cfg_dict)
            break
        except Exception as exc:  # only the int-for-float case is retried
            m = re.search(
                r"Field '(\w+)' with value \S+ doesn't match.*expected float, got int",
                str(exc),
                re.DOTALL,
            )
            if not m or m.group(1) in coerced:
                raise
            coerced.append(m.group(1))
            cfg_dict = _as_float(cfg_dict, m.group(1))
    if coerced:
        entry["coerced_to_float"] = coerced
    return config


def count_file(path: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    data = json.loads(path.read_text())
    model_type = data.get("model_type")
    entry = {"model_type": model_type, "name": data.get("_name_or_path")}
    if data.get("num_nextn_predict_layers"):
        entry["not_built"] = (
            f"{data['num_nextn_predict_layers']} multi-token-prediction "
            f"layer(s) (num_nextn_predict_layers): in the checkpoint, not built "
            f"by transformers, not in these counts"
        )
    build_as = model_type
    if model_type not in CONFIG_MAPPING:
        entry["in_transformers"] = False
        entry["status"] = "not in transformers"
        if model_type not in ALIASES:
            return entry
        build_as = ALIASES[model_type]
        entry["counted_as"] = build_as
    else:
        entry["in_transformers"] = True
    cfg_dict = {k: v for k, v in data.items() if k not in DROP_KEYS and k != "model_type"}
    dropped = [k for k in DROP_KEYS if k in data]
    if dropped:
        entry["dropped_keys"] = dropped
    t0 = time.time()
    config = _build_config(CONFIG_MAPPING[build_as], cfg_dict, entry)
    if hasattr(config, "_attn_implementation"):  # a preference only: no count depends on it
        try:
            config._attn_implementation = "eager"
        except (AttributeError, ValueError, TypeError) as exc:
            entry["attn_implementation_note"] = f"{type(exc).__name__}: {exc}"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    entry.update(count_model(model))
    entry["seconds"] = round(time.time() - t0, 2)
    entry["status"] = "ok"
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--out",
        default=str(ROOT / "tests" / "data"),
        help="folder for hf_param_counts.json (default tests/data)",
    )
    ap.add_argument("--only", nargs="*", help="file names to count (default: every fixture)")
    args = ap.parse_args(argv)
    import torch
    import transformers

    files = [p for d in CONFIG_DIRS if d.is_dir() for p in sorted(d.glob("*.json"))]
    if args.only:
        files = [p for p in files if p.name in set(args.only)]
    models = {}
    for path in files:
        key = str(path.relative_to(ROOT))
        try:
            models[key] = count_file(path)
        except Exception as exc:  # noqa: BLE001 - one failure per family, recorded, not fatal
            models[key] = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=4),
            }
        print(
            f"{key}: {models[key].get('status')} "
            f"{models[key].get('n_parameters', models[key].get('error', ''))}",
            flush=True,
        )
    doc = {
        "script": "tools/count_params.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "method": "AutoModelForCausalLM.from_config on the meta device, "
        "trust_remote_code=False; n_parameters counts model.parameters() once "
        "each (tied weights once)",
        "models": models,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hf_param_counts.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(
        f"wrote {out / 'hf_param_counts.json'}: "
        f"{sum(m.get('status') == 'ok' for m in models.values())} of {len(models)} counted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

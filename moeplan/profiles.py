"""Hardware profiles: what ``moeplan calibrate`` measured, read back with a strict schema.

A profile is a YAML document (:data:`moeplan.calibrate.PROFILE_SCHEMA`) with the GPU, its
provenance, the measured grid and one record per measured point. Shipped profiles live in
``moeplan/hardware_profiles/NAME.yaml``; anywhere a name is accepted, a path works too.
Every file goes through :mod:`moeplan.yamlio` (size and alias limits, ``safe_load``), and an
unknown key is an error that names it.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .calibrate import PROFILE_SCHEMA
from .errors import FileFormatError, InputError
from .yamlio import load_yaml_file

#: Folder of the shipped profiles (inside the package, so it is in the wheel).
SHIPPED_DIR = Path(__file__).resolve().parent / "hardware_profiles"

_TOP_REQUIRED = (
    "schema",
    "name",
    "gpu",
    "provenance",
    "grid",
    "expert",
    "dense",
    "attention",
    "router",
)
_TOP_OPTIONAL = ("not_measured", "flop_counts", "description")
_PROVENANCE = (
    "gpu",
    "compute_capability",
    "gpu_memory_bytes",
    "torch",
    "cuda",
    "cudnn",
    "date",
    "moeplan",
    "command",
    "dtype",
    "timer",
    "python",
    "seconds",
    "grouped_gemm",
    "note",
)
_GRID = (
    "d_model",
    "granularity",
    "expansion_rate",
    "tokens",
    "warmup",
    "repetitions",
    "seconds_per_point",
    "attention_seq_len",
    "head_dim",
    "head_vocab",
    "max_groups",
    "expert_weight_budget_bytes",
)
_MEASURED = ("status", "ms", "repetitions", "tflops", "error")
_SECTIONS = {
    "expert": (
        ("expansion_rate", "d_model", "d_expert", "top_k", "experts_per_gpu", "tokens_per_expert"),
        ("backend",),
    ),
    "dense": (("d_model",), ("part", "vocab")),
    "attention": (("d_model", "seq_len", "head_dim", "n_heads"), ("batch",)),
    "router": (("expansion_rate", "d_model", "n_experts", "top_k"), ("seconds_per_token",)),
}
DENSE_PARTS = ("attention_proj", "ffn", "head")
STATUSES = ("ok", "oom", "error")


@dataclass
class Profile:
    """A measured GPU: records per part, each a dict with shape keys, ``status`` and ``tflops``."""

    name: str
    gpu: str
    source: str
    provenance: dict
    grid: dict
    expert: list[dict]
    dense: list[dict]
    attention: list[dict]
    router: list[dict]
    not_measured: str = ""
    flop_counts: dict = field(default_factory=dict)
    description: str = ""

    def ok(self, section: str, **match) -> list[dict]:
        """Measured points of a section (``status: ok``), optionally matching some keys."""
        return [
            r
            for r in getattr(self, section)
            if r["status"] == "ok" and all(r.get(k) == v for k, v in match.items())
        ]

    def expert_tflops(self) -> list[dict]:
        """``{d_model, d_expert, top_k, tflops, ...}`` for every expert point (null if failed)."""
        return [
            {
                "d_model": r["d_model"],
                "d_expert": r["d_expert"],
                "top_k": r["top_k"],
                "tflops": r["tflops"],
                "expansion_rate": r["expansion_rate"],
                "experts_per_gpu": r["experts_per_gpu"],
                "tokens_per_expert": r["tokens_per_expert"],
                "status": r["status"],
                "backend": r.get("backend"),
            }
            for r in self.expert
        ]


def _where(source: str, section: str | None = None, index: int | None = None) -> str:
    if section is None:
        return f"profile {source}"
    return f"profile {source}: {section}[{index}]"


def _check_keys(mapping, required, optional, where: str) -> None:
    if not isinstance(mapping, dict):
        raise FileFormatError(f"{where} must be a mapping of keys to values")
    unknown = [k for k in mapping if k not in required and k not in optional]
    if unknown:
        allowed = ", ".join(list(required) + list(optional))
        raise FileFormatError(f"{where}: unknown key {unknown[0]!r}; known keys are {allowed}")
    missing = [k for k in required if k not in mapping]
    if missing:
        raise FileFormatError(f"{where}: missing key {missing[0]!r}")


def _positive_int(value, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FileFormatError(f"{where}: {key} must be a positive whole number, got {value!r}")
    return value


def _check_record(rec, section: str, where: str) -> dict:
    ints, optional = _SECTIONS[section]
    required = ints + ("status", "tflops")
    _check_keys(rec, required, optional + _MEASURED, where)
    for key in ints:
        _positive_int(rec[key], key, where)
    if rec["status"] not in STATUSES:
        raise FileFormatError(
            f"{where}: status must be one of {', '.join(STATUSES)}, got {rec['status']!r}"
        )
    for key in ("tflops", "ms", "seconds_per_token"):
        value = rec.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise FileFormatError(f"{where}: {key} must be a positive number, got {value!r}")
    if rec["status"] == "ok" and rec["tflops"] is None:
        raise FileFormatError(f"{where}: a point with status ok needs tflops")
    if rec["status"] != "ok" and rec["tflops"] is not None:
        raise FileFormatError(
            f"{where}: a point with status {rec['status']} has no tflops; give null"
        )
    if section == "dense":
        if rec.get("part") not in DENSE_PARTS:
            raise FileFormatError(
                f"{where}: part must be one of {', '.join(DENSE_PARTS)}, got {rec.get('part')!r}"
            )
        if rec["part"] == "head":
            _positive_int(rec.get("vocab"), "vocab", where)
    if section == "expert" and rec["experts_per_gpu"] > 1024:
        raise FileFormatError(f"{where}: experts_per_gpu is at most 1024 (grouped GEMM groups)")
    return dict(rec)


def profile_from_mapping(doc, source: str) -> Profile:
    """Validate a parsed profile document; every problem is one FileFormatError naming it."""
    where = _where(source)
    _check_keys(doc, _TOP_REQUIRED, _TOP_OPTIONAL, where)
    if doc["schema"] != PROFILE_SCHEMA:
        raise FileFormatError(f"{where}: schema must be {PROFILE_SCHEMA!r}, got {doc['schema']!r}")
    for key in ("name", "gpu"):
        if not isinstance(doc[key], str) or not doc[key].strip():
            raise FileFormatError(f"{where}: {key} must be a non-empty string")
    _check_keys(doc["provenance"], (), _PROVENANCE, f"{where}: provenance")
    _check_keys(doc["grid"], (), _GRID, f"{where}: grid")
    if "flop_counts" in doc:
        _check_keys(
            doc["flop_counts"],
            (),
            ("expert", "attention_proj", "ffn", "head", "attention", "router"),
            f"{where}: flop_counts",
        )
    sections = {}
    for section in _SECTIONS:
        items = doc[section]
        if not isinstance(items, list):
            raise FileFormatError(f"{where}: {section} must be a list of measured points")
        sections[section] = [
            _check_record(rec, section, _where(source, section, i)) for i, rec in enumerate(items)
        ]
    if not any(r["status"] == "ok" for r in sections["expert"]):
        raise FileFormatError(f"{where}: no expert point was measured (status ok)")
    return Profile(
        name=doc["name"],
        gpu=doc["gpu"],
        source=source,
        provenance=dict(doc["provenance"]),
        grid=dict(doc["grid"]),
        not_measured=str(doc.get("not_measured", "")),
        flop_counts=dict(doc.get("flop_counts") or {}),
        description=str(doc.get("description", "")),
        **sections,
    )


def shipped_profile_names() -> list[str]:
    """Names of the profiles shipped with moeplan (sorted)."""
    if not SHIPPED_DIR.is_dir():
        return []
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml"))


def _looks_like_path(text: str) -> bool:
    return (
        os.sep in text
        or "/" in text
        or text.lower().endswith((".yaml", ".yml"))
        or Path(text).is_file()
    )


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (see :func:`shipped_profile_names`) or a profile YAML file."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise InputError("profile: give a shipped profile name or a YAML file")
    if _looks_like_path(name_or_path):
        path, source = Path(name_or_path), name_or_path
    else:
        names = shipped_profile_names()
        if name_or_path not in names:
            have = f"shipped profiles: {', '.join(names)}" if names else "no profile is shipped yet"
            raise InputError(
                f"unknown profile {name_or_path!r} ({have}); give a name or the "
                "path of a file written by `moeplan calibrate`"
            )
        return profile_from_mapping(copy.deepcopy(_shipped_document(name_or_path)), name_or_path)
    doc = load_yaml_file(path, what="profile")
    return profile_from_mapping(doc, source)


@functools.cache
def _shipped_document(name: str):
    """A shipped profile's parsed YAML, read once per process (the files ship with the package
    and do not change while it runs); callers get a deep copy, so nothing they do to a Profile
    reaches the next one."""
    return load_yaml_file(SHIPPED_DIR / f"{name}.yaml", what="profile")

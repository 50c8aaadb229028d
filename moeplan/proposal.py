"""Proposed training configurations for ``moeplan check``: the YAML format and its validation.

A proposal (CLI.md)::

    law: krajewski2024-moe          # optional; a shipped name or a path (relative to this file)
    name: my-run                    # optional, shown in reports
    model:
      d_model: 2048
      n_blocks: 32
      expansion_rate: 64            # or n_experts + top_k, from which E and G follow
      granularity: 8
      router_flops_per_param: 14    # optional override of c_r
      flops_per_param: 6            # optional override of c_f
      vocab_size: 50257             # optional: counts and memory with embeddings
      tied_embeddings: false        # optional
      bytes_per_param: 2            # optional, for the memory figure (bf16)
      # or, instead of the shape keys: config: path/to/config.json (a Hugging Face config)
    training:
      tokens: 500B                  # or flops: 1e23 (then tokens follow from the FLOPs formula)
    limits:                         # each optional; a check runs for each limit given
      max_loss_gap: 0.01
      min_compute_efficiency: 0.9
      max_flops: 1e23
      max_total_params: 1T
      max_memory: 80GB
      max_memory_per_gpu: 75GB      # with hardware: (default: the GPU's memory)
    hardware:                       # optional: training memory per GPU and a parallel layout
      gpu: h100                     # h100, h200, a100, b200, mi300x
      gpus: 1024
      seq_len: 4096                 # optional (default 4096)
      micro_batch: 1                # optional (default 1)

Unknown keys are an error that names the key; numbers accept suffixes (``500B``, ``1e23``).
Contradictions (``n_experts`` not divisible by ``top_k``, ``d_expert = 4·d_model/G`` not whole,
``tokens`` and ``flops`` both given, shape keys next to ``config``) are errors too. Files are
read through :mod:`moeplan.yamlio` (size, depth and alias-expansion limits; ``safe_load`` only).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FileFormatError, InputError
from .units import parse_memory, parse_number
from .yamlio import parse_yaml, read_text

TOP_KEYS = ("law", "name", "description", "model", "training", "limits", "hardware")
MODEL_KEYS = (
    "d_model",
    "n_blocks",
    "expansion_rate",
    "granularity",
    "n_experts",
    "top_k",
    "router_flops_per_param",
    "flops_per_param",
    "c_r",
    "c_f",
    "vocab_size",
    "tied_embeddings",
    "bytes_per_param",
    "config",
)
TRAINING_KEYS = ("tokens", "flops")
LIMIT_KEYS = (
    "max_loss_gap",
    "min_compute_efficiency",
    "max_flops",
    "max_total_params",
    "max_memory",
    "max_memory_per_gpu",
)
HARDWARE_KEYS = ("gpu", "gpus", "seq_len", "micro_batch")
#: Largest count accepted anywhere in a proposal; beyond it float arithmetic stops being exact.
_MAX_COUNT = 2.0**62


@dataclass(frozen=True)
class Limit:
    """One limit of a proposal: its name, value and where it is written (for annotations).

    ``value`` None disables the limit (``max_loss_gap: null``); ``source`` says where it came
    from: ``default``, ``file`` or ``command line``.
    """

    name: str
    value: float | None
    line: int | None = None
    source: str = "file"


@dataclass(frozen=True)
class Proposal:
    """A validated proposal. Shape fields are None when the model comes from a config.json.

    ``limits`` is None when the file gives no ``limits`` section; the documented defaults
    apply either way, unless a limit of the same name replaces or (``null``) disables one. ``lines`` maps dotted keys (``limits.max_flops``)
    to 1-based line numbers in the file.
    """

    source: str
    name: str
    law: str | None
    d_model: float | None = None
    n_blocks: float | None = None
    expansion_rate: float | None = None
    granularity: float | None = None
    n_experts: float | None = None  # the joint law's E (model.n_experts alone)
    tokens: float | None = None
    flops: float | None = None
    c_f: float | None = None
    c_r: float | None = None
    vocab_size: float | None = None
    tied_embeddings: bool | None = None  # None: not given (the law's convention)
    bytes_per_param: float = 2.0
    config_path: str | None = None
    limits: tuple | None = None
    lines: dict = field(default_factory=dict)
    hardware: dict | None = None  # {gpu, gpus, seq_len, micro_batch}, validated

    def line_of(self, key: str) -> int | None:
        """Line of a dotted key, falling back to its section, then None."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None


def _where(source: str, key: str) -> str:
    return f"{source}: {key}"


def _mapping(value, source: str, key: str, allowed) -> dict:
    if not isinstance(value, dict):
        raise FileFormatError(
            f"{_where(source, key)}: expected a mapping of keys to values, "
            f"got {type(value).__name__}"
        )
    for k in value:
        if not isinstance(k, str) or k not in allowed:
            raise FileFormatError(
                f"{_where(source, key)}: unknown key {k!r}; allowed: {', '.join(allowed)}"
            )
    return value


def _number(value, source: str, key: str, *, positive=True, whole=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FileFormatError(
            f"{_where(source, key)}: expected a number (e.g. 500B, 1e23), got "
            f"{type(value).__name__}"
        )
    try:
        v = parse_number(value, _where(source, key))
    except InputError as exc:
        raise FileFormatError(str(exc)) from None
    if positive and v <= 0:
        raise FileFormatError(f"{_where(source, key)}: must be positive, got {value!r}")
    if not positive and v < 0:
        raise FileFormatError(f"{_where(source, key)}: must not be negative, got {value!r}")
    if abs(v) > _MAX_COUNT and whole:
        raise FileFormatError(f"{_where(source, key)}: {value!r} is too large")
    if whole and v != math.floor(v):
        raise FileFormatError(f"{_where(source, key)}: must be a whole number, got {value!r}")
    return v


def _line_numbers(root, out: dict) -> None:
    """Fill ``out`` with dotted key -> 1-based line, for the top two levels of the composed
    node graph ``root`` (parse_yaml hands it over before building the data; it has already
    refused keys given twice)."""
    import yaml

    if not isinstance(root, yaml.MappingNode):
        return

    def walk(node, prefix):
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                continue
            key = f"{prefix}{k.value}"
            out.setdefault(key, k.start_mark.line + 1)
            if not prefix and isinstance(v, yaml.MappingNode):
                walk(v, f"{k.value}.")

    walk(root, "")


def _resolve_path(value, base: Path, source: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FileFormatError(f"{_where(source, key)}: expected a name or a path")
    if "/" in value or os.sep in value or value.endswith((".yaml", ".yml", ".json")):
        p = Path(value)
        return str(p if p.is_absolute() else base / p)
    return value


def parse_limits(raw, source: str, lines: dict | None = None) -> tuple:
    """Validate a ``limits`` mapping into :class:`Limit` objects (file order)."""
    lines = lines or {}
    if raw is None:
        return ()
    raw = _mapping(raw, source, "limits", LIMIT_KEYS)
    out = []
    for key, value in raw.items():
        where = f"limits.{key}"
        if value is None:  # `max_loss_gap: null` switches a default check off
            out.append(Limit(key, None, lines.get(where)))
            continue
        if key in ("max_memory", "max_memory_per_gpu"):
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise FileFormatError(f"{_where(source, where)}: expected a size such as 80GB")
            try:
                v = parse_memory(value, _where(source, where))
            except InputError as exc:
                raise FileFormatError(str(exc)) from None
        elif key == "max_loss_gap":
            v = _number(value, source, where, positive=False)
        else:
            v = _number(value, source, where)
        if key == "min_compute_efficiency" and v > 1.5:
            raise FileFormatError(
                f"{_where(source, where)}: is a ratio (e.g. 0.9 for 90%), got {value!r}"
            )
        out.append(Limit(key, v, lines.get(where)))
    return tuple(out)


def parse_hardware(raw, source: str) -> dict:
    """Validate a ``hardware`` mapping: ``gpu`` (a known accelerator), ``gpus`` (whole), optional
    ``seq_len`` and ``micro_batch`` (whole; defaults 4096 and 1)."""
    from .hardware import get_accelerator
    from .training import MICRO_BATCH_DEFAULT, SEQ_LEN_DEFAULT

    raw = _mapping(raw, source, "hardware", HARDWARE_KEYS)
    for key in ("gpu", "gpus"):
        if raw.get(key) is None:
            raise FileFormatError(
                f"{source}: hardware.{key} is missing; hardware: needs gpu "
                f"(e.g. h100) and gpus (e.g. 1024)"
            )
    if not isinstance(raw["gpu"], str):
        raise FileFormatError(f"{_where(source, 'hardware.gpu')}: expected a name such as h100")
    try:
        gpu = get_accelerator(raw["gpu"]).name
    except InputError as exc:
        raise FileFormatError(f"{_where(source, 'hardware.gpu')}: {exc}") from None
    out = {"gpu": gpu}
    for key, default, hi in (
        ("gpus", None, 1e9),
        ("seq_len", SEQ_LEN_DEFAULT, 2**24),
        ("micro_batch", MICRO_BATCH_DEFAULT, 2**20),
    ):
        v = (
            default
            if raw.get(key) is None
            else _number(raw[key], source, f"hardware.{key}", whole=True)
        )
        if v > hi:
            raise FileFormatError(
                f"{_where(source, f'hardware.{key}')}: at most {hi:g}, got {raw[key]!r}"
            )
        out[key] = int(v)
    return out


def proposal_from_mapping(
    data, source: str = "<proposal>", base_dir: str | os.PathLike = ".", lines: dict | None = None
) -> Proposal:
    """Validate a parsed proposal.

    Raises
    ------
    FileFormatError
        Naming the key, for unknown keys, missing or ill-typed values and contradictions.
    """
    lines = lines or {}
    base = Path(base_dir)
    if data is None:
        raise FileFormatError(
            f"{source}: the file is empty; a proposal needs model: and training: sections"
        )
    data = _mapping(data, source, "top level", TOP_KEYS)
    for key in ("model", "training"):
        if key not in data:
            raise FileFormatError(
                f"{source}: missing section {key!r}; a proposal needs model: and training:"
            )
    name = data.get("name", Path(source.strip("'\"")).stem)
    if not isinstance(name, str):
        raise FileFormatError(f"{_where(source, 'name')}: expected text")
    if not isinstance(data.get("description", ""), str):
        raise FileFormatError(f"{_where(source, 'description')}: expected text")
    law = data.get("law")
    law = None if law is None else _resolve_path(law, base, source, "law")

    model = _mapping(data["model"], source, "model", MODEL_KEYS)
    training = _mapping(data["training"], source, "training", TRAINING_KEYS)

    def num(key, **kw):
        return None if model.get(key) is None else _number(model[key], source, f"model.{key}", **kw)

    def pair(a, b, **kw):
        va, vb = num(a, **kw), num(b, **kw)
        if va is not None and vb is not None and va != vb:
            raise FileFormatError(
                f"{source}: model.{a} and model.{b} are the same setting with "
                f"different values ({va:g} and {vb:g}); give one"
            )
        return va if va is not None else vb

    c_r = pair("router_flops_per_param", "c_r", positive=False)
    c_f = pair("flops_per_param", "c_f")
    vocab = num("vocab_size", whole=True)
    tied = model.get("tied_embeddings")  # None: the law's convention (tied for Chinchilla)
    if tied is not None and not isinstance(tied, bool):
        raise FileFormatError(f"{_where(source, 'model.tied_embeddings')}: expected true or false")
    bpp = num("bytes_per_param")
    bpp = 2.0 if bpp is None else bpp

    shape_keys = [
        k
        for k in (
            "d_model",
            "n_blocks",
            "expansion_rate",
            "granularity",
            "n_experts",
            "top_k",
            "vocab_size",
            "tied_embeddings",
        )
        if k in model
    ]
    config_path = joint_experts = None
    d_model = n_blocks = E = G = None
    if "config" in model:
        if shape_keys:
            raise FileFormatError(
                f"{source}: model.config gives the architecture; remove "
                f"model.{shape_keys[0]} (it would contradict the config)"
            )
        config_path = _resolve_path(model["config"], base, source, "model.config")
    else:
        for key in ("d_model", "n_blocks"):
            if model.get(key) is None:  # absent, or present and empty (null)
                raise FileFormatError(
                    f"{source}: model.{key} is missing (or give model.config: "
                    f"a Hugging Face config.json)"
                )
        d_model = num("d_model", whole=True)
        n_blocks = num("n_blocks", whole=True)
        E, G = num("expansion_rate"), num("granularity")
        n_exp, top_k = num("n_experts", whole=True), num("top_k", whole=True)
        if n_exp is not None and top_k is None and E is None and G is None and _joint_law(law):
            joint_experts, n_exp = n_exp, None  # the joint law: E experts, top-1
        elif (n_exp is None) != (top_k is None):
            raise FileFormatError(
                f"{source}: model.n_experts and model.top_k go together "
                f"(E = n_experts / top_k, G = top_k; n_experts alone is E "
                f"for law: ludziejewski2025-joint)"
            )
        if n_exp is not None:
            if top_k > n_exp:
                raise FileFormatError(
                    f"{source}: model.top_k {top_k:g} is more than model.n_experts {n_exp:g}"
                )
            if n_exp % top_k:
                raise FileFormatError(
                    f"{source}: model.n_experts {n_exp:g} is not divisible by "
                    f"model.top_k {top_k:g}; E = n_experts / top_k must be "
                    f"whole (e.g. n_experts {top_k * round(n_exp / top_k):g})"
                )
            for key, given, implied in (
                ("expansion_rate", E, n_exp / top_k),
                ("granularity", G, top_k),
            ):
                if given is not None and given != implied:
                    raise FileFormatError(
                        f"{source}: model.{key} {given:g} contradicts "
                        f"n_experts / top_k (which give {implied:g})"
                    )
            E, G = n_exp / top_k, top_k
        if G is not None:
            if G != math.floor(G):
                raise FileFormatError(
                    f"{source}: model.granularity {G:g} must be a whole number "
                    f"(it is top-k, the experts each token visits)"
                )
            d_exp = 4.0 * d_model / G
            if d_exp != math.floor(d_exp):
                raise FileFormatError(
                    f"{source}: d_expert = 4*d_model/granularity = "
                    f"{d_exp:g} is not a whole number; choose a granularity "
                    f"that divides 4*d_model = {4 * d_model:g}"
                )
            if E is not None and E * G != math.floor(E * G):
                raise FileFormatError(
                    f"{source}: n_experts = expansion_rate*granularity = "
                    f"{E * G:g} is not a whole number"
                )

    tokens = (
        None
        if training.get("tokens") is None
        else _number(training["tokens"], source, "training.tokens")
    )
    flops = (
        None
        if training.get("flops") is None
        else _number(training["flops"], source, "training.flops")
    )
    if tokens is not None and flops is not None:
        raise FileFormatError(
            f"{source}: training.tokens and training.flops both given; give "
            f"one (the other follows from the FLOPs formula)"
        )
    if tokens is None and flops is None:
        raise FileFormatError(f"{source}: training needs tokens (e.g. 500B) or flops (e.g. 1e23)")

    limits = parse_limits(data["limits"], source, lines) if "limits" in data else None
    hardware = parse_hardware(data["hardware"], source) if "hardware" in data else None
    if hardware is None and any(
        lim.name == "max_memory_per_gpu" and lim.value is not None for lim in limits or ()
    ):
        raise FileFormatError(
            f"{_where(source, 'limits.max_memory_per_gpu')}: needs a hardware: "
            f"section (gpu, gpus; optional seq_len, micro_batch)"
        )
    return Proposal(
        hardware=hardware,
        source=source,
        name=name,
        law=law,
        d_model=d_model,
        n_blocks=n_blocks,
        n_experts=joint_experts,
        expansion_rate=E,
        granularity=G,
        tokens=tokens,
        flops=flops,
        c_f=c_f,
        c_r=c_r,
        vocab_size=vocab,
        tied_embeddings=tied,
        bytes_per_param=bpp,
        config_path=config_path,
        limits=limits,
        lines=lines,
    )


def _joint_law(law) -> bool:
    """Whether the proposal names a law whose choice is the number of experts."""
    if law is None:
        return False
    from .coefficients import load_law
    from .errors import MoeplanError

    try:
        return load_law(law).choice == "n_experts"
    except MoeplanError:
        return False


def load_proposal(path: str | os.PathLike) -> Proposal:
    """Read and validate a proposal YAML file (all of :mod:`moeplan.yamlio`'s limits apply).

    Raises
    ------
    FileFormatError
        One line naming the file and the problem.
    """
    source = str(path)
    text = read_text(path, what="proposal")
    lines: dict = {}
    # one parse: the line numbers come from the node graph parse_yaml composed (with libyaml)
    data = parse_yaml(
        text, source=f"proposal {source!r}", inspect_node=lambda node: _line_numbers(node, lines)
    )
    return proposal_from_mapping(data, source=source, base_dir=Path(path).parent, lines=lines)


def is_hf_config(path: str | os.PathLike) -> bool:
    """True for a ``.json`` file: ``check`` reads those as Hugging Face configs."""
    return str(path).lower().endswith(".json")


__all__ = [
    "HARDWARE_KEYS",
    "LIMIT_KEYS",
    "Limit",
    "Proposal",
    "is_hf_config",
    "load_proposal",
    "parse_hardware",
    "parse_limits",
    "proposal_from_mapping",
]

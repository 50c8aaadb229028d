"""Coefficient sets: the YAML files in ``coefficients/`` and users' own files.

A file is validated strictly: required keys, types, positive values where the law needs
them, and unknown keys are rejected by name. The schema::

    name: krajewski2024-moe
    form: fine_grained_moe            # | chinchilla | joint_moe
    description: one line
    coefficients: {a: 18.1, alpha: 0.115, b: 30.8, beta: 0.147, g: 2.1, gamma: 0.58, c: 0.47}
    variables:
      params: total_non_embedding     # what N means: total_non_embedding | non_embedding
                                      #   | active_with_embedding | total_with_embedding
      tokens: training_tokens
      vocab_size: 50257               # only for laws whose N counts embeddings
    flops: {c_f: 6, c_r: 14, expansion_rate: 64, aspect_ratio: 64}
    fitted_range: {params: [1.29e8, 3.7e9], tokens: [1.6e10, 1.3e11], granularity: [1, 16]}
    comparable_with: [krajewski2024-dense]
    citation: "..."
    bootstrap: {a: [...], alpha: [...], ...}   # optional: coefficient samples from `moeplan fit`
    provenance: {...}                          # optional: how a fitted file was made
    precision: {a: 0.05, alpha: 0.0005, ...}   # optional: half a unit in the last published digit
    loss_definition: "..."                     # optional: what the loss is (data, tokenizer, routing)
    notes: "..."                               # optional: caveats printed by `moeplan laws NAME`
    fitted_range_source: "..."                 # optional: the table the fitted range comes from
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import TYPE_CHECKING

from . import domain
from .errors import FileFormatError, InputError
from .laws import COEFFICIENT_NAMES, FORMS, Law
from .units import parse_number
from .yamlio import load_yaml_file

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_LAW = "krajewski2024-moe"

_TOP_KEYS = {
    "name",
    "form",
    "description",
    "coefficients",
    "variables",
    "flops",
    "fitted_range",
    "comparable_with",
    "citation",
    "bootstrap",
    "provenance",
    "precision",
    "loss_definition",
    "notes",
    "fitted_range_source",
}
_VARIABLE_KEYS = {"params", "tokens", "vocab_size"}
_PARAM_MEANINGS = (
    "total_non_embedding",
    "non_embedding",
    "active_with_embedding",
    "total_with_embedding",
)
_FLOPS_KEYS = {"c_f", "c_r", "expansion_rate", "aspect_ratio"}
#: ``tokens_per_param``: D / N (N as the law counts it), where the source states a limit.
_RANGE_KEYS = {
    "params",
    "params_total",
    "tokens",
    "granularity",
    "expansion_rate",
    "n_experts",
    "tokens_per_param",
}
#: Coefficients that may be negative (joint law exponents are negative as written).
_SIGNED = {"joint_moe": {"alpha", "delta", "gamma", "beta", "omega", "zeta"}}
MAX_BOOTSTRAP_SAMPLES = 100_000
#: Exponents of the laws (their size for the joint law's signed ones) and the largest scale
#: coefficient (a, b, g, c, E_start, E_max) a law file may hold.
EXPONENTS = {"alpha", "beta", "gamma", "delta", "omega", "zeta"}
MAX_EXPONENT = 10.0
MIN_EXPONENT = 1e-3
MAX_SCALE = 1e30
#: Smallest scale coefficient (a, b, g) a law file may hold: below it the optimum's powers
#: of a/b overflow a double (b = 1e-300 crashed the solver). moeplan fit never goes below
#: e^-30 ~ 9e-14, so no fitted law is refused.
MIN_SCALE = 1e-30
#: Largest |log10| of the compute-optimal N or D the coefficients alone may imply,
#: log10(alpha*a / (beta*b)) / (alpha + beta): far beyond any model, short of overflow.
MAX_OPTIMUM_DECADES = 250.0


def coefficients_dir() -> Path:
    """The folder of shipped coefficient sets.

    Installed wheels carry it as ``moeplan/coefficients``; in a source checkout it is the
    repository's top-level ``coefficients/`` folder.
    """
    from pathlib import Path

    return Path(_coefficients_dir())


@lru_cache(maxsize=1)
def _coefficients_dir() -> str:
    # os.path rather than importlib.resources or pathlib: the same answer for an installed
    # wheel, and less start-up (pathlib alone is ~5% of `import numpy`)
    here = os.path.dirname(os.path.realpath(__file__))
    packaged = os.path.join(here, "coefficients")
    return (
        packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(here), "coefficients")
    )


def shipped_law_names() -> list[str]:
    """Names of the shipped coefficient sets, sorted."""
    return sorted(p.stem for p in coefficients_dir().glob("*.yaml"))


def _number(value, where: str, positive=False, non_negative=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise FileFormatError(f"{where}: expected a number, got {type(value).__name__}")
    try:
        v = parse_number(value, where)
    except InputError as exc:
        raise FileFormatError(str(exc)) from None
    if positive and v <= 0:
        raise FileFormatError(f"{where}: must be positive, got {value!r}")
    if non_negative and v < 0:
        raise FileFormatError(f"{where}: must not be negative, got {value!r}")
    return v


def _bounded(value: float, where: str, lo: float, hi: float, lo_open: bool = False) -> float:
    try:
        return domain.in_range(value, where, lo, hi, lo_open=lo_open)
    except InputError as exc:
        raise FileFormatError(str(exc)) from None


def _mapping(value, where: str, allowed: set | None = None) -> dict:
    if not isinstance(value, dict):
        raise FileFormatError(
            f"{where}: expected a mapping of keys to values, got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str):
            raise FileFormatError(f"{where}: keys must be text, got {key!r}")
        if allowed is not None and key not in allowed:
            raise FileFormatError(
                f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"
            )
    return value


def _text(value, where: str) -> str:
    if not isinstance(value, str):
        raise FileFormatError(f"{where}: expected text, got {type(value).__name__}")
    return value


def _check_solvable(form: str, coeffs: dict, where: str) -> None:
    """Refuse coefficients that pass the per-key bounds but put the optimum beyond a double.

    The compute-optimal N of ``a/N^alpha + b/D^beta`` scales with
    ``(alpha*a / (beta*b))^(1/(alpha+beta))``: with ``b = 1e-300`` (or ``a = 1e-300`` and
    small exponents) that power overflows, and the solver crashed instead of answering.
    """
    if form == "joint_moe":
        return
    for key in ("a", "b", "g"):
        if key in coeffs and coeffs[key] < MIN_SCALE:
            raise FileFormatError(
                f"{where}: coefficients.{key} must be at least {MIN_SCALE:g}, got "
                f"{coeffs[key]:g}; a term that small is zero for every model (drop it by "
                f"fixing it in `moeplan fit`, or check the exponent of the number)"
            )
    alpha, beta = coeffs["alpha"], coeffs["beta"]
    scales = [coeffs["a"]] + ([coeffs["a"] + coeffs["g"]] if "g" in coeffs else [])
    for a in scales:
        decades = abs(math.log10(alpha * a / (beta * coeffs["b"]))) / (alpha + beta)
        if decades > MAX_OPTIMUM_DECADES:
            raise FileFormatError(
                f"{where}: coefficients a = {coeffs['a']:g} and b = {coeffs['b']:g} with "
                f"alpha = {alpha:g}, beta = {beta:g} put the compute-optimal model size 1e"
                f"{decades:.0f} away from the token count, beyond any double; check the "
                f"coefficients"
            )


def law_from_mapping(data, source: str = "<mapping>") -> Law:
    """Validate a parsed coefficient file and build a :class:`Law`.

    Raises
    ------
    FileFormatError
        With the offending key named, for any missing, unknown or ill-typed entry.
    """
    where = f"law file {source}"
    data = _mapping(data, where, _TOP_KEYS)
    for key in ("name", "form", "coefficients"):
        if key not in data:
            raise FileFormatError(f"{where}: missing required key {key!r}")
    name = _text(data["name"], f"{where}: name")
    form = _text(data["form"], f"{where}: form")
    if form not in FORMS:
        raise FileFormatError(f"{where}: form {form!r} is unknown; use one of {', '.join(FORMS)}")
    names = COEFFICIENT_NAMES[form]
    coeffs_raw = _mapping(data["coefficients"], f"{where}: coefficients", set(names))
    coeffs = {}
    signed = _SIGNED.get(form, set())
    for key in names:
        if key not in coeffs_raw:
            raise FileFormatError(
                f"{where}: coefficients: missing {key!r} (form {form} needs {', '.join(names)})"
            )
        at = f"{where}: coefficients.{key}"
        if key in signed:
            coeffs[key] = _number(coeffs_raw[key], at)
        elif key == "c":
            coeffs[key] = _number(coeffs_raw[key], at, non_negative=True)
        else:
            coeffs[key] = _number(coeffs_raw[key], at, positive=True)
        # bounded so that no power or product of the law overflows a double: exponents as
        # moeplan fit bounds them (at most 10 in size), scales up to 1e30 (fit: e^60 ~ 1e26)
        if key in signed:
            _bounded(abs(coeffs[key]), at + " (its size)", 0.0, MAX_EXPONENT)
        elif key in ("alpha", "beta"):
            # near zero the optimum runs off to a model or a token count beyond any double
            _bounded(coeffs[key], at, MIN_EXPONENT, MAX_EXPONENT)
        elif key in EXPONENTS:
            _bounded(coeffs[key], at, 0.0, MAX_EXPONENT, lo_open=True)
        else:
            _bounded(coeffs[key], at, 0.0, MAX_SCALE)
    _check_solvable(form, coeffs, where)
    if form == "joint_moe" and not coeffs["e_start"] < coeffs["e_max"]:
        raise FileFormatError(f"{where}: coefficients: e_start must be below e_max")

    variables = _mapping(data.get("variables", {}) or {}, f"{where}: variables", _VARIABLE_KEYS)
    params_meaning = variables.get(
        "params",
        "active_with_embedding"
        if form == "joint_moe"
        else "total_non_embedding"
        if form == "fine_grained_moe"
        else "non_embedding",
    )
    if params_meaning not in _PARAM_MEANINGS:
        raise FileFormatError(
            f"{where}: variables.params {params_meaning!r} is unknown; use one "
            f"of {', '.join(_PARAM_MEANINGS)}"
        )
    if "tokens" in variables and variables["tokens"] != "training_tokens":
        raise FileFormatError(f"{where}: variables.tokens must be 'training_tokens'")
    vocab = variables.get("vocab_size")
    vocab = (
        None if vocab is None else _number(vocab, f"{where}: variables.vocab_size", positive=True)
    )

    flops = _mapping(data.get("flops", {}) or {}, f"{where}: flops", _FLOPS_KEYS)
    c_f = _bounded(
        _number(flops.get("c_f", 6), f"{where}: flops.c_f", positive=True),
        f"{where}: flops.c_f",
        *domain.FLOPS_PER_PARAM,
    )
    c_r = _bounded(
        _number(flops.get("c_r", 14), f"{where}: flops.c_r", non_negative=True),
        f"{where}: flops.c_r",
        0.0,
        domain.FLOPS_PER_PARAM[1],
    )
    expansion = flops.get("expansion_rate")
    expansion = (
        None
        if expansion is None
        else _bounded(
            _number(expansion, f"{where}: flops.expansion_rate", positive=True),
            f"{where}: flops.expansion_rate",
            domain.MIN_EXPERTS,
            domain.MAX_EXPERTS,
        )
    )
    aspect = _bounded(
        _number(flops.get("aspect_ratio", 64), f"{where}: flops.aspect_ratio", positive=True),
        f"{where}: flops.aspect_ratio",
        *domain.ASPECT_RATIO,
    )
    if form == "fine_grained_moe" and expansion is None:
        expansion = 64.0

    ranges = {}
    for key, value in _mapping(
        data.get("fitted_range", {}) or {}, f"{where}: fitted_range", _RANGE_KEYS
    ).items():
        if not isinstance(value, list) or len(value) != 2:
            raise FileFormatError(f"{where}: fitted_range.{key}: expected [low, high]")
        # a null low end means "not published": no warning below the range
        lo = (
            0.0
            if value[0] is None
            else _number(value[0], f"{where}: fitted_range.{key}", positive=True)
        )
        hi = _number(value[1], f"{where}: fitted_range.{key}", positive=True)
        if lo > hi:
            raise FileFormatError(f"{where}: fitted_range.{key}: low {lo:g} is above high {hi:g}")
        ranges[key] = (lo, hi)

    comparable = data.get("comparable_with", []) or []
    if not isinstance(comparable, list) or not all(isinstance(x, str) for x in comparable):
        raise FileFormatError(f"{where}: comparable_with: expected a list of set names")

    bootstrap = data.get("bootstrap")
    if bootstrap is not None:
        bootstrap = _mapping(bootstrap, f"{where}: bootstrap", set(names))
        lengths = set()
        samples = {}
        for key, values in bootstrap.items():
            if not isinstance(values, list) or not values or len(values) > MAX_BOOTSTRAP_SAMPLES:
                raise FileFormatError(
                    f"{where}: bootstrap.{key}: expected a non-empty list of "
                    f"at most {MAX_BOOTSTRAP_SAMPLES} numbers"
                )
            samples[key] = tuple(_number(v, f"{where}: bootstrap.{key}") for v in values)
            lengths.add(len(values))
        if len(lengths) > 1:
            raise FileFormatError(
                f"{where}: bootstrap: every coefficient needs the same number of samples"
            )
        bootstrap = samples or None

    provenance = data.get("provenance")
    if provenance is not None:
        provenance = dict(_mapping(provenance, f"{where}: provenance"))

    # published precision: half a unit in the last printed digit of each coefficient
    precision = {}
    for key, value in _mapping(
        data.get("precision", {}) or {}, f"{where}: precision", set(names)
    ).items():
        precision[key] = _bounded(
            _number(value, f"{where}: precision.{key}", non_negative=True),
            f"{where}: precision.{key}",
            0.0,
            MAX_SCALE,
        )

    return Law(
        name=name,
        form=form,
        coefficients=coeffs,
        params_meaning=params_meaning,
        c_f=c_f,
        c_r=c_r,
        expansion_rate=expansion,
        aspect_ratio=aspect,
        vocab_size=vocab,
        fitted_range=ranges,
        comparable_with=tuple(comparable),
        citation=_text(data.get("citation", ""), f"{where}: citation"),
        description=_text(data.get("description", ""), f"{where}: description"),
        source=source,
        bootstrap=bootstrap,
        provenance=provenance,
        precision=precision,
        loss_definition=_text(data.get("loss_definition", ""), f"{where}: loss_definition"),
        notes=_text(data.get("notes", ""), f"{where}: notes"),
        fitted_range_source=_text(
            data.get("fitted_range_source", ""), f"{where}: fitted_range_source"
        ),
    )


def _precompiled(path: str):
    """The parsed mapping of a shipped file from moeplan/_shipped_laws.py, or None.

    Parsing YAML needs the yaml package (~8 ms to import) and a pure-Python parse (~2 ms);
    the shipped sets are also stored pre-parsed, and used only when the file on disk is
    byte-for-byte the one they were made from (same SHA-256), so the YAML stays the source of
    truth. Regenerate with ``python -m moeplan.compile_laws``; tests/test_coefficients.py
    fails when the stored copy is stale.
    """
    if os.path.normpath(os.path.dirname(path)) != _coefficients_dir():
        return None
    from ._shipped_laws import LAWS

    entry = LAWS.get(os.path.basename(path))
    if entry is None:
        return None
    try:
        with open(path, "rb") as fh:
            digest = _sha256(fh.read()).hexdigest()
    except OSError:
        return None
    return _copy_plain(entry[1]) if digest == entry[0] else None


def _copy_plain(value):
    """A deep copy of parsed YAML (dicts, lists, scalars): copy.deepcopy's memo and dispatch
    cost ~2 ms per law at start-up for data that has no cycles and no other types."""
    if isinstance(value, dict):
        return {k: _copy_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_plain(v) for v in value)
    return value


def _sha256(data: bytes):
    """hashlib.sha256 without importing hashlib, which loads OpenSSL (~5 ms of start-up):
    CPython's built-in SHA-256 gives the same digest."""
    try:
        from _sha256 import sha256  # Python <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # Python >= 3.12
        except ImportError:
            from hashlib import sha256
    return sha256(data)


@lru_cache(maxsize=32)
def _load_cached(path: str, stamp: tuple) -> Law:
    data = _precompiled(path)
    if data is None:
        data = load_yaml_file(path, what="law file")
    return law_from_mapping(data, source=repr(path))


def compiled_module_text() -> str:
    """Source of moeplan/_shipped_laws.py: every shipped file's SHA-256 and parsed mapping."""
    import hashlib
    import pprint

    laws = {}
    for path in sorted(coefficients_dir().glob("*.yaml")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        laws[path.name] = (digest, load_yaml_file(path, what="law file"))
    return (
        '"""The shipped coefficient sets, pre-parsed (generated: python -m '
        "moeplan.compile_laws).\n\nDo not edit: the YAML files in coefficients/ are the "
        'source; an entry is used only\nwhile its SHA-256 matches the file.\n"""\n\n'
        f"LAWS = {pprint.pformat(laws, width=99, sort_dicts=True)}\n"
    )


def _load_path(path: str) -> Law:
    # keyed by modification time and size too, so a rewritten file is read again
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = ()  # type: ignore[assignment]  # no stat: a key that never matches a file
    return _load_cached(path, stamp)


def load_law(name_or_path: str | os.PathLike | None = None) -> Law:
    """Load a shipped coefficient set by name, or a user's YAML file by path.

    Parameters
    ----------
    name_or_path : str or path, optional
        A shipped name (see :func:`shipped_law_names`), or a path to a YAML file.
        ``None`` gives the default, ``krajewski2024-moe``.

    Raises
    ------
    FileFormatError
        If the name is unknown or the file is missing or invalid.
    """
    if name_or_path is not None and not isinstance(name_or_path, (str, os.PathLike)):
        raise InputError(
            f"law must be a shipped name ({', '.join(shipped_law_names())}) or "
            f"a path to a YAML file, got {type(name_or_path).__name__}"
        )
    key = DEFAULT_LAW if name_or_path is None else os.fsdecode(name_or_path)
    if not key.strip() or "\x00" in key:
        raise InputError(f"law {key!r}: give a shipped name or a path to a YAML file")
    shipped = os.path.join(_coefficients_dir(), f"{key}.yaml")
    if "/" not in key and os.sep not in key and not key.endswith((".yaml", ".yml")):
        if os.path.isfile(shipped):
            return _load_path(shipped)
        raise FileFormatError(
            f"unknown law {key!r}; use one of {', '.join(shipped_law_names())} "
            f"or a path to a YAML file"
        )
    return _load_path(key)


def law_to_mapping(law: Law) -> dict:
    """The YAML-ready mapping of a law, in the shipped schema (inverse of law_from_mapping)."""
    out: dict = {
        "name": law.name,
        "form": law.form,
        "description": law.description,
        "coefficients": {k: float(law.coefficients[k]) for k in COEFFICIENT_NAMES[law.form]},
        "variables": {"params": law.params_meaning, "tokens": "training_tokens"},
        "flops": {"c_f": law.c_f, "c_r": law.c_r, "aspect_ratio": law.aspect_ratio},
        "fitted_range": {
            k: [float(lo) if lo > 0 else None, float(hi)]
            for k, (lo, hi) in law.fitted_range.items()
        },
        "comparable_with": list(law.comparable_with),
        "citation": law.citation,
    }
    if law.vocab_size is not None:
        out["variables"]["vocab_size"] = float(law.vocab_size)
    if law.expansion_rate is not None:
        out["flops"]["expansion_rate"] = float(law.expansion_rate)
    if law.bootstrap:
        out["bootstrap"] = {k: [float(x) for x in v] for k, v in law.bootstrap.items()}
    if law.provenance:
        out["provenance"] = dict(law.provenance)
    for key in ("fitted_range_source", "loss_definition", "notes"):
        if getattr(law, key):
            out[key] = getattr(law, key)
    if law.precision:
        out["precision"] = {k: float(v) for k, v in law.precision.items()}
    return out

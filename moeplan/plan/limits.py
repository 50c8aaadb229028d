"""The limits a plan is made under, for every law (one frozen, validated object).

``max_total_params`` counts total NON-EMBEDDING parameters (``n_total``, router excluded) for
every law, the same count as the JSON ``n_total``; ``memory`` counts everything served
(weights, router, embeddings where the vocabulary is known, KV cache).
"""

from __future__ import annotations

from dataclasses import asdict, replace

from .. import domain
from .._record import Record, dataclass
from ..errors import InputError

#: bf16 weights and KV cache.
BYTES_PER_PARAM_DEFAULT = 2.0

_OPTIONAL = ("memory", "max_total_params", "max_tokens", "max_choice", "params")


def _count(value, what, param, allow_zero=False):
    if value is None:
        return None
    return domain.count(
        value, what, param=param, **({"allow_zero": True} if allow_zero else {"minimum": 1.0})
    )


@dataclass(frozen=True, eq=False, repr=False)
class Limits(Record):
    """Limits on the planned model; ``None`` means no limit.

    Attributes
    ----------
    memory : float
        Bytes to serve the model: (weights + router [+ embeddings]) × ``bytes_per_param`` plus
        the KV cache ``2·kv_tokens·n_blocks·d_model·bytes_per_param``.
    bytes_per_param : float
        Bytes per parameter and per cached value (2 = bf16).
    kv_tokens : float
        Tokens held in the KV cache.
    vocab_size, tied_embeddings
        Embedding accounting of the fine-grained and dense laws (the joint law has its own V);
        ``tied_embeddings=None``: the law's convention (untied, except the Chinchilla sets,
        whose N counts one tied matrix: :mod:`moeplan.laws.chinchilla`).
    max_total_params : float
        Cap on total non-embedding parameters (``n_total``), every law.
    max_tokens : float
        Training tokens available (data).
    max_choice : float
        Largest value of the law's discrete choice (granularity G; number of experts E).
    params : float
        Fixed model size: the law's N.
    inference_tokens : float
        Lifetime inference tokens whose forward FLOPs come out of the budget.
    """

    memory: float | None = None
    bytes_per_param: float = BYTES_PER_PARAM_DEFAULT
    kv_tokens: float = 0.0
    vocab_size: float | None = None
    tied_embeddings: bool | None = None
    max_total_params: float | None = None
    max_tokens: float | None = None
    max_choice: float | None = None
    params: float | None = None
    inference_tokens: float = 0.0

    def __post_init__(self):
        put = object.__setattr__
        if self.memory is not None:
            put(
                self,
                "memory",
                domain.in_range(
                    self.memory,
                    "memory (bytes)",
                    0.0,
                    domain.MAX_BYTES,
                    lo_open=True,
                    param="memory",
                ),
            )
        put(
            self,
            "bytes_per_param",
            domain.in_range(
                BYTES_PER_PARAM_DEFAULT if self.bytes_per_param is None else self.bytes_per_param,
                "bytes per parameter",
                *domain.BYTES_PER_PARAM,
                param="bytes_per_param",
            ),
        )
        put(
            self,
            "kv_tokens",
            _count(self.kv_tokens or 0.0, "KV-cache tokens", "kv_tokens", allow_zero=True),
        )
        put(
            self,
            "inference_tokens",
            _count(
                self.inference_tokens or 0.0,
                "inference tokens",
                "inference_tokens",
                allow_zero=True,
            ),
        )
        put(self, "vocab_size", _count(self.vocab_size, "vocabulary size", "vocab_size"))
        if self.tied_embeddings is not None:
            put(self, "tied_embeddings", bool(self.tied_embeddings))
        for name, what in (
            ("max_total_params", "max total params"),
            ("max_tokens", "max tokens"),
            ("params", "params"),
        ):
            put(self, name, _count(getattr(self, name), what, name))
        if self.max_choice is not None:
            put(
                self,
                "max_choice",
                domain.positive(self.max_choice, "max choice", param="max_choice"),
            )

    def active(self) -> list[str]:
        """Names of the limits that are set."""
        out = [n for n in _OPTIONAL if getattr(self, n) is not None]
        return out + (["inference_tokens"] if self.inference_tokens else [])

    def only(self, names) -> Limits:
        """A copy keeping only the named limits (memory settings travel with memory)."""
        keep = set(names)
        drop = {n: None for n in _OPTIONAL if n not in keep}
        if "inference_tokens" not in keep:
            drop["inference_tokens"] = 0.0
        return replace(self, **drop)

    def without(self, *names) -> Limits:
        """A copy without the named limits."""
        return self.only(set(self.active()) - set(names))

    @property
    def problem(self) -> str:
        """SPEC.md §7's name for the problem these limits pose."""
        parts = []
        if self.memory is not None:
            parts.append("total-memory" if self.kv_tokens > 0 else "model-memory")
        elif self.max_total_params is not None:
            parts.append("model-memory")
        if self.inference_tokens > 0:
            parts.append("inference-aware")
        return " + ".join(parts) if parts else "compute-optimal"

    def describe(self, name: str) -> str:
        """One limit in words, e.g. ``memory 16 GB``."""
        from ..units import format_bytes, format_count

        if name == "memory":
            return f"memory {format_bytes(self.memory)}"
        if name == "inference_tokens":
            return f"{format_count(self.inference_tokens)} inference tokens"
        value = getattr(self, name)
        label = {
            "max_total_params": "at most {} total parameters",
            "max_tokens": "at most {} training tokens",
            "max_choice": "choice (G or E) at most {}",
            "params": "model size fixed at {} parameters",
        }[name]
        return label.format(f"{value:g}" if name == "max_choice" else format_count(value))

    @property
    def description(self) -> str:
        """The limits in words, e.g. ``memory 16 GB, 2 bytes/param`` (``no limit`` if none)."""
        from ..units import format_count

        parts = []
        for name in self.active():
            parts.append(self.describe(name))
            if name == "memory" and self.kv_tokens:
                parts.append(f"KV cache {format_count(self.kv_tokens)} tokens")
        if parts:
            parts.append(f"{self.bytes_per_param:g} bytes/param")
        return ", ".join(parts) or "no limit"

    def to_dict(self) -> dict:
        out = asdict(self)
        # None (the law's convention) is untied for every law whose plan does not fill it in
        # (the Chinchilla sets' plans carry True): the JSON keeps its boolean
        out["tied_embeddings"] = bool(self.tied_embeddings)
        out["memory_bytes"] = self.memory  # the name of the joint planner's JSON, kept
        return out


NO_LIMITS = Limits()


def check_choices(values, name: str, whole: bool = False, default=None) -> tuple:
    """Candidate values of a law's choice: sorted, unique, from 1 to 1e6 (whole if asked).

    Raises
    ------
    InputError
        Naming ``name`` (the parameter) for an empty list or a value out of range.
    """
    import math

    if values is None:
        return tuple(default)
    vals = [values] if isinstance(values, (int, float, str)) else list(values)
    if not vals:
        raise InputError(f"{name}: give at least one value, e.g. 1,2,4,8", param=name)
    out = set()
    for v in vals:
        try:
            if isinstance(v, bool):
                raise TypeError
            x = float(v)
        except (TypeError, ValueError):
            raise InputError(
                f"{name}: {v!r} is not a number; use e.g. 1,2,4,8", param=name
            ) from None
        if whole and math.isfinite(x) and x >= 1 and x != math.floor(x):
            raise InputError(
                f"{name}: {v!r} is not a whole number >= 1 (1 = dense); use e.g. 1,2,4,8",
                param=name,
            )
        domain.experts(x, name, param=name)
        out.add(int(x) if whole else x)
    return tuple(sorted(out))

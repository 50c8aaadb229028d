"""moeplan: plan Mixture-of-Experts training compute with fine-grained MoE scaling laws.

The core is importable without the command line (no typer, rich, scipy or matplotlib)::

    >>> from moeplan import load_law, flops_breakdown
    >>> law = load_law("krajewski2024-moe")
    >>> round(float(law.loss(8.66e9, 1e10, granularity=8)), 3)
    2.862

One planner for every law: ``moeplan.optimize``, ``compare``, ``sweep`` and ``frontier``::

    >>> plan = optimize(load_law("ludziejewski2025-joint"), 1e21, memory=16e9)
    >>> plan.recommended.n_experts, plan.success
    (16.0, True)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .accounting import (
    FlopsBreakdown,
    active_params,
    d_expert,
    dense_flops,
    embedding_params,
    flops_breakdown,
    moe_flops,
    n_experts,
    router_params,
    tokens_for_flops,
    total_params,
)
from .coefficients import DEFAULT_LAW, load_law, shipped_law_names
from .errors import FileFormatError, InfeasibleError, InputError, MoeplanError
from .laws import Law, chinchilla_loss, fine_grained_loss, joint_e_hat, joint_loss
from .plan import (Configuration, Limits, OptimizeResult, compare, frontier, optimize,
                   sweep)
from .units import format_count, parse_memory, parse_number

__all__ = [
    "Configuration", "DEFAULT_LAW", "FileFormatError", "FlopsBreakdown", "InfeasibleError",
    "InputError", "Law", "Limits", "MoeplanError", "OptimizeResult", "__version__",
    "active_params", "chinchilla_loss", "compare", "d_expert", "dense_flops", "frontier",
    "optimize", "sweep",
    "embedding_params", "fine_grained_loss", "flops_breakdown", "format_count",
    "joint_e_hat", "joint_loss", "load_law", "moe_flops", "n_experts", "parse_memory",
    "parse_number", "router_params", "shipped_law_names", "tokens_for_flops", "total_params",
]

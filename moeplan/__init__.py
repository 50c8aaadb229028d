"""moeplan: plan Mixture-of-Experts training compute with fine-grained MoE scaling laws.

The core is importable without the command line (no typer, rich, scipy or matplotlib)::

    >>> from moeplan import load_law, flops_breakdown
    >>> law = load_law("krajewski2024-moe")
    >>> round(float(law.loss(8.66e9, 1e10, granularity=8)), 3)
    2.862

One planner for every law: ``moeplan.optimize``, ``compare``, ``sweep`` and ``frontier``::

    >>> from moeplan import optimize
    >>> plan = optimize(load_law("ludziejewski2025-joint"), 1e21, memory=16e9)
    >>> plan.recommended.n_experts, plan.success
    (16.0, True)
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Where each public name lives. The package imports nothing at start (PEP 562): ``import
#: moeplan.cli`` must not load numpy before the command line has chosen numpy's BLAS threads,
#: and ``moeplan --version`` needs no numpy at all.
_EXPORTS = {
    "FlopsBreakdown": "accounting",
    "active_params": "accounting",
    "d_expert": "accounting",
    "dense_flops": "accounting",
    "embedding_params": "accounting",
    "flops_breakdown": "accounting",
    "moe_flops": "accounting",
    "n_experts": "accounting",
    "router_params": "accounting",
    "tokens_for_flops": "accounting",
    "total_params": "accounting",
    "DEFAULT_LAW": "coefficients",
    "load_law": "coefficients",
    "shipped_law_names": "coefficients",
    "FileFormatError": "errors",
    "InfeasibleError": "errors",
    "InputError": "errors",
    "MoeplanError": "errors",
    "Law": "laws",
    "chinchilla_loss": "laws",
    "fine_grained_loss": "laws",
    "joint_e_hat": "laws",
    "joint_loss": "laws",
    "Configuration": "plan",
    "Limits": "plan",
    "OptimizeResult": "plan",
    "compare": "plan",
    "frontier": "plan",
    "optimize": "plan",
    "sweep": "plan",
    "format_count": "units",
    "parse_memory": "units",
    "parse_number": "units",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'moeplan' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "Configuration",
    "DEFAULT_LAW",
    "FileFormatError",
    "FlopsBreakdown",
    "InfeasibleError",
    "InputError",
    "Law",
    "Limits",
    "MoeplanError",
    "OptimizeResult",
    "__version__",
    "active_params",
    "chinchilla_loss",
    "compare",
    "d_expert",
    "dense_flops",
    "frontier",
    "optimize",
    "sweep",
    "embedding_params",
    "fine_grained_loss",
    "flops_breakdown",
    "format_count",
    "joint_e_hat",
    "joint_loss",
    "load_law",
    "moe_flops",
    "n_experts",
    "parse_memory",
    "parse_number",
    "router_params",
    "shipped_law_names",
    "tokens_for_flops",
    "total_params",
]

"""``moeplan lr``: the learning-rate rule of the Joint MoE scaling laws (SPEC.md §7)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..units import format_count
from .common import COUNT, POSITIVE_INT, JsonFlag, finish, output_format
from .render import Report, Table


def lr_command(
    params: Annotated[
        float,
        typer.Option(
            "--params",
            click_type=COUNT,
            metavar="N",
            help="Active non-embedding parameters of the model (e.g. 1.2B).",
        ),
    ],
    experts: Annotated[
        int,
        typer.Option(
            "--experts",
            "--n-experts",
            click_type=POSITIVE_INT,
            metavar="E",
            help="Number of experts E, a whole number; 1 is a dense model.",
        ),
    ] = 1,
    json_flag: JsonFlag = False,
) -> None:
    """Peak learning rate for an MoE with E experts (Ludziejewski et al. 2025).

    LR = exp(8.39 - 0.81 ln N - 0.25 ln E), N the active non-embedding parameters.

    Fitted on models up to 2.48B active non-embedding parameters (2.7B with embeddings) with E = 1 and 8, validated at E = 4 and 32 (warns outside).

    Example: moeplan lr --params 1.2B --experts 8
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    fmt = output_format(json_flag)
    finish(learning_rate_report(params, experts), fmt)


def learning_rate_report(n_active_non_embedding: float, n_experts: float) -> Report:
    """``moeplan lr``: the Joint MoE paper's learning-rate rule, with its source and range."""
    from ..laws.joint import LR_RANGE_TEXT, learning_rate_advice

    adv = learning_rate_advice(n_active_non_embedding, n_experts)
    rows = [
        ["learning rate", f"{adv.learning_rate:.4g}"],
        ["active non-embedding parameters", f"{format_count(adv.n_active)} ({adv.n_active:,.0f})"],
        ["experts E", f"{adv.n_experts:g}"],
        ["rule", adv.formula],
        ["fitted on", LR_RANGE_TEXT],
        ["source", adv.source],
    ]
    table = Table("Learning rate (Joint MoE scaling laws)", ["", "value"], rows)
    data = {k: v for k, v in adv.to_dict().items() if k != "warnings"}  # the renderer adds them
    return Report(data=data, tables=[table], warnings=list(adv.warnings))


COMMANDS: dict[str, tuple] = {"lr": (lr_command, {})}

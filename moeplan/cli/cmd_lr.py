"""``moeplan lr``: the learning-rate rule of the Joint MoE scaling laws (SPEC.md §7)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import COUNT, POSITIVE_INT, JsonFlag, finish, output_format


def lr_command(
    params: Annotated[float, typer.Option(
        "--params", click_type=COUNT, metavar="N",
        help="Active non-embedding parameters of the model (e.g. 1.2B).")],
    experts: Annotated[int, typer.Option(
        "--experts", "--n-experts", click_type=POSITIVE_INT, metavar="E",
        help="Number of experts E, a whole number; 1 is a dense model.")] = 1,
    json_flag: JsonFlag = False,
) -> None:
    """Peak learning rate for an MoE with E experts (Ludziejewski et al. 2025).

    LR = exp(8.39 - 0.81 ln N - 0.25 ln E), N the active non-embedding parameters.

    Fitted on models up to 2.48B active non-embedding parameters (2.7B with embeddings) with E = 1 and 8, validated at E = 4 and 32 (warns outside).

    Example: moeplan lr --params 1.2B --experts 8
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    from .joint_views import learning_rate_report  # not at start-up: keeps `moeplan --help` fast

    fmt = output_format(json_flag)
    finish(learning_rate_report(params, experts), fmt)


COMMANDS: dict[str, tuple] = {"lr": (lr_command, {})}

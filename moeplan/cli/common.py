"""Pieces every command shares: number types, the output-format flags, the law option.

A command module defines its functions with these annotated types, builds a
:class:`~moeplan.cli.render.Report` and hands it to :func:`finish`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import click
import typer

from .. import domain
from ..errors import MoeplanError
from . import convert
from .convert import BadValue, flatten, output_format  # noqa: F401 (re-exported)
from .render import Report, emit


class _Converted(click.ParamType):
    """A click type around a :mod:`moeplan.cli.convert` converter (the one definition of the
    conversion, shared with the typer-free fast path)."""

    def __init__(self, converter):
        self.converter = converter

    def convert(self, value, param, ctx):
        try:
            return self.converter(value)
        except BadValue as exc:
            self.fail(str(exc), param, ctx)


class NumberType(_Converted):
    """A human number on the command line: ``1e22``, ``70B``, ``1.4T``, ``16k``."""

    name = "NUMBER"

    def __init__(
        self,
        positive: bool = True,
        integer: bool = False,
        allow_zero: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ):
        super().__init__(convert.Number(positive, integer, allow_zero, minimum, maximum))


class MemoryType(_Converted):
    """A memory size: ``80GB``, ``640GiB``, ``1.5TB`` (bytes)."""

    name = "SIZE"

    def __init__(self):
        super().__init__(convert.Memory())


class NumberListType(_Converted):
    """A comma-separated list of positive human numbers, e.g. ``1,2,4,8``."""

    name = "LIST"

    def __init__(self):
        super().__init__(convert.NumberList())


POSITIVE = NumberType()
NON_NEGATIVE = NumberType(allow_zero=True)
POSITIVE_INT = NumberType(integer=True)
#: A count of parameters or tokens: at least one, at most moeplan.domain.MAX_COUNT.
COUNT = NumberType(minimum=1.0, maximum=domain.MAX_COUNT)
#: FLOPs per (router) parameter per token, c_f and c_r (moeplan.domain.FLOPS_PER_PARAM).
C_F = NumberType(minimum=domain.FLOPS_PER_PARAM[0], maximum=domain.FLOPS_PER_PARAM[1])
C_R = NumberType(allow_zero=True, maximum=domain.FLOPS_PER_PARAM[1])
COUNT_OR_ZERO = NumberType(allow_zero=True, maximum=domain.MAX_COUNT)
BYTES_PER_PARAM = NumberType(minimum=domain.BYTES_PER_PARAM[0], maximum=domain.BYTES_PER_PARAM[1])
MEMORY = MemoryType()
NUMBER_LIST = NumberListType()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print the rows as CSV on stdout.")]
LawOption = Annotated[
    Optional[str],
    typer.Option(
        "--law",
        metavar="NAME|PATH",
        help="Coefficient set: a shipped name (see `moeplan laws`) or a YAML file. "
        "(default: krajewski2024-moe)",
    ),
]
CfOption = Annotated[
    Optional[float],
    typer.Option(
        "--c-f", click_type=C_F, help="FLOPs per active parameter per token (default: law's, 6)."
    ),
]
CrOption = Annotated[
    Optional[float],
    typer.Option(
        "--c-r",
        click_type=C_R,
        help="FLOPs per router parameter per token; the paper's range is 6 to 20 "
        "(default: law's, 14).",
    ),
]

# Memory and inference options (CLI.md), shared by optimize, compare and sweep for both laws.
MemoryOption = Annotated[
    Optional[float],
    typer.Option(
        "--memory",
        click_type=MEMORY,
        metavar="SIZE",
        help="Memory for the served model (weights, router, embeddings with --vocab-size, KV "
        "cache), e.g. 80GB or 640GiB.",
    ),
]
BytesPerParamOption = Annotated[
    float,
    typer.Option(
        "--bytes-per-param",
        click_type=BYTES_PER_PARAM,
        metavar="B",
        show_default=False,
        help="Bytes per parameter and per cached value (default: 2, bf16).",
    ),
]
KvTokensOption = Annotated[
    float,
    typer.Option(
        "--kv-tokens",
        click_type=COUNT_OR_ZERO,
        metavar="T",
        show_default=False,
        help="Tokens held in the KV cache, counted in --memory (default: 0).",
    ),
]
InferenceTokensOption = Annotated[
    float,
    typer.Option(
        "--inference-tokens",
        click_type=COUNT_OR_ZERO,
        metavar="D",
        show_default=False,
        help="Lifetime inference tokens; their FLOPs (2 per active parameter, plus the router's "
        "forward share for fine-grained laws) come out of the budget (default: 0).",
    ),
]
MaxTotalParamsOption = Annotated[
    Optional[float],
    typer.Option(
        "--max-total-params",
        click_type=COUNT,
        metavar="N",
        help="Cap on total non-embedding parameters (n_total, router excluded), for every law.",
    ),
]
ExpertsOption = Annotated[
    Optional[list[float]],
    typer.Option(
        "--experts",
        click_type=NUMBER_LIST,
        metavar="LIST",
        help="Candidate numbers of experts for ludziejewski2025-joint (default: 1,2,4,8,16,32).",
    ),
]


def refuse(law_name: str, given: dict) -> None:
    """Reject options that do not apply to a law, naming them."""
    bad = [flag for flag, value in given.items() if value not in (None, False, 0, 0.0, [])]
    if bad:
        raise MoeplanError(
            f"{', '.join(bad)} {'does' if len(bad) == 1 else 'do'} not apply to {law_name}"
        )


def finish(report: Report, fmt: str) -> None:
    """Print the report and leave with its exit code."""
    code = emit(report, fmt)
    if code:
        raise typer.Exit(code)

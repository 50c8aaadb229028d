"""``moeplan inspect`` (a real model's config.json in the law's terms) and ``moeplan check``
(a CI gate for proposed training configurations), with the text/json/junit/github formats."""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import Annotated, Optional
from xml.etree import ElementTree as ET

import typer

from ..coefficients import load_law
from ..errors import InputError, MoeplanError
from ..hf import SEQ_LEN_DEFAULT, architecture_warnings, load_config
from ..units import format_bytes, format_count, format_sci
from .common import (
    COUNT,
    POSITIVE,
    POSITIVE_INT,
    CfOption,
    CrOption,
    JsonFlag,
    LawOption,
    finish,
    output_format,
)
from .render import Report, Table, print_warnings, to_json


def _count(value) -> str:
    return format_count(float(value), digits=4)


def inspect_command(
    path: Annotated[str, typer.Argument(metavar="FILE", help="A Hugging Face style config.json.")],
    seq_len: Annotated[
        int,
        typer.Option(
            "--seq-len",
            click_type=POSITIVE_INT,
            metavar="T",
            help="Context length (tokens) for the attention-score FLOPs.",
        ),
    ] = SEQ_LEN_DEFAULT,
    law: LawOption = None,
    c_f: CfOption = None,
    c_r: CrOption = None,
    as_family: Annotated[
        Optional[str],
        typer.Option(
            "--as",
            metavar="FAMILY",
            help="Read the config as this family whatever its model_type says (e.g. a fine-tune "
            "under its own model_type).",
        ),
    ] = None,
    json_flag: JsonFlag = False,
) -> None:
    """``moeplan inspect``; its help text is INSPECT_HELP below."""
    from ..lawpick import choose_law, joint_mapping

    fmt = output_format(json_flag)
    spec = load_law(law)
    joint = spec.form == "joint_moe"
    cf = spec.c_f if c_f is None else c_f
    cr = spec.router_c_r if c_r is None else c_r
    model = load_config(path, seq_len=seq_len, c_f=cf, c_r=cr, as_family=as_family)
    warnings = architecture_warnings(model, None if joint else spec)
    if joint:  # the joint law's experts are SwiGLU too: that difference is the fine-grained law's
        warnings = [w for w in warnings if not w.startswith("experts are SwiGLU")]
    data = model.to_dict()
    data["law"] = spec.name
    data["default_check_law"] = choose_law(model).to_dict()  # `check` with no law named
    b = model.breakdown

    rows = [["attention", _count(b["attention"]["total"]), _count(b["attention"]["active"])]]
    if model.is_moe:
        rows.append(
            [
                f"routed experts ({model.n_experts} x {model.d_expert}, top-{model.top_k})",
                _count(b["routed_experts"]["total"]),
                _count(b["routed_experts"]["active"]),
            ]
        )
    if b["shared_experts"]["total"]:
        rows.append(
            [
                "shared experts",
                _count(b["shared_experts"]["total"]),
                _count(b["shared_experts"]["active"]),
            ]
        )
    if b["dense_mlp"]["total"]:
        label = (
            "dense MLP" if not model.is_moe else f"dense MLP ({model.n_dense_blocks} dense blocks)"
        )
        rows.append([label, _count(b["dense_mlp"]["total"]), _count(b["dense_mlp"]["active"])])
    rows += [
        ["norms", _count(b["norms"]["total"]), _count(b["norms"]["active"])],
        ["non-embedding (n_total / n_active)", _count(model.n_total), _count(model.n_active)],
    ]
    if model.router_params:
        rows.append(["router", _count(model.router_params), _count(model.router_params)])
    tied = " (tied)" if model.tied_embeddings else ""
    rows += [
        [f"embedding + output head{tied}", _count(model.n_embedding), _count(model.n_embedding)],
        [
            "with embedding",
            _count(model.n_total_with_embedding),
            _count(model.n_active_with_embedding),
        ],
        ["  active without the input embedding", "", _count(model.n_active_with_output_head)],
    ]
    if model.mtp_params:
        rows.append(["multi-token prediction (not in totals)", _count(model.mtp_params), ""])
    t_params = Table(
        f"{model.name} ({model.family}): parameters",
        ["", "total", "active"],
        rows,
        caption=f"exact: {model.n_total_with_embedding:,} total, "
        f"{model.n_active_with_embedding:,} active with embedding",
    )

    lines = []
    if joint:
        jm = joint_mapping(model, c_f=6.0)
        data["law_mapping"] = jm.to_dict()
        map_rows = [
            ["N_act (active, with embeddings)", _count(jm.n_active)],
            ["E (number of routed experts)", f"{jm.n_experts}"],
            ["top-k (the law is top-1)", f"{jm.top_k}"],
            ["N_total (with embeddings)", _count(jm.n_total)],
            ["law FLOPs per token (6 N_act)", format_sci(jm.flops_per_token)],
        ]
        lines += [f"joint law: {n}" for n in jm.notes]
        warnings = warnings + spec.range_warnings(params=jm.n_active, n_experts=jm.n_experts)
        t_map = Table(
            f"Mapping to the law ({spec.name}): N = active with embeddings, E = experts",
            ["", "value"],
            map_rows,
        )
    else:
        map_rows = [
            ["G, granularity (= top-k)", f"{model.granularity:g}"],
            ["E, expansion rate (= n_experts / top-k)", f"{model.expansion_rate:.4g}"],
            ["n_experts / top_k", f"{model.n_experts} / {model.top_k}"],
            ["N (n_total, non-embedding)", _count(model.n_total)],
        ]
        if model.is_moe:
            map_rows += [
                ["G by size (SwiGLU width f = 2-matrix 1.5f)", f"{model.granularity_by_size:.3g}"],
                [
                    "E by size (routed expert params / 8 d_model^2)",
                    f"{model.expansion_rate_by_size:.3g}",
                ],
            ]
        t_map = Table(f"Mapping to the law ({spec.name}), by top-k", ["", "value"], map_rows)
        pick = data["default_check_law"]
        lines.append(f"check with no law named would use: {pick['law']} ({pick['reason']})")

    fb = model.flops_breakdown["forward"]
    f_rows = [
        ["weights (2 x n_active)", format_sci(fb["weights"])],
        ["router", format_sci(fb["router"])],
        ["output head", format_sci(fb["output_head"])],
        [f"attention scores (seq_len {seq_len})", format_sci(fb["attention_scores"])],
        ["forward", format_sci(model.flops_per_token_forward)],
        [f"training (c_f = {cf:g}, c_r = {cr:g}; attention 3x)", format_sci(model.flops_per_token)],
        ["law convention (c_f n_active + c_r router)", format_sci(model.law_flops_per_token)]
        if not joint
        else ["law convention (6 N_act, embeddings included)", format_sci(6.0 * jm.n_active)],
    ]
    t_flops = Table("FLOPs per token", ["", "FLOPs"], f_rows)
    lines += [f"note: {n}" for n in model.notes]
    finish(
        Report(data=data, tables=[t_params, t_map, t_flops], lines=lines, warnings=warnings), fmt
    )


# --------------------------------------------------------------------------- check


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    junit = "junit"
    github = "github"


def _check_one(path: str, law_name, tokens, flops, overrides):
    """(CheckResult, None) or (None, error message) for one file."""
    # imported here so `moeplan --help` and the other commands do not load the checker
    from ..check import check_config, check_proposal
    from ..proposal import is_hf_config, load_proposal

    try:
        law = load_law(law_name) if law_name else None
        if is_hf_config(path):
            return check_config(
                path, tokens=tokens, flops=flops, law=law, limit_overrides=overrides
            ), None
        if tokens is not None or flops is not None:
            raise MoeplanError(
                f"{path}: --tokens/--flops apply to config.json files; a proposal "
                f"gives training.tokens or training.flops itself"
            )
        return check_proposal(load_proposal(path), law=law, limit_overrides=overrides), None
    except MoeplanError as exc:
        from . import flag_message

        msg = " ".join(flag_message(exc, with_param=False).split())
        return None, msg if path in msg else f"{path}: {msg}"


def _text_report(results) -> Report:
    from ..check import CHECK_TITLES

    tables, lines, warnings = [], [], []
    many = len(results) > 1
    for path, res, err in results:
        if err is not None:  # already on stderr, one line
            continue
        rows = [
            [
                c.name,
                "PASS" if c.passed else "FAIL",
                _limit_value(c.name, c.value),
                _limit_value(c.name, c.limit),
                c.source,
                CHECK_TITLES[c.name],
            ]
            for c in res.checks
        ]
        status = "PASS" if res.passed else "FAIL"
        title = f"{status} {path} ({res.name}; {res.law}; limits from {res.limits_from})"
        if rows:
            tables.append(Table(title, ["check", "result", "value", "limit", "from", "what"], rows))
        else:
            lines.append(f"{title}: no limits, nothing to check")
        if res.limits_disabled:
            lines.append(f"{path}: limits switched off: {', '.join(res.limits_disabled)}")
        p, o = res.proposal, res.optimal
        cmp_rows = [
            ["loss", f"{p['loss']:.4f}", f"{o['loss']:.4f}"],
            ["training FLOPs (router included)", format_sci(p["flops"]), format_sci(o["flops"])],
            ["granularity G", f"{p['granularity']:g}", f"{o['granularity']:g}"],
            ["expansion rate E", f"{p['expansion_rate']:.4g}", f"{o['expansion_rate']:.4g}"],
            [
                "N (total, with embeddings)" if "law_mapping" in p else "N (total non-embedding)",
                format_count(p["n_total"]),
                format_count(o["n_total"]),
            ],
            [
                "active parameters (with embeddings)"
                if "law_mapping" in p
                else "active parameters",
                format_count(p["n_active"]),
                format_count(o["n_active"]),
            ],
            ["tokens", format_count(p["tokens"]), format_count(o["tokens"])],
            [
                "tokens per active parameter",
                f"{p['tokens_per_active_param']:.3g}",
                f"{o['tokens_per_active_param']:.3g}",
            ],
            [
                "router share of FLOPs",
                f"{p['router_flops'] / p['flops']:.2%}",
                f"{o['router_flops'] / o['flops']:.2%}",
            ],
            ["memory of the weights", format_bytes(p["memory_bytes"]), "-"],
            ["compute efficiency", f"{p['compute_efficiency']:.1%}", "100.0%"],
        ]
        tables.append(
            Table(
                f"{path}: proposal vs the optimum at the same FLOPs",
                ["", "proposal", "optimal"],
                cmp_rows,
            )
        )
        if res.law_choice:
            lines.append(f"law for {path}: {res.law} ({res.law_choice})")
        if res.suggestion:
            lines.append(f"suggestion for {path}: {res.suggestion}")
        warnings += [f"{path}: {w}" if many else w for w in res.warnings]
    n_fail = sum(1 for _, r, e in results if r is not None and not r.passed)
    n_err = sum(1 for _, _, e in results if e is not None)
    lines.append(
        f"{len(results)} file(s): {len(results) - n_fail - n_err} passed, "
        f"{n_fail} failed, {n_err} invalid"
    )
    return Report(data={}, tables=tables, lines=lines, warnings=warnings)


def _limit_value(name: str, value: float) -> str:
    if name == "min_compute_efficiency":
        return f"{value:.1%}"
    if name == "max_loss_gap":
        return f"{value:.4f}"
    if name == "max_memory":
        return format_bytes(value)
    if name == "max_total_params":
        return format_count(value)
    return format_sci(value)


def _json_document(results) -> dict:
    files = []
    for path, res, err in results:
        files.append(
            {"file": path, "passed": False, "error": err} if err is not None else res.to_dict()
        )
    doc = {"passed": all(f["passed"] for f in files), "files": files}
    if len(files) == 1:  # CLI.md: `check FILE` has passed/checks/proposal/optimal at the top
        doc.update({k: v for k, v in files[0].items() if k not in doc})
    return doc


def _suggest(check, res) -> bool:
    """The suggestion (same FLOPs, better loss) answers only the law-based checks."""
    return bool(res.suggestion) and check.name in ("max_loss_gap", "min_compute_efficiency")


#: Characters XML 1.0 forbids (C0 controls but tab, newline and carriage return; surrogates;
#: U+FFFE and U+FFFF): a parser refuses a document holding one, even escaped.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids shown as ``\\xNN`` (or ``\\uNNNN``)."""
    return _XML_FORBIDDEN.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def junit_xml(results) -> str:
    """JUnit XML: one <testsuite> per file, one <testcase> per check (CI test reporters)."""
    root = ET.Element("testsuites", name="moeplan check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for path, res, err in results:
        suite = ET.SubElement(root, "testsuite", name=path)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if err is not None:
            case = ET.SubElement(
                suite, "testcase", classname="moeplan.check", name="valid file", file=path
            )
            ET.SubElement(case, "error", message=err, type="invalid file").text = err
            counts["tests"] += 1
            counts["errors"] += 1
        else:
            for c in res.checks:
                attrs = {"classname": f"moeplan.check.{res.name}", "name": c.name, "file": path}
                if c.line:
                    attrs["line"] = str(c.line)
                case = ET.SubElement(suite, "testcase", **attrs)
                counts["tests"] += 1
                if not c.passed:
                    counts["failures"] += 1
                    detail = c.message + (
                        f"\nsuggestion: {res.suggestion}" if _suggest(c, res) else ""
                    )
                    ET.SubElement(case, "failure", message=c.message, type=c.name).text = detail
            if res.warnings:
                ET.SubElement(suite, "system-err").text = "\n".join(
                    f"warning: {w}" for w in res.warnings
                )
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    for element in root.iter():  # names and messages come from user files
        if element.text:
            element.text = xml_safe(element.text)
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(results) -> list[str]:
    """GitHub Actions workflow commands: an annotation on the file (and line) of each failure."""
    out = []
    for path, res, err in results:
        f = _gh_prop(path)
        if err is not None:
            out.append(f"::error file={f},title=moeplan check%3A invalid file::{_gh_data(err)}")
            continue
        for c in res.checks:
            if c.passed:
                continue
            loc = f"file={f}" + (f",line={c.line}" if c.line else "")
            msg = c.message + (f"; suggestion: {res.suggestion}" if _suggest(c, res) else "")
            out.append(
                f"::error {loc},title={_gh_prop('moeplan check: ' + c.name)}::{_gh_data(msg)}"
            )
        for w in res.warnings:
            out.append(f"::warning file={f},title=moeplan check%3A warning::{_gh_data(w)}")
        status = "PASS" if res.passed else "FAIL"
        out.append(
            f"{status} {path}: "
            + ", ".join(f"{c.name} {'ok' if c.passed else 'FAILED'}" for c in res.checks)
        )
    return out


def _parse_limits(items) -> tuple:
    """``--limit NAME=VALUE`` (repeatable) as :class:`~moeplan.proposal.Limit` objects."""
    from ..proposal import parse_limits

    raw = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise InputError(f"--limit {item!r}: expected NAME=VALUE, e.g. max_loss_gap=0.01")
        value = value.strip()
        # NAME=null switches a default limit off, as `max_loss_gap: null` does in a file
        raw[name.strip()] = None if value.lower() in ("null", "none", "off") else value
    try:
        return parse_limits(raw, "--limit") if raw else ()
    except MoeplanError as exc:
        # "--limit: limits.max_flops: ..." -> "--limit max_flops: ..."
        raise InputError(
            str(exc).replace("--limit: limits.", "--limit ").replace("--limit: limits", "--limit")
        ) from None


def check_command(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE...",
            help="Proposal YAML files, or Hugging Face config.json files "
            "(with --tokens or --flops).",
        ),
    ],
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="text (tables), json, junit (XML for CI test reporters) or github (workflow "
            "annotations on the file and line).",
        ),
    ] = CheckFormat.text,
    json_flag: JsonFlag = False,
    law: Annotated[
        Optional[str],
        typer.Option(
            "--law",
            metavar="NAME|PATH",
            help="Coefficient set for every file, overriding each proposal's own law "
            "(default: the proposal's; for a real model the set fitted nearest its "
            "expansion rate, the dense set for a dense model; else krajewski2024-moe).",
        ),
    ] = None,
    tokens: Annotated[
        Optional[float],
        typer.Option(
            "--tokens",
            click_type=COUNT,
            metavar="D",
            help="Training tokens, for config.json files.",
        ),
    ] = None,
    flops: Annotated[
        Optional[float],
        typer.Option(
            "--flops",
            click_type=POSITIVE,
            metavar="F",
            help="Training FLOPs instead of --tokens, for config.json files.",
        ),
    ] = None,
    limit: Annotated[
        Optional[list[str]],
        typer.Option(
            "--limit",
            metavar="NAME=VALUE",
            help="Set or add a limit for every file (repeatable): max_loss_gap, "
            "min_compute_efficiency, max_flops, max_total_params, max_memory; NAME=null "
            "switches a default off.",
        ),
    ] = None,
) -> None:
    """``moeplan check``; its help text is CHECK_HELP below."""
    fmt_name = "json" if json_flag else fmt.value
    if json_flag and fmt not in (CheckFormat.text, CheckFormat.json):
        raise MoeplanError("--json and --format exclude each other; choose one")
    if tokens is not None and flops is not None:
        raise MoeplanError("--tokens and --flops exclude each other; give one")
    overrides = _parse_limits(limit)
    if law:
        load_law(law)  # a bad --law is one error, not one per file
    results = []
    for path in files:
        res, err = _check_one(path, law, tokens, flops, overrides)
        results.append((path, res, err))
    code = (
        2
        if any(e is not None for _, _, e in results)
        else (0 if all(r.passed for _, r, _ in results) else 1)
    )
    errors = [e for _, _, e in results if e is not None]
    if fmt_name in ("text", "json"):
        for e in errors:
            print(f"moeplan check: error: {e}", file=sys.stderr)
        if len(errors) == len(results):  # nothing was checked: just the error lines
            raise typer.Exit(2)
        if fmt_name == "text":
            report = _text_report(results)
            report.exit_code = code
            finish(report, "human")
        else:
            doc = _json_document(results)
            warnings = [w for _, r, _ in results if r is not None for w in r.warnings]
            print_warnings(warnings)
            doc["warnings"] = warnings
            sys.stdout.write(to_json(doc) + "\n")
            if code:
                raise typer.Exit(code)
        return
    for e in errors:
        print(f"moeplan check: error: {e}", file=sys.stderr)
    if fmt_name == "junit":
        sys.stdout.write(junit_xml(results) + "\n")
    else:
        sys.stdout.write("\n".join(github_lines(results)) + "\n")
    if code:
        raise typer.Exit(code)


# Help texts as unbroken paragraphs: Rich keeps the docstrings' line breaks after the first one.
INSPECT_HELP = (
    "Count a real model's parameters exactly and map it to the law (E, G, N).\n\n"
    "Reads a Hugging Face config.json (mixtral, olmoe, qwen2_moe, qwen3_moe, deepseek_v2, "
    "deepseek_v3, kimi_k2, dbrx, granitemoe, granitemoeshared, gpt_oss, phimoe, glm4_moe, dots1, "
    "and dense llama, mistral, qwen2, qwen3; --as FAMILY reads another model_type as one of "
    "these). Reports totals and active counts with and without embeddings, FLOPs per token "
    "(router included, attention scores at --seq-len) and the law's variables: G = routed "
    "experts per token (top-k), E = routed experts / top-k, N = total non-embedding "
    "parameters, with G and E by expert size beside them; under the joint law N = active "
    "parameters with embeddings, E = number of experts, FLOPs = 6 N D.\n\n"
    "Example: moeplan inspect mixtral-8x7b/config.json --seq-len 8192"
)
CHECK_HELP = (
    "Check proposed training runs against the scaling law (a CI gate).\n\n"
    "For each file: FLOPs with the router, predicted loss, the compute-optimal loss at the same "
    "FLOPs, the loss gap, the compute efficiency, optimal vs proposed G, tokens per parameter "
    "and memory. Every limit is one named check: the defaults max_loss_gap 0.02 and "
    "min_compute_efficiency 0.8 always apply unless the file's limits section or --limit "
    "replaces one or switches it off (max_loss_gap: null); each check says where its limit "
    "came from. Exit code 0 when every "
    "check passes, 1 when one fails, 2 when a file is invalid.\n\n"
    "Example: moeplan check examples/proposal.yaml --format github"
)


COMMANDS = {
    "check": (check_command, {"help": CHECK_HELP}),
    "inspect": (inspect_command, {"help": INSPECT_HELP}),
}

"""Random command lines for every moeplan command, and the property they must satisfy.

Shared by tests/test_fuzz.py (a small seeded set in the suite) and benchmarks/fuzz_cli.py
(10,000+ examples with counts). The flags come from each command's real option list (the
click command Typer builds), so a new option is fuzzed without anyone listing it here.

The property of one run (:func:`violation` returns what broke, or None):

- it ends with an exit code in {0, 1, 2, 3}: 0 success, 1 a ``check`` that found a
  violation, 2 bad usage or bad input, 3 a ``fit`` that did not converge;
- no uncaught exception (a numpy RuntimeWarning such as an overflow counts as one: the
  runs happen with warnings turned into errors);
- exit 2 prints exactly one line on stderr (``check`` with several files: one per invalid
  file), with ``error`` in it, and no "Traceback";
- ``--json`` output that succeeded is exactly one JSON document;
- nothing printed on stdout says ``nan`` or ``inf`` (silent nonsense).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

from hypothesis import strategies as st

#: Commands and the module-level names of their required arguments/options (a valid base).
COMMANDS = (
    "optimize",
    "compare",
    "sweep",
    "loss",
    "flops",
    "check",
    "inspect",
    "fit",
    "lr",
    "laws",
)

# Numbers a user would type, then zero, negative, tiny, huge, overflowing, non-finite, garbage.
PLAUSIBLE = [
    "1",
    "2",
    "4",
    "8",
    "16",
    "64",
    "0.5",
    "1.25",
    "1e22",
    "1e20",
    "1e15",
    "1e25",
    "70B",
    "1.4T",
    "16k",
    "20B",
    "1.5",
    "0.9",
    "0.4",
    "100",
    "2048",
    "1e9",
    "1M",
]
NUMBERS = [
    "1",
    "2",
    "8",
    "64",
    "0.5",
    "1e22",
    "1e20",
    "1e15",
    "1e30",
    "70B",
    "1.4T",
    "16k",
    "20B",
    "1.5",
    "0.9",
    "0",
    "-1",
    "-1e22",
    "1e-300",
    "1e300",
    "1e400",
    "-1e400",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e18",
    "123456789012345678901234567890",
    "1e",
    "e5",
    "1.2.3",
    "abc",
    "",
    " ",
    "1,2",
    "0x10",
    "1_000",
    "1B5",
    "10 GB",
    "5e-324",
    "1.7976931348623157e308",
    "1E",
    "2E",
    "+3",
    "--1",
    "1e+22",
    "٣",
]
LISTS = [
    "1,2,4,8",
    "8",
    "1,,2",
    ",",
    "0,1",
    "1,-2",
    "1,nan",
    "1e300,1",
    "1,2,4,8,16,32",
    "64,128,256",
    "3",
    "1.5,2",
    "abc",
    "",
    "1e400",
    "1,1,1",
]
MEMORY = [
    "80GB",
    "640GiB",
    "1.5TB",
    "1",
    "0",
    "-5GB",
    "1e300",
    "1e400",
    "80XB",
    "nan",
    "GB",
    "80 GB",
    "1e30B",
    "16k",
    "abc",
    "",
]
WORDS = [
    "",
    "x",
    "h100",
    "a100",
    "mi300x",
    "text",
    "json",
    "junit",
    "github",
    "moe",
    "dense",
    "chinchilla",
    "paper",
    "gamma=0.58",
    "a=nan",
    "params=Model Size",
    "=",
    "foo=bar",
    "max_flops=1e22",
    "max_loss_gap=-1",
    "max_memory=80GB",
    "max_memory=0",
    "min_compute_efficiency=2",
    "max_flops=1e400",
    "max_total_params=abc",
    "\x1b[31mred",
    "ü",
    "a" * 300,
]
LAWS = [
    "krajewski2024-moe",
    "krajewski2024-dense",
    "krajewski2024-moe-e16",
    "hoffmann2022-chinchilla",
    "ludziejewski2025-joint",
    "krajewski2024-moe-robust",
    "besiroglu2024-chinchilla",
    "nope",
    "",
    "../../etc/passwd",
    "a/b",
]

# Options whose valid-but-large values only cost time (not correctness): fuzz them with
# small or invalid values so a run stays well under a second.
EXPENSIVE = {
    "--bootstrap": ["0", "2", "-1", "abc", "1e400", ""],
    "--starts": ["1", "2", "0", "-3", "1e300", "x"],
    "--points": ["1", "3", "0", "-2", "1e18", "2.5", "nan", ""],
    "--alternatives": ["1", "3", "0", "1e18", "-1"],
    "--holdout": ["0.2", "0", "1", "2", "-0.5", "nan", "x"],
    "--worst": ["0", "3", "-1", "1e9", "x"],
}

BASE = {
    "optimize": ["--flops", "1e22"],
    "compare": ["--flops", "1e22"],
    "sweep": ["--from", "1e20", "--to", "1e22", "--points", "3"],
    "loss": ["--params", "1B", "--tokens", "20B"],
    "flops": ["--d-model", "1024", "--n-blocks", "16", "--tokens", "1e10"],
    "check": ["{proposal}"],
    "inspect": ["{config}"],
    "fit": ["{runs}", "--starts", "1"],
    "lr": ["--params", "1.2B"],
    "laws": [],
}

PROPOSAL = """\
name: fuzz
law: krajewski2024-moe
model:
  d_model: 1536
  n_blocks: 24
  expansion_rate: 64
  granularity: 16
training:
  tokens: 21B
limits:
  max_loss_gap: 0.01
  max_flops: 1.2e20
"""

CONFIG = {
    "model_type": "mixtral",
    "hidden_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "intermediate_size": 1024,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
}

LAW = """\
name: fuzz-law
form: fine_grained_moe
coefficients: {a: 18.1, alpha: 0.115, b: 30.8, beta: 0.147, g: 2.1, gamma: 0.58, c: 0.47}
"""

BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
)


def _runs_csv() -> str:
    # runs drawn from the paper's law (a fit converges quickly on them)
    rows = ["params,tokens,granularity,loss"]
    for i, n in enumerate((1.3e8, 3e8, 7e8, 1.5e9, 3.5e9)):
        for j, d in enumerate((1.6e10, 4e10, 1.3e11)):
            g = (1, 4, 16)[(i + j) % 3]
            loss = 0.47 + (2.1 / g**0.58 + 18.1) / n**0.115 + 30.8 / d**0.147
            rows.append(f"{n:g},{d:g},{g},{loss:.6f}")
    return "\n".join(rows) + "\n"


def make_files(folder: Path) -> dict[str, list[str]]:
    """Write the file pool into ``folder``; returns kind -> candidate paths (valid first)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def put(name, text):
        p = folder / name
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text, encoding="utf-8")
        return str(p)

    hostile_yaml = [
        put("empty.yaml", ""),
        put("binary.yaml", b"\x00\x01\x02\xff" * 8),
        put("latin1.yaml", "name: caf\xe9\n".encode("latin-1")),
        put("bomb.yaml", BOMB),
        put("deep.yaml", "[" * 500 + "]" * 500),
        put("recursive.yaml", "&a [*a]\n"),
        put("python.yaml", "!!python/object/apply:os.system ['true']\n"),
        put("scalar.yaml", "42\n"),
        put("list.yaml", "- 1\n- 2\n"),
        put("bad.yaml", "a: [1, 2\nb: }\n"),
        put("big-number.yaml", PROPOSAL.replace("21B", "1e400")),
        put("huge-number.yaml", PROPOSAL.replace("21B", "1e300")),
        put("tiny-number.yaml", PROPOSAL.replace("21B", "1e-300")),
        put("wrong-type.yaml", PROPOSAL.replace("1536", "[1, 2]")),
        put("unknown-key.yaml", PROPOSAL + "surprise: 1\n"),
        put("bool.yaml", PROPOSAL.replace("granularity: 16", "granularity: true")),
        put("neg.yaml", PROPOSAL.replace("granularity: 16", "granularity: -16")),
        put("nan.yaml", PROPOSAL.replace("granularity: 16", "granularity: .nan")),
        put("inf.yaml", PROPOSAL.replace("expansion_rate: 64", "expansion_rate: .inf")),
        put("huge-e.yaml", PROPOSAL.replace("expansion_rate: 64", "expansion_rate: 1e300")),
        put("tiny-e.yaml", PROPOSAL.replace("expansion_rate: 64", "expansion_rate: 1e-300")),
        put("huge-g.yaml", PROPOSAL.replace("granularity: 16", "granularity: 1e300")),
        put("dup.yaml", PROPOSAL + "model:\n  d_model: 3\n"),
        put("null.yaml", PROPOSAL.replace("d_model: 1536", "d_model: null")),
        put("both.yaml", PROPOSAL.replace("tokens: 21B", "tokens: 21B\n  flops: 1e20")),
        put("dangling-config.yaml", "model:\n  config: nowhere.json\ntraining:\n  tokens: 1T\n"),
    ]
    hostile_json = [
        put("empty.json", ""),
        put("binary.json", b"\x00{}"),
        put("nan.json", '{"model_type": "mixtral", "hidden_size": NaN}'),
        put("big.json", json.dumps(CONFIG).replace("512", "1e400")),
        put("huge-dim.json", json.dumps(dict(CONFIG, hidden_size=2**40))),
        put("huge-layers.json", json.dumps(dict(CONFIG, num_hidden_layers=10**12))),
        put("float-dim.json", json.dumps(dict(CONFIG, hidden_size=512.5))),
        put("string-dim.json", json.dumps(dict(CONFIG, hidden_size="512"))),
        put("topk.json", json.dumps(dict(CONFIG, num_experts_per_tok=9))),
        put("zero.json", json.dumps(dict(CONFIG, num_local_experts=0))),
        put("deep.json", "[" * 500 + "]" * 500),
        put("list.json", "[1, 2]"),
        put("unknown-type.json", json.dumps(dict(CONFIG, model_type="gpt9"))),
        put("bad.json", "{oops"),
    ]
    huge = folder / "huge.yaml"
    if not huge.exists():
        huge.write_bytes(b"#" * (4 * 1024 * 1024 + 16))
    common_bad = [str(huge), str(folder / "missing.yaml"), str(folder), "", "-"]
    runs_bad = [
        put("runs-empty.csv", ""),
        put("runs-header.csv", "params,tokens,granularity,loss\n"),
        put("runs-nan.csv", "params,tokens,granularity,loss\n1e8,1e9,1,nan\n"),
        put(
            "runs-huge.csv",
            "params,tokens,granularity,loss\n1e300,1e300,1e300,1e300\n"
            "1e-300,1e-300,1e-300,1e-300\n2,2,2,2\n",
        ),
        put("runs-ragged.csv", "params,tokens,granularity,loss\n1,2\n"),
        put("runs-dup.csv", "params,params,loss\n1,2,3\n"),
        put("runs-one.csv", "params,tokens,granularity,loss\n1e8,1e10,1,3.2\n"),
        put("runs-same.csv", "params,tokens,granularity,loss\n" + "1e8,1e10,1,3.2\n" * 6),
        put(
            "runs.yaml",
            "- {params: 1e8, tokens: 1e10, granularity: 1, loss: 3.2}\n"
            "- {params: [1], tokens: x, granularity: 1, loss: 3}\n",
        ),
    ]
    law_bad = [
        put("law-nan.yaml", LAW.replace("0.47", ".nan")),
        put("law-neg.yaml", LAW.replace("alpha: 0.115", "alpha: -0.115")),
        put("law-zero-beta.yaml", LAW.replace("beta: 0.147", "beta: 0")),
        put("law-huge.yaml", LAW.replace("a: 18.1", "a: 1e300")),
        put("law-tiny-alpha.yaml", LAW.replace("alpha: 0.115", "alpha: 1e-300")),
        put("law-big-alpha.yaml", LAW.replace("alpha: 0.115", "alpha: 1e300")),
        put("law-unknown.yaml", LAW + "extra: 1\n"),
        put("law-form.yaml", LAW.replace("fine_grained_moe", "quantum")),
        put(
            "law-dense.yaml",
            "name: d\nform: chinchilla\ncoefficients: {a: 406.4, alpha: "
            "0.34, b: 410.7, beta: 0.28, c: 1.69}\n",
        ),
        put("law-cf.yaml", LAW + "flops: {c_f: 1e300, c_r: 1e300, aspect_ratio: 1e-300}\n"),
        put("law-e.yaml", LAW + "flops: {expansion_rate: 1e-300}\n"),
    ]
    config_text = json.dumps(CONFIG)
    return {
        "proposal": [put("proposal.yaml", PROPOSAL)] + hostile_yaml + common_bad,
        "config": [put("config.json", config_text)] + hostile_json + common_bad,
        "runs": [put("runs.csv", _runs_csv())] + runs_bad + hostile_yaml[:6] + common_bad,
        "law": [put("law.yaml", LAW)] + law_bad + hostile_yaml[:8] + common_bad,
        "out": [
            str(folder / "out.yaml"),
            str(folder / "out.txt"),
            str(folder / "no" / "dir" / "out.yaml"),
            str(folder),
        ],
        "plot": [
            str(folder / "p.png"),
            str(folder / "p.txt"),
            str(folder / "no" / "p.png"),
            str(folder / "p.svg"),
        ],
    }


_TABLES: dict = {}


def option_table(app, command: str):
    """The command's real options: list of (flag, kind, is_flag) and its arguments' kinds."""
    key = (id(app), command)
    if key in _TABLES:
        return _TABLES[key]
    click_cmd = click_command(app).commands[command]  # the tree built once for every command
    opts, args = [], []
    for p in click_cmd.params:
        if p.param_type_name == "argument":
            args.append(p.name)
            continue
        flag = max(p.opts, key=len)
        if flag in ("--help",):
            continue
        opts.append((flag, type(p.type).__name__, bool(getattr(p, "is_flag", False))))
    _TABLES[key] = (opts, args)
    return opts, args


def _gentle_values_for(flag: str, type_name: str, files: dict):
    """Values a user would type: deeper runs (exit 0) with random combinations of options."""
    if flag in EXPENSIVE:
        return st.sampled_from(EXPENSIVE[flag][:2])
    if flag in ("--law", "--dense-law"):
        return st.sampled_from(LAWS[:7])
    if type_name == "MemoryType":
        return st.sampled_from(MEMORY[:3] + ["16GB", "1TB"])
    if type_name == "NumberListType" or flag == "--at-flops":
        return st.lists(
            st.sampled_from(["1", "2", "4", "8", "16", "32"]), min_size=1, max_size=4
        ).map(",".join)
    if type_name in ("NumberType", "FloatParamType", "IntParamType", "IntRange", "FloatRange"):
        return st.sampled_from(PLAUSIBLE)
    return _values_for(flag, type_name, files)


def _values_for(flag: str, type_name: str, files: dict):
    if flag in EXPENSIVE:
        return st.sampled_from(EXPENSIVE[flag])
    if flag in ("--law", "--dense-law"):
        return st.sampled_from(LAWS + files["law"])
    if flag in ("--out", "--hf-config"):  # files the command writes: under the fuzz folder
        return st.sampled_from(files["out"])
    if flag == "--plot":
        return st.sampled_from(files["plot"])
    if type_name == "MemoryType":
        return st.sampled_from(MEMORY)
    if type_name == "NumberListType" or flag in ("--at-flops",):
        return st.one_of(
            st.sampled_from(LISTS),
            st.lists(
                st.sampled_from(PLAUSIBLE[:8] + ["1e300", "0", "32", "256", "1e-300"]),
                min_size=1,
                max_size=4,
            ).map(",".join),
        )
    if type_name in ("NumberType", "FloatParamType", "IntParamType", "IntRange", "FloatRange"):
        return st.one_of(
            st.sampled_from(PLAUSIBLE),
            st.sampled_from(PLAUSIBLE),
            st.sampled_from(NUMBERS),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.floats(1e-30, 1e40).map(lambda v: f"{v:.3g}"),
            st.integers(-(10**30), 10**30).map(str),
        )
    return st.one_of(st.sampled_from(WORDS + NUMBERS[:12]), st.text(max_size=12))


@st.composite
def argv(draw, app, command: str, files: dict):
    """A random argument vector for ``command``: often its valid base plus random options."""
    opts, args = option_table(app, command)
    out = [command]
    base = [part.format(**{k: v[0] for k, v in files.items()}) for part in BASE[command]]
    if draw(st.booleans()) or draw(st.booleans()):
        out += base
    elif args and draw(st.booleans()):
        kind = {"check": "proposal", "inspect": "config", "fit": "runs", "laws": "law"}[command]
        out.append(draw(st.sampled_from(files[kind])))
    if command == "check" and draw(st.integers(0, 4)) == 0:
        out.append(draw(st.sampled_from(files["proposal"] + files["config"])))
    gentle = draw(st.booleans())  # half the examples: plausible values only
    values = _gentle_values_for if gentle else _values_for
    for _ in range(draw(st.integers(0, 4))):
        flag, type_name, is_flag = draw(st.sampled_from(opts))
        out.append(flag)
        if not is_flag:
            if not gentle and draw(st.integers(0, 30)) == 0:
                continue  # the value missing: a usage error (or the next flag taken as value)
            out.append(draw(values(flag, type_name, files)))
    return out


_NONSENSE = re.compile(r"\b(nan|inf|-inf|infinity)\b", re.IGNORECASE)


def click_command(app):
    """The click command tree Typer builds for ``app``, built once (it costs ~50 ms a time,
    ~60x the run of a typical bad command line; typer's CliRunner rebuilds it per call)."""
    import typer.main

    if app not in _COMMANDS:
        _COMMANDS[app] = typer.main.get_command(app)
    return _COMMANDS[app]


_COMMANDS: dict = {}


def run(app, args: list[str]):
    """Run one command line in-process with warnings as errors; returns the click Result."""
    from click.testing import CliRunner

    command = click_command(app)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CliRunner().invoke(command, args, env={"NO_COLOR": "1", "MOEPLAN_DEBUG": ""})


def violation(args: list[str], result) -> str | None:
    """What the run did wrong (one phrase), or None if it kept every promise."""
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        return f"uncaught {type(exc).__name__}: {str(exc)[:200]}"
    code = result.exit_code
    if code not in (0, 1, 2, 3):
        return f"exit code {code}"
    err = result.stderr
    if "Traceback" in err or "Traceback" in result.stdout:
        return "traceback printed"
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        error_lines = [ln for ln in lines if "error" in ln]
        files = [a for a in args[1:] if not a.startswith("--")]
        if args[0] == "check" and len(files) > 1:
            if not error_lines or len(error_lines) > len(args) - 1:
                return f"check exit 2 with {len(error_lines)} error lines: {err[:200]!r}"
        elif len(lines) != 1:
            if args[0] == "moeplan" or not lines:
                return "exit 2 without a message"
            return f"exit 2 with {len(lines)} stderr lines: {err[:300]!r}"
        elif not error_lines:
            return f"exit 2 without 'error': {err[:200]!r}"
        if args[0] != "check" and result.stdout.strip():
            return "exit 2 printed on stdout"
    if code in (0, 1, 3):
        wants_json = any(
            a == "--json" and not args[i - 1].startswith("--") for i, a in enumerate(args) if i
        ) or result.stdout.startswith("{")
        if wants_json:
            try:
                json.loads(result.stdout)
            except ValueError:
                return f"--json stdout is not one JSON document: {result.stdout[:200]!r}"
        if _NONSENSE.search(result.stdout):
            m = _NONSENSE.search(result.stdout)
            start = max(0, m.start() - 80)
            return f"'{m.group(0)}' on stdout: {result.stdout[start : m.end() + 40]!r}"
    return None


def fuzz_folder() -> Path:
    return Path(os.environ.get("MOEPLAN_FUZZ_DIR", "/tmp/moeplan-fuzz"))

"""`moeplan check` and `moeplan inspect` through the in-process runner: exit codes, JSON keys,
the junit and github formats, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from moeplan.cli import app

from conftest import data_path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
GOOD = str(EXAMPLES / "proposal.yaml")
BAD = str(EXAMPLES / "proposal-failing.yaml")
HF = Path(__file__).resolve().parent / "fixtures" / "hf"


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def line_of(path, key):
    """1-based line of `key:` in a file, found by reading the text (not through moeplan)."""
    for i, text in enumerate(Path(path).read_text().splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*:", text):
            return i
    raise AssertionError(key)


def write(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ---------------------------------------------------------------- check: exit codes and text


def test_passing_example(runner):
    r = run(runner, "check", GOOD)
    assert r.exit_code == 0, r.output
    assert "PASS" in r.stdout and "FAIL" not in r.stdout
    assert "1 passed, 0 failed, 0 invalid" in r.stdout


def test_failing_example_text_has_a_suggestion(runner):
    r = run(runner, "check", BAD)
    assert r.exit_code == 1
    assert re.search(r"max_loss_gap\s+FAIL", r.stdout)
    assert re.search(r"min_compute_efficiency\s+FAIL", r.stdout)
    # "G=16 with 24.9B tokens (...): −0.140 loss at the same FLOPs"
    assert re.search(
        r"suggestion .*: G=\d+ with [\d.]+[KMBT]? tokens .*: \u2212[\d.]+ loss at "
        r"the same FLOPs",
        r.stdout,
    )


def test_json_contract_keys(runner):
    r = run(runner, "check", BAD, "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["passed"] is False
    for key in ("checks", "proposal", "optimal", "files", "warnings"):
        assert key in doc
    for c in doc["checks"]:
        assert set(c) >= {"name", "passed", "value", "limit", "message"}
    assert {c["name"] for c in doc["checks"]} == {
        "max_loss_gap",
        "min_compute_efficiency",
        "max_flops",
    }
    for key in (
        "granularity",
        "expansion_rate",
        "n_experts",
        "top_k",
        "d_model",
        "n_blocks",
        "n_active",
        "n_total",
        "tokens",
        "flops",
        "router_flops",
        "loss",
        "tokens_per_active_param",
        "optimal_loss",
        "loss_gap",
        "compute_efficiency",
        "optimal_granularity",
        "memory_bytes",
    ):
        assert key in doc["proposal"], key
    for key in ("granularity", "d_model", "n_blocks", "tokens", "loss", "flops"):
        assert key in doc["optimal"], key
    # --json is the same as --format json
    assert json.loads(run(runner, "check", BAD, "--json").stdout)["checks"] == doc["checks"]


def test_several_files(runner, tmp_path):
    r = run(runner, "check", GOOD, BAD, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert [f["passed"] for f in doc["files"]] == [True, False]
    assert "checks" not in doc  # per-file only when there are several
    invalid = write(tmp_path, "model: {d_model: 1024}\n")
    r = run(runner, "check", GOOD, invalid, BAD)
    assert r.exit_code == 2
    assert "1 passed, 1 failed, 1 invalid" in r.stdout
    assert r.stderr.count("error:") == 1 and invalid in r.stderr


# ---------------------------------------------------------------- junit


def test_junit_structure(runner, tmp_path):
    invalid = write(
        tmp_path,
        "model: {d_model: 1024, n_blocks: 16, n_experts: 65, top_k: 8}\ntraining: {tokens: 1T}\n",
    )
    r = run(runner, "check", GOOD, BAD, invalid, "--format", "junit")
    assert r.exit_code == 2
    root = ET.fromstring(r.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [GOOD, BAD, invalid]
    good, bad, inv = suites
    assert [c.get("name") for c in good.findall("testcase")] == [
        "max_loss_gap",
        "min_compute_efficiency",
        "max_flops",
        "max_total_params",
        "max_memory",
    ]
    assert good.get("tests") == "5" and good.get("failures") == "0"
    assert not good.findall("testcase/failure")
    failures = bad.findall("testcase/failure")
    assert len(failures) == 3 == int(bad.get("failures"))
    assert all(f.get("message") for f in failures)
    case = bad.find("testcase[@name='max_loss_gap']")
    assert case.get("line") == str(line_of(BAD, "max_loss_gap")) and case.get("file") == BAD
    assert "suggestion: G=" in case.find("failure").text
    assert inv.get("errors") == "1" and "not divisible" in inv.find("testcase/error").get("message")
    assert root.get("tests") == "9" and root.get("failures") == "3" and root.get("errors") == "1"


def test_junit_passing_exit_zero(runner):
    r = run(runner, "check", GOOD, "-f", "junit")
    assert r.exit_code == 0
    assert ET.fromstring(r.stdout).get("failures") == "0"


# ---------------------------------------------------------------- github


def test_github_annotations_point_at_the_limit_lines(runner):
    r = run(runner, "check", BAD, "--format", "github")
    assert r.exit_code == 1
    errors = [ln for ln in r.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 3
    for key in ("max_loss_gap", "min_compute_efficiency", "max_flops"):
        want = f"::error file={BAD},line={line_of(BAD, key)},title=moeplan check%3A {key}::"
        assert any(e.startswith(want) for e in errors), (want, errors)
    assert all("\n" not in e for e in errors)
    assert "%25" in r.stdout  # "36.5%" escaped as workflow commands require
    assert r.stdout.splitlines()[-1].startswith("FAIL ")


def test_github_default_limits_point_at_the_training_length(runner, tmp_path):
    path = write(
        tmp_path,
        "model:\n  d_model: 1024\n  n_blocks: 16\n  granularity: 1\ntraining:\n  tokens: 100B\n",
    )
    r = run(runner, "check", path, "--format", "github")
    assert r.exit_code == 1
    errors = [ln for ln in r.stdout.splitlines() if ln.startswith("::error ")]
    assert {e.split(",title=")[0] for e in errors} == {f"::error file={path},line=6"}
    assert len(errors) == 2  # the two default limits


def test_github_invalid_file_and_escaping(runner, tmp_path):
    path = write(
        tmp_path,
        "model: {d_model: 1024, n_blocks: 16, granularity: 8}\n"
        "training: {tokens: 1T, flops: 1e22}\n",
        name="a,b.yaml",
    )
    r = run(runner, "check", path, "--format", "github")
    assert r.exit_code == 2
    line = r.stdout.strip()
    assert line.startswith("::error file=") and "a%2Cb.yaml" in line and "both given" in line


# ---------------------------------------------------------------- config.json, overrides


def test_config_json_with_tokens(runner):
    path = data_path("hf-configs", "olmoe-1b-7b-0924.config.json")
    r = run(runner, "check", path, "--tokens", "5T", "--json")
    # 5T tokens on 1.07B active parameters (~4,700 per parameter, the optimum is tens): the
    # default limits must fail it, so exit 1 (accepting 0 as well let a broken gate pass)
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert {c["name"] for c in doc["checks"] if not c["passed"]} == {
        "max_loss_gap",
        "min_compute_efficiency",
    }
    assert doc["proposal"]["family"] == "olmoe" and doc["proposal"]["tokens"] == 5e12
    assert doc["limits_from"] == "defaults"
    r = run(runner, "check", path)
    assert r.exit_code == 2 and "--tokens" in r.stderr and r.stdout == ""
    r = run(runner, "check", GOOD, "--tokens", "1T")
    assert r.exit_code == 2 and "config.json" in r.stderr


def test_limit_option(runner):
    r = run(
        runner,
        "check",
        BAD,
        "--limit",
        "max_loss_gap=1",
        "--limit",
        "min_compute_efficiency=0.1",
        "--limit",
        "max_flops=1e21",
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["limits_from"] == "command line"  # every limit of the file and default replaced
    assert {c["name"]: c["source"] for c in doc["checks"]}["max_flops"] == "command line"
    r = run(runner, "check", BAD, "--limit", "speed=3")
    assert r.exit_code == 2 and "unknown key 'speed'" in r.stderr


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            "model: {d_model: 1024, n_blocks: 16, granularity: 8, wings: 2}\ntraining: {tokens: 1T}\n",
            "unknown key 'wings'",
        ),
        ("model: {d_model: 1024\n", "invalid YAML"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
            "alias bomb",
        ),
        ("x: " + "[" * 3000 + "]" * 3000 + "\n", "nested"),
        (
            "model: {d_model: 1024, n_blocks: 16, granularity: 8}\ntraining: {tokens: 1T, flops: 1e22}\n",
            "both given",
        ),
    ],
)
def test_invalid_files_exit_2_with_one_line(runner, tmp_path, text, needle):
    path = write(tmp_path, text)
    for fmt in ("text", "json"):
        start = time.perf_counter()
        r = run(runner, "check", path, "--format", fmt)
        assert time.perf_counter() - start < 3
        assert r.exit_code == 2
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1
        assert needle in r.stderr and path in r.stderr and "Traceback" not in r.stderr


def test_missing_file_and_bad_law(runner, tmp_path):
    r = run(runner, "check", tmp_path / "nope.yaml")
    assert r.exit_code == 2 and "does not exist" in r.stderr
    r = run(runner, "check", GOOD, "--law", "nonsense")
    assert r.exit_code == 2 and "unknown law" in r.stderr and r.stderr.count("\n") == 1
    r = run(runner, "check", GOOD, "--format", "xml")
    assert r.exit_code == 2


# ---------------------------------------------------------------- inspect


def test_inspect_json_contract(runner):
    r = run(runner, "inspect", data_path("hf-configs", "mixtral-8x7b-v0.1.config.json"), "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    for key in (
        "n_total",
        "n_active",
        "n_total_with_embedding",
        "n_active_with_embedding",
        "n_embedding",
        "expansion_rate",
        "granularity",
        "n_experts",
        "top_k",
        "flops_per_token",
        "warnings",
        "law_mapping",
    ):
        assert key in doc, key
    assert (doc["granularity"], doc["expansion_rate"], doc["n_experts"], doc["top_k"]) == (
        2,
        4,
        8,
        2,
    )
    assert doc["n_total_with_embedding"] == pytest.approx(46.7e9, rel=0.01)
    assert doc["n_active_with_embedding"] == pytest.approx(12.9e9, rel=0.01)
    assert any("SwiGLU" in w for w in doc["warnings"])
    assert isinstance(doc["flops_per_token"], (int, float))


def test_inspect_text_and_seq_len(runner):
    path = HF / "deepseek-v3.config.json"
    r = run(runner, "inspect", path, "--seq-len", "8k")
    assert r.exit_code == 0
    for needle in (
        "multi-token prediction (not in totals)",
        "Mapping to the law",
        "attention scores (seq_len 8000)",
        "G, granularity (= top-k)",
        "671B",
    ):
        assert needle in r.stdout, needle
    a = json.loads(run(runner, "inspect", path, "--seq-len", "1000", "--json").stdout)
    b = json.loads(run(runner, "inspect", path, "--seq-len", "2000", "--json").stdout)
    sa = a["flops_breakdown"]["forward"]["attention_scores"]
    sb = b["flops_breakdown"]["forward"]["attention_scores"]
    assert sb == pytest.approx(2 * sa)


def test_inspect_unknown_family(runner, tmp_path):
    path = write(tmp_path, json.dumps({"model_type": "rwkv", "hidden_size": 8}), "c.json")
    r = run(runner, "inspect", path)
    assert r.exit_code == 2 and r.stdout == ""
    assert "supported families" in r.stderr and "gpt_oss" in r.stderr
    assert r.stderr.count("\n") == 1


def test_inspect_every_fixture_runs(runner):
    for path in sorted(HF.glob("*.json")):
        r = run(runner, "inspect", path, "--json")
        assert r.exit_code == 0, (path, r.output)


# ---------------------------------------------------------------- examples and CI workflow


def test_github_workflow_example():
    wf = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    steps = wf["jobs"]["check"]["steps"]
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "pip install" in scripts and "moeplan" in scripts
    assert "moeplan check --format github" in scripts
    assert "${{" not in scripts  # no expression injection into the shell
    # moeplan is not on an index: installed from its repository, pinned to a tag or a commit
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    url = install["env"]["MOEPLAN_GIT"]
    assert re.fullmatch(
        r"git\+https://github\.com/[\w.-]+/moeplan\.git@(v[\d.]+|[0-9a-f]{40})", url
    ), url
    assert "moeplan==" not in install["run"]


def test_installed_script_runs_check(tmp_path):
    exe = Path(sys.executable).parent / "moeplan"
    if not exe.exists():
        pytest.skip("moeplan script not installed")
    out = subprocess.run(
        [str(exe), "check", BAD, "--format", "github"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and out.stdout.startswith("::error file=")


def test_real_model_example_fails_on_the_default_efficiency_and_says_where_limits_came_from(runner):
    r = run(runner, "check", str(EXAMPLES / "proposal-real-model.yaml"))
    assert r.exit_code == 1, r.output
    row = next(line for line in r.stdout.splitlines() if line.startswith("min_compute_efficiency"))
    assert "FAIL" in row and "default" in row
    assert "limits from defaults + file" in r.stdout
    r = run(
        runner,
        "check",
        str(EXAMPLES / "proposal-real-model.yaml"),
        "--limit",
        "min_compute_efficiency=null",
        "--limit",
        "max_loss_gap=null",
    )
    assert r.exit_code == 0, r.output
    assert "limits switched off: min_compute_efficiency, max_loss_gap" in r.stdout

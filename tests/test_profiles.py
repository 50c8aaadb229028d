"""Hardware profiles: the strict loader and `moeplan profiles` (issue 16 item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from moeplan.cli import app
from moeplan.errors import FileFormatError, InputError
from moeplan.profiles import SHIPPED_DIR, load_profile, shipped_profile_names

FIXTURE = Path(__file__).parent / "data" / "profile_fixture.yaml"


def _doc():
    return yaml.safe_load(FIXTURE.read_text())


def _write(tmp_path, doc, name="p.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_fixture_loads_by_path():
    p = load_profile(str(FIXTURE))
    assert p.name == "fixture-test" and "not a measurement" in p.gpu
    assert len(p.expert) == 16 and len(p.ok("expert")) == 15
    assert {r["part"] for r in p.dense} == {"attention_proj", "ffn", "head"}


def test_shipped_profiles_live_in_the_package_and_load():
    assert SHIPPED_DIR.parent.name == "moeplan"
    for name in shipped_profile_names():
        p = load_profile(name)
        assert p.name == name and p.ok("expert")


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d.update(colour="red"), ["unknown key 'colour'"]),
        (lambda d: d["expert"][0].update(speed=1), ["expert[0]", "unknown key 'speed'"]),
        (lambda d: d["provenance"].update(hostname="x"), ["provenance", "'hostname'"]),
        (lambda d: d["grid"].update(foo=1), ["grid", "'foo'"]),
        (lambda d: d.pop("router"), ["missing key 'router'"]),
        (lambda d: d.update(schema="moeplan-profile/9"), ["schema"]),
        (lambda d: d["expert"][1].update(tflops=None), ["expert[1]", "needs tflops"]),
        (lambda d: d["expert"][1].update(tflops=-3), ["expert[1]", "tflops", "positive"]),
        (lambda d: d["expert"][1].update(status="fast"), ["status"]),
        (lambda d: d["expert"][1].update(d_model=1.5), ["d_model", "whole number"]),
        (lambda d: d["expert"][1].update(experts_per_gpu=2048), ["1024"]),
        (lambda d: d["expert"][12].update(tflops=5), ["expert[12]", "oom", "null"]),
        (lambda d: d["dense"][0].update(part="mlp"), ["dense[0]", "part"]),
        (
            lambda d: d.update(expert=[dict(r, status="oom", tflops=None) for r in d["expert"]]),
            ["no expert point"],
        ),
        (lambda d: d.update(dense={"a": 1}), ["dense", "list"]),
    ],
)
def test_invalid_profiles_name_the_problem(tmp_path, edit, words):
    doc = _doc()
    edit(doc)
    with pytest.raises(FileFormatError) as info:
        load_profile(_write(tmp_path, doc))
    for word in words:
        assert word in str(info.value)


def test_unknown_name_lists_what_exists():
    with pytest.raises(InputError, match="unknown profile 'nosuch'"):
        load_profile("nosuch")


def test_profiles_json_lists_name_and_gpu(runner):
    r = runner.invoke(app, ["profiles", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["command"] == "profiles" and data["schema_version"] == 2
    assert [p["name"] for p in data["profiles"]] == shipped_profile_names()
    assert all(set(p) >= {"name", "gpu"} for p in data["profiles"])


def test_profile_by_path_gives_expert_tflops_as_in_the_file(runner):
    r = runner.invoke(app, ["profiles", str(FIXTURE), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [p["name"] for p in data["profiles"]] == ["fixture-test"]
    raw = _doc()["expert"]
    got = data["expert_tflops"]
    assert len(got) == len(raw)
    for g, w in zip(got, raw):
        assert {k: g[k] for k in ("d_model", "d_expert", "top_k", "tflops")} == {
            k: w[k] for k in ("d_model", "d_expert", "top_k", "tflops")
        }
    assert {r["part"] for r in data["dense_tflops"]} == {"attention_proj", "ffn", "head"}
    assert data["attention_tflops"] and data["router_tflops"]
    assert "communication" in data["profile"]["not_measured"]


def test_profile_table_shows_failed_points_and_what_is_not_measured(runner):
    r = runner.invoke(app, ["profiles", str(FIXTURE)])
    assert r.exit_code == 0, r.output
    assert "oom" in r.stdout and "568" in r.stdout
    assert "Not measured: communication between GPUs" in r.stdout


@pytest.mark.parametrize("arg", ["nosuch", "missing.yaml"])
def test_bad_profile_argument_is_one_line_exit_2(runner, arg):
    r = runner.invoke(app, ["profiles", arg])
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_bad_profile_file_is_one_line_exit_2(runner, tmp_path):
    doc = _doc()
    doc["expert"][0]["speed"] = 1
    r = runner.invoke(app, ["profiles", _write(tmp_path, doc)])
    assert r.exit_code == 2
    assert "unknown key 'speed'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_shipped_profile_is_read_once_and_each_load_is_independent():
    from moeplan import profiles

    first = profiles.load_profile("h200")
    n = len(first.expert)
    first.expert.clear()
    first.provenance["gpu"] = "changed by a caller"
    again = profiles.load_profile("h200")
    assert len(again.expert) == n > 0 and again.provenance["gpu"] == "NVIDIA H200"
    assert profiles._shipped_document.cache_info().hits >= 1

"""Loading coefficient sets: shipped names, user files, strict validation."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from moeplan.coefficients import law_from_mapping, law_to_mapping, load_law, shipped_law_names
from moeplan.errors import FileFormatError

CLI_MD_NAMES = {
    "krajewski2024-moe",
    "krajewski2024-moe-robust",
    "krajewski2024-moe-e16",
    "krajewski2024-dense",
    "hoffmann2022-chinchilla",
    "besiroglu2024-chinchilla",
    "ludziejewski2025-joint",
}


def test_every_name_in_cli_md_is_shipped():
    assert CLI_MD_NAMES <= set(shipped_law_names())


@pytest.mark.parametrize("name", sorted(CLI_MD_NAMES))
def test_shipped_files_are_complete(name):
    law = load_law(name)
    assert law.name == name
    assert law.citation and law.description and law.fitted_range
    assert law.c_f == 6
    for other in law.comparable_with:
        assert other in CLI_MD_NAMES


def test_conventions():
    moe = load_law("krajewski2024-moe")
    assert (moe.form, moe.params_meaning, moe.expansion_rate, moe.c_r, moe.aspect_ratio) == (
        "fine_grained_moe",
        "total_non_embedding",
        64,
        14,
        64,
    )
    assert load_law("krajewski2024-moe-e16").expansion_rate == 16
    assert load_law("krajewski2024-dense").form == "chinchilla"
    joint = load_law("ludziejewski2025-joint")
    assert joint.params_meaning == "active_with_embedding" and joint.vocab_size == 50257
    assert load_law(None).name == "krajewski2024-moe"


def write(tmp_path, data, name="law.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def base():
    return law_to_mapping(load_law("krajewski2024-moe"))


def test_user_file_by_path_round_trips(tmp_path):
    data = base()
    data["name"] = "mine"
    data["coefficients"]["a"] = 20.0
    law = load_law(write(tmp_path, data))
    assert law.name == "mine" and law.coefficients["a"] == 20.0
    assert law_to_mapping(law) == data


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.update(colour="red"), "'colour'"),
        (lambda d: d["coefficients"].update(zeta=1.0), "'zeta'"),
        (lambda d: d["flops"].update(c_x=1), "'c_x'"),
        (lambda d: d["coefficients"].pop("gamma"), "'gamma'"),
        (lambda d: d.pop("form"), "'form'"),
        (lambda d: d.update(form="quadratic"), "quadratic"),
        (lambda d: d["coefficients"].update(alpha=-0.1), "coefficients.alpha"),
        (lambda d: d["coefficients"].update(a="lots"), "coefficients.a"),
        (lambda d: d["coefficients"].update(a=[1, 2]), "coefficients.a"),
        (lambda d: d["coefficients"].update(b=True), "coefficients.b"),
        (lambda d: d["fitted_range"].update(params=[5, 1]), "fitted_range.params"),
        (lambda d: d["fitted_range"].update(params=7), "fitted_range.params"),
        (lambda d: d["variables"].update(params="everything"), "everything"),
        (lambda d: d.update(comparable_with="x"), "comparable_with"),
        (lambda d: d.update(bootstrap={"a": [1.0], "b": [1.0, 2.0]}), "bootstrap"),
    ],
)
def test_invalid_files_name_the_problem(tmp_path, mutate, needle):
    data = base()
    mutate(data)
    with pytest.raises(FileFormatError) as err:
        load_law(write(tmp_path, data))
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "text", ["a: [1, 2", "- just\n- a list\n", "42", "", "!!python/object:os.system {}\n"]
)
def test_malformed_yaml(tmp_path, text):
    with pytest.raises(FileFormatError):
        load_law(write(tmp_path, text))


def test_unknown_name_lists_the_shipped_ones():
    with pytest.raises(FileFormatError) as err:
        load_law("krajewski2099")
    assert "krajewski2024-moe" in str(err.value)


def test_missing_file():
    with pytest.raises(FileFormatError, match="does not exist"):
        load_law("/nonexistent/law.yaml")


def test_suffixed_numbers_and_strings_accepted(tmp_path):
    data = base()
    data["fitted_range"]["params"] = ["129M", "3.7B"]
    data["coefficients"]["b"] = "30.8"
    law = load_law(write(tmp_path, data))
    assert law.fitted_range["params"] == (129e6, 3.7e9) and law.coefficients["b"] == 30.8


def test_non_finite_rejected(tmp_path):
    data = base()
    data["coefficients"]["a"] = 1e400  # yaml dumps .inf
    with pytest.raises(FileFormatError, match="finite"):
        load_law(write(tmp_path, data))


@given(
    st.fixed_dictionaries(
        {
            k: st.floats(1e-3, 1e3 if k in ("a", "b", "g") else 10)
            for k in ("a", "alpha", "b", "beta", "g", "gamma")
        }
    ),
    st.floats(0, 5),
    st.lists(st.floats(0.01, 100), min_size=1, max_size=5),
)
def test_yaml_round_trip(coeffs, c, samples):
    # only laws whose optimum a double can hold (issue 17: a = 1, b = 1e10 at exponents 1e-3
    # put N* at 1e5000 and crashed the solver): |log10(alpha*a / (beta*b))| / (alpha + beta)
    k = coeffs
    for a in (k["a"], k["a"] + k["g"]):
        assume(
            abs(math.log10(k["alpha"] * a / (k["beta"] * k["b"]))) / (k["alpha"] + k["beta"]) < 249
        )
    data = base()
    data["coefficients"] = dict(coeffs, c=c)
    data["bootstrap"] = {"a": samples, "c": samples}
    text = yaml.safe_dump(data)
    law = law_from_mapping(yaml.safe_load(text), "<test>")
    assert law_to_mapping(law) == data


def test_precompiled_shipped_laws_are_fresh():
    # moeplan/_shipped_laws.py must be regenerated (python -m moeplan.compile_laws) whenever a
    # YAML file in coefficients/ changes; the loader would still be right (it checks SHA-256),
    # only slower.
    from pathlib import Path

    import moeplan
    from moeplan.coefficients import compiled_module_text

    stored = Path(moeplan.__file__).with_name("_shipped_laws.py").read_text(encoding="utf-8")
    assert stored == compiled_module_text()


def test_precompiled_copy_is_used_only_for_identical_files(tmp_path, monkeypatch):
    import shutil

    import moeplan.coefficients as co

    src = co.coefficients_dir()
    fake = tmp_path / "coefficients"
    shutil.copytree(src, fake)
    monkeypatch.setattr(co, "_coefficients_dir", lambda: str(fake))
    path = fake / "krajewski2024-moe.yaml"
    assert co._precompiled(str(path)) is not None
    path.write_text(path.read_text().replace("a: 18.1", "a: 19.5"))
    assert co._precompiled(str(path)) is None
    co._load_cached.cache_clear()
    assert load_law("krajewski2024-moe").coefficients["a"] == 19.5
    co._load_cached.cache_clear()


def test_router_c_r_falls_back_to_the_default_for_dense_sets():
    assert load_law("krajewski2024-dense").c_r == 0
    assert load_law("krajewski2024-dense").router_c_r == 14
    assert load_law("krajewski2024-moe").router_c_r == 14

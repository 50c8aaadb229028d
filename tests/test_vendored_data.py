"""The real data the tests and the README use ship with the repository, with provenance."""

from __future__ import annotations

import hashlib
import json

from conftest import DATA, REPO

CHINCHILLA_SHA256 = "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30"


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_chinchilla_runs_are_the_epoch_file_unchanged():
    # the hash the exhaustive reference was computed on, and the example copy is the same file
    csv = DATA / "chinchilla" / "svg_extracted_data.csv"
    assert _sha256(csv) == CHINCHILLA_SHA256
    frozen = json.loads((DATA / "chinchilla_exhaustive.json").read_text())
    assert frozen["data"]["sha256"] == CHINCHILLA_SHA256
    assert _sha256(REPO / "examples" / "chinchilla-runs.csv") == CHINCHILLA_SHA256
    lines = csv.read_text().splitlines()
    assert len(lines) == 246  # header + 245 runs


def test_provenance_readmes_name_source_commit_and_licence():
    text = (DATA / "chinchilla" / "README.md").read_text()
    for needle in (
        "epoch-research/analyzing-chinchilla",
        "92258837425e1b5f2851d624287f0120583a3d0e",
        "Licence",
        "Hoffmann et al. 2022",
        "Besiroglu et al. 2024",
    ):
        assert needle in text, needle
    text = (DATA / "hf-configs" / "README.md").read_text()
    for name in ("mixtral-8x7b-v0.1.config.json", "olmoe-1b-7b-0924.config.json"):
        assert name in text and (DATA / "hf-configs" / name).is_file()


def test_no_test_reads_outside_the_repository():
    # the suite once read the shared data folder beside the repository; a clone has none
    for path in (REPO / "tests").glob("*.py"):
        if path.name == "test_vendored_data.py":
            continue
        text = path.read_text()
        assert '"shared"' not in text and "parent.parent.parent" not in text, path.name

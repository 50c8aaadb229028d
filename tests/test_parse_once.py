"""`check` reads a proposal with one YAML parse (issue 12): the line numbers its messages cite
come from the node graph that parse_yaml composed, not from a second, pure-Python parse."""

from __future__ import annotations

import yaml

from moeplan import yamlio
from moeplan.proposal import load_proposal

TEXT = (
    "# a proposal\n"
    "model:\n"
    "  d_model: 1024\n"
    "  n_blocks: 16\n"
    "  granularity: 8\n"
    "training:\n"
    "  tokens: 10B\n"
    "limits:\n"
    "  max_total_params: 10B\n"
)


def test_a_proposal_is_parsed_once_and_keeps_its_line_numbers(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text(TEXT)
    made = []
    real = yamlio._loader()

    def counting(text):
        made.append(text)
        return real(text)

    def refuse(*args, **kwargs):
        raise AssertionError("a second parse of the proposal")

    monkeypatch.setattr(yamlio, "_loader", lambda: counting)
    monkeypatch.setattr(yaml, "compose", refuse)
    monkeypatch.setattr(yaml.SafeLoader, "__init__", refuse)
    proposal = load_proposal(path)
    assert len(made) == 1
    # 1-based lines of the keys, counted by hand from TEXT above
    assert proposal.lines["model"] == 2
    assert proposal.lines["model.d_model"] == 3
    assert proposal.lines["model.granularity"] == 5
    assert proposal.lines["training.tokens"] == 7
    assert proposal.lines["limits.max_total_params"] == 9

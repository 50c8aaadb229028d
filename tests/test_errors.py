"""Errors: the core names parameters, the command line shows flags (issue 11)."""


def test_core_errors_name_parameters_not_flags():
    """Issue 11: the library's errors name its arguments (``param``, ``mentions``); only
    moeplan/cli turns them into flags. Every ``raise`` outside moeplan/cli is read from the
    source: none may write a ``--flag`` into its message."""
    import ast
    import re
    from pathlib import Path

    import moeplan

    root = Path(moeplan.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        src = path.read_text(encoding="utf-8")
        if not re.search(r"--[a-z]", src):
            continue
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                if re.search(r"--[a-z]", text):
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found, found


def test_flag_message_maps_param_and_mentions():
    from moeplan.cli import flag_message
    from moeplan.errors import InputError

    e = InputError(
        "flops_from 1e+22 is above flops_to 1e+20; give the smaller budget first",
        param="flops_from",
        mentions=("flops_to",),
    )
    assert flag_message(e) == "--from 1e+22 is above --to 1e+20; give the smaller budget first"
    e = InputError(
        "runs: no column 'params'; map one with columns params=HEADER", mentions=("columns",)
    )
    assert flag_message(e).endswith("map one with --column params=HEADER")
    # a mention is a whole word: other words that contain it stay
    e = InputError("fixed_point and prefixed stay; fixed goes", mentions=("fixed",))
    assert flag_message(e) == "fixed_point and prefixed stay; --fix goes"
    assert (
        flag_message(InputError("must be positive", param="memory")) == "--memory: must be positive"
    )
    assert flag_message(InputError("x", param="memory"), with_param=False) == "x"

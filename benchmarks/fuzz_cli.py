"""Fuzz the moeplan command line: random argument vectors for every command, in-process.

Each example is a command with its valid base arguments (most of the time) plus random flags
from the command's real option list, with random values: numbers plain and suffixed, zero,
negative, 1e-300, 1e300, 1e400, NaN, infinities, garbage, empty strings, lists, memory sizes,
law names and hostile files (alias bombs, deep nesting, binary, > 4 MiB, wrong types...).
The property (tests/fuzz_support.py): exit code in {0, 1, 2, 3}, no uncaught exception or
numpy RuntimeWarning, exit 2 with exactly one stderr line, --json output one JSON document,
no nan/inf printed.

Usage::

    python benchmarks/fuzz_cli.py                 # 10,000 examples (about 1,000 per command)
    python benchmarks/fuzz_cli.py --examples 500 --seed 7 --command optimize

Prints examples per command, the exit-code histogram, the slowest example and every distinct
failure with one argument vector that shows it; exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import fuzz_support  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="total examples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--command",
        action="append",
        choices=fuzz_support.COMMANDS,
        help="fuzz only this command (repeatable)",
    )
    opts = parser.parse_args()

    from moeplan.cli import app

    commands = opts.command or list(fuzz_support.COMMANDS)
    # commands with few options (laws) run out of distinct examples: run them first and share
    # what they leave among the others
    commands.sort(key=lambda c: c != "laws")
    folder = Path(tempfile.mkdtemp(prefix="moeplan-fuzz-"))
    files = fuzz_support.make_files(folder)
    # relative paths drawn for output options land in a scratch folder, not the caller's
    work = folder / "cwd"
    work.mkdir()
    os.chdir(work)

    counts = collections.Counter()
    codes = collections.defaultdict(collections.Counter)
    failures: dict[tuple, list] = {}
    slowest = (0.0, None)
    started = time.perf_counter()

    for k, command in enumerate(commands):
        left = opts.examples - sum(counts.values())
        per_command = max(1, -(-left // (len(commands) - k)))

        @settings(
            max_examples=per_command,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            derandomize=False,
            suppress_health_check=list(HealthCheck),
        )
        @given(args=fuzz_support.argv(app, command, files))
        def one(args):
            nonlocal slowest
            t0 = time.perf_counter()
            result = fuzz_support.run(app, args)
            dt = time.perf_counter() - t0
            if dt > slowest[0]:
                slowest = (dt, args)
            counts[command] += 1
            codes[command][result.exit_code] += 1
            problem = fuzz_support.violation(args, result)
            if problem is not None:
                key = (command, problem.split(":")[0][:80])
                failures.setdefault(key, [problem, args, 0])
                failures[key][2] += 1

        # a per-command seed keeps runs repeatable
        seed(opts.seed * 1000 + fuzz_support.COMMANDS.index(command))(one)()
        print(
            f"{command:9s} {counts[command]:6d} examples  exit codes "
            f"{dict(sorted(codes[command].items()))}",
            flush=True,
        )

    total = sum(counts.values())
    hist = collections.Counter()
    for c in codes.values():
        hist.update(c)
    elapsed = time.perf_counter() - started
    print(
        f"\n{total} examples in {elapsed:.0f} s ({total / elapsed:.0f}/s); exit-code "
        f"histogram {dict(sorted(hist.items()))}"
    )
    print(f"slowest example: {slowest[0]:.2f} s: moeplan {' '.join(map(repr, slowest[1] or []))}")
    n_fail = sum(v[2] for v in failures.values())
    print(f"failures: {n_fail} examples, {len(failures)} distinct")
    for (command, _), (problem, args, n) in sorted(failures.items()):
        print(f"  [{command}] x{n}: {problem}\n      moeplan {' '.join(map(repr, args[1:]))}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

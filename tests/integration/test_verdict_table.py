"""The verdict table (tests/verdict_table.py) on whatever cgroup version this host has.

On this host that is v1; `.ci/v2-vm` runs the same test in the cgroup v2 VM
with RUSTBOX_REFERENCE_VERDICTS naming this host's verdicts, so the two
versions must also agree case by case (status, oom, tle, output_limit,
exit code or signal; peaks within 1 MiB). RUSTBOX_VERDICTS_OUT, when set,
receives this run's verdicts. Box 40.
"""
from __future__ import annotations

import os
from pathlib import Path

import orjson

from tests.verdict_table import run_table

BOX = 40


def test_verdict_table(programs):
    reference = os.environ.get("RUSTBOX_REFERENCE_VERDICTS")
    lines = []
    verdicts, problems = run_table(programs, BOX,
                                   orjson.loads(Path(reference).read_bytes()) if reference else None,
                                   echo=lines.append)
    if os.environ.get("RUSTBOX_VERDICTS_OUT"):
        Path(os.environ["RUSTBOX_VERDICTS_OUT"]).write_bytes(
            orjson.dumps(verdicts, option=orjson.OPT_INDENT_2))
    assert problems == [], "\n".join(lines)

"""What the command lines say: `-h` everywhere, and counts with their nouns."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from rustbox.batch import BatchSummary
from rustbox.text import plural

from judge_helpers import REPO


@pytest.mark.parametrize("args", [[], ["run"], ["verify"], ["submit"], ["worker"], ["result"]])
def test_judge_h_is_help_like_rustbox_h(args):
    short, long = (subprocess.run([sys.executable, "-m", "judge", *args, flag], cwd=REPO,
                                  capture_output=True, text=True, timeout=60)
                   for flag in ("-h", "--help"))
    assert short.returncode == 0 and short.stderr == "", short.stderr
    assert short.stdout == long.stdout and short.stdout.startswith("Usage: ")


def test_counts_take_the_right_form():
    assert [plural(n, "run") for n in (0, 1, 2)] == ["0 runs", "1 run", "2 runs"]
    assert plural(1, "box", "boxes") == "1 box" and plural(3, "box", "boxes") == "3 boxes"
    one = BatchSummary(statuses=Counter({"OK": 1})).line()
    assert one.startswith("batch: 1 run (1 OK) in "), one
    assert BatchSummary(statuses=Counter({"OK": 2, "TO": 1})).line().startswith(
        "batch: 3 runs (2 OK, 1 TO) in ")

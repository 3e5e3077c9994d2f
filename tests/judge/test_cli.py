"""The `judge` command, driven through click's CliRunner."""
from __future__ import annotations

import json

import pytest

from click.testing import CliRunner

from judge.cli import main, parse_boxes

from judge_helpers import PROBLEMS, make_package

BOXES = ["--boxes", "814-815"]


def invoke(*args):
    return CliRunner().invoke(main, [*args])


def test_run_json_prints_only_the_contract_json():
    result = invoke("run", str(PROBLEMS / "hypot"), str(PROBLEMS / "hypot/submissions/accepted/hypot.cpp"),
                    "--json", *BOXES)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["verdict"] == "AC" and data["language"] == "cpp" and len(data["tests"]) == 32


def test_run_readable_output_is_a_summary_and_the_failing_tests():
    result = invoke("run", str(PROBLEMS / "distinctpair"),
                    str(PROBLEMS / "distinctpair/submissions/wrong_answer/equal_halves.py"), *BOXES)
    assert result.exit_code == 0, result.output
    assert "time limit 1 s (from the problem.yaml)" in result.output
    assert "failing tests" in result.output and "the two numbers are equal" in result.output
    assert "verdict: WA (wrong answer)" in result.output
    assert "\n{" not in result.output                  # the JSON is --json's


def test_run_summary_names_the_slowest_test_and_the_peak_memory_and_all_shows_every_test():
    aplusb = PROBLEMS / "aplusb"
    result = invoke("run", str(aplusb), str(aplusb / "submissions/accepted/sum.py"), *BOXES)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) <= 6, result.output
    assert lines[-2] == "verdict: AC (accepted)"
    summary = lines[-1]
    assert summary.startswith(f"{len(list((aplusb / 'data').rglob('*.in')))} tests judged: ")
    assert " AC; slowest " in summary and " s of 1 s; peak memory " in summary and "MiB (" in summary
    full = invoke("run", str(aplusb), str(aplusb / "submissions/accepted/sum.py"), "--all", *BOXES).output
    assert "sample/1 " in full and "secret/001 " in full


def test_verify_passes_and_derives_the_time_limit():
    result = invoke("verify", str(PROBLEMS / "primecount"), *BOXES)
    assert result.exit_code == 0, result.output
    assert "time limit 1 s (derived: slowest accepted test run" in result.output
    assert "6 of 6 submissions got their expected verdict" in result.output


def test_verify_mismatch_exits_1(tmp_path):
    problem = make_package(tmp_path / "p", {"data/secret/1.in": "1\n", "data/secret/1.ans": "1\n",
                                            "submissions/accepted/wrong.py": "print(2)\n",
                                            "submissions/wrong_answer/right.py": "print(input())\n"})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 1
    assert "MISMATCH accepted/wrong.py" in result.output
    assert "MISMATCH wrong_answer/right.py" in result.output


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (["run", str(tmp_path / "nowhere"), str(tmp_path / "x.cpp")],
                 ["run", str(PROBLEMS / "aplusb"), str(tmp_path / "missing.cpp")],
                 ["run", str(PROBLEMS / "aplusb"), str(PROBLEMS / "aplusb/problem.yaml")],
                 ["run", str(PROBLEMS / "aplusb"), str(PROBLEMS / "aplusb/submissions/accepted/sum.c"),
                  "--lang", "cobol"],
                 ["verify", str(tmp_path)]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("judge: error: ") and result.output.count("\n") == 1, result.output
        assert "Traceback" not in result.output


def test_broken_package_names_the_file(tmp_path):
    problem = make_package(tmp_path / "p", {"data/secret/1.in": "1\n"})
    result = invoke("run", str(problem), str(PROBLEMS / "aplusb/submissions/accepted/sum.py"), *BOXES)
    assert result.exit_code == 2
    assert result.output.strip().endswith("data/secret/1.ans: missing answer file for 1.in")


def test_usage_errors_exit_2():
    assert invoke("run").exit_code == 2
    assert invoke("run", "a", "b", "--time-limit", "-1").exit_code == 2
    assert invoke("run", "a", "b", "--boxes", "x-y").exit_code == 2


def test_parse_boxes():
    assert parse_boxes("800-802,805") == [800, 801, 802, 805]
    assert parse_boxes(None) is None


@pytest.mark.parametrize("text", ["0,0", "5000", "3-1", "x-y", "-1"])
def test_parse_boxes_refuses_what_rustbox_refuses(text):
    from rustbox.batch import parse_box_ids
    from rustbox.errors import UsageError
    with pytest.raises(UsageError):
        parse_box_ids(text)
    with pytest.raises(UsageError):
        parse_boxes(text)


def test_ctrl_c_on_judge_run_stops_at_once_with_a_summary():
    """Ctrl-C in a terminal (SIGINT to the whole process group, box helpers
    included) mid-tests: no traceback from anyone, the runs end, one line
    says what ran, exit 130 (issue 10.1)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from judge_helpers import REPO

    proc = subprocess.Popen(
        [sys.executable, "-m", "judge", "run", str(PROBLEMS / "aplusb"),
         str(PROBLEMS / "aplusb/submissions/accepted/sum.py"), "--boxes", "812-813"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        while b"compile: OK" not in proc.stdout.readline():
            assert proc.poll() is None
        time.sleep(0.5)                       # among the 122 tests
        os.killpg(proc.pid, signal.SIGINT)
        began = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130
    assert len(lines) == 1 and lines[0].startswith("judge: interrupted after "), lines
    assert " of 122 tests (" in lines[0] and "AC)" in lines[0]
    assert took < 2.5, took                   # ran to the end before: 60 s and more
    left = subprocess.run(["pgrep", "-u", "61812,61813"], capture_output=True, text=True)
    assert left.stdout == ""

"""The judge on packages shaped like real ones (issue 12): each test is a
small package of ours that reproduces a class found on public packages
(Kattis, DOMjudge, BAPCtools, the Swedish olympiad), run through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judge.cli import main

from judge_helpers import echo_tests, make_package

BOXES = ["--boxes", "816-817"]
ECHO_PY = "print(input())\n"
WRONG_PY = "input()\nprint(-1)\n"


def invoke(*args):
    return CliRunner().invoke(main, [*args])


def run_json(problem, submission, *extra):
    result = invoke("run", str(problem), str(submission), "--json", *BOXES, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# ---- silent wrong verdicts ------------------------------------------------

def test_ignore_sample_without_samples_still_judges_the_secret_data(tmp_path):
    # No data/sample: ignore_sample used to drop the root's first child,
    # data/secret, and a wrong submission got AC with score 0 of 0.
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/testdata.yaml": "grader_flags: ignore_sample sum\n",
        "data/secret/testdata.yaml": "on_reject: continue\naccept_score: 50\n",
        **echo_tests(2), "wrong.py": WRONG_PY, "right.py": ECHO_PY})
    wrong = run_json(problem, problem / "wrong.py")
    assert wrong["verdict"] == "WA" and wrong["score"] == 0 and wrong["max_score"] == 100
    right = run_json(problem, problem / "right.py")
    assert right["verdict"] == "AC" and right["score"] == 100


def test_ignore_sample_ignores_the_samples_by_name(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/testdata.yaml": "grader_flags: ignore_sample sum\n",
        "data/sample/1.in": "5\n", "data/sample/1.ans": "6\n",       # the echo fails the sample
        "data/secret/testdata.yaml": "accept_score: 50\n", **echo_tests(2), "right.py": ECHO_PY})
    result = run_json(problem, problem / "right.py")
    assert result["verdict"] == "AC" and result["score"] == 100


def test_submit_answer_is_refused(tmp_path):
    # Interactive and multi-pass problems are judged now (tests/judge/test_interactive.py);
    # submit-answer still is not, and is refused rather than judged as an ordinary problem.
    problem = make_package(tmp_path / "p", {"problem.yaml": "name: T\nproblem_format_version: 2025-09\n"
                                                            "type: submit-answer\n", **echo_tests(1),
                                            "output_validators/v/v.py": "import sys; sys.exit(42)\n",
                                            "submissions/wrong_answer/w.py": WRONG_PY})
    for args in (["verify", str(problem)], ["run", str(problem), str(problem / "submissions/wrong_answer/w.py")]):
        result = invoke(*args, *BOXES)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1, result.output
        assert "submit-answer problems are not supported by this judge yet" in result.output


def test_unknown_validation_words_are_refused(tmp_path):
    problem = make_package(tmp_path / "p", {"problem.yaml": "name: T\nvalidation: custom multipass\n",
                                            **echo_tests(1), "output_validators/v.py": "exit(42)\n",
                                            "w.py": WRONG_PY})
    result = invoke("run", str(problem), str(problem / "w.py"), *BOXES)
    assert result.exit_code == 2 and "validation: unknown word 'multipass'" in result.output


DERIVE_YAML = "name: T\ntype: scoring\n"
SLOW_PARTIAL_PY = """\
import time
n = int(input())
if n == 2:
    end = time.process_time() + 1.3
    while time.process_time() < end:
        pass
    print(-1)
else:
    print(n)
"""


def test_derived_time_limit_comes_only_from_fully_accepted_runs(tmp_path):
    # accepted/partial.py scores (AC on a scoring problem) but fails the slow
    # test: its 1.3 s used to become the base of the limit (1.3 x 5 -> 7 s).
    problem = make_package(tmp_path / "p", {
        "problem.yaml": DERIVE_YAML,
        "data/secret/testdata.yaml": "on_reject: continue\naccept_score: 50\n", **echo_tests(2),
        "submissions/accepted/good.py": ECHO_PY, "submissions/accepted/partial.py": SLOW_PARTIAL_PY})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 1, result.output
    assert "time limit 1 s (derived: slowest accepted test run 0.0" in result.output
    line = next(l for l in result.output.splitlines() if "accepted/partial.py" in l)
    assert "MISMATCH" in line and "score 50/100" in line
    # graded again under the derived limit: the slow test is now over it
    assert "over the time limit of 1 s" in result.output or "TLE" in result.output


def test_no_fully_accepted_run_says_so_instead_of_deriving_from_nothing(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\n", **echo_tests(1),
        "submissions/accepted/wrong.py": WRONG_PY, "submissions/wrong_answer/w.py": WRONG_PY})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 1, result.output
    assert ("time limit 1 s (default: no accepted submission passed every test within the 10 s probe, "
            "so there is nothing to derive the time limit from)") in result.output
    assert "0.000 s" not in result.output


def test_out_of_memory_crash_is_accepted_in_run_time_error(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 2\n  memory: 64\n", **echo_tests(1),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/run_time_error/hog.py": "data = b'x' * (300 << 20)\nprint(len(data))\n",
        "submissions/wrong_answer/hog.py": "data = b'x' * (300 << 20)\nprint(len(data))\n"})
    result = invoke("verify", str(problem), *BOXES)
    lines = result.output.splitlines()
    rte = next(l for l in lines if "run_time_error/hog.py" in l)
    assert rte.lstrip().startswith("ok") and "expected RTE" in rte and "got MLE" in rte
    assert "MLE is accepted in run_time_error/: a memory-limit crash is a run-time error" in result.output
    # only there: an MLE in wrong_answer/ is still a mismatch
    assert "MISMATCH wrong_answer/hog.py" in result.output and result.exit_code == 1


def test_a_wall_clock_kill_is_named_as_such(tmp_path):
    problem = make_package(tmp_path / "p", {"problem.yaml": "name: T\nlimits:\n  time_limit: 1\n",
                                            **echo_tests(1),
                                            "sleepy.py": "import time\ntime.sleep(30)\n",
                                            "busy.py": "while True:\n    pass\n"})
    sleepy = run_json(problem, problem / "sleepy.py")["tests"][0]
    assert sleepy["verdict"] == "TLE" and sleepy["cpu_time"] < 1
    assert sleepy["message"] == ("over the wall time limit of 3 s while under the CPU time limit of 1 s "
                                 "(the program waited, slept or blocked)")
    busy = run_json(problem, problem / "busy.py")["tests"][0]
    assert busy["verdict"] == "TLE"
    if busy["cpu_time"] >= 1:
        assert busy["message"] == "over the time limit of 1 s"
    else:       # a machine so loaded that 3 s of wall clock gave less than 1 s of CPU
        assert busy["message"].startswith("over the wall time limit of 3 s")


# ---- one unknown file does not end the verify ------------------------------

def test_a_submission_the_judge_cannot_run_is_skipped_and_the_rest_graded(tmp_path):
    problem = make_package(tmp_path / "p", {
        **echo_tests(1),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/accepted/echo.swift": "print(readLine()!)\n",
        "submissions/accepted/echo.cpp.template": "// filled in by a script\n",
        "submissions/accepted/dir/notes.txt": "nothing to run\n",
        "submissions/wrong_answer/w.py": WRONG_PY})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(l.split()[:2] == ["skipped", "accepted/echo.swift"] and "no language of this judge for .swift" in l
               for l in lines), result.output
    assert any("accepted/echo.cpp.template" in l and "for .cpp.template" in l for l in lines)
    assert any(l.split()[:2] == ["skipped", "accepted/dir"] for l in lines)
    assert any(l.split()[:2] == ["ok", "wrong_answer/w.py"] for l in lines)
    assert lines[-1] == "2 of 2 submissions got their expected verdict; 3 more not graded (skipped: see above)"
    data = [json.loads(l) for l in invoke("verify", str(problem), "--json", *BOXES).output.splitlines()]
    skipped = {Path(d["submission"]).name: d["skipped"] for d in data if "skipped" in d}
    assert set(skipped) == {"echo.swift", "echo.cpp.template", "dir"}


def test_verify_shows_which_submission_it_is_grading_on_a_terminal(tmp_path):
    problem = make_package(tmp_path / "p", {"problem.yaml": "name: T\n", **echo_tests(2),
                                            "submissions/accepted/echo.py": ECHO_PY,
                                            "submissions/wrong_answer/w.py": WRONG_PY})
    result = CliRunner(env={"TTY_COMPATIBLE": "1", "COLUMNS": "150"}).invoke(main, ["verify", str(problem), *BOXES])
    assert result.exit_code == 0, result.output
    assert "[1/2] accepted/echo.py (10 s per test)" in result.output
    assert "[2/2] wrong_answer/w.py (1 s per test)" in result.output


# ---- expectations outside the folder names --------------------------------

def _lines_for(output: str, name: str) -> list[str]:
    """The verdict line of a submission and its indented detail lines."""
    lines = output.splitlines()
    start = next(i for i, l in enumerate(lines) if f" {name} " in l or l.endswith(f" {name}"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("      "):
        end += 1
    return lines[start:end]


def test_domjudge_expected_results_lines_are_checked_and_other_folders_are_not_checked(tmp_path):
    problem = make_package(tmp_path / "p", {
        **echo_tests(2),
        "submissions/accepted/echo.py": ECHO_PY,
        # DOMjudge: the tag replaces the directory's promise
        "submissions/accepted/tagged_wrong.py": "# @EXPECTED_RESULTS@: WRONG-ANSWER\n" + WRONG_PY,
        "submissions/mixed/either.py": "# @EXPECTED_RESULTS@: CORRECT, WRONG-ANSWER\n" + WRONG_PY,
        "submissions/mixed/crash.c": "/*\n * @EXPECTED_RESULTS@: RUN-ERROR\n */\nint main(){return 3;}\n",
        "submissions/mixed/lies.py": "# @EXPECTED_RESULTS@: TIMELIMIT\n" + ECHO_PY,
        "submissions/mixed/untagged.py": ECHO_PY,
        "submissions/check_manually/odd.py": "# @EXPECTED_RESULTS@: CHECK-MANUALLY\n" + ECHO_PY})
    result = invoke("verify", str(problem), *BOXES)
    out = result.output
    assert result.exit_code == 1, out
    assert _lines_for(out, "accepted/tagged_wrong.py")[0].split()[0] == "ok"
    assert _lines_for(out, "mixed/either.py")[0].split()[:4] == ["ok", "mixed/either.py", "expected", "AC|WA"]
    assert _lines_for(out, "mixed/crash.c")[0].split()[0] == "ok"
    lies = _lines_for(out, "mixed/lies.py")
    assert lies[0].split()[0] == "MISMATCH"
    assert "@EXPECTED_RESULTS@ in lies.py: expected TLE, got AC" in lies[1]
    untagged = _lines_for(out, "mixed/untagged.py")
    assert untagged[0].split()[0] == "-" and "got AC" in untagged[0]
    assert "not checked: mixed/ is not a directory the package format defines" in untagged[1]
    manual = _lines_for(out, "check_manually/odd.py")
    assert manual[0].split()[0] == "-"
    assert any("@EXPECTED_RESULTS@: CHECK-MANUALLY is not a result this judge gives: not checked" in l
               for l in manual)
    assert out.splitlines()[-1] == ("4 of 5 submissions got their expected verdict; 1 did not; "
                                    "2 more graded but not checked (nothing promised)")


def test_domjudge_expected_score(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/secret/testdata.yaml": "on_reject: continue\naccept_score: 25\n", **echo_tests(4),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/partially_accepted/half.py": "# @EXPECTED_SCORE@: 50\nn = int(input())\nprint(n if n % 2 else -1)\n",
        "submissions/partially_accepted/claims.py": "# @EXPECTED_SCORE@: 75\nn = int(input())\nprint(n if n % 2 else -1)\n"})
    out = invoke("verify", str(problem), *BOXES).output
    assert _lines_for(out, "partially_accepted/half.py")[0].split()[0] == "ok"
    claims = _lines_for(out, "partially_accepted/claims.py")
    assert claims[0].split()[0] == "MISMATCH" and "expected score 75, got 50" in claims[1]


V2025 = "problem_format_version: 2025-09\nname: T\nuuid: 8ee7605a-da18-8ca0-1c75-fc0ad9c6be71\nlimits:\n  time_limit: 1\n"
ODD_ONLY_PY = "n = int(input())\nprint(n if n % 2 else -1)\n"


def test_submissions_yaml_rules_are_checked(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": V2025, **echo_tests(4),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/mixed/odd.py": ODD_ONLY_PY,
        "submissions/mixed/other.py": ODD_ONLY_PY,
        "submissions/wa/hello.py": "input()\nprint('hello')\n",
        "submissions/submissions.yaml": """\
mixed:
  permitted: [AC, WA]
mixed/odd.py:
  secret/{01,03}:
    permitted: [AC]
  secret/0{2,4}:
    required: [WA]
mixed/other.py:
  secret/*1:
    required: [WA]
wa:
  required: [WA]
  message: "expected '1', got 'hello'"
"""})
    result = invoke("verify", str(problem), *BOXES)
    out = result.output
    assert _lines_for(out, "mixed/odd.py")[0].split()[0] == "ok", out
    other = _lines_for(out, "mixed/other.py")
    assert other[0].split()[0] == "MISMATCH"
    assert "submissions.yaml mixed/other.py > secret/*1 (tests secret/*1): no judged test got WA" in other[1]
    assert _lines_for(out, "wa/hello.py")[0].split()[0] == "ok"
    assert result.exit_code == 1


def test_2025_09_default_directories_are_per_test(tmp_path):
    # wrong_answer/ in 2025-09: every test AC or WA, at least one WA. A
    # submission that crashes on a test breaks it even if it also has a WA.
    problem = make_package(tmp_path / "p", {
        "problem.yaml": V2025, **echo_tests(3),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/wrong_answer/wa_then_crash.py": "n = int(input())\nassert n < 3\nprint(n if n == 1 else -1)\n",
        "submissions/wrong_answer/plain.py": ODD_ONLY_PY,
        "submissions/rejected/crash.py": "raise SystemExit(1)\n",
        "submissions/submissions.yaml": "wrong_answer:\n  permitted: [AC, WA, RTE]\n"})
    out = invoke("verify", str(problem), *BOXES).output
    assert _lines_for(out, "wrong_answer/plain.py")[0].split()[0] == "ok", out
    # the directory's rule was widened by submissions.yaml: RTE is permitted there
    assert _lines_for(out, "wrong_answer/wa_then_crash.py")[0].split()[0] == "ok"
    assert _lines_for(out, "rejected/crash.py")[0].split()[0] == "ok"


def test_a_broken_submissions_yaml_is_one_line(tmp_path):
    problem = make_package(tmp_path / "p", {
        **echo_tests(1), "submissions/accepted/echo.py": ECHO_PY,
        "submissions/submissions.yaml": "accepted:\n  permitted: [OK]\n"})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "submissions.yaml: accepted.permitted: unknown verdict 'OK' (known: AC, WA, TLE, RTE)" in result.output


# ---- data that is not committed -------------------------------------------

def test_a_package_that_generates_its_secret_data_grades_its_samples(tmp_path):
    problem = make_package(tmp_path / "p", {
        "data/sample/1.in": "1\n", "data/sample/1.ans": "1\n",
        "data/sample/2.in": "2\n", "data/sample/2.ans": "2\n",
        "data/testdata.yaml": "grader_flags: ignore_sample\n",
        "generators/generators.yaml": "solution: /submissions/accepted/echo.py\n",
        "submissions/accepted/echo.py": ECHO_PY, "submissions/wrong_answer/w.py": WRONG_PY})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("note: data/secret: missing (the secret test data); the package generates its tests "
                        "with generators/, which this judge does not run: grading the 2 sample tests only "
                        "(ignore_sample set aside: the samples are all there is)")
    assert _lines_for(result.output, "wrong_answer/w.py")[0].split()[:6] == \
        ["ok", "wrong_answer/w.py", "expected", "WA", "got", "WA"]
    run = invoke("run", str(problem), str(problem / "submissions/wrong_answer/w.py"), *BOXES)
    assert run.exit_code == 0 and "grading the 2 sample tests only" in run.output
    # an empty data/secret says so too; no data at all is still a broken package
    (problem / "data/secret").mkdir()
    assert "data/secret: no test cases (.in/.ans pairs); the package generates" in \
        invoke("verify", str(problem), *BOXES).output
    for name in ("1.in", "1.ans", "2.in", "2.ans"):
        (problem / "data/sample" / name).unlink()
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.endswith("data/secret: no test cases (.in/.ans pairs)\n")


def test_the_queue_worker_still_refuses_a_package_without_secret_data(tmp_path):
    from judge.errors import ProblemError
    from judge.problem import load_problem
    problem = make_package(tmp_path / "p", {"data/sample/1.in": "1\n", "data/sample/1.ans": "1\n"})
    with pytest.raises(ProblemError, match="data/secret: missing"):
        load_problem(problem)


# ---- the 2025-09 format -----------------------------------------------------

SCORING_2025 = V2025.replace("name: T\n", "name: T\ntype: scoring\n")
ARGV_PY = "import sys\nn = int(input())\nprint(n if sys.argv[1:] == ['--fast', '7'] else -n)\n"


def _scoring_package(tmp_path, extra=None):
    files = {"problem.yaml": SCORING_2025,
             "data/sample/1.in": "9\n", "data/sample/1.ans": "9\n",
             "data/secret/test_group.yaml": "score_aggregation: sum\n",
             "data/secret/group1/test_group.yaml": "max_score: 30\nscore_aggregation: min\n",
             "data/secret/group2/test_group.yaml": "max_score: 70\n",        # pass-fail by default
             "data/secret/group1/1.in": "1\n", "data/secret/group1/1.ans": "1\n",
             "data/secret/group1/3.in": "3\n", "data/secret/group1/3.ans": "3\n",
             "data/secret/group2/2.in": "2\n", "data/secret/group2/2.ans": "2\n",
             "data/secret/group2/5.in": "5\n", "data/secret/group2/5.ans": "5\n",
             "echo.py": ECHO_PY, "odd.py": ODD_ONLY_PY, "even.py": "n = int(input())\nprint(-1 if n % 2 else n)\n"}
    files.update(extra or {})
    return make_package(tmp_path / "p", files)


def test_2025_09_max_score_and_score_aggregation(tmp_path):
    problem = _scoring_package(tmp_path)
    full = run_json(problem, problem / "echo.py")
    assert (full["verdict"], full["score"], full["max_score"]) == ("AC", 100, 100)
    odd = run_json(problem, problem / "odd.py")            # group1 all odd: 30; group2 fails on 2
    assert (odd["verdict"], odd["score"]) == ("AC", 30)
    even = run_json(problem, problem / "even.py")          # fails the sample and both groups
    assert (even["verdict"], even["score"]) == ("WA", 0)


def test_2025_09_require_pass(tmp_path):
    problem = _scoring_package(tmp_path, {
        "data/secret/group2/test_group.yaml": "max_score: 70\nrequire_pass: secret/group1\n",
        "data/secret/group2/2.in": "5\n", "data/secret/group2/2.ans": "5\n"})   # group2 now all odd
    assert run_json(problem, problem / "odd.py")["score"] == 100
    later = _scoring_package(tmp_path / "q", {
        "data/secret/group1/test_group.yaml": "max_score: 30\nscore_aggregation: min\n",
        "data/secret/group2/test_group.yaml": "max_score: 70\nrequire_pass: [sample]\n",
        "data/secret/group2/2.in": "5\n", "data/secret/group2/2.ans": "5\n",
        "data/sample/1.in": "2\n", "data/sample/1.ans": "2\n"})               # odd.py fails the sample
    assert run_json(later, later / "odd.py")["score"] == 30


def test_2025_09_args_and_test_case_yaml(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": V2025, **echo_tests(2),
        "data/secret/test_group.yaml": "args: ['--fast', '7']\ninput_visualizer_args: [x]\n",
        "data/secret/02.yaml": "output_validator_args: [float_tolerance, '0.5']\ndescription: loose\n",
        "data/secret/02.ans": "2.4\n", "argv.py": ARGV_PY})
    result = run_json(problem, problem / "argv.py")
    assert result["verdict"] == "AC", result              # args reached it; 02 is within 0.5 of 2.4
    (problem / "data/secret/02.yaml").write_text("timeout: 3\n")
    bad = invoke("run", str(problem), str(problem / "argv.py"), *BOXES)
    assert bad.exit_code == 2 and "02.yaml: unknown key 'timeout'" in bad.output


@pytest.mark.parametrize("yaml, message", [
    ("problem_format_version: 2025-09\nname: T\nsource_urll: x\n",
     "problem.yaml: unknown key 'source_urll' (2025-09 defines allow_file_writing, constants, credits,"),
    ("problem_format_version: 2025-09\nname: T\nlimits:\n  time_multipliers:\n    ac_to_tle: 2\n",
     "limits.time_multipliers: unknown key 'ac_to_tle' (known: ac_to_time_limit, time_limit_to_tle)"),
    ("problem_format_version: 2025-09\nname: T\nlimits:\n  time_multipliers:\n    ac_to_time_limit: 0.5\n",
     "limits.time_multipliers.ac_to_time_limit: must be at least 1"),
    ("problem_format_version: 2025-09\nname: T\ntype: scoring\n",
     "test_group.yaml: max_score: required (secret's maximum is 100"),
    ("problem_format_version: 2025-09\nname: T\nallow_file_writing: maybe\n", "allow_file_writing: expected true or false"),
    ("problem_format_version: 2025-09\nname: T\nconstants:\n  9n: 5\n", "constants: '9n' is not a constant name"),
    ("problem_format_version: 2025-09\nname: T\nconstants:\n  n: {tex: x}\n", "constants.n: a map needs its `value`"),
])
def test_2025_09_keys_are_checked(tmp_path, yaml, message):
    problem = make_package(tmp_path / "p", {"problem.yaml": yaml, **echo_tests(1),
                                            "data/secret/g/test_group.yaml": "score_aggregation: min\n"
                                            if "scoring" in yaml else "args: []\n",
                                            "data/secret/g/1.in": "1\n", "data/secret/g/1.ans": "1\n",
                                            "e.py": "print(input())  # {{n}}\n"})
    if "scoring" not in yaml:
        (problem / "data/secret/01.in").unlink()
        (problem / "data/secret/01.ans").unlink()
    result = invoke("run", str(problem), str(problem / "e.py"), *BOXES)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert message in result.output


def test_the_spec_examples_spelling_is_read_with_a_warning(tmp_path):
    # The format's own 2025-09 examples carry source_url and testdata.yaml's
    # `scoring:` of 2023-07: read, with a warning for the key of old.
    problem = make_package(tmp_path / "p", {
        "problem.yaml": SCORING_2025 + "source_url: https://contest.example\n",
        "data/secret/testdata.yaml": "scoring:\n  aggregation: sum\n",
        "data/secret/g1/testdata.yaml": "scoring:\n  score: 40\n  aggregation: min\n",
        "data/secret/g1/1.in": "1\n", "data/secret/g1/1.ans": "1\n",
        "data/secret/g2/testdata.yaml": "scoring:\n  score: 60\n  aggregation: min\n",
        "data/secret/g2/2.in": "2\n", "data/secret/g2/2.ans": "2\n", "odd.py": ODD_ONLY_PY})
    result = invoke("run", str(problem), str(problem / "odd.py"), *BOXES)
    assert "source_url: keys of older versions, not of 2025-09" in result.output
    assert run_json(problem, problem / "odd.py")["score"] == 40


def test_problem_languages_are_honoured(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": V2025 + "languages: [python3]\n", **echo_tests(1),
        "submissions/accepted/echo.py": ECHO_PY,
        "submissions/accepted/echo.c": '#include <stdio.h>\nint main(){int n;scanf("%d",&n);printf("%d\\n",n);}\n'})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 0, result.output
    line = _lines_for(result.output, "accepted/echo.c")[0]
    assert line.split()[0] == "skipped" and "problem.yaml allows only python3, not c" in line
    run = invoke("run", str(problem), str(problem / "submissions/accepted/echo.c"), *BOXES)
    assert run.exit_code == 2 and "problem.yaml allows only python3, not c" in run.output


# ---- include/<language>/, .py3 -----------------------------------------------

def test_included_files_are_copied_into_each_submission_of_their_language(tmp_path):
    problem = make_package(tmp_path / "p", {
        **echo_tests(2),
        # a driver that calls the contestant's solve(), with a helper package
        "include/python3/main.py": "from solution import solve\nfrom lib.util import twice\n"
                                   "print(twice(solve(int(input()))) // 2)\n",
        "include/python3/lib/__init__.py": "",
        "include/python3/lib/util.py": "def twice(x):\n    return 2 * x\n",
        "include/default/solve.h": "int solve(int n);\n",
        "include/default/runner.c": '#include <stdio.h>\n#include "solve.h"\n'
                                    'int main(void){int n;scanf("%d",&n);printf("%d\\n",solve(n));return 0;}\n',
        "submissions/accepted/solution.py": "def solve(n):\n    return n\n",
        "submissions/accepted/solve.c": '#include "solve.h"\nint solve(int n){return n;}\n',
        "submissions/wrong_answer/solution.py": "def solve(n):\n    return n + 1\n"})
    result = invoke("verify", str(problem), *BOXES)
    assert result.exit_code == 0, result.output
    assert "3 of 3 submissions got their expected verdict" in result.output


def test_py3_is_python_3(tmp_path):
    problem = make_package(tmp_path / "p", {**echo_tests(1), "echo.py3": ECHO_PY})
    result = run_json(problem, problem / "echo.py3")
    assert result["language"] == "python3" and result["verdict"] == "AC"

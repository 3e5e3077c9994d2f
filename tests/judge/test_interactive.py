"""Interactive and multi-pass problems (judge/passes.py) through the CLI; boxes 650-653.

testdata/problems/guess (legacy), guess-draft (2023-07-draft) and doubling
(multi-pass) carry accepted, wrong_answer (including a submission that never
reads, one that closes stdout early and one that floods), time_limit_exceeded
and run_time_error submissions in Python and C; guess-broken-interactor's
interactor crashes. Edge cases (too many passes, nextpass.in with 43) are
small packages written here.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from judge.cli import main
from judge.grader import grade_submission, grading_budget
from judge.problem import load_problem
from rustbox import BoxPool

from judge_helpers import PROBLEMS, make_package

BOXES = ["--boxes", "650-651"]


def invoke(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.fixture(scope="module", autouse=True)
def cleanup_boxes():
    yield
    from rustbox import Box
    for box_id in (650, 651, 652, 653):
        Box(box_id).cleanup()


@pytest.mark.parametrize("name", ["guess", "guess-draft", "doubling"])
def test_every_submission_gets_its_folders_verdict(name):
    result = invoke("verify", PROBLEMS / name, *BOXES)
    assert result.exit_code == 0, result.output
    assert "got their expected verdict" in result.output
    assert "MISMATCH" not in result.output


def test_a_crashing_interactor_is_je_and_says_why():
    result = invoke("run", PROBLEMS / "guess-broken-interactor",
                    PROBLEMS / "guess-broken-interactor/submissions/accepted/search.c", "--json", *BOXES)
    out = json.loads(result.output)
    assert out["verdict"] == "JE"
    message = out["tests"][0]["message"]
    assert "output validator failed" in message and "SIGABRT" in message
    assert "interactor: broken on purpose" in message
    verify = invoke("verify", PROBLEMS / "guess-broken-interactor", *BOXES)
    assert "got JE" in verify.output and "broken on purpose" in verify.output


def test_a_failed_interactive_test_shows_the_end_of_its_transcript():
    submission = PROBLEMS / "guess/submissions/wrong_answer/wrong_way.py"
    out = json.loads(invoke("run", PROBLEMS / "guess", submission, "--json", *BOXES).output)
    failed = next(t for t in out["tests"] if t["verdict"] == "WA")
    lines = failed["transcript"].splitlines()
    assert lines[0].endswith("submission>validator: 500")       # the first guess
    assert any("validator>submission: lower" in line for line in lines)
    assert all("transcript" not in t for t in out["tests"] if t["verdict"] == "AC")
    human = invoke("run", PROBLEMS / "guess", submission, *BOXES).output
    assert f"transcript of {failed['name']} (its end):" in human
    assert "submission>validator: 500" in human


def test_the_interactor_is_given_input_answer_and_feedback_dir_the_submission_nothing(tmp_path):
    """The interactor's arguments are its box's input, answer and feedback
    dir; the submission's box holds neither file."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nvalidation: custom interactive\nlimits:\n  time_limit: 1\n",
        "data/secret/1.in": "in-secret\n", "data/secret/1.ans": "ans-secret\n",
        "output_validators/v/v.py": (
            "import os, sys\n"
            "inp, ans, fb = sys.argv[1:4]\n"
            "ok = open(inp).read() == 'in-secret\\n' and open(ans).read() == 'ans-secret\\n'\n"
            "print('ready', flush=True)\n"
            "seen = sys.stdin.readline().strip()\n"
            "open(os.path.join(fb, 'judgemessage.txt'), 'w').write('saw ' + seen)\n"
            "sys.exit(42 if ok and seen == 'nothing' else 43)\n"),
        "peek.py": ("import os\ninput()\n"
                    "found = [n for n in os.listdir('.') if n in ('input', 'answer', '1.in', '1.ans')]\n"
                    "print(' '.join(found) or 'nothing')\n")})
    out = json.loads(invoke("run", problem, problem / "peek.py", "--json", *BOXES).output)
    assert out["verdict"] == "AC", out["tests"]


def test_more_passes_than_allowed_is_je(tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nvalidation: custom multi-pass\nlimits:\n  time_limit: 1\n"
                        "  validation_passes: 3\n",
        "data/secret/1.in": "1\n", "data/secret/1.ans": "\n",
        "output_validators/v/v.py": ("import sys\nopen(sys.argv[3] + '/nextpass.in', 'w').write('1\\n')\n"
                                     "sys.exit(42)\n"),
        "echo.py": "print(input())\n"})
    out = json.loads(invoke("run", problem, problem / "echo.py", "--json", *BOXES).output)
    test = out["tests"][0]
    assert out["verdict"] == test["verdict"] == "JE"
    assert "asked for pass 4" in test["message"] and "at most 3" in test["message"]


def test_nextpass_with_a_rejection_is_je_and_the_feedback_dir_persists(tmp_path):
    """Pass 1 writes a file in the feedback dir; pass 2 finds it (else it
    would exit 43 without nextpass), then writes nextpass.in with 43: JE."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nvalidation: custom multi-pass\nlimits:\n  time_limit: 1\n",
        "data/secret/1.in": "1\n", "data/secret/1.ans": "\n",
        "output_validators/v/v.py": (
            "import os, sys\nfb = sys.argv[3]\n"
            "if not os.path.exists(fb + '/seen'):\n"
            "    open(fb + '/seen', 'w').write('1')\n"
            "    open(fb + '/nextpass.in', 'w').write('2\\n')\n"
            "    sys.exit(42)\n"
            "open(fb + '/nextpass.in', 'w').write('3\\n')\n"
            "sys.exit(43)\n"),
        "echo.py": "print(input())\n"})
    out = json.loads(invoke("run", problem, problem / "echo.py", "--json", *BOXES).output)
    test = out["tests"][0]
    assert test["verdict"] == "JE"
    assert "wrote nextpass.in and exited 43" in test["message"]


def test_the_submission_is_charged_its_own_cpu_time_only(tmp_path):
    """The interactor thinks for 0.5 s of CPU before answering; the
    submission waits for it: its CPU time stays under 50 ms."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nvalidation: custom interactive\nlimits:\n  time_limit: 1\n",
        "data/secret/1.in": "1\n", "data/secret/1.ans": "\n",
        "output_validators/v/v.c": (
            "#include <stdio.h>\n#include <time.h>\nint main(void) {\n"
            "    while ((double)clock() / CLOCKS_PER_SEC < 0.5) ;\n"
            "    printf(\"7\\n\"); fflush(stdout);\n    int x;\n"
            "    return scanf(\"%d\", &x) == 1 && x == 8 ? 42 : 43;\n}\n"),
        "wait.c": "#include <stdio.h>\nint main(void) { int x; scanf(\"%d\", &x); printf(\"%d\\n\", x + 1); }\n"})
    out = json.loads(invoke("run", problem, problem / "wait.c", "--json", *BOXES).output)
    test = out["tests"][0]
    assert test["verdict"] == "AC"
    assert test["cpu_time"] < 0.05
    assert test["wall_time"] >= 0.4


def test_a_grading_through_a_loan_and_its_bound():
    """The queue worker grades through a BoxLoan of its pool, bounded by
    grading_budget: the interactor's grace and every pass count in it."""
    guess, doubling = load_problem(PROBLEMS / "guess"), load_problem(PROBLEMS / "doubling")
    plain = grading_budget(guess, 1.0)
    assert plain["tests"] == len(guess.tests()) * (3.0 + 2.0 + 2.0)   # wall, grace, margin
    passes = grading_budget(doubling, 1.0)
    assert passes["tests"] == len(doubling.tests()) * 3 * (3.0 + 2.0)
    assert passes["validation"] == len(doubling.tests()) * 3 * (121.0 + 2.0)
    with BoxPool([652, 653]) as pool:
        loan = pool.lend()
        result = grade_submission(PROBLEMS / "guess", PROBLEMS / "guess/submissions/accepted/search.py",
                                  pool=loan)
    assert result["verdict"] == "AC"

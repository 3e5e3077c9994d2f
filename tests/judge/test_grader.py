"""Grading end to end in real boxes: verdicts, limits, groups, validators."""
from __future__ import annotations

import os

import pytest

from judge import ProblemError, grade_submission

from judge_helpers import echo_tests, make_package

ECHO_PY = "print(input())\n"


def grade(pool, cache_dir, problem, source, **options):
    return grade_submission(problem, source, pool=pool, cache_dir=cache_dir, **options)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_accepted_result_has_the_contract_shape(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(3))
    events = []
    result = grade(pool, cache_dir, problem, write(tmp_path / "echo.py", ECHO_PY),
                   submission_id="s1", progress=lambda e, d: events.append(e))
    assert set(result) == {"submission", "problem", "language", "verdict", "score", "max_score",
                           "time_limit", "compile", "tests", "reruns", "calibration"}
    assert result["submission"] == "s1" and result["problem"] == "p" and result["language"] == "python3"
    assert result["verdict"] == "AC" and result["score"] is None and result["time_limit"] == 1
    assert [t["name"] for t in result["tests"]] == ["secret/01", "secret/02", "secret/03"]
    test = result["tests"][0]
    assert set(test) == {"name", "verdict", "cpu_time", "wall_time", "memory_peak", "score", "message",
                         "reruns"}
    assert test["memory_peak"] > 0 and test["cpu_time"] > 0
    assert events[:2] == ["budget", "compiled"] and events.count("test") == 3


def test_compile_error_is_ce_with_the_compilers_message(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(1))
    source = write(tmp_path / "bad.cpp", "int main() { return undefined_thing; }\n" * 200)
    result = grade(pool, cache_dir, problem, source)
    assert result["verdict"] == "CE" and result["tests"] == []
    assert result["compile"]["status"] == "CE"
    assert "undefined_thing" in result["compile"]["message"]
    assert "truncated" in result["compile"]["message"]          # 200 errors are cut
    assert len(result["compile"]["message"]) < 5000


def test_python_syntax_error_is_ce(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(1))
    result = grade(pool, cache_dir, problem, write(tmp_path / "x.py", "def f(:\n"))
    assert result["verdict"] == "CE" and "SyntaxError" in result["compile"]["message"]


@pytest.mark.parametrize("source, verdict", [
    ("import sys\nsys.exit(3)\n", "RTE"),
    ("while True: pass\n", "TLE"),
    ("print('x' * (4 << 20))\n", "OLE"),
    ("x = bytearray(400 << 20)\nprint(len(x))\n", "MLE"),
    ("print(int(input()) + 1)\n", "WA"),
])
def test_run_statuses_map_to_verdicts(pool, cache_dir, tmp_path, source, verdict):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 0.5\n  memory: 64\n  output: 1\n",
        **echo_tests(1)})
    result = grade(pool, cache_dir, problem, write(tmp_path / "s.py", source))
    assert result["verdict"] == verdict, result["tests"]


def test_a_submission_filling_its_box_hits_the_quota(pool, cache_dir, tmp_path):
    # The test boxes have a --quota (grader.box_quota): a disk filler gets
    # ENOSPC, an RTE of its own, long before the host's disk notices.
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  memory: 512\n  output: 1\n", **echo_tests(1)})
    # Many files, each under the output limit (--fsize): 2 GiB in all.
    source = write(tmp_path / "fill.py", "block = b'x' * (512 << 10)\n"
                   "for i in range(4096):\n    with open(f'junk{i}', 'wb') as f: f.write(block)\n")
    result = grade(pool, cache_dir, problem, source)
    # (The traceback itself may not fit: the error file is in the full box.)
    assert result["verdict"] == "RTE", result["tests"]


def test_time_limit_argument_wins(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(1))
    source = write(tmp_path / "slow.py", "import time\nt = time.process_time()\n"
                   "while time.process_time() - t < 0.3: pass\nprint(input())\n")
    assert grade(pool, cache_dir, problem, source)["verdict"] == "AC"
    result = grade(pool, cache_dir, problem, source, time_limit=0.1)
    assert result["verdict"] == "TLE" and result["time_limit"] == 0.1


def test_break_stops_at_the_first_rejection_exactly(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(12))
    source = write(tmp_path / "s.py", "n = int(input())\nprint(n if n != 3 else 0)\n")
    result = grade(pool, cache_dir, problem, source)
    assert result["verdict"] == "WA"
    assert [t["name"] for t in result["tests"]] == ["secret/01", "secret/02", "secret/03"]


def test_continue_judges_everything_and_reports_the_first_rejection(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", {"data/secret/testdata.yaml": "on_reject: continue\n",
                                            **echo_tests(6)})
    source = write(tmp_path / "s.py", "import sys\nn = int(input())\n"
                   "print(n if n != 3 else 0)\nsys.exit(1 if n == 5 else 0)\n")
    result = grade(pool, cache_dir, problem, source)
    assert [t["verdict"] for t in result["tests"]] == ["AC", "AC", "WA", "AC", "RTE", "AC"]
    assert result["verdict"] == "WA"


def test_scoring_groups(pool, cache_dir, tmp_path):
    files = {"problem.yaml": "type: scoring\nlimits:\n  time_limit: 1\n",
             "data/testdata.yaml": "on_reject: continue\n",
             "data/secret/testdata.yaml": "on_reject: continue\ngrader_flags: sum\n",
             "data/secret/a/testdata.yaml": "on_reject: break\ngrader_flags: min\naccept_score: 40\n",
             "data/secret/b/testdata.yaml": "on_reject: continue\ngrader_flags: sum\naccept_score: 20\n",
             "data/sample/testdata.yaml": "accept_score: 0\n"}
    files.update(echo_tests(1, "data/sample"))
    files.update(echo_tests(3, "data/secret/a"))
    files.update({k.replace("/0", "/1"): v for k, v in echo_tests(3, "data/secret/b").items()})
    problem = make_package(tmp_path / "p", files)
    full = grade(pool, cache_dir, problem, write(tmp_path / "ok.py", ECHO_PY))
    assert full["verdict"] == "AC" and full["score"] == 100 and full["max_score"] == 100
    # wrong on a/02 (group a gets 0 and stops) and on b/12: 2 of 3 in b
    partial = grade(pool, cache_dir, problem, write(tmp_path / "part.py",
                    "n = int(input())\nprint(0 if n == 2 else n)\n"))
    names = [t["name"] for t in partial["tests"]]
    assert "secret/a/03" not in names and "secret/b/13" in names
    assert partial["score"] == 40 and partial["verdict"] == "AC"
    zero = grade(pool, cache_dir, problem, write(tmp_path / "zero.py", "print(-1)\n"))
    assert zero["score"] == 0 and zero["verdict"] == "WA"


VALIDATOR = """import sys
inp, ans, feedback = sys.argv[1:4]
team = sys.stdin.read().split()
want = open(ans).read().split()
if team == want:
    open(feedback + "score.txt", "w").write("7.5\\n")
    sys.exit(42)
open(feedback + "judgemessage.txt", "w").write("wanted %s, got %s" % (want, team))
sys.exit(43)
"""


def test_custom_validator_messages_scores_and_cache(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "type: scoring\nvalidation: custom score\nlimits:\n  time_limit: 1\n",
        "output_validators/check/check.py": VALIDATOR, **echo_tests(2)})
    ok = grade(pool, cache_dir, problem, write(tmp_path / "ok.py", ECHO_PY))
    assert ok["verdict"] == "AC" and [t["score"] for t in ok["tests"]] == [7.5, 7.5] and ok["score"] == 15
    built = sorted(p.name for p in cache_dir.iterdir())
    wrong = grade(pool, cache_dir, problem, write(tmp_path / "w.py", "print(5)\n"))
    assert wrong["verdict"] == "WA" and "wanted ['1'], got ['5']" in wrong["tests"][0]["message"]
    assert sorted(p.name for p in cache_dir.iterdir()) == built      # compiled once, reused


def test_validator_that_misbehaves_is_a_judge_error(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", {"output_validators/v.py": "import sys\nsys.exit(0)\n",
                                            **echo_tests(1)})
    result = grade(pool, cache_dir, problem, write(tmp_path / "ok.py", ECHO_PY))
    assert result["verdict"] == "JE" and "exit code 0" in result["tests"][0]["message"]


def test_validator_that_does_not_compile_names_the_file(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", {"output_validators/v.cpp": "int main( {}\n",
                                            **echo_tests(1)})
    with pytest.raises(ProblemError) as info:
        grade(pool, cache_dir, problem, write(tmp_path / "ok.py", ECHO_PY))
    message = str(info.value)
    assert "output_validators/v.cpp" in message and "does not compile" in message
    assert "\n" not in message


def test_java_heap_gets_the_memory_limit_and_the_jvm_baseline_is_free(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 2\n  memory: 64\n", **echo_tests(1)})
    source = write(tmp_path / "Big.java", """
public class Big {
    public static void main(String[] args) {
        byte[] block = new byte[40 << 20];           // 40 MiB of a 64 MiB limit
        for (int i = 0; i < block.length; i += 4096) block[i] = 1;
        System.out.println(new java.util.Scanner(System.in).nextInt() + block[0] - 1);
    }
}""")
    result = grade(pool, cache_dir, problem, source)
    assert result["verdict"] == "AC", result["tests"]
    greedy = write(tmp_path / "Greedy.java", source.read_text().replace("Big", "Greedy")
                   .replace("40 << 20", "100 << 20"))
    assert grade(pool, cache_dir, problem, greedy)["verdict"] == "RTE"   # OutOfMemoryError


def test_languages_file_extends_the_table(pool, cache_dir, tmp_path):
    from judge.languages import load_languages
    extra = write(tmp_path / "langs.toml", """
[language.shell]
name = "POSIX shell"
extensions = ["sh"]
run = ["/bin/sh", "{program_dir}/{source}"]
""")
    problem = make_package(tmp_path / "p", echo_tests(2))
    result = grade(pool, cache_dir, problem, write(tmp_path / "echo.sh", "read x; echo $x\n"),
                   languages=load_languages(extra))
    assert result["language"] == "shell" and result["verdict"] == "AC"


def test_missing_submission_is_an_error(pool, cache_dir, tmp_path):
    from judge import SubmissionError
    problem = make_package(tmp_path / "p", echo_tests(1))
    with pytest.raises(SubmissionError):
        grade(pool, cache_dir, problem, tmp_path / "nope.cpp")


def test_program_directory_with_several_files(pool, cache_dir, tmp_path):
    problem = make_package(tmp_path / "p", echo_tests(2))
    write(tmp_path / "prog" / "main.py", "from helper import echo\necho()\n")
    write(tmp_path / "prog" / "helper.py", "def echo():\n    print(input())\n")
    assert grade(pool, cache_dir, problem, tmp_path / "prog")["verdict"] == "AC"
    os.remove(tmp_path / "prog" / "helper.py")
    assert grade(pool, cache_dir, problem, tmp_path / "prog")["verdict"] == "RTE"

"""Languages, memory semantics and folder verdicts as real packages use them
(issue 12): each test is a small package of ours reproducing a class found
on public packages (problemtools' and DOMjudge's examples, BAPCtools, the
Swedish olympiad), graded through the CLI with real toolchains."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from judge.cli import main
from judge.languages import load_languages

from judge_helpers import echo_tests, make_package

BOXES = ["--boxes", "580-581"]

# One program per language: reads a number, prints it (the echo problem).
ECHO = {
    "kotlin": ("echo.kt", "fun main() {\n    val n = readLine()!!.trim().toLong()\n    println(n)\n}\n"),
    "go": ("echo.go", 'package main\nimport "fmt"\nfunc main() { var n int64; fmt.Scan(&n); fmt.Println(n) }\n'),
    "haskell": ("echo.hs", "main :: IO ()\nmain = do\n  s <- getLine\n  print (read s :: Integer)\n"),
    "csharp": ("echo.cs", "using System;\nclass P { static void Main() { "
                          "Console.WriteLine(long.Parse(Console.ReadLine().Trim())); } }\n"),
    "php": ("echo.php", "<?php\n$n = intval(trim(fgets(STDIN)));\necho $n, \"\\n\";\n"),
    "ruby": ("echo.rb", "puts gets.to_i\n"),
    "scala": ("echo.scala", "object Echo {\n  def main(args: Array[String]): Unit =\n"
                            "    println(scala.io.StdIn.readLine().trim.toLong)\n}\n"),
    "pascal": ("echo.pas", "program echo;\nvar n: int64;\nbegin\n  readln(n);\n  writeln(n);\nend.\n"),
    "ocaml": ("echo.ml", 'let () = Scanf.scanf " %d" (fun n -> Printf.printf "%d\\n" n)\n'),
    "lua": ("echo.lua", 'local n = io.read("n")\nprint(math.tointeger(n))\n'),
    "python3": ("echo.py", "import __pypy__\nprint(int(input()))\n"),
}
# The same, wrong: a syntax error each compile step must catch.
BROKEN = {
    "kotlin": "fun main() { println( }\n", "go": "package main\nfunc main() { x := }\n",
    "haskell": "main = print (\n", "csharp": "class P { static void Main() { int x = ; } }\n",
    "php": "<?php\necho (;\n", "ruby": "def f(\n", "scala": "object Echo { def main( }\n",
    "pascal": "program echo;\nbegin\n  writeln(;\nend.\n", "ocaml": "let () = (\n",
    "lua": "print((\n", "python3": "print((\n",
}


def invoke(*args):
    return CliRunner().invoke(main, [*args])


def run_json(problem, submission, *extra):
    result = invoke("run", str(problem), str(submission), "--json", *BOXES, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _installed(lang_id: str) -> bool:
    table = load_languages()
    lang = table.get(lang_id)
    return os.access((lang.compile or lang.run)[0], os.X_OK)


def _need(lang_id: str) -> None:
    if not _installed(lang_id):
        # CI installs every toolchain (./setup.sh --languages): there a
        # missing one is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(f"{lang_id}: its toolchain is not installed (./setup.sh --languages)")
        pytest.skip(f"{lang_id}: toolchain not installed here (./setup.sh --languages installs it)")


@pytest.mark.parametrize("lang_id", sorted(ECHO))
def test_each_language_of_real_packages_is_detected_built_and_judged(lang_id, tmp_path):
    _need(lang_id)
    name, text = ECHO[lang_id]
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 5\n  memory: 256\n", **echo_tests(2)})
    good = tmp_path / name
    good.write_text(text)
    result = run_json(problem, good)
    assert result["language"] == lang_id
    assert result["verdict"] == "AC", result
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    bad.write_text(BROKEN[lang_id])
    result = run_json(problem, bad)
    assert result["verdict"] == "CE", result


def test_pypy_is_python3_and_cpython_is_chosen_by_the_command_line_or_the_problem(tmp_path):
    """.py is PyPy (as on Kattis and in DOMjudge); --python3 cpython or a
    problem whose languages name cpython3 choose CPython."""
    _need("python3")
    which = tmp_path / "which.py"
    which.write_text("import platform\ninput()\nprint(platform.python_implementation())\n")
    problem = make_package(tmp_path / "p", {
        "data/secret/1.in": "1\n", "data/secret/1.ans": "PyPy\n"})
    assert run_json(problem, which)["verdict"] == "AC"
    result = run_json(problem, which, "--python3", "cpython")
    assert result["language"] == "cpython3" and result["verdict"] == "WA"
    assert run_json(problem, which, "--lang", "cpython3")["verdict"] == "WA"
    assert run_json(problem, which, "--lang", "pypy3")["verdict"] == "AC"
    chosen = make_package(tmp_path / "q", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 1\nlanguages: [cpython3, c]\n",
        "data/secret/1.in": "1\n", "data/secret/1.ans": "CPython\n"})
    result = run_json(chosen, which)
    assert result["language"] == "cpython3" and result["verdict"] == "AC"
    bad = invoke("run", str(problem), str(which), "--python3", "jython", *BOXES)
    assert bad.exit_code == 2 and "jython" in bad.output and "Traceback" not in bad.output


def test_java_and_scala_start_the_class_with_the_main_method(tmp_path):
    """DOMjudge's test-hello.java declares `class Main`; a multi-file program
    in packages starts wherever main is; no main at all is a compile error."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 5\n", **echo_tests(1)})
    single = tmp_path / "test-hello.java"
    single.write_text("import java.util.*;\n// class NotThis { static void main\nclass Main {\n"
                      "  public static void main(String[] a) {\n"
                      "    System.out.println(new Scanner(System.in).nextLong());\n  }\n}\n")
    assert run_json(problem, single)["verdict"] == "AC"
    multi = tmp_path / "multi"
    multi.mkdir()
    (multi / "A.java").write_text("package foo.a;\npublic class A {\n  public static void echo() {\n"
                                  "    System.out.println(new java.util.Scanner(System.in).nextLong());\n  }\n}\n")
    (multi / "B.java").write_text("package zoo.b;\nimport foo.a.A;\npublic class B {\n"
                                  "  public static void main(String[] args) { A.echo(); }\n}\n")
    assert run_json(problem, multi)["verdict"] == "AC"
    none = tmp_path / "none" / "main.java"
    none.parent.mkdir()
    none.write_text("class Main { static void helper() {} }\n")
    result = run_json(problem, none)
    assert result["verdict"] == "CE" and "no class with a main method" in result["compile"]["message"]
    if _installed("scala"):
        scala = tmp_path / "named_otherwise.scala"
        scala.write_text(ECHO["scala"][1])
        assert run_json(problem, scala)["verdict"] == "AC"


# ---- memory and stack ------------------------------------------------------

HOG_CC = """#include <iostream>
#include <vector>
int main() {
    std::vector<std::vector<char>> vs;
    while (true) vs.emplace_back(128 << 20);   // DOMjudge's test-memsize.cc
}
"""
DEEP_C = """#include <stdio.h>
#include <string.h>
int f(int d) { volatile char a[1 << 20]; a[0] = d; a[sizeof a - 1] = d; return d > 100000 ? a[0] : f(d + 1) + a[0]; }
int main(void) { printf("%d\\n", f(0)); return 0; }
"""


def test_native_code_over_the_memory_limit_fails_at_once_not_at_the_time_limit(tmp_path):
    """The address space is the memory limit for native code: the allocation
    past it fails (bad_alloc: RTE) within a fraction of the time limit,
    and a recursion past it overflows the stack (SIGSEGV: RTE); both used
    to crawl into the cgroup's limit and get TLE. verify accepts both in
    run_time_error/."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 3\n  memory: 256\n", **echo_tests(1),
        "submissions/accepted/echo.c": '#include <stdio.h>\nint main(){long n; scanf("%ld",&n); printf("%ld\\n",n);}\n',
        "submissions/run_time_error/memsize.cc": HOG_CC,
        "submissions/run_time_error/stacksize.c": DEEP_C})
    hog = run_json(problem, problem / "submissions/run_time_error/memsize.cc")
    (test,) = hog["tests"]
    assert hog["verdict"] == "RTE" and "SIGABRT" in test["message"], hog
    assert test["cpu_time"] < 1.5 and test["memory_peak"] < 300 << 20
    deep = run_json(problem, problem / "submissions/run_time_error/stacksize.c")
    (test,) = deep["tests"]
    assert deep["verdict"] == "RTE" and "SIGSEGV" in test["message"], deep
    out = invoke("verify", str(problem), *BOXES)
    assert out.exit_code == 0, out.output


def test_a_native_program_may_use_memory_up_to_the_limit(tmp_path):
    """The address-space limit is not tighter than the memory limit: 200 of
    256 MiB, touched, on the heap and on the stack, is accepted."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 3\n  memory: 256\n", **echo_tests(1)})
    big = tmp_path / "big.cpp"
    big.write_text("#include <cstdio>\n#include <cstring>\n#include <vector>\n"
                   "long deep(int d) { char a[1 << 16]; memset(a, d, sizeof a); return d ? a[7] + deep(d - 1) : 0; }\n"
                   "int main() { std::vector<char> v(150 << 20, 1); long n; scanf(\"%ld\", &n);\n"
                   "  printf(\"%ld\\n\", n + v[12345] - 1 + deep(800) * 0); }\n")
    result = run_json(problem, big)
    assert result["verdict"] == "AC", result


def test_rustbox_address_space_limit_is_a_flag_and_an_api_limit(tmp_path):
    from rustbox import Limits
    from rustbox.errors import UsageError
    assert Limits(address_space="64M").address_space == 64 << 20
    assert Limits(address_space="64M").summary()["address_space"] == 64 << 20
    with pytest.raises(UsageError):
        Limits(address_space=0)


# ---- folder verdicts where packages and the judge's verdicts differ ---------

def test_flooding_output_in_time_limit_exceeded_is_accepted_with_a_note(tmp_path):
    """BAPCtools and DOMjudge keep a flood's first bytes and let it run into
    the time limit; this judge stops it at the output limit (OLE). The
    format has no output-limit verdict: verify accepts OLE there, says why,
    and still refuses OLE where a wrong answer is promised."""
    flood = "while True:\n    print('y' * 1000)\n"
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\nlimits:\n  time_limit: 2\n  output: 1\n", **echo_tests(1),
        "submissions/accepted/echo.py": "print(input())\n",
        "submissions/time_limit_exceeded/flood.py": flood,
        "submissions/wrong_answer/flood.py": flood,
        "submissions/other/tagged.py": "# @EXPECTED_RESULTS@: TIMELIMIT\n" + flood})
    out = invoke("verify", str(problem), *BOXES).output
    lines = out.splitlines()
    tle = next(i for i, l in enumerate(lines) if "time_limit_exceeded/flood.py" in l)
    assert lines[tle].split()[0] == "ok" and "got OLE" in lines[tle]
    assert "OLE is accepted in time_limit_exceeded/" in lines[tle + 1]
    assert any("other/tagged.py" in l and l.split()[0] == "ok" for l in lines)
    assert any("wrong_answer/flood.py" in l and l.split()[0] == "MISMATCH" for l in lines)


def test_scoring_wrong_answer_with_a_score_is_not_accepted(tmp_path):
    """A scoring submission that passes some tests has a score (and is AC
    in `judge run`, as on Kattis), but its verdict in the format is its first
    rejected test's: wrong_answer/ and DOMjudge's WRONG-ANSWER hold, and
    nothing in wrong_answer/ passes as AC."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/secret/testdata.yaml": "on_reject: continue\naccept_score: 25\n", **echo_tests(4),
        "submissions/accepted/echo.py": "print(input())\n",
        "submissions/wrong_answer/odd.py": "n = int(input())\nprint(n if n % 2 else -1)\n",
        "submissions/partial/odd.py": "# @EXPECTED_RESULTS@: WRONG-ANSWER\n# @EXPECTED_SCORE@: 50\n"
                                      "n = int(input())\nprint(n if n % 2 else -1)\n",
        "submissions/partial/claims_ac.py": "# @EXPECTED_RESULTS@: CORRECT\n"
                                            "n = int(input())\nprint(n if n % 2 else -1)\n"})
    out = invoke("verify", str(problem), *BOXES).output
    lines = out.splitlines()
    wa = next(i for i, l in enumerate(lines) if "wrong_answer/odd.py" in l)
    assert lines[wa].split()[0] == "ok", out
    assert "first rejected test's (WA, score 50)" in lines[wa + 1]
    assert any("partial/odd.py" in l and l.split()[0] == "ok" for l in lines), out
    assert any("partial/claims_ac.py" in l and l.split()[0] == "ok" for l in lines), out


def test_domjudge_expected_score_without_the_samples(tmp_path):
    """DOMjudge does not score samples; a legacy package sums them in unless
    ignore_sample. @EXPECTED_SCORE@ matching the score without the samples
    holds, with the note; any other score is still a mismatch."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/testdata.yaml": "on_reject: continue\n",
        "data/secret/testdata.yaml": "on_reject: continue\naccept_score: 25\n", **echo_tests(4),
        **echo_tests(1, "data/sample"),
        "submissions/accepted/echo.py": "# @EXPECTED_SCORE@: 100\nprint(input())\n",
        "submissions/accepted/lies.py": "# @EXPECTED_SCORE@: 90\nprint(input())\n"})
    out = invoke("verify", str(problem), *BOXES).output
    lines = out.splitlines()
    echo = next(i for i, l in enumerate(lines) if "accepted/echo.py" in l)
    assert lines[echo].split()[0] == "ok" and "without the samples" in lines[echo + 1], out
    assert any("accepted/lies.py" in l and l.split()[0] == "MISMATCH" for l in lines), out


def test_domjudge_timelimit_file_is_the_time_limit(tmp_path):
    problem = make_package(tmp_path / "p", {"problem.yaml": "name: T\n", ".timelimit": "3\n",
                                            **echo_tests(1)})
    echo = tmp_path / "echo.py"
    echo.write_text("print(input())\n")
    result = run_json(problem, echo)
    assert result["time_limit"] == 3.0
    out = invoke("run", str(problem), str(echo), *BOXES).output
    assert "time limit 3 s (from the .timelimit file (DOMjudge's))" in out
    (problem / ".timelimit").write_text("soon\n")
    bad = invoke("run", str(problem), str(echo), *BOXES)
    assert bad.exit_code != 0 and ".timelimit: expected a number of seconds" in bad.output
    assert "Traceback" not in bad.output


# ---- package files: constants, allow_file_writing --------------------------

WRITE_FILE_C = """#include <stdio.h>
int main(void) {
    long n;
    if (scanf("%ld", &n) != 1) return 2;
    FILE *f = fopen("my-local-file.txt", "w");   /* DOMjudge's test-write-file.c */
    if (f != NULL) { printf("wrote a file\\n"); return 0; }
    printf("%ld\\n", n);
    return 0;
}
"""


def test_constants_are_substituted_in_validators_included_files_and_submissions(tmp_path):
    """2023-07 constants: {{name}} and {{name.variant}} become the value in
    output validators, include/ files and example submissions (BAPCtools'
    `constants` and the format's `maximal` example); unknown names stay."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "problem_format_version: 2023-07-draft\nname: T\nvalidation: custom\n"
                        "limits:\n  time_limit: 2\n"
                        "constants:\n  FIVE:\n    value: 5\n    WORD: five\n  LIMIT: 1000\n",
        "data/secret/1.in": "5\n", "data/secret/1.ans": "5\n",
        "output_validators/check/check.py":
            "import sys\nteam = sys.stdin.read().split()\n"
            "ok = team == ['{{FIVE}}', '{{FIVE.WORD}}', '{{LIMIT}}', '{{UNKNOWN}}', '{{FIVE.NOPE}}']\n"
            "sys.exit(42 if ok else 43)\n",
        "include/python3/consts.py": "LIMIT = {{LIMIT}}\n",
        "submissions/accepted/uses.py": "from consts import LIMIT\nn = input()\n"
                                        "print(n, '{{FIVE.WORD}}', LIMIT, '{{UNKNOWN}}', '{{FIVE.NOPE}}')\n",
        "submissions/wrong_answer/literal.py": "input()\nprint('5 five 1000 {{UNKNOWN}}')\n"})
    out = invoke("verify", str(problem), *BOXES)
    assert out.exit_code == 0, out.output
    bad = make_package(tmp_path / "q", {
        "problem.yaml": "problem_format_version: 2025-09\nname: T\nuuid: 8ee7605a-da18-8ca0-1c75-fc0ad9c6be71\nconstants:\n  n: [1, 2]\n",
        **echo_tests(1)})
    result = invoke("run", str(bad), str(problem / "submissions/accepted/uses.py"), *BOXES)
    assert result.exit_code == 2 and "constants.n.value: expected an integer, a float or a string" in result.output


def test_the_working_directory_is_read_only_unless_allow_file_writing(tmp_path):
    """The format's default (allow_file_writing: false): the submission
    cannot create a file where it runs (DOMjudge's test-write-file.c is
    WA by design); `allow_file_writing: true` lets it."""
    files = {**echo_tests(1), "w.c": WRITE_FILE_C}
    problem = make_package(tmp_path / "p", files)
    result = run_json(problem, problem / "w.c")
    assert result["verdict"] == "AC", result
    allowed = make_package(tmp_path / "q", {
        **files, "problem.yaml": "problem_format_version: 2023-07-draft\nname: T\n"
                                 "limits:\n  time_limit: 1\nallow_file_writing: true\n"})
    result = run_json(allowed, allowed / "w.c")
    assert result["verdict"] == "WA" and "got 'wrote'" in result["tests"][0]["message"], result
    # The box is the next run's again: a program that writes only stdout is unharmed.
    assert run_json(problem, problem / "w.c")["verdict"] == "AC"


def test_a_per_test_promise_about_tests_cut_by_the_first_rejection_is_not_checked(tmp_path):
    """BAPCtools' testexpectations: `wa/odd.py: secret/*1: required: [AC]`
    while the run stops at its first rejection (on_reject: break) before
    secret/ is judged: neither kept nor broken, said so; the folder's own
    promise is still checked."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "problem_format_version: 2025-09\nname: T\n"
                        "uuid: 8ee7605a-da18-8ca0-1c75-fc0ad9c6be71\nlimits:\n  time_limit: 1\n",
        **echo_tests(1, "data/sample"), **echo_tests(2),
        "submissions/accepted/echo.py": "print(input())\n",
        "submissions/wrong_answer/odd.py": "n = int(input())\nprint(n if n % 2 == 0 else -1)\n",
        "submissions/submissions.yaml": "wrong_answer/odd.py:\n  secret/*2:\n    required: [AC]\n"})
    out = invoke("verify", str(problem), *BOXES)
    assert out.exit_code == 0, out.output
    assert "none of these tests was judged (the run stopped at its first rejection): not checked" in out.output


def test_a_language_whose_toolchain_is_missing_is_skipped_with_the_reason(tmp_path):
    """problemtools' different_py2.py (`#!/usr/bin/env python2` in a .py) is
    Python 2, which Debian 12 lacks; a language whose compiler is not
    installed (here one named by a user table) is a one-line refusal in
    run and a skip with the reason in verify, never a CE."""
    problem = make_package(tmp_path / "p", {
        **echo_tests(1), "submissions/accepted/echo.py": "print(input())\n",
        "submissions/accepted/old.py": "#!/usr/bin/env python2\nprint raw_input()\n",
        "submissions/accepted/echo.zz": "echo\n"})
    table = tmp_path / "zz.toml"
    table.write_text('[language.zz]\nname = "ZZ"\nextensions = ["zz"]\n'
                     'compile = ["/nonexistent/zzc", "{source}"]\nrun = ["{program_dir}/main"]\n')
    if not shutil.which("python2"):
        run = invoke("run", str(problem), str(problem / "submissions/accepted/old.py"), *BOXES)
        assert run.exit_code == 2 and "Python 2 needs /usr/bin/python2, which is not installed here" in run.output
    out = invoke("verify", str(problem), "--languages", str(table), *BOXES)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert any(l.split()[:2] == ["skipped", "accepted/echo.zz"] and "ZZ needs /nonexistent/zzc" in l
               for l in lines), out.output
    assert any(l.split()[:2] == ["ok", "accepted/echo.py"] for l in lines)
    if not shutil.which("python2"):
        assert any(l.split()[:2] == ["skipped", "accepted/old.py"] for l in lines), out.output


def test_domjudge_expected_score_as_domjudge_reads_the_groups(tmp_path):
    """DOMjudge's example scoring problems: a group of test cases is worth
    its accept_score once, only when every test passes; the format sums the
    tests. @EXPECTED_SCORE@ in DOMjudge's reading holds, with the note."""
    problem = make_package(tmp_path / "p", {
        "problem.yaml": "name: T\ntype: scoring\nlimits:\n  time_limit: 1\n",
        "data/testdata.yaml": "on_reject: continue\n",
        "data/secret/testdata.yaml": "on_reject: continue\ngrader_flags: sum\n",
        "data/secret/a/testdata.yaml": "accept_score: 10\n", "data/secret/b/testdata.yaml": "accept_score: 20\n",
        "data/secret/a/1.in": "1\n", "data/secret/a/1.ans": "1\n",
        "data/secret/a/2.in": "2\n", "data/secret/a/2.ans": "2\n",
        "data/secret/b/3.in": "3\n", "data/secret/b/3.ans": "3\n",
        "data/secret/b/4.in": "4\n", "data/secret/b/4.ans": "4\n",
        "submissions/partial/most.py": "# @EXPECTED_SCORE@: 10\nn = int(input())\nprint(n if n != 4 else -1)\n",
        "submissions/partial/lies.py": "# @EXPECTED_SCORE@: 25\nn = int(input())\nprint(n if n != 4 else -1)\n"})
    out = invoke("verify", str(problem), *BOXES).output
    lines = out.splitlines()
    most = next(i for i, l in enumerate(lines) if "partial/most.py" in l)
    assert lines[most].split()[0] == "ok", out
    assert "as DOMjudge reads the groups" in lines[most + 1] and "the format's sum is 40" in lines[most + 1]
    assert any("partial/lies.py" in l and l.split()[0] == "MISMATCH" for l in lines), out

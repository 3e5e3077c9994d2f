"""The judge against hostile builds and chatty programs (issue 9, class 8).

A build step chooses the tree it leaves in the compile box, and a program
chooses what it prints: the judge must walk the first without recursion or
following links, and must never relay a host path from the second (the
contestant reads the message). Run through the real `judge run` command
and through the Python API (`grade_submission`), which the worker uses.
Boxes 730-731.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from rustbox.box import box_root

from .conftest import REPO, cleanup

BOXES = (730, 731)
JUDGE = [sys.executable, "-m", "judge"]
DEPTH = 1200

# A build script that leaves a DEPTH-level tree (mkdir + cd, as a shell can
# do whatever PATH_MAX says), links out of the box and a FIFO, then a run
# script that echoes its input.
DEEP_BUILD = f"""i=0
mkdir keep && echo kept > keep/file
ln -s /etc etc_link && ln -s /etc/shadow shadow_link && mkfifo pipe
while [ $i -lt {DEPTH} ]; do mkdir d && cd d || exit 1; i=$((i+1)); done
echo bottom > f
"""
RUN_SCRIPT = "#!/bin/sh\ncat\n"

# Where the judge keeps things, as a program can learn it, on stderr: the
# host directories behind /prog and /box, from the mount table (short: the
# judge keeps a message's tail).
LEAK = r"""import os, sys
mounts = [line.split()[3:5] for line in open("/proc/self/mountinfo")]
lines = [" ".join(pair) for pair in mounts if pair[1] in ("/prog", "/box")]
sys.stderr.write(" | ".join(lines) + " | " + os.path.realpath("/prog") + "\n")
sys.exit(1)
"""
LEAK_BUILD = "cat /proc/self/mountinfo; echo; cat /proc/self/mounts; exit 1\n"
LEAK_VALIDATOR = "#!/usr/bin/python3\n" + LEAK


def make_package(root: Path, validator: dict | None = None) -> Path:
    files = {"problem.yaml": "name: Hostile\nlimits:\n  time_limit: 2\n  memory: 256\n",
             "data/secret/1.in": "7\n", "data/secret/1.ans": "7\n", **(validator or {})}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if name.endswith(("/build", "/run")):
            path.chmod(0o755)
    return root


def program_dir(root: Path, build: str, run: str = RUN_SCRIPT) -> Path:
    root.mkdir(parents=True)
    (root / "build").write_text(build)
    (root / "run").write_text(run)
    (root / "run").chmod(0o755)
    return root


def judge_run(package: Path, submission: Path, tmp_path: Path, *extra) -> tuple[dict, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([*JUDGE, "run", str(package), str(submission), "--json",
                           "--boxes", ",".join(map(str, BOXES)), *extra],
                          capture_output=True, cwd=REPO, env=env, timeout=300)
    stderr = proc.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    assert proc.returncode == 0, stderr
    return orjson.loads(proc.stdout), stderr


@pytest.fixture
def boxes():
    yield BOXES
    for box_id in BOXES:
        cleanup(box_id)


@pytest.fixture
def host_paths(tmp_path) -> list[str]:
    """Host paths no message may carry."""
    paths = [str(tmp_path), os.path.realpath(tmp_path), str(box_root()),
             os.path.join(tempfile.gettempdir(), "judge-"), str(REPO)]
    return sorted(set(paths))


def messages(result: dict) -> list[str]:
    return [result["compile"]["message"]] + [t["message"] for t in result["tests"]]


def assert_no_host_path(texts: list[str], host_paths: list[str]) -> None:
    for text in texts:
        for path in host_paths:
            assert path not in text, f"{path!r} shown in {text[:2000]!r}"


# --------------------------------------------------------------------------
# The build copy-out


def test_a_1200_level_build_tree_is_refused_in_one_line_not_a_traceback(boxes, tmp_path):
    package = make_package(tmp_path / "pkg")
    sub = program_dir(tmp_path / "sub", DEEP_BUILD)
    result, _ = judge_run(package, sub, tmp_path, "--lang", "python3")
    assert result["verdict"] == "CE", result
    assert result["compile"]["message"] == "the build left directories nested deeper than 100 levels"


def test_the_copy_out_skips_links_and_fifos_and_keeps_files(boxes, tmp_path, pool_api):
    """A shallower tree with links to /etc and a FIFO: graded, links not followed."""
    package = make_package(tmp_path / "pkg")
    build = DEEP_BUILD.replace(str(DEPTH), "60")
    # One process only: shell built-ins, then exec.
    check = ("#!/bin/sh\n"
             "test -f /prog/keep/file && test ! -e /prog/etc_link && test ! -e /prog/shadow_link"
             f" && test ! -e /prog/pipe && test -f /prog/{'d/' * 60}f || exit 3\n"
             "exec cat\n")
    sub = program_dir(tmp_path / "sub", build, check)
    for result in (judge_run(package, sub, tmp_path, "--lang", "python3")[0],
                   pool_api(package, sub, language="python3")):
        assert result["compile"]["status"] == "OK", result
        assert result["verdict"] == "AC", result


def test_a_deep_validator_build_is_one_line_and_exit_2(boxes, tmp_path):
    package = make_package(tmp_path / "pkg", {
        "output_validators/v/build": DEEP_BUILD, "output_validators/v/run": RUN_SCRIPT})
    sub = tmp_path / "echo.py"
    sub.write_text("print(input())\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([*JUDGE, "run", str(package), str(sub), "--json",
                           "--boxes", ",".join(map(str, BOXES))],
                          capture_output=True, cwd=REPO, env=env, timeout=300)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert "output validator does not compile: the build left directories nested deeper" in stderr


# --------------------------------------------------------------------------
# Messages built from what programs print


@pytest.fixture
def pool_api(boxes, tmp_path):
    """grade_submission through the Python API on the suite's boxes."""
    from rustbox import BoxPool

    from judge import grade_submission
    pool = BoxPool(list(BOXES))

    def grade(package, submission, **kwargs):
        return grade_submission(package, submission, pool=pool, cache_dir=tmp_path / "cache",
                                **kwargs)
    yield grade
    pool.close()


def test_a_run_message_never_shows_a_host_path(boxes, tmp_path, host_paths, pool_api):
    package = make_package(tmp_path / "pkg")
    leak = tmp_path / "leak.py"
    leak.write_text(LEAK)
    for result in (judge_run(package, leak, tmp_path)[0], pool_api(package, leak)):
        assert result["verdict"] == "RTE", result
        message = result["tests"][0]["message"]
        assert ("/prog /prog | /box /box |" in message or "/prog /prog | / /box |" in message), message
        assert_no_host_path(messages(result), host_paths)


def test_a_compile_message_never_shows_a_host_path(boxes, tmp_path, host_paths, pool_api):
    package = make_package(tmp_path / "pkg")
    sub = program_dir(tmp_path / "sub", LEAK_BUILD)
    for result in (judge_run(package, sub, tmp_path, "--lang", "python3")[0],
                   pool_api(package, sub, language="python3")):
        assert result["verdict"] == "CE", result
        assert (" /box /box " in result["compile"]["message"] or " / /box " in result["compile"]["message"]), result
        assert_no_host_path(messages(result), host_paths)


def test_a_validator_message_never_shows_a_host_path(boxes, tmp_path, host_paths, pool_api):
    package = make_package(tmp_path / "pkg", {
        "output_validators/v/build": "true\n", "output_validators/v/run": LEAK_VALIDATOR})
    sub = tmp_path / "echo.py"
    sub.write_text("print(input())\n")
    for result in (judge_run(package, sub, tmp_path)[0], pool_api(package, sub)):
        assert result["verdict"] == "JE", result
        assert ("/prog /prog | /box /box |" in result["tests"][0]["message"] or "/prog /prog | / /box |" in result["tests"][0]["message"]), result
        assert_no_host_path(messages(result), host_paths)

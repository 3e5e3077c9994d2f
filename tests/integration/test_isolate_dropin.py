"""`rustbox-isolate` driven exactly as CMS and Judge0 drive isolate.

The command lines are the ones CMS (cms/grading/Sandbox.py) and Judge0
(app/jobs/isolate_job.rb) build, written here as data with their flags and
shell redirections; `isolate` on PATH is rustbox-isolate, as the README
sets it up. Each meta file is read with the rules of the caller's own
code (rewritten below) and must give the verdict that caller should give.

Needs root and cgroups; uses boxes 600-619.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CMS_BOX, JUDGE0_BOX = 600, 601


@pytest.fixture(scope="module")
def isolate_bin(tmp_path_factory) -> Path:
    """A directory whose `isolate` is rustbox-isolate (the README's symlink,
    as a wrapper that runs this tree's code)."""
    where = tmp_path_factory.mktemp("isolate-bin")
    script = where / "isolate"
    script.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m rustbox.isolate "
                      '"$@"\n')
    script.chmod(0o755)
    return where


def shell(command: str, isolate_bin: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """As Ruby's backticks and CMS's subprocess: /bin/sh, `isolate` found on PATH."""
    env = dict(os.environ, PATH=f"{isolate_bin}:{os.environ['PATH']}", LANG="C.UTF-8")
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True,
                          timeout=timeout)


# -- CMS ---------------------------------------------------------------------------

def cms_meta(text: str) -> dict[str, list[str]]:
    """Sandbox.get_meta: `key:value` lines, split at the first colon, values listed."""
    meta: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, value = line.strip().split(":", 1)
        meta.setdefault(key, []).append(value)
    return meta


def cms_exit_status(meta: dict[str, list[str]]) -> str:
    """Sandbox.get_exit_status: the most important status of the list."""
    statuses = meta.get("status", [])
    if "XX" in statuses:
        return "sandbox error"
    if "TO" in statuses:
        return "wall timeout" if "wall" in meta.get("message", [""])[0] else "timeout"
    if "SG" in statuses:
        return "memory limit exceeded" if "cg-oom-killed" in meta else "signal"
    if "RE" in statuses:
        return "nonzero return"
    return "ok"


def cms_box_exit_ok(returncode: int) -> bool:
    """Sandbox.translate_box_exitcode: 0 and 1 are fine, 2 a sandbox error."""
    assert returncode in (0, 1, 2), returncode
    return returncode != 2


class CMSSandbox:
    """The argument lists IsolateSandbox builds (build_box_options and friends)."""

    def __init__(self, outer: Path, box_id: int):
        self.outer, self.box_id, self.runs = outer, box_id, 0
        self.home = outer / "home"
        self.home.mkdir()
        self.home.chmod(0o777)

    def init(self) -> list[str]:
        return ["isolate", f"--box-id={self.box_id}", "--cg", "--init"]

    def cleanup(self) -> list[str]:
        return ["isolate", f"--box-id={self.box_id}", "--cg", "--cleanup"]

    def run(self, command: list[str], *, time=None, wall=None, extra=None, memory=None,
            fsize=None, stdin=None, stdout=None, stderr=None, multiprocess=False,
            preserve_env=False) -> list[str]:
        res = ["--cg", f"--box-id={self.box_id}", "--chdir=/tmp",
               f"--dir=/tmp={self.home}:rw", "--dir=/dev/shm:tmp"]
        if os.path.exists("/etc/alternatives"):
            res.append("--dir=/etc/alternatives")
        if preserve_env:
            res.append("--full-env")
        res.append("--env=HOME=/tmp")
        if fsize is not None:
            res.append("--fsize=%d" % (fsize // 1024))
        if stdin is not None:
            res.append("--stdin=%s" % os.path.join("/tmp", stdin))
        if memory is not None:
            res.append("--cg-mem=%d" % (memory // 1024))
        if stdout is not None:
            res.append("--stdout=%s" % os.path.join("/tmp", stdout))
        res.append("--processes=%d" % (1000 if multiprocess else 1))
        if stderr is not None:
            res.append("--stderr=%s" % os.path.join("/tmp", stderr))
        if time is not None:
            res.append("--time=%g" % time)
        if wall is not None:
            res.append("--wall-time=%g" % wall)
        if extra is not None:
            res.append("--extra-time=%g" % extra)
        self.runs += 1
        res.append("--meta=%s.%d" % (self.outer / "run.meta", self.runs))
        res.append("--run")
        return ["isolate", *res, "--", *command]

    def meta(self) -> dict[str, list[str]]:
        return cms_meta((self.outer / f"run.meta.{self.runs}").read_text())


@pytest.fixture
def cms(tmp_path, isolate_bin, programs):
    sandbox = CMSSandbox(tmp_path, CMS_BOX)
    env = dict(os.environ, PATH=f"{isolate_bin}:{os.environ['PATH']}")
    sandbox.call = lambda argv, **kw: subprocess.run(argv, env=env, capture_output=True,
                                                      timeout=60, **kw)
    sandbox.call(sandbox.cleanup())                       # as IsolateSandbox.__init__
    assert sandbox.call(sandbox.init()).returncode == 0
    for name in ("exit3", "segv", "spin", "touch_mem", "write_big", "try_fork"):
        shutil.copy(programs / name, sandbox.home / name)
    yield sandbox
    assert sandbox.call(sandbox.cleanup()).returncode == 0


CMS_CASES = [
    # (what, command, run options, CMS's exit status)
    ("ok", ["/bin/cat", "in.txt"], {"stdout": "out.txt"}, "ok"),
    ("non-zero exit", ["./exit3"], {}, "nonzero return"),
    ("signal", ["./segv"], {}, "signal"),
    ("cpu time", ["./spin"], {"time": 0.5, "wall": 5, "extra": 0}, "timeout"),
    ("wall time", ["/bin/sleep", "5"], {"time": 1, "wall": 0.5}, "wall timeout"),
    ("memory", ["./touch_mem", "256"], {"memory": 64 << 20}, "memory limit exceeded"),
    ("output limit", ["./write_big", "4", "big.out"], {"fsize": 1 << 20}, "signal"),
    ("processes", ["./try_fork"], {}, "nonzero return"),
    ("missing program", ["./no-such-program"], {}, "nonzero return"),
]


@pytest.mark.parametrize("what,command,options,expected", CMS_CASES,
                         ids=[case[0] for case in CMS_CASES])
def test_cms_command_lines_get_cms_verdicts(cms, what, command, options, expected):
    (cms.home / "in.txt").write_text("hello cms\n")
    proc = cms.call(cms.run(command, **options), stdin=subprocess.PIPE)
    assert cms_box_exit_ok(proc.returncode), proc.stderr
    meta = cms.meta()
    assert cms_exit_status(meta) == expected, meta
    assert float(meta["time"][0]) >= 0 and int(meta["cg-mem"][0]) >= 0
    if what == "ok":
        assert (cms.home / "out.txt").read_text() == "hello cms\n"
        assert proc.returncode == 0 and meta["exitcode"] == ["0"]
    if what == "memory":
        assert meta["exitsig"] == ["9"] and meta["cg-oom-killed"] == ["1"]
    if what == "output limit":
        assert meta["exitsig"] == ["25"]
    if what == "cpu time":
        assert meta["killed"] == ["1"] and "wall" not in meta["message"][0]
    if what == "processes":
        assert (b"fork failed" in proc.stdout), proc.stdout
    if what == "missing program":
        assert meta["exitcode"] == ["127"]
        assert b'execve("./no-such-program"): No such file or directory' in proc.stderr


def test_cms_multiprocess_compile_in_its_home(cms):
    """A compilation as CMS runs it (compilation.py): --processes=1000,
    --full-env, files in the mapped /tmp."""
    (cms.home / "a.c").write_text("int main(void) { return 7; }\n")
    proc = cms.call(cms.run(["/usr/bin/gcc", "-O2", "-o", "a", "a.c"], time=10, wall=20,
                            memory=512 << 20, multiprocess=True, stderr="gcc.err",
                            preserve_env=True))
    assert proc.returncode == 0, (proc.stderr, (cms.home / "gcc.err").read_text())
    assert cms_exit_status(cms.meta()) == "ok"
    cms.call(cms.run(["./a"]))
    assert cms_exit_status(cms.meta()) == "nonzero return"
    assert cms.meta()["exitcode"] == ["7"]


def test_cms_reused_box_does_not_carry_an_oom_kill_over(cms):
    """isolate 1.10 keeps cg-oom-killed across runs of a box; CMS then
    calls every later run a memory limit. Each run here is its own."""
    cms.call(cms.run(["./touch_mem", "256"], memory=64 << 20))
    assert cms_exit_status(cms.meta()) == "memory limit exceeded"
    cms.call(cms.run(["./exit3"], memory=64 << 20))
    meta = cms.meta()
    assert cms_exit_status(meta) == "nonzero return" and "cg-oom-killed" not in meta
    assert int(meta["cg-mem"][0]) < 16 << 10, meta   # not the last run's 64 MiB


# -- Judge0 ---------------------------------------------------------------------------

def judge0_metadata(text: str) -> dict[str, str]:
    """IsolateJob#get_metadata: split at ':', the first part the key, the rest rejoined."""
    meta = {}
    for line in text.split("\n"):
        if line:
            key, *rest = line.split(":")
            meta[key] = ":".join(rest)
    return meta


def judge0_status(meta: dict[str, str], stdout: str, expected_output: str | None) -> str:
    """IsolateJob#determine_status with Status.find_runtime_error_by_status_code."""
    status = meta.get("status")
    if status == "TO":
        return "Time Limit Exceeded"
    if status == "SG":
        return {11: "Runtime Error (SIGSEGV)", 25: "Runtime Error (SIGXFSZ)",
                8: "Runtime Error (SIGFPE)", 6: "Runtime Error (SIGABRT)"}.get(
                    int(meta.get("exitsig") or 0), "Runtime Error (Other)")
    if status == "RE":
        return "Runtime Error (NZEC)"
    if status == "XX":
        return "Internal Error"
    if expected_output is None or expected_output.rstrip() == stdout.rstrip():
        return "Accepted"
    return "Wrong Answer"


def judge0_run_command(box_id: int, metadata_file: str, stdin_file: str, stdout_file: str,
                       stderr_file: str, *, cpu_time_limit=5.0, cpu_extra_time=1.0,
                       wall_time_limit=10.0, stack_limit=64000, max_processes=60,
                       memory_limit=128000, max_file_size=1024) -> str:
    """IsolateJob#run's command, Judge0's defaults (per-process limits off: --cg)."""
    cgroups = "--cg"
    return (f"isolate {cgroups} -s -b {box_id} -M {metadata_file}   "
            f"-t {cpu_time_limit} -x {cpu_extra_time} -w {wall_time_limit} -k {stack_limit} "
            f"-p{max_processes} --cg-timing --cg-mem={memory_limit} -f {max_file_size} "
            "-E HOME=/tmp "
            '-E PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" '
            "-E LANG -E LANGUAGE -E LC_ALL -E JUDGE0_HOMEPAGE -E JUDGE0_SOURCE_CODE "
            "-E JUDGE0_MAINTAINER -E JUDGE0_VERSION "
            "-d /etc:noexec --run -- /bin/bash $(basename run.sh) "
            f"< {stdin_file} > {stdout_file} 2> {stderr_file} ")


JUDGE0_CASES = [
    # (what, run.sh, limits, Judge0's status)
    ("ok", "cat", {}, "Accepted"),
    ("non-zero exit", "exit 3", {}, "Runtime Error (NZEC)"),
    ("signal", "kill -SEGV $$", {}, "Runtime Error (SIGSEGV)"),
    ("cpu time", "while :; do :; done", {"cpu_time_limit": 0.5, "cpu_extra_time": 0},
     "Time Limit Exceeded"),
    ("wall time", "sleep 5", {"wall_time_limit": 0.5}, "Time Limit Exceeded"),
    ("memory", "exec ./touch_mem 256", {"memory_limit": 65536}, "Runtime Error (Other)"),
    ("output limit", "exec head -c 100000 /dev/zero", {"max_file_size": 10},
     "Runtime Error (SIGXFSZ)"),
    ("processes", "exec ./try_fork", {"max_processes": 1}, "Runtime Error (NZEC)"),
    ("missing program", "./no-such-program", {}, "Runtime Error (NZEC)"),
]


@pytest.mark.parametrize("what,script,limits,expected", JUDGE0_CASES,
                         ids=[case[0] for case in JUDGE0_CASES])
def test_judge0_command_lines_get_judge0_verdicts(isolate_bin, programs, what, script, limits,
                                                   expected):
    box = JUDGE0_BOX
    workdir = shell(f"isolate --cg -b {box} --init", isolate_bin).stdout.decode().rstrip("\n")
    try:
        assert os.path.isdir(f"{workdir}/box"), workdir
        files = {name: f"{workdir}/{name}.txt" for name in ("stdin", "stdout", "stderr",
                                                             "metadata")}
        for path in files.values():
            Path(path).touch()
        Path(files["stdin"]).write_text("judge0 says hi\n")
        Path(f"{workdir}/box/run.sh").write_text(script + "\n")
        for name in ("touch_mem", "try_fork"):
            shutil.copy(programs / name, f"{workdir}/box/{name}")
        command = judge0_run_command(box, files["metadata"], files["stdin"], files["stdout"],
                                     files["stderr"], **limits)
        proc = shell(f"cd {workdir}/box && {command}", isolate_bin)
        assert proc.stderr == b"", proc.stderr            # -s: nothing; 2> took the program's
        meta = judge0_metadata(Path(files["metadata"]).read_text())
        stdout = Path(files["stdout"]).read_text()
        expected_output = "judge0 says hi\n" if what == "ok" else None
        assert judge0_status(meta, stdout, expected_output) == expected, (meta, stdout)
        assert float(meta["time"]) >= 0 and "cg-mem" in meta   # submission.time, .memory
        if what == "memory":
            assert meta["exitsig"] == "9" and meta["cg-oom-killed"] == "1"
        if what == "processes":
            assert stdout.startswith("fork failed"), stdout
    finally:
        assert shell(f"isolate --cg -b {box} --cleanup", isolate_bin).returncode == 0
    assert not os.path.exists(workdir)                    # Judge0 checks Dir.exists?


def test_judge0_environment_is_what_its_flags_ask(isolate_bin, tmp_path):
    box = JUDGE0_BOX
    workdir = shell(f"isolate --cg -b {box} --init", isolate_bin).stdout.decode().strip()
    try:
        Path(f"{workdir}/box/run.sh").write_text("env | sort\n")
        out, meta = tmp_path / "out", tmp_path / "meta"
        command = judge0_run_command(box, meta, "/dev/null", out, tmp_path / "err")
        proc = shell(f"cd {workdir}/box && JUDGE0_VERSION=1.13 LC_ALL= {command}", isolate_bin)
        assert proc.returncode == 0, proc.stderr
        env = dict(line.split("=", 1) for line in out.read_text().splitlines())
        # -E VAR inherits (LANG, JUDGE0_VERSION; LC_ALL empty), VAR=VALUE sets;
        # nothing else of ours leaks in but LIBC_FATAL_STDERR_=1 and bash's own.
        assert env["HOME"] == "/tmp" and env["JUDGE0_VERSION"] == "1.13"
        assert env["LANG"] == "C.UTF-8" and env["LC_ALL"] == ""
        assert env["LIBC_FATAL_STDERR_"] == "1"
        assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        assert "JUDGE0_HOMEPAGE" not in env and "PYTHONPATH" not in env
    finally:
        shell(f"isolate --cg -b {box} --cleanup", isolate_bin)


def test_quota_given_at_init_holds_for_every_run(isolate_bin):
    """isolate takes -q at --init (its quota lives on the box's file system)."""
    box = 605
    assert shell(f"isolate -b {box} -q 200,50 --init", isolate_bin).returncode == 0
    try:
        for _ in range(2):
            proc = shell(f"isolate -b {box} -s -o big --run -- /usr/bin/head -c 400000 /dev/zero",
                         isolate_bin)
            assert proc.returncode == 1 and b"No space left on device" in proc.stderr, proc
    finally:
        shell(f"isolate -b {box} --cleanup", isolate_bin)

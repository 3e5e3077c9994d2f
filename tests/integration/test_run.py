"""`rustbox run` end to end: real namespaces, cgroups v1 and programs.

Needs root and this host's cgroup v1 hierarchy; uses boxes 10-19.
"""
from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
import time

import orjson
import pytest

from tests.conftest import RUSTBOX, rustbox

MiB = 1 << 20
BOX = "10"


def run(run_box, *args):
    return run_box("run", "--box-id", BOX, *args)


def test_ok_verdict_for_a_fresh_binary_copied_into_the_box(run_box, tmp_path):
    (tmp_path / "t.c").write_text("int main(){return 0;}")
    subprocess.run(["gcc", "-O2", "-o", "a.out", "t.c"], cwd=tmp_path, check=True)
    result = run_box("run", "--box-id", BOX, "--mem", "64M", "--time", "2", "./a.out",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.verdict["status"] == "OK"
    assert result.verdict["exit_code"] == 0
    assert result.verdict["cgroup"] == "v1"
    assert result.verdict["limits"]["mem"] == 64 * MiB


def test_nonzero_exit_is_RE(run_box):
    result = run(run_box, "./exit3")
    assert result.returncode == 1
    assert result.verdict["status"] == "RE" and result.verdict["exit_code"] == 3


def test_segfault_is_SG_11(run_box):
    result = run(run_box, "./segv")
    assert result.verdict["status"] == "SG" and result.verdict["signal"] == 11


def test_abort_is_SIGABRT_not_hidden_by_pid_1(run_box):
    # The program is pid 2 under our init, so its own signals are not ignored.
    result = run(run_box, "./abort")
    assert result.verdict["status"] == "SG" and result.verdict["signal"] == 6


def test_infinite_loop_is_stopped_right_after_the_cpu_limit(run_box):
    result = run(run_box, "--time", "1", "./spin")
    verdict = result.verdict
    assert verdict["status"] == "TO" and verdict["tle"] is True
    assert 1.0 <= verdict["cpu_time"] <= 1.03, verdict


def test_sleeping_program_is_stopped_by_the_wall_limit(run_box):
    result = run(run_box, "--time", "1", "--wall-time", "2", "/bin/sleep", "100")
    verdict = result.verdict
    assert verdict["status"] == "TO" and verdict["tle"] is True
    assert 2.0 <= verdict["wall_time"] < 2.1, verdict
    assert verdict["cpu_time"] < 0.1


def test_extra_time_grace_still_reports_TO(run_box):
    result = run(run_box, "--time", "0.3", "--extra-time", "0.5", "./spin", "0.5")
    verdict = result.verdict
    assert verdict["status"] == "TO" and verdict["exit_code"] == 0  # finished inside the grace
    assert 0.49 <= verdict["cpu_time"] < 0.6


def test_memory_over_the_limit_is_ML_with_peak_at_the_limit(run_box):
    result = run(run_box, "--mem", "64M", "./touch_mem", "256")
    verdict = result.verdict
    assert verdict["status"] == "ML" and verdict["oom"] is True
    assert verdict["memory_peak"] <= 64 * MiB


def test_oom_of_one_run_does_not_leak_into_the_next(run_box):
    assert run(run_box, "--mem", "32M", "./touch_mem", "64").verdict["status"] == "ML"
    # isolate keeps reporting cg-oom-killed after one OOM; we must not.
    after = run(run_box, "--mem", "32M", "./segv").verdict
    assert after["status"] == "SG" and after["oom"] is False
    # ... nor the earlier run's peak when no memory limit is set.
    assert run(run_box, "/bin/true").verdict["memory_peak"] <= MiB


def test_writing_past_fsize_is_OL(run_box):
    result = run(run_box, "--fsize", "10M", "./write_big", "1024")
    verdict = result.verdict
    assert verdict["status"] == "OL" and verdict["output_limit"] is True
    assert verdict["signal"] == 25


def test_fork_fails_inside_with_the_default_one_process(run_box):
    result = run(run_box, "./try_fork")
    assert result.verdict["status"] == "RE"
    assert b"fork failed" in result.output


def test_fork_works_when_processes_allow_it(run_box):
    result = run(run_box, "--processes", "2", "./try_fork")
    assert result.verdict["status"] == "OK" and b"fork ok" in result.output


def test_true_costs_almost_nothing(run_box):
    verdict = run(run_box, "/bin/true").verdict
    assert verdict["memory_peak"] <= MiB
    assert verdict["cpu_time"] <= 0.005


def test_touching_64_mib_is_measured_exactly(run_box):
    verdict = run(run_box, "--mem", "256M", "./touch_mem", "64").verdict
    assert verdict["status"] == "OK"
    assert 64 * MiB <= verdict["memory_peak"] <= 67 * MiB


def test_one_second_busy_loop_is_measured_exactly(run_box):
    verdict = run(run_box, "--time", "3", "./spin", "1.0").verdict
    assert verdict["status"] == "OK"
    assert abs(verdict["cpu_time"] - 1.0) <= 0.01


def test_two_threads_add_up_cpu_but_not_wall_time(run_box):
    verdict = run(run_box, "--processes", "4", "./threads", "2", "0.5").verdict
    assert verdict["status"] == "OK"
    # Both threads' CPU is counted. That they ran side by side (wall about
    # 0.5 s on an idle 2-core host) is benchmarks/accuracy.py's figure: a
    # unit test cannot time it on a shared machine.
    assert 0.98 <= verdict["cpu_time"] <= 1.05


def test_the_program_sees_only_its_own_world(run_box, programs):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    box_dir = rustbox("init", "--box-id", BOX).verdict["path"]
    with open(programs / "isolation.py", "rb") as src, open(f"{box_dir}/isolation.py", "wb") as dst:
        dst.write(src.read())
    result = run(run_box, "--processes", "4", "/usr/bin/python3", "isolation.py", port)
    listener.close()
    assert result.verdict["status"] == "OK", result.verdict
    seen = orjson.loads(result.output)
    assert seen["pid"] == 2 and seen["proc"] == [1, 2]   # our init is 1, nothing else
    assert seen["interfaces"] == ["lo"]
    assert seen["connect"].startswith("error")
    assert seen["uid"] == 61000 + int(BOX) and seen["gid"] == 61000 + int(BOX)
    assert seen["caps"] == {"CapPrm": 0, "CapEff": 0, "CapBnd": 0}
    assert "Read-only" in seen["usr_write"]
    assert seen["tmp_write"] == "written" and seen["tmp_entries"] == ["probe"]
    assert seen["home"] is False and seen["root"] is False
    assert seen["dev"] == ["fd", "null", "stderr", "stdin", "stdout", "urandom", "zero"]
    # A second run gets a fresh /tmp.
    again = orjson.loads(run(run_box, "--processes", "4", "/usr/bin/python3", "isolation.py").output)
    assert again["tmp_entries"] == ["probe"]


def test_no_process_of_the_box_survives_a_daemon(run_box, programs, tmp_path):
    daemon = tmp_path / "daemon.c"
    daemon.write_text(
        "#include <unistd.h>\nint main(){ if(fork()==0){ setsid(); if(fork()==0){"
        " for(;;) sleep(1);} _exit(0);} return 0; }")
    subprocess.run(["gcc", "-o", programs / "daemon", daemon], check=True)
    result = run(run_box, "--processes", "10", "./daemon")
    assert result.verdict["status"] == "OK"
    time.sleep(0.1)
    uid = 61000 + int(BOX)
    left = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True).stdout
    assert left == ""


def test_second_run_on_a_busy_box_fails_at_once(programs):
    first = subprocess.Popen([*RUSTBOX, "run", "--box-id", "3", "--time", "2", "./spin", "0.8"],
                             cwd=programs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.4)
        started = time.monotonic()
        second = rustbox("run", "--box-id", "3", "/bin/true", cwd=programs)
        assert time.monotonic() - started < 1.0
        assert second.returncode == 2
        lines = second.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and "busy" in lines[0]
        out, _ = first.communicate(timeout=10)
        assert orjson.loads(out)["status"] == "OK"
    finally:
        first.kill()
        rustbox("cleanup", "--box-id", "3")


@pytest.mark.parametrize("args, needle", [
    (["--mem", "banana", "./a.out"], "--mem"),
    (["--time", "-1", "./a.out"], "--time"),
    (["--bogus", "./a.out"], "--bogus"),
    (["--processes", "0", "./a.out"], "--processes"),
    (["--dir", "/etc/shadow", "/bin/true"], "--dir"),
])
def test_bad_flags_are_one_line_and_exit_2(run_box, args, needle):
    result = run(run_box, *args)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in lines[0]


def test_missing_program_is_XX_naming_it(run_box):
    result = run(run_box, "./no-such-program")
    assert result.returncode == 2
    assert result.verdict["status"] == "XX"
    assert "exec" in result.verdict["message"] and "no-such-program" in result.verdict["message"]


def test_meta_file_in_isolate_format(run_box, tmp_path):
    meta = tmp_path / "meta.txt"
    run(run_box, "--meta", meta, "./exit3")
    fields = dict(line.split(":", 1) for line in meta.read_text().splitlines())
    assert fields["exitcode"] == "3" and fields["status"] == "RE"
    assert "time" in fields and "cg-mem" in fields


def test_stdio_files_inside_the_box(run_box):
    box_dir = rustbox("init", "--box-id", BOX).verdict["path"]
    with open(f"{box_dir}/in.txt", "w") as f:
        f.write("hello box\n")
    result = run(run_box, "--stdin", "in.txt", "--stdout", "out.txt", "/bin/cat")
    assert result.verdict["status"] == "OK"
    with open(f"{box_dir}/out.txt") as f:
        assert f.read() == "hello box\n"
    assert os.stat(f"{box_dir}/out.txt").st_uid == 61000 + int(BOX)


def test_check_env_names_version_controllers_and_swap():
    result = rustbox("check-env")
    text = result.stdout.decode()
    assert result.returncode == 0, text
    assert "v1" in text and "swap accounting" in text
    for controller in ("memory", "cpu", "cpuacct", "pids", "freezer"):
        assert f"controller {controller}" in text


def test_cleanup_removes_dir_and_cgroups():
    info = rustbox("init", "--box-id", "11").verdict
    assert os.path.isdir(info["path"])
    assert os.stat(info["path"]).st_uid == 61011
    assert os.path.isdir("/sys/fs/cgroup/memory/rustbox/box-11")
    rustbox("cleanup", "--box-id", "11")
    assert not os.path.exists(info["path"])
    assert not os.path.exists("/sys/fs/cgroup/memory/rustbox/box-11")
    assert not os.path.exists("/sys/fs/cgroup/pids/rustbox/box-11")


def test_uid_range_is_not_a_real_user():
    with pytest.raises(KeyError):
        pwd.getpwuid(61000 + int(BOX))


def test_wall_time_is_never_below_cpu_time_for_one_thread(run_box):
    # Both are measured from the moment the program joins its cgroups (issue
    # 10.8: wall started after the exec, CPU before it: cpu 0.0027, wall 0.0001).
    import rustbox
    verdicts = [run(run_box, "/bin/true").verdict for _ in range(20)]
    with rustbox.Box(12) as box:
        verdicts += [box.run(["/bin/true"]).to_dict() for _ in range(100)]
    rustbox.Box(12).cleanup()
    below = [(v["cpu_time"], v["wall_time"]) for v in verdicts if v["wall_time"] < v["cpu_time"]]
    assert below == [], f"{len(below)} of {len(verdicts)} runs: (cpu, wall) {below[:5]}"


def test_a_cli_run_detects_the_hosts_cgroups_once(tmp_path):
    """`rustbox run` reads the host's mount table for its cgroups once: the
    join warmer's adapter is the session's (it used to be opened twice). The
    real CLI entry, counting reads of /proc/self/mountinfo by the detector."""
    code = ("import sys; import rustbox.cgroups.detect as d; calls = [0]; real = d._mounts\n"
            "def counted():\n    calls[0] += 1\n    return real()\n"
            "d._mounts = counted\n"
            "from rustbox import run_command\n"
            "status = run_command.run(run_command.parse_fast(sys.argv[1:]))\n"
            "print('mounts-read', calls[0], file=sys.stderr)\n")
    try:
        for _ in range(2):   # the box is new, then initialised
            proc = subprocess.run([sys.executable, "-c", code, "--box-id", "540", "--time", "1",
                                   "/bin/true"], capture_output=True, text=True, timeout=60,
                                  cwd=tmp_path)
            assert proc.returncode == 0, proc.stderr
            assert proc.stderr.strip().splitlines()[-1] == "mounts-read 1", proc.stderr
    finally:
        rustbox("cleanup", "--box-id", "540")


def test_the_childs_steps_run_in_c_and_check_env_says_so():
    """pip builds rustbox/running/_child.c: runs use it (no copy of the
    interpreter), and check-env reports it. Not built here means the
    install skipped the compiler or the Python headers (setup.sh)."""
    from rustbox.running import child
    assert child.C_CHILD, "rustbox/running/_child.c is not built: pip install -e . (gcc, python3-dev)"
    proc = subprocess.run([*RUSTBOX, "check-env"], capture_output=True, text=True, timeout=60)
    assert "C child" in proc.stdout + proc.stderr and "built: the child's steps run in C" in (
        proc.stdout + proc.stderr)


_LIMITS_PROBE = """
import sys
from rustbox.request import RunRequest
from rustbox.running import child
from rustbox.session import BoxSession
if sys.argv[1] == "python":
    child._c_child = None
elif child._c_child is None:
    sys.exit("rustbox/running/_child.c is not built")
request = RunRequest.from_options({"argv": ["/bin/sh", "-c", "ulimit -n; ulimit -v"],
                                   "open_files": 7, "address_space": "100M",
                                   "processes": 2, "stdout": "limits.out"})
with BoxSession(541) as session:
    verdict = session.run(request)
    print(verdict.status, *(session.box.path / "limits.out").read_text().split())
"""


@pytest.mark.parametrize("which", ["c", "python"])
def test_open_files_and_address_space_limits_reach_the_program(which):
    """Both are set after the set-up (which would trip over them), in the C
    child and in the Python one alike. In a process of its own: a box used
    in-process moves its user into the run's namespaces."""
    proc = subprocess.run([sys.executable, "-c", _LIMITS_PROBE, which], capture_output=True,
                          text=True, timeout=120)
    rustbox("cleanup", "--box-id", "541")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["OK", "7", str(100 * 1024)]

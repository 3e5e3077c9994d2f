"""`rustbox run --wait`, `--chdir`, `--inherit-env` (taken over from isolate),
and a program's output to an inherited regular file that later commands
must not overwrite.

Needs root and cgroups; uses boxes 602-603.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import REPO, RUSTBOX, rustbox

BOX, OTHER = "602", "603"


def teardown_module():
    for box in (BOX, OTHER):
        rustbox("cleanup", "--box-id", box)


def test_chdir_runs_there_and_files_stay_relative_to_box():
    env = dict(os.environ, SHOWN="yes", LEFT_OUT="no")
    result = rustbox("run", "--box-id", BOX, "--chdir", "/tmp", "--inherit-env", "SHOWN",
                     "--inherit-env", "NOT_SET_ANYWHERE", "--stdout", "out.txt",
                     "--", "/bin/sh", "-c", "pwd; exec env", env=env)
    assert result.verdict["status"] == "OK", result.stderr
    box_dir = rustbox("init", "--box-id", OTHER).verdict["path"].replace(OTHER, BOX)
    out = open(f"{box_dir}/out.txt").read().splitlines()   # --stdout: /box/out.txt
    assert out[0] == "/tmp"
    assert "SHOWN=yes" in out and not any(line.startswith(("LEFT_OUT", "NOT_SET")) for line in out)


def test_chdir_to_a_missing_directory_is_XX_naming_the_step():
    result = rustbox("run", "--box-id", BOX, "--chdir", "nowhere", "--", "/bin/true")
    assert result.returncode == 2 and result.verdict["status"] == "XX"
    assert result.verdict["message"].startswith("chdir failed")


def test_wait_waits_for_a_busy_box():
    holder = subprocess.Popen([*RUSTBOX, "run", "--box-id", OTHER, "--processes", "2", "--",
                               "/bin/sleep", "1.5"], stdout=subprocess.DEVNULL, cwd=REPO)
    time.sleep(0.7)
    busy = rustbox("run", "--box-id", OTHER, "--", "/bin/true")
    assert busy.returncode == 2 and b"busy" in busy.stderr
    waited = rustbox("run", "--box-id", OTHER, "--wait", "--", "/bin/true")
    assert holder.wait(10) == 0
    assert waited.returncode == 0 and waited.verdict["status"] == "OK", waited.stderr


def test_output_to_an_inherited_file_is_not_overwritten_by_the_next_command(tmp_path):
    """Two runs and a shell's echo into one file (`( ...; ...; echo ) > f`): each
    writes after the one before; the program's own open file description
    used to keep the shell's offset at 0, so the next writer overwrote it."""
    isolate = f"PYTHONPATH={REPO} {sys.executable} -m rustbox.isolate -s -b {BOX} --run --"
    out = tmp_path / "out"
    subprocess.run(["/bin/sh", "-c", f"({isolate} /bin/echo first; {isolate} /bin/echo 2nd; "
                    f"echo shell) > {out}"], check=True)
    assert out.read_text() == "first\n2nd\nshell\n"


def test_few_open_files_limit_the_program_not_the_set_up():
    """--open-files 5 (isolate's -n 5) used to fail the set-up itself (XX
    'keyrings failed: Too many open files'): it is set once the set-up is done."""
    result = rustbox("run", "--box-id", BOX, "--open-files", "5", "--", "/usr/bin/python3", "-c",
                     "import os\nfor _ in range(10): os.open('/dev/null', 0)")
    assert result.verdict["status"] == "RE", result.verdict
    assert b"Too many open files" in result.stderr

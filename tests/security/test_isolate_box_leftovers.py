"""rustbox-isolate leaves no symlink, FIFO or socket a run made in the box.

CMS and Judge0 read the box after each run as the user that runs isolate
(root here, rustbox-isolate is not setuid): a link the program left named
as its output file (`out.txt -> /etc/shadow`) would hand them a host file.
isolate removes every special file after a run (unless --special-files);
so does rustbox-isolate, at any depth, keeping files and directories.

Needs root; uses box 604.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

BOX = "604"
SCRIPT = """
import os, socket
os.symlink("/etc/shadow", "out.txt")
os.makedirs("deep/er")
os.symlink("/etc/shadow", "deep/er/link")
os.mkfifo("deep/fifo")
socket.socket(socket.AF_UNIX).bind("deep/er/sock")
open("deep/er/kept.txt", "w").write("kept")
"""


def isolate(*args):
    return subprocess.run([sys.executable, "-m", "rustbox.isolate", "-b", BOX, *args],
                          capture_output=True, cwd=REPO, timeout=60)


def test_no_special_file_of_a_run_is_left_in_the_box():
    home = isolate("--init").stdout.decode().strip()
    try:
        result = isolate("--run", "--", "/usr/bin/python3", "-c", SCRIPT)
        assert result.returncode == 0, result.stderr
        left = []
        for top, dirs, files in os.walk(f"{home}/box"):
            left += [os.path.relpath(os.path.join(top, name), f"{home}/box")
                     for name in dirs + files]
        assert sorted(left) == ["deep", "deep/er", "deep/er/kept.txt"]
    finally:
        isolate("--cleanup")

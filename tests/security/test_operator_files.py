"""Files root writes for the operator are never redirected (issue 9, class 5).

--meta and --json are written by root, and may point into a box, whose
contents the program controls: a link it planted (before or during the
run) must not make root write elsewhere, and a FIFO must not block root.
Both are opened before the run, so a missing directory is an error before
anything runs too. The --stdin/--stdout/--stderr files the child opens as
the box uid and the program file rustbox copies in must not hang the run
on a FIFO nor fail with a message naming the wrong step.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import orjson
import pytest

from .conftest import BOX, RUSTBOX, BoxDir, box_uid_processes, init_box, wait_until

BATCH_BOX = 715
VICTIM_TEXT = "the operator's own file\n"


@pytest.fixture
def victim(tmp_path):
    """A root-owned host file and directory that nothing may write to."""
    place = tmp_path / "victim"
    place.mkdir()
    path = place / "precious.txt"
    path.write_text(VICTIM_TEXT)
    yield path
    assert path.read_text() == VICTIM_TEXT, "root wrote through a link the program planted"
    assert sorted(os.listdir(place)) == ["precious.txt"], "root created a file in the victim dir"


def plant(run_box, source: str) -> None:
    run = run_box("/usr/bin/python3", "-c", source)
    assert run.verdict["status"] == "OK", run


@pytest.mark.parametrize("flag", ["--meta", "--json"])
def test_a_link_planted_at_the_file_is_refused_before_the_run(run_box, victim, flag):
    plant(run_box, f"import os; os.symlink({str(victim)!r}, '/box/verdict')")
    target = BoxDir(BOX).path / "verdict"
    run = run_box(flag, target, "/usr/bin/touch", "/box/ran")
    assert run.returncode == 2 and "symbolic link" in run.stderr, run
    assert run.stderr.count("\n") == 1
    assert not (BoxDir(BOX).path / "ran").exists(), "the program ran before the refusal"


@pytest.mark.parametrize("flag", ["--meta", "--json"])
def test_a_directory_link_planted_on_the_way_is_not_followed(run_box, victim, flag):
    plant(run_box, f"import os; os.symlink({str(victim.parent)!r}, '/box/results')")
    run = run_box(flag, BoxDir(BOX).path / "results" / "verdict", "/bin/true")
    assert run.returncode == 2 and "link that box uid" in run.stderr, run


@pytest.mark.parametrize("flag", ["--meta", "--json"])
def test_a_link_planted_during_the_run_does_not_redirect_the_write(run_box, victim, flag):
    # The program puts a link where the file goes while it runs: root writes
    # through the directory it opened before the run, never through a link,
    # and says so (the consumer would read the link's target).
    init_box(BOX)
    target = BoxDir(BOX).path / "verdict"
    run = run_box(flag, target, "/usr/bin/python3", "-c",
                  f"import os; os.symlink({str(victim)!r}, '/box/verdict')")
    assert run.returncode == 2, run
    assert f"verdict (OK) could not be written to the {flag} file" in run.stderr, run
    assert run.stderr.count("\n") == 1
    assert os.path.islink(target)


@pytest.mark.parametrize("kind", ["fifo", "directory", "hard link"])
@pytest.mark.parametrize("flag", ["--meta", "--json"])
def test_anything_but_a_regular_file_of_one_name_is_a_clear_error_at_once(
        run_box, victim, tmp_path, flag, kind):
    init_box(BOX)
    target = BoxDir(BOX).path / "verdict"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:   # a second name of another file (of the host's, with protected_hardlinks=0)
        (target.parent / "elsewhere").write_text(VICTIM_TEXT)
        os.link(target.parent / "elsewhere", target)
    run = run_box(flag, target, "/usr/bin/touch", "/box/ran", timeout=30)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run
    assert f"cannot write {flag}" in run.stderr and "Traceback" not in run.stderr, run
    assert not (BoxDir(BOX).path / "ran").exists()


@pytest.mark.parametrize("flag", ["--meta", "--json"])
def test_a_missing_directory_is_an_error_before_the_run(run_box, tmp_path, flag):
    run = run_box(flag, tmp_path / "no-such-dir" / "verdict", "/usr/bin/touch", "/box/ran")
    assert run.returncode == 2 and "does not exist" in run.stderr, run
    assert run.stderr.count("\n") == 1
    assert not (BoxDir(BOX).path / "ran").exists(), "the verdict was lost after the run"


def _stdio_cases():
    return [("--stdout", "fifo"), ("--stderr", "fifo"), ("--stdin", "fifo"),
            ("--stdout", "directory"), ("--stdin", "directory")]


@pytest.mark.parametrize("flag, kind", _stdio_cases())
def test_a_fifo_or_directory_at_a_stdio_file_is_a_clear_error_naming_stdio(run_box, flag,
                                                                           kind):
    box = init_box(BOX)
    (os.mkfifo if kind == "fifo" else os.mkdir)(box / "io")
    os.chown(box / "io", BoxDir(BOX).uid, BoxDir(BOX).uid)
    # Nobody opens the FIFO's other end: the wait ends by the wall limit
    # (+1 s), not SETUP_TIMEOUT's 10 s, and says what it waited for.
    run = run_box("--time", "0.5", "--wall-time", "1", flag, "io", "/bin/echo", timeout=8)
    assert run.returncode == 2 and run.verdict["status"] == "XX", run
    message = run.verdict["message"]
    assert message.startswith("stdio failed: io"), message
    assert ("FIFO" in message) if kind == "fifo" else ("Is a directory" in message), message


def test_a_supervisor_killed_during_a_fifo_wait_leaves_no_process_behind(run_box, build_dir):
    box = init_box(BOX)
    run_box.used.add(BOX)            # cleaned up with the rest
    os.mkfifo(box / "io")
    os.chown(box / "io", BoxDir(BOX).uid, BoxDir(BOX).uid)
    proc = subprocess.Popen([*RUSTBOX, "run", "--box-id", str(BOX), "--stdout", "io",
                             "/bin/echo"], cwd=build_dir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: box_uid_processes(), timeout=5), "the child never waited"
    finally:
        proc.kill()
        proc.wait()
    assert wait_until(lambda: not box_uid_processes(), timeout=2), box_uid_processes()


def test_a_fifo_at_a_stdio_file_still_works_once_its_other_end_opens(run_box):
    box = init_box(BOX)
    os.mkfifo(box / "in.fifo")
    os.mkfifo(box / "out.fifo")
    for name in ("in.fifo", "out.fifo"):
        os.chown(box / name, BoxDir(BOX).uid, BoxDir(BOX).uid)
    got = []

    def peer():   # an interactor's side: feeds stdin, reads stdout
        with open(box / "in.fifo", "w") as feed:
            feed.write("through a FIFO\n")
        with open(box / "out.fifo") as back:
            got.append(back.read())
    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    run = run_box("--time", "2", "--stdin", "in.fifo", "--stdout", "out.fifo", "/bin/cat",
                  timeout=30)
    thread.join(10)
    assert run.verdict["status"] == "OK", run
    assert got == ["through a FIFO\n"]


def test_a_fifo_at_stdout_in_a_batch_line_is_that_lines_xx_naming_stdio(build_dir):
    box = init_box(BATCH_BOX)
    os.mkfifo(box / "io")
    os.chown(box / "io", BoxDir(BATCH_BOX).uid, BoxDir(BATCH_BOX).uid)
    spec = b"".join(orjson.dumps(line) + b"\n" for line in [
        {"id": "fifo", "argv": ["/bin/echo"], "stdout": "io", "time": 0.5, "wall_time": 1},
        {"id": "next", "argv": ["/bin/true"]}])
    try:
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)], input=spec,
                              capture_output=True, timeout=30)
    finally:
        subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BATCH_BOX)], capture_output=True)
    by_id = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
    assert by_id["fifo"]["status"] == "XX", by_id
    assert by_id["fifo"]["message"].startswith("stdio failed: io is a FIFO"), by_id
    assert by_id["next"]["status"] == "OK", by_id


def test_a_fifo_in_place_of_the_program_to_copy_is_refused_at_once(tmp_path):
    # The host path of a program may lie in another box, whose program can
    # swap the file for a FIFO between rustbox's look and its copy.
    fifo = tmp_path / "a.out"
    os.mkfifo(fifo)
    code = ("from rustbox.box import BoxDir\n"
            "from rustbox.errors import UsageError\n"
            f"box = BoxDir({BOX}); box.create()\n"
            "try:\n"
            f"    box.install_file({str(fifo)!r}, 'a.out')\n"
            "except UsageError as exc:\n"
            "    print(exc)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=20)
    finally:
        subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BOX)], capture_output=True)
    assert "not a regular file" in proc.stdout, proc
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)

"""Nothing of one run reaches the next (issue 9, class 4).

A run may leave state in kernel objects that outlive its processes:
TIME_WAIT sockets in its network namespace (their port numbers spell a
message, read back from /proc/net/tcp), SysV shared memory, message queues
and semaphores, POSIX message queues, keys in the uid's keyrings (keyctl,
allowed with --seccomp off), and it owns /box, so it can replace a file
rustbox copied in there with a trojan of the same size and times. Each
case leaves a message with one run and looks for it with the next, through
the CLI, the API's box helper and `rustbox batch` (which reuse one process
per box).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess

import orjson
import pytest

import rustbox

from .conftest import RUSTBOX, BoxDir, cleanup, init_box

API_BOX, BATCH_BOX, CLI_BOX = 724, 725, 726

LEFT_IN_NAMESPACES = {"left tcp", "left shm", "left msg", "left sem", "left mqueue", "left tmp"}
LEFT_IN_KEYRINGS = {"left keyring session", "left keyring user", "left keyring user-session"}


def lines(text: str) -> set[str]:
    return set(text.splitlines())


def assert_left(output: str, expected: set[str]) -> None:
    """The first run did leave its message (else the case proves nothing)."""
    assert expected <= lines(output), output


@pytest.fixture
def api_box(build_dir, monkeypatch):
    monkeypatch.chdir(build_dir)          # ./leftovers is copied in from here
    box = rustbox.Box(API_BOX).init()
    yield box
    box.close()
    cleanup(API_BOX)


def api_run(box, argv, **options) -> tuple[dict, str]:
    verdict = box.run(argv, stdout="out.txt", **options)
    return verdict.to_dict(), (box.path / "out.txt").read_text()


# -- namespaces: TIME_WAIT ports, SysV IPC, POSIX queues, /tmp ---------------


def test_api_runs_start_from_fresh_namespaces(api_box):
    for attempt in range(2):              # the first run of a helper, and a later one
        verdict, output = api_run(api_box, ["./leftovers", "leave", f"SECRET{attempt}"])
        assert verdict["status"] == "OK", (verdict, output)
        assert_left(output, LEFT_IN_NAMESPACES)
        verdict, output = api_run(api_box, ["./leftovers", "find"])
        assert (verdict["status"], output) == ("OK", "nothing left\n"), (verdict, output)


def test_batch_runs_on_one_box_start_from_fresh_namespaces(build_dir):
    specs = [{"id": "leave", "argv": ["./leftovers", "leave", "SECRET"], "stdout": "leave.txt"},
             {"id": "find", "argv": ["./leftovers", "find"], "stdout": "find.txt"},
             {"id": "leave2", "argv": ["./leftovers", "leave", "AGAIN"], "stdout": "leave2.txt"},
             {"id": "find2", "argv": ["./leftovers", "find"], "stdout": "find2.txt"}]
    init_box(BATCH_BOX)                   # batch keeps a box it did not make: read it after
    try:
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX),
                               "--parallel", "1"],
                              input=b"".join(orjson.dumps(s) + b"\n" for s in specs),
                              cwd=build_dir, capture_output=True, timeout=120)
        verdicts = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
        box = BoxDir(BATCH_BOX).path
        for leave, find in (("leave", "find"), ("leave2", "find2")):
            assert verdicts[leave]["status"] == "OK", verdicts
            assert_left((box / f"{leave}.txt").read_text(), LEFT_IN_NAMESPACES)
            found = (box / f"{find}.txt").read_text()
            assert (verdicts[find]["status"], found) == ("OK", "nothing left\n"), found
    finally:
        cleanup(BATCH_BOX)


def test_cli_runs_start_from_fresh_namespaces(run_box):
    leave = run_box("./leftovers", "leave", "SECRET", box=CLI_BOX)
    assert leave.verdict["status"] == "OK", leave
    assert_left(leave.output, LEFT_IN_NAMESPACES)
    find = run_box("./leftovers", "find", box=CLI_BOX)
    assert (find.verdict["status"], find.output) == ("OK", "nothing left\n"), find


# -- keyrings (keyctl is allowed only with --seccomp off) --------------------


def test_keys_do_not_reach_the_next_api_run(api_box):
    for attempt in range(2):
        verdict, output = api_run(api_box, ["./leftovers", "leave", f"KEY{attempt}", "keys"],
                                  seccomp="off")
        assert verdict["status"] == "OK", (verdict, output)
        assert_left(output, LEFT_IN_KEYRINGS)
        verdict, output = api_run(api_box, ["./leftovers", "find", "keys"], seccomp="off")
        assert (verdict["status"], output) == ("OK", "nothing left\n"), (verdict, output)


def test_keys_do_not_reach_the_next_cli_run(run_box):
    leave = run_box("--seccomp", "off", "./leftovers", "leave", "KEY", "keys", box=CLI_BOX)
    assert leave.verdict["status"] == "OK", leave
    assert_left(leave.output, LEFT_IN_KEYRINGS)
    find = run_box("--seccomp", "off", "./leftovers", "find", "keys", box=CLI_BOX)
    assert (find.verdict["status"], find.output) == ("OK", "nothing left\n"), find


# -- a file rustbox copied into the box --------------------------------------

CHECKER = "#!/bin/sh\necho genuine checker\n"
TROJAN = "#!/bin/sh\necho TROJAN\n"


@pytest.fixture
def checker_dir(build_dir, tmp_path):
    """A host directory with ./checker (a script) and ./replace_file."""
    tmp_path.chmod(0o755)
    checker = tmp_path / "checker"
    checker.write_text(CHECKER)
    checker.chmod(0o777)                  # even a world-writable original...
    shutil.copy(build_dir / "replace_file", tmp_path / "replace_file")
    return tmp_path


def assert_copy_is_roots_and_closed(box_id: int) -> None:
    copy = os.lstat(BoxDir(box_id).path / "checker")
    assert copy.st_uid == 0 and not copy.st_mode & 0o022, stat.filemode(copy.st_mode)


def test_cli_never_runs_a_replaced_copy_of_a_host_program(run_box, checker_dir):
    host = os.stat(checker_dir / "checker")
    first = run_box("./checker", box=CLI_BOX, cwd=checker_dir)
    assert first.output == "genuine checker\n", first
    assert_copy_is_roots_and_closed(CLI_BOX)  # ...is copied closed to the box uid
    swap = run_box("./replace_file", "checker", TROJAN, box=CLI_BOX, cwd=checker_dir)
    assert swap.verdict["status"] == "OK", swap
    inside = os.lstat(BoxDir(CLI_BOX).path / "checker")
    assert (inside.st_size, int(inside.st_mtime)) == (host.st_size, int(host.st_mtime))
    assert TROJAN in (BoxDir(CLI_BOX).path / "checker").read_text()
    again = run_box("./checker", box=CLI_BOX, cwd=checker_dir)
    assert again.output == "genuine checker\n", again
    unchanged = run_box("./checker", box=CLI_BOX, cwd=checker_dir)  # our copy is kept
    assert unchanged.output == "genuine checker\n", unchanged


def test_api_never_runs_a_replaced_copy_of_a_host_program(checker_dir, monkeypatch):
    monkeypatch.chdir(checker_dir)
    box = rustbox.Box(API_BOX).init()
    try:
        assert api_run(box, ["./checker"])[1] == "genuine checker\n"
        verdict, output = api_run(box, ["./replace_file", "checker", TROJAN])
        assert verdict["status"] == "OK", (verdict, output)
        assert TROJAN in (box.path / "checker").read_text()
        assert api_run(box, ["./checker"])[1] == "genuine checker\n"
    finally:
        box.close()
        cleanup(API_BOX)

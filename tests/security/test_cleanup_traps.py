"""What a program leaves in /box for the root-run cleanup: links to host
files and directories, unreadable directories, FIFOs, a tree deeper than
any recursive walk. `cleanup`, `init` and the next run's stdout must never
follow them, and must not choke on them.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from .conftest import BOX, BoxDir, rustbox

WATCHED = ("/etc/passwd", "/etc/shadow", "/usr/bin/env")


def fingerprint() -> dict:
    """Content and metadata of host files the traps point at, and of /etc itself."""
    prints = {}
    for path in WATCHED:
        st = os.stat(path)
        prints[path] = (hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                        st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    prints["/etc entries"] = sorted(os.listdir("/etc"))
    prints["/ entries"] = sorted(os.listdir("/"))
    return prints


@pytest.mark.parametrize("verb", ["cleanup", "init"])
def test_links_left_in_the_box_are_never_followed(run_box, verb):
    before = fingerprint()
    run = run_box("./leave_links")
    assert run.verdict["status"] == "OK", run
    assert os.path.islink(BoxDir(BOX).path / "passwd")   # the traps are really there
    proc = rustbox(verb, "--box-id", BOX)
    assert proc.returncode == 0, proc.stderr
    assert fingerprint() == before
    if verb == "init":
        assert os.listdir(BoxDir(BOX).path) == []


def test_a_link_named_like_the_next_runs_output_is_not_written_through(run_box):
    before = fingerprint()
    run_box("./leave_links")                       # leaves stdout.txt -> /etc/passwd
    run = run_box("--stdout", "stdout.txt", "./env")
    assert run.verdict["status"] != "OK", run      # refused, not written through
    assert fingerprint() == before


def test_a_very_deep_tree_is_removed(run_box):
    run = run_box("--time", "20", "./deep_tree", "20000")
    assert run.verdict["status"] == "OK", run
    proc = rustbox("cleanup", "--box-id", BOX)
    assert proc.returncode == 0, proc.stderr
    assert not BoxDir(BOX).home.exists()


def test_a_directory_link_cannot_redirect_the_next_programs_copy(run_box, build_dir, tmp_path):
    # Run 1 leaves /box/build -> /etc. Run 2 is `rustbox run ./build/prog`
    # from a host directory: rustbox (root) copies prog into /box/build/.
    victim = "rustbox-trap-victim"
    assert not os.path.lexists(f"/etc/{victim}")
    run = run_box("/usr/bin/python3", "-c", "import os; os.symlink('/etc', '/box/build')")
    assert run.verdict["status"] == "OK", run
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / victim).write_bytes((build_dir / "env").read_bytes())
    (tmp_path / "build" / victim).chmod(0o755)
    try:
        run = run_box(f"./build/{victim}", cwd=tmp_path)
        assert not os.path.lexists(f"/etc/{victim}"), "the copy went through the link into /etc"
        assert run.verdict["status"] == "OK", run
        assert not os.path.islink(BoxDir(BOX).path / "build")
    finally:
        if os.path.lexists(f"/etc/{victim}"):
            os.unlink(f"/etc/{victim}")

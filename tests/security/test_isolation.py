"""Reaching out of the box: other processes, the host's network, files
outside /box and /tmp, other boxes' files, the supervisor's descriptors
and environment, privilege through setuid binaries.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import stat
import subprocess

import pytest

from .conftest import BOX, OTHER_BOX, BoxDir, box_uid, init_box

SECRET = "rustbox-secret-marker-7f3a"


def test_kill_minus_one_reaches_nothing_outside_the_box(run_box):
    # Victims with the box's own uid and a neighbour box's uid, on the host:
    # without the PID namespace kill(-1) would reach the first.
    victims = [subprocess.Popen(["sleep", "60"], user=box_uid(box), group=box_uid(box))
               for box in (BOX, OTHER_BOX)]
    try:
        run = run_box("./killall")
        assert run.verdict["status"] == "OK", run
        assert all(victim.poll() is None for victim in victims), "a host process was killed"
    finally:
        for victim in victims:
            victim.kill()
            victim.wait()


def test_the_hosts_loopback_is_out_of_reach(run_box):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    try:
        run = run_box("./connect_host", listener.getsockname()[1])
        assert run.verdict["status"] == "OK", run
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_host_ipc_and_abstract_sockets_are_out_of_reach(run_box):
    # Neither lives in the file system: only the IPC and network namespaces
    # keep them apart (a world-readable segment, a socket anyone may connect to).
    libc = ctypes.CDLL(None, use_errno=True)
    shm_id = libc.shmget(0, 4096, 0o1000 | 0o666)      # IPC_PRIVATE, IPC_CREAT
    assert shm_id >= 0
    name = f"rustbox-test-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind("\0" + name)
    listener.listen()
    listener.setblocking(False)
    try:
        run = run_box("./ipc_probe", shm_id, name)
        assert run.verdict["status"] == "OK", run
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
        libc.shmctl(shm_id, 0, None)                     # IPC_RMID


def test_raw_packet_and_netlink_sockets_see_nothing_of_the_host(run_box):
    run = run_box("./sockets")
    assert run.verdict["status"] == "OK", run
    assert "network interfaces seen through netlink: 1" in run.output, run


def test_secrets_and_other_boxes_files_cannot_be_read(run_box):
    neighbour = init_box(OTHER_BOX)
    run_box.used.add(OTHER_BOX)          # cleaned up with the rest
    secret = neighbour / "solution.cpp"
    secret.write_text(SECRET)
    os.chown(secret, box_uid(OTHER_BOX), box_uid(OTHER_BOX))
    other_box_inside = f"{BoxDir(OTHER_BOX).path}/solution.cpp"
    run = run_box("./read_files", "/etc/shadow", "/etc/gshadow", other_box_inside,
                  f"/proc/1/root{other_box_inside}", "/proc/kcore", "/dev/mem",
                  "/root/.bash_history", "/sys/kernel/notes")
    assert run.verdict["status"] == "OK", run
    assert SECRET not in run.output


def test_box_directories_are_closed_to_other_box_uids(run_box):
    # On the host itself, a process of box 700's uid cannot look into box 701.
    neighbour = init_box(OTHER_BOX)
    run_box.used.add(OTHER_BOX)
    mode = neighbour.stat()
    assert stat.S_IMODE(mode.st_mode) & 0o077 == 0 and mode.st_uid == box_uid(OTHER_BOX)
    (neighbour / "secret").write_text(SECRET)
    probe = subprocess.run(["cat", str(neighbour / "secret")], capture_output=True,
                           user=box_uid(BOX), group=box_uid(BOX))
    assert probe.returncode != 0 and SECRET.encode() not in probe.stdout


def test_only_box_and_tmp_are_writable(run_box):
    targets = ["/", "/usr", "/usr/bin", "/etc", "/lib", "/bin", "/sbin", "/dev", "/dev/shm",
               "/proc", "/proc/sys/kernel", "/sys", "/var", "/var/tmp", "/home", "/root", "/run",
               "/opt", "/mnt", "/var/lib/rustbox"]
    run = run_box("./write_outside", *targets)
    assert run.verdict["status"] == "OK", run
    for target in targets:  # and nothing appeared on the host's side of them
        assert not os.path.lexists(os.path.join(target, "rustbox-escape-test")), target


def test_process_table_shows_only_the_box(run_box, build_dir):
    box = init_box(BOX)
    shutil.copy(build_dir / "proc_snoop.py", box / "proc_snoop.py")
    run = run_box("--processes", "4", "/usr/bin/python3", "proc_snoop.py",
                  env={**os.environ, "RUSTBOX_TEST_SECRET": SECRET})
    assert run.verdict["status"] == "OK", run
    report = json.loads(run.output)
    assert SECRET not in run.output
    assert set(report["pids"]) <= {1, report["me"]}, report


def test_environment_is_empty_but_path(run_box):
    run = run_box("./env", env={**os.environ, "RUSTBOX_TEST_SECRET": SECRET})
    assert run.verdict["status"] == "OK", run
    assert [line.split("=", 1)[0] for line in run.output.split()] == ["PATH"], run


def test_no_descriptor_of_the_supervisor_leaks_in(run_box):
    # Whatever rustbox was started with (here: /etc/shadow, open for reading)
    # and whatever it opened itself (lock, cgroup files, audit socket).
    shadow = os.open("/etc/shadow", os.O_RDONLY)
    try:
        run = run_box("./fds", pass_fds=(shadow,))
    finally:
        os.close(shadow)
    assert run.verdict["status"] == "OK", run
    assert "inherited fd" not in run.output


def test_core_dumps_are_off(run_box):
    run = run_box("./coredump")
    assert run.verdict["status"] == "SG" and run.verdict["signal"] == 11, run
    assert "RLIMIT_CORE 0 0" in run.output
    assert not [n for n in os.listdir(BoxDir(BOX).path) if n == "core" or n.startswith("core.")]


def test_a_setuid_root_binary_in_the_box_gives_no_root(run_box, build_dir):
    # Put there by root (rustbox itself strips the bits when it copies a
    # program in): /box is mounted nosuid and the program has no_new_privs.
    binary = init_box(BOX) / "euid_setuid"
    shutil.copy(build_dir / "euid", binary)
    os.chown(binary, 0, 0)
    os.chmod(binary, 0o4755)
    run = run_box("/box/euid_setuid")
    assert run.verdict["status"] == "OK", run
    assert f"euid {box_uid(BOX)}" in run.output


def test_setuid_bits_are_not_copied_into_the_box(run_box, build_dir):
    binary = build_dir / "euid_setuid"
    shutil.copy(build_dir / "euid", binary)
    os.chmod(binary, 0o4755)
    run = run_box("./euid_setuid")
    assert run.verdict["status"] == "OK", run
    assert not os.stat(BoxDir(BOX).path / "euid_setuid").st_mode & (stat.S_ISUID | stat.S_ISGID)


@pytest.mark.parametrize("rule", ["/etc/shadow", "/:/host", "/proc:/hostproc", "/sys:/s",
                                  "/root:/r", "/var/lib/rustbox:/boxes", "/dev:/d",
                                  "/tmp:/proc", "/run:/r"])
def test_dir_rules_refuse_sensitive_host_paths(run_box, rule):
    run = run_box("--dir", rule, "/bin/true")
    assert run.returncode == 2, run
    assert ":force" in run.stderr and len(run.stderr.strip().splitlines()) == 1, run
    assert run.verdict is None

"""System calls that reach for the kernel or the host: the seccomp layer
kills them (SG, signal 31, the call named), and where another layer exists
(no capabilities, namespaces, the uid) it stops them with the filter off.

Each case fails if its protection is removed: programs/attack.c exits 42
when a call goes through, which is neither the SG verdict expected with
the filter nor the clean exit expected without it.
"""
from __future__ import annotations

import fcntl
import os
import select
import termios

import pytest

# attack name in programs/attack.c -> the system call the verdict must name
KILLED_BY_DEFAULT_POLICY = {
    "mount": "mount",
    "umount": "umount2",
    "unshare_user": "unshare",
    "unshare_mount": "unshare",
    "clone_newuser": "clone",
    "setns": "setns",
    "chroot": "chroot",
    "pivot_root": "pivot_root",
    "sethostname": "sethostname",
    "keyctl": "keyctl",
    "add_key": "add_key",
    "bpf": "bpf",
    "perf_event_open": "perf_event_open",
    "reboot": "reboot",
    "io_uring_setup": "io_uring_setup",
    "ptrace_traceme": "ptrace",
    "ptrace_pid1": "ptrace",
    "personality": "personality",
    "clock_settime": "clock_settime",
    "kexec_load": "kexec_load",
    "init_module": "init_module",
    "userfaultfd": "userfaultfd",
    "open_by_handle_at": "open_by_handle_at",
    "int80_ptrace": "ptrace (i386 ABI)",
}

# Stopped a second time underneath seccomp: no capabilities (mount, chroot,
# pivot_root, setns, reboot, clock_settime), the UTS namespace and no
# CAP_SYS_ADMIN (sethostname), the uid (setuid 0), the PID namespace's init
# being root's and undumpable (ptrace of pid 1).
STOPPED_WITHOUT_SECCOMP = ["mount", "umount", "unshare_mount", "setns", "chroot", "pivot_root",
                           "setuid0", "sethostname", "reboot", "clock_settime", "ptrace_pid1"]


def assert_forbidden(run, syscall: str) -> None:
    assert run.returncode == 1, run
    assert run.verdict["status"] == "SG" and run.verdict["signal"] == 31, run
    assert run.verdict["message"] == f"forbidden system call: {syscall}", run


@pytest.mark.parametrize("attack", sorted(KILLED_BY_DEFAULT_POLICY))
def test_the_default_policy_kills_and_names_the_call(run_box, attack):
    run = run_box("./attack", attack)
    assert_forbidden(run, KILLED_BY_DEFAULT_POLICY[attack])


def test_setuid_0_fails_even_though_seccomp_allows_it(run_box):
    run = run_box("./attack", "setuid0")
    assert run.verdict["status"] == "OK", run
    assert "setuid(0): failed: Operation not permitted" in run.output


@pytest.mark.parametrize("attack", STOPPED_WITHOUT_SECCOMP)
def test_the_layers_below_seccomp_stop_it_too(run_box, attack):
    run = run_box("--seccomp", "off", "./attack", attack)
    assert run.verdict["status"] == "OK", run
    assert ": failed: " in run.output, run


@pytest.mark.parametrize("attack,syscall", [("ptrace_traceme", "ptrace"), ("keyctl", "keyctl"),
                                            ("int80_ptrace", "ptrace (i386 ABI)")])
def test_the_strict_policy_kills_them_too(run_box, attack, syscall):
    run = run_box("--seccomp", "strict", "./attack", attack)
    assert_forbidden(run, syscall)


def test_a_user_policy_file_is_used(run_box, tmp_path):
    policy = tmp_path / "no-getpid.json"
    policy.write_text('{"extends": "default", "rules": [{"action": "kill", "syscalls": ["getppid"]}]}')
    run = run_box("--seccomp", policy, "/usr/bin/python3", "-c", "import os; os.getppid()")
    assert_forbidden(run, "getppid")


def test_a_malformed_policy_file_is_a_usage_error(run_box, tmp_path):
    policy = tmp_path / "broken.json"
    policy.write_text('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["nope"]}]}')
    run = run_box("--seccomp", policy, "/bin/true")
    assert run.returncode == 2, run
    assert str(policy) in run.stderr and "unknown system call 'nope'" in run.stderr
    assert "Traceback" not in run.stderr


def _with_controlling_terminal():
    """preexec_fn: make stdin (a pty) rustbox's controlling terminal, as in a shell."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.parametrize("policy", ["default", "off"])
def test_terminal_input_injection_never_types_into_the_operators_terminal(run_box, policy):
    # rustbox run inherits its terminal as the program's stdin by default:
    # TIOCSTI would type commands into the shell that started it. The
    # filter kills it; without the filter the program, in its own session,
    # has no controlling terminal and the kernel refuses.
    master, slave = os.openpty()
    try:
        run = run_box("--seccomp", policy, "./attack", "tiocsti", stdin=slave,
                      start_new_session=True, preexec_fn=_with_controlling_terminal)
        if policy == "default":
            assert_forbidden(run, "ioctl")
        else:
            assert run.verdict["status"] == "OK", run
            assert "TIOCSTI): failed: Operation not permitted" in run.output
        readable, _, _ = select.select([slave], [], [], 0.1)
        injected = os.read(slave, 4096) if readable else b""
        assert b"PWNED" not in injected, injected
    finally:
        os.close(master)
        os.close(slave)

"""rustbox.seccomp: policies, filters and kill reports, on the real kernel.

Each filter test forks a child straight from the test process; the child
drops to an unprivileged uid, sets no_new_privs, installs a filter and makes
system calls through ctypes. The parent asserts how the child ended
(SIGSYS = 31 for a kill) and which call the kernel reported. Every case
fails if the rule it checks is taken out of the policy: the call then
returns (with an error, since the child has no privileges) and the child
exits 0 instead of dying.
"""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import prctl
import pytest

from rustbox import seccomp
from rustbox.errors import UsageError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setresuid, audit log)")

# uid of box 739, the last of the ids the security suite keeps for itself.
CHILD_UID = 61739
LANG_DIR = Path(__file__).parent / "security" / "programs" / "lang"

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

NR = {  # x86_64 numbers
    "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "unshare": 272, "setns": 308, "clone": 56, "clone3": 435, "bpf": 321,
    "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249,
    "io_uring_setup": 425, "userfaultfd": 323, "kexec_load": 246, "reboot": 169,
    "init_module": 175, "finit_module": 313, "delete_module": 176,
    "process_vm_readv": 310, "open_by_handle_at": 304, "swapon": 167, "acct": 163,
    "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "syslog": 103,
    "quotactl": 179, "personality": 135, "ioctl": 16, "socket": 41, "sync": 162,
    "getpid": 39, "symlink": 88, "sethostname": 170, "getppid": 110, "seccomp": 317,
    "prctl": 157,
}
CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17
ADDR_NO_RANDOMIZE, TIOCSTI, TCGETS = 0x0040000, 0x5412, 0x5401


def syscall(name: str, *args: int) -> int:
    return libc.syscall(ctypes.c_long(NR[name]), *(ctypes.c_ulong(a) for a in args))


def attempt(name: str, *args: int):
    """A child body that makes one call and exits 0 if the call returns at all."""
    return lambda: (syscall(name, *args), 0)[1]


def run_filtered(policy: str | seccomp.Policy | None, body, uid: int = CHILD_UID,
                 host_netns: int | None = None):
    """Fork, drop privileges, install `policy`, run body(); -> (wait status, reported name).

    body returns the child's exit code (or raises: exit 120).
    """
    if isinstance(policy, str) or policy is None:
        policy = seccomp.load_policy(policy or "off")
    compiled = seccomp.build_filter(policy)
    with seccomp.KillWatcher(uid, host_netns=host_netns) as watcher:
        pid = os.fork()
        if pid == 0:
            code = 121
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                prctl.set_no_new_privs(1)
                compiled.load()
                code = body()
            except BaseException:
                code = 120
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        name = None
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS:
            name = watcher.syscall_name(pid=pid)
    return status, name


def assert_killed(status: int, name: str | None, expected: str) -> None:
    assert os.WIFSIGNALED(status), f"not killed: exit status {os.waitstatus_to_exitcode(status)}"
    assert os.WTERMSIG(status) == signal.SIGSYS
    assert name == expected


def assert_exited(status: int, code: int = 0) -> None:
    assert os.WIFEXITED(status), f"killed by signal {os.WTERMSIG(status)}"
    assert os.WEXITSTATUS(status) == code


# --------------------------------------------------------------------------
# The default policy: each denied call dies of SIGSYS and is named.
# Arguments are chosen so that, were the rule missing, the call would fail
# harmlessly (bad pointers, bad fds, no privilege) rather than do anything.

DENIED = [
    ("ptrace", (0, 0, 0, 0)),                        # PTRACE_TRACEME
    ("mount", (0, 0, 0, 0, 0)),
    ("umount2", (0, 0)),
    ("pivot_root", (0, 0)),
    ("chroot", (0,)),
    ("unshare", (CLONE_NEWUSER,)),
    ("setns", (2**32 - 1, 0)),
    ("bpf", (5, 0, 0)),                              # BPF_PROG_LOAD, NULL attr
    ("perf_event_open", (0, 0, 2**32 - 1, 2**32 - 1, 0)),
    ("keyctl", (0, 0, 0, 0, 0)),
    ("add_key", (0, 0, 0, 0, 0)),
    ("request_key", (0, 0, 0, 0)),
    ("io_uring_setup", (1, 0)),
    ("userfaultfd", (0,)),
    ("kexec_load", (0, 0, 0, 0)),
    ("reboot", (0, 0, 0, 0)),                         # bad magic
    ("init_module", (0, 0, 0)),
    ("finit_module", (2**32 - 1, 0, 0)),
    ("delete_module", (0, 0)),
    ("process_vm_readv", (1, 0, 0, 0, 0, 0)),
    ("open_by_handle_at", (2**32 - 1, 0, 0)),
    ("swapon", (0, 0)),
    ("acct", (0,)),
    ("settimeofday", (0, 0)),
    ("clock_settime", (0, 0)),
    ("adjtimex", (0,)),
    ("syslog", (10, 0, 0)),                           # SYSLOG_ACTION_SIZE_BUFFER
    ("quotactl", (0, 0, 0, 0)),
    ("sethostname", (0, 0)),
]


@pytest.mark.parametrize("name,args", DENIED, ids=[d[0] for d in DENIED])
def test_default_kills_denied_call(name, args):
    status, reported = run_filtered("default", attempt(name, *args))
    assert_killed(status, reported, name)


def test_default_kills_clone_into_a_new_namespace():
    def body():
        child = syscall("clone", CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0)
        if child == 0:
            os._exit(0)
        return 0
    status, reported = run_filtered("default", body)
    assert_killed(status, reported, "clone")


def test_default_lets_clone3_fail_with_enosys_so_libc_falls_back():
    def body():
        rc = syscall("clone3", 0, 0)
        return 0 if rc == -1 and ctypes.get_errno() == errno.ENOSYS else 1
    status, _ = run_filtered("default", body)
    assert_exited(status, 0)


PR_SET_SECCOMP, PR_SET_NAME, PR_GET_DUMPABLE = 22, 15, 3


@pytest.mark.parametrize("policy", ["default", "strict"])
@pytest.mark.parametrize("call", [("seccomp", 1, 0, 0), ("prctl", PR_SET_SECCOMP, 2, 0),
                                  ("prctl", PR_SET_SECCOMP | 1 << 32, 2, 0)],
                         ids=["seccomp", "prctl", "prctl-with-high-bits"])
def test_installing_a_filter_of_its_own_fails_with_eperm(policy, call):
    # A program's RET_LOG filter would log every call to the host's audit log.
    def body():
        rc = syscall(*call)
        return 0 if rc == -1 and ctypes.get_errno() == errno.EPERM else 1
    status, _ = run_filtered(policy, body)
    assert_exited(status, 0)


def test_strict_allows_every_other_prctl_option():
    name = ctypes.create_string_buffer(b"renamed")
    for option, arg in ((PR_SET_NAME, ctypes.addressof(name)), (PR_GET_DUMPABLE, 0)):
        status, _ = run_filtered("strict", lambda: 0 if syscall("prctl", option, arg, 0) >= 0 else 1)
        assert_exited(status, 0)


@pytest.mark.parametrize("value, killed", [(5, False), (5 | 1 << 32, False), (4, True),
                                           (0, True), (0x80000005, True)])
def test_masked_ne_matches_when_the_masked_bits_differ(tmp_path, value, killed):
    spec = tmp_path / "ne.json"
    spec.write_text('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": '
                    '["getppid"], "args": [{"index": 0, "op": "masked_ne", "mask": "LOW32", '
                    '"value": 5}]}]}')
    status, reported = run_filtered(seccomp.load_policy(str(spec)), attempt("getppid", value))
    if killed:
        assert_killed(status, reported, "getppid")
    else:
        assert_exited(status, 0)


def test_default_kills_personality_without_aslr_but_not_plain_linux():
    status, reported = run_filtered("default", attempt("personality", ADDR_NO_RANDOMIZE))
    assert_killed(status, reported, "personality")
    status, _ = run_filtered("default", lambda: 0 if syscall("personality", 0) >= 0 else 1)
    assert_exited(status, 0)


@pytest.mark.parametrize("request_code", [TIOCSTI, TIOCSTI | 1 << 32],
                         ids=["TIOCSTI", "TIOCSTI-with-high-bits"])
def test_default_kills_terminal_input_injection(request_code):
    # The kernel reads the request as 32 bits: a rule comparing all 64 would
    # let 0x1_00005412 through as TIOCSTI.
    master, slave = os.openpty()
    char = ctypes.c_char(b"x")
    try:
        status, reported = run_filtered(
            "default", attempt("ioctl", slave, request_code, ctypes.addressof(char)))
    finally:
        os.close(master)
        os.close(slave)
    assert_killed(status, reported, "ioctl")


def test_default_kills_x32_system_calls():
    status, reported = run_filtered("default", lambda: (libc.syscall(ctypes.c_long(0x40000000 | NR["getpid"])), 0)[1])
    assert_killed(status, reported, "getpid (x32 ABI)")


@pytest.fixture(scope="module")
def public_dir():
    """A directory the child's unprivileged uid can read and execute from."""
    path = Path(tempfile.mkdtemp(prefix="rustbox-test-seccomp-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def int80_program(public_dir):
    """A binary that makes one 32-bit system call (int 0x80, getpid)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = public_dir
    src = out / "int80.c"
    src.write_text('int main(void){long r; __asm__ volatile("int $0x80":"=a"(r):"a"(20L):"memory");'
                   'return r > 0 ? 0 : 1;}\n')
    subprocess.run(["gcc", "-O2", "-o", str(out / "int80"), str(src)], check=True)
    return out / "int80"


def test_default_kills_the_i386_abi(int80_program):
    status, reported = run_filtered("default", lambda: os.execv(int80_program, [str(int80_program)]))
    assert_killed(status, reported, "getpid (i386 ABI)")


def test_default_allows_what_programs_and_the_last_setup_steps_need(tmp_path):
    # What the sandbox's child still does after install(): write b"0" to an
    # fd opened earlier (cgroup.procs), close it, execve the program.
    target = tmp_path / "procs"
    target.write_bytes(b"")
    fd = os.open(target, os.O_WRONLY)

    def body():
        os.write(fd, b"0")
        os.close(fd)
        os.execv("/bin/true", ["/bin/true"])
    try:
        status, _ = run_filtered("default", body)
    finally:
        os.close(fd)
    assert_exited(status, 0)
    assert target.read_bytes() == b"0"


def test_default_allows_threads_fork_pipes_and_files():
    def body():
        results = []
        worker = threading.Thread(target=lambda: results.append(os.getpid()))
        worker.start()
        worker.join()
        child = os.fork()
        if child == 0:
            os._exit(7)
        _, st = os.waitpid(child, 0)
        r, w = os.pipe()
        os.write(w, b"hi")
        ok = (results == [os.getpid()] and os.waitstatus_to_exitcode(st) == 7
              and os.read(r, 2) == b"hi" and Path("/etc/hostname").exists())
        return 0 if ok else 1
    status, _ = run_filtered("default", body)
    assert_exited(status, 0)


# --------------------------------------------------------------------------
# The strict allow-list.


@pytest.mark.parametrize("name,args", [
    ("sync", ()),
    ("socket", (2, 1, 0)),               # AF_INET
    ("ptrace", (0, 0, 0, 0)),
    ("symlink", (0, 0)),
    ("ioctl", (0, TIOCSTI, 0)),
    ("personality", (ADDR_NO_RANDOMIZE,)),
], ids=["sync", "socket-inet", "ptrace", "symlink", "ioctl-TIOCSTI", "personality"])
def test_strict_kills_what_it_does_not_list(name, args):
    status, reported = run_filtered("strict", attempt(name, *args))
    assert_killed(status, reported, name)


def test_strict_allows_unix_sockets_and_plain_ioctls():
    def body():
        a, b = (syscall("socket", 1, 1, 0), syscall("socket", 1, 1, 0))
        rc = syscall("ioctl", 0, TCGETS, ctypes.addressof(ctypes.create_string_buffer(64)))
        return 0 if a >= 0 and b >= 0 and (rc == 0 or ctypes.get_errno() == errno.ENOTTY) else 1
    status, _ = run_filtered("strict", body)
    assert_exited(status, 0)


def _build_language_programs(out: Path) -> dict[str, list[str]]:
    """Compile or locate the sum program of every installed language."""
    programs: dict[str, list[str]] = {}
    if shutil.which("gcc"):
        subprocess.run(["gcc", "-O2", "-pthread", "-o", str(out / "c_sum"), str(LANG_DIR / "sum.c")], check=True)
        programs["c"] = [str(out / "c_sum")]
    if shutil.which("g++"):
        subprocess.run(["g++", "-O2", "-pthread", "-o", str(out / "cpp_sum"), str(LANG_DIR / "sum.cpp")], check=True)
        programs["cpp"] = [str(out / "cpp_sum")]
    if shutil.which("rustc"):
        subprocess.run(["rustc", "-O", "-o", str(out / "rs_sum"), str(LANG_DIR / "sum.rs")], check=True)
        programs["rust"] = [str(out / "rs_sum")]
    if shutil.which("javac") and shutil.which("java"):
        subprocess.run(["javac", "-d", str(out), str(LANG_DIR / "Main.java")], check=True)
        programs["java"] = [os.path.realpath(shutil.which("java")), "-cp", str(out), "Main"]
    if os.path.exists("/usr/bin/python3"):
        programs["python3"] = ["/usr/bin/python3", str(LANG_DIR / "sum.py")]
    if shutil.which("node"):
        programs["node"] = [os.path.realpath(shutil.which("node")), str(LANG_DIR / "sum.js")]
    for path in out.iterdir():
        path.chmod(path.stat().st_mode | 0o755)
    return programs


@pytest.fixture(scope="module")
def language_programs(public_dir):
    out = public_dir / "lang"
    out.mkdir(mode=0o755)
    return _build_language_programs(out)


@pytest.mark.parametrize("policy", ["strict", "default"])
@pytest.mark.parametrize("language", ["c", "cpp", "rust", "java", "python3", "node"])
def test_accepted_solutions_run_without_a_false_kill(language, policy, language_programs, tmp_path):
    if language not in language_programs:
        pytest.skip(f"{language} is not installed on this machine")
    argv = language_programs[language]
    stdin = tmp_path / "in"
    stdin.write_text(" ".join(str(i) for i in range(1, 1001)) + "\n")
    stdout = tmp_path / "out"
    fd_in, fd_out = os.open(stdin, os.O_RDONLY), os.open(stdout, os.O_WRONLY | os.O_CREAT, 0o666)

    def body():
        os.dup2(fd_in, 0)
        os.dup2(fd_out, 1)
        os.chdir("/tmp")  # the JVM writes hsperfdata under /tmp
        os.execve(argv[0], argv, {"PATH": "/usr/bin:/bin"})
    try:
        status, reported = run_filtered(policy, body)
    finally:
        os.close(fd_in)
        os.close(fd_out)
    assert not os.WIFSIGNALED(status), f"killed by signal {os.WTERMSIG(status)} ({reported})"
    assert_exited(status, 0)
    assert stdout.read_text().strip() == "500500"


# --------------------------------------------------------------------------
# Reporting the forbidden call


def test_only_the_watched_uid_is_reported():
    with seccomp.KillWatcher(CHILD_UID - 1) as other:
        status, reported = run_filtered("default", attempt("ptrace", 0, 0, 0, 0))
        assert_killed(status, reported, "ptrace")
        assert other.syscall_name(timeout=0.05) is None


def test_a_program_raising_sigsys_itself_is_not_called_forbidden():
    def body():
        os.kill(os.getpid(), signal.SIGSYS)
        return 0
    status, reported = run_filtered("default", body)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    assert reported is None


def test_every_kill_of_a_burst_is_named():
    # printk lets 10 audit lines through per 5 s; the netlink log group must
    # carry all of them.
    names = []
    for _ in range(25):
        status, reported = run_filtered("default", attempt("bpf", 5, 0, 0))
        assert os.WIFSIGNALED(status)
        names.append(reported)
    assert names == ["bpf"] * 25


def test_a_supervisor_in_a_private_netns_hears_kills_through_host_netns():
    # The box helper lives in the box's network namespace; the kernel sends
    # audit records to the initial one only. 12 kills: more than the 10
    # that /dev/kmsg would let through, so the netlink socket must work.
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            host = os.open("/proc/self/ns/net", os.O_RDONLY)
            if libc.unshare(CLONE_NEWNET) != 0:
                os._exit(3)
            from rustbox import seccomp_kills
            seccomp_kills._audit_log = seccomp_kills._AuditLog()   # as in a freshly started helper
            names = [run_filtered("default", attempt("bpf", 5, 0, 0), host_netns=host)[1]
                     for _ in range(12)]
            code = 0 if names == ["bpf"] * 12 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert_exited(status, 0)


def test_kill_reporting_is_available_here():
    ok, text = seccomp.kill_reporting()
    assert ok, text


# --------------------------------------------------------------------------
# Policy documents


def test_builtin_names_and_off():
    assert seccomp.load_policy("off") is None
    assert seccomp.build_filter(None) is None
    for name in seccomp.BUILTIN_POLICIES:
        policy = seccomp.load_policy(name)
        assert policy.name == name
        compiled = seccomp.build_filter(policy)
        assert compiled.instructions > 10
        assert seccomp.build_filter(policy) is compiled  # built once


def test_a_user_file_extends_a_builtin(tmp_path):
    spec = tmp_path / "mine.json"
    spec.write_text('{"extends": "strict", "rules": [{"action": "allow", "syscalls": ["symlink", "sync"]}]}')
    policy = seccomp.load_policy(str(spec))
    assert policy.default_action == "kill"
    status, _ = run_filtered(policy, attempt("sync"))
    assert_exited(status, 0)
    status, reported = run_filtered(policy, attempt("ptrace", 0, 0, 0, 0))
    assert_killed(status, reported, "ptrace")


def test_a_user_file_can_use_errno_and_args(tmp_path):
    spec = tmp_path / "mine.json"
    spec.write_text('{"default_action": "allow", "rules": ['
                    '{"action": "errno:EPERM", "syscalls": ["socket"],'
                    ' "args": [{"index": 0, "op": "masked_eq", "mask": "LOW32", "value": "AF_INET"}]}]}')

    def body():
        inet = syscall("socket", 2, 1, 0)
        inet_errno = ctypes.get_errno()
        unix = syscall("socket", 1, 1, 0)
        return 0 if inet == -1 and inet_errno == errno.EPERM and unix >= 0 else 1
    status, _ = run_filtered(seccomp.load_policy(str(spec)), body)
    assert_exited(status, 0)


@pytest.mark.parametrize("text,problem", [
    ("{", "not valid JSON"),
    ("[]", "top level must be a JSON object"),
    ('{"rules": []}', "default_action is missing"),
    ('{"default_action": "allow", "rulez": []}', "unknown key 'rulez'"),
    ('{"default_action": "maybe"}', "unknown action 'maybe'"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["no_such_call"]}]}',
     "unknown system call 'no_such_call'"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["ptrace"]},'
     '{"action": "errno:EPERM", "syscalls": ["ptrace"]}]}', "'ptrace' has two actions"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["prctl"],'
     '"args": [{"index": 0, "op": "eq", "value": 1}]},'
     '{"action": "errno:EPERM", "syscalls": ["prctl"]}]}', "need an argument check in each"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["prctl"],'
     '"args": [{"index": 0, "op": "masked_ne", "value": 1}]}]}', "masked_ne needs a mask"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["clone"],'
     '"args": [{"index": 9, "op": "eq", "value": 1}]}]}', "index must be 0..5"),
    ('{"default_action": "allow", "rules": [{"action": "kill", "syscalls": ["clone"],'
     '"args": [{"index": 0, "op": "eq", "value": "CLONE_NOPE"}]}]}', "unknown constant 'CLONE_NOPE'"),
    ('{"extends": "lenient"}', "extends must be one of"),
])
def test_a_malformed_file_is_a_one_line_usage_error(tmp_path, text, problem):
    spec = tmp_path / "bad.json"
    spec.write_text(text)
    with pytest.raises(UsageError) as caught:
        seccomp.load_policy(str(spec))
    message = str(caught.value)
    assert str(spec) in message and problem in message and "\n" not in message


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read it"):
        seccomp.load_policy(str(tmp_path / "nope.json"))

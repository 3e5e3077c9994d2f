"""Real programs in a real box cgroup, for the adapter suite on a real kernel.

Both real harnesses (tests/integration/test_cgroups_v1.py on this host's v1
hierarchy, tests/v2/test_cgroups_v2_real.py on a cgroup v2 kernel) build on
`RealHarness`; each adds its version's limit syntax and file layout.

Programs run in the box the way rustbox/running/ runs them: a small launcher
(a subreaper, so double-forked daemons come back to it and are reaped)
forks the program, which writes b"0" to each join fd and then execs.
"""
from __future__ import annotations

import os
import subprocess

import prctl
import pytest

from tests.cgroup_suite import Outcome, alive

SOURCES = {
    # Prints the CPU time of its own loop (not of its start-up).
    "busy": r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
                          return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) { double start = now(), want = atof(argv[1]);
  volatile unsigned long n = 0; while (now() - start < want) n++;
  printf("%.6f\n", now() - start); return 0; }
""",
    "touch": r"""
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) { size_t size = (size_t)atoi(argv[1]) << 20;
  char *p = malloc(size); if (!p) return 2;
  for (size_t i = 0; i < size; i += 4096) p[i] = 1; return p[size / 2] == 1 ? 0 : 3; }
""",
    "fork": r"""
#include <sys/wait.h>
#include <unistd.h>
int main(void) { pid_t pid = fork(); if (pid < 0) return 1; if (pid == 0) _exit(0);
  waitpid(pid, 0, 0); return 0; }
""",
    # Forks, the child forks the daemon and exits; the daemon reports its pid
    # and then closes stdout so the reader sees EOF while it lives on.
    "daemon": r"""
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) { pid_t child = fork();
  if (child == 0) { setsid(); if (fork() == 0) { printf("%d\n", getpid()); fflush(stdout);
      int null = open("/dev/null", O_WRONLY); dup2(null, 1); for (;;) pause(); } _exit(0); }
  waitpid(child, 0, 0); return 0; }
""",
    "forkbomb": r"""
#include <unistd.h>
int main(void) { for (;;) fork(); }
""",
    # Connected loopback TCP pairs, written to until the kernel takes no
    # more, never read; prints the bytes written.
    "pin": r"""
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) { static char buf[1 << 16]; long want = atol(argv[1]) << 20, total = 0;
  int big = 1 << 30;
  while (total < want) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (void *)&a, len) || listen(l, 1) || getsockname(l, (void *)&a, &len)) break;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (c < 0 || connect(c, (void *)&a, len)) break;
    int s = accept(l, 0, 0); if (s < 0) break;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    fcntl(c, F_SETFL, O_NONBLOCK);
    long here = 0; ssize_t n;
    while (total + here < want && (n = write(c, buf, sizeof buf)) > 0) here += n;
    total += here;
    /* A pair holds ~8 MiB with this host's buffer sysctls but ~0.7 MiB with
       the kernel's defaults (net.core.wmem_max 208 KiB: the cgroup v2 VM). */
    if (here < (64 << 10)) break;   /* the kernel takes no more */
  }
  printf("%ld\n", total); return 0; }
""",
    "fill": r"""
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) { static char buf[1 << 20]; memset(buf, 'x', sizeof buf);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644); if (fd < 0) return 2;
  for (int i = 0; i < atoi(argv[2]); i++) if (write(fd, buf, sizeof buf) != sizeof buf) return 3;
  return close(fd) ? 4 : 0; }
""",
}


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cgroup-programs")
    for name, source in SOURCES.items():
        (out / f"{name}.c").write_text(source)
        subprocess.run(["gcc", "-O2", "-o", str(out / name), str(out / f"{name}.c")], check=True)
    return out


class Launch:
    """A program started in the box; `finish()` waits for it (and its orphans)."""

    def __init__(self, cg, argv: list[str]):
        out_r, out_w = os.pipe()
        self.launcher = os.fork()
        if self.launcher == 0:
            self._launcher(cg.join_fds(), argv, out_r, out_w)
        os.close(out_w)
        self.out_fd = out_r

    @staticmethod
    def _launcher(join_fds, argv, out_r, out_w):
        try:
            os.close(out_r)
            prctl.set_child_subreaper(True)
            child = os.fork()
            if child == 0:
                try:
                    os.dup2(out_w, 1)
                    for fd in join_fds:
                        os.write(fd, b"0")
                    os.execv(argv[0], argv)
                finally:
                    os._exit(127)
            os.close(out_w)
            status = 127 << 8
            while True:  # reap the program and every orphan handed to us
                try:
                    pid, st = os.wait()
                except ChildProcessError:
                    break
                if pid == child:
                    status = st
            code = (os.WEXITSTATUS(status) if os.WIFEXITED(status)
                    else 128 + os.WTERMSIG(status))
            os._exit(code)
        except BaseException:
            os._exit(126)

    def output(self) -> bytes:
        chunks = []
        while chunk := os.read(self.out_fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)

    def finish(self) -> Outcome:
        os.close(self.out_fd)
        _, status = os.waitpid(self.launcher, 0)
        code = os.WEXITSTATUS(status)
        assert code not in (126, 127), "the launcher failed to start the program"
        return Outcome(code, None) if code < 128 else Outcome(None, code - 128)


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of the test's own (files there stay charged to the box)."""
    point = tmp_path / "tmpfs"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "rustbox-test", str(point)],
                   check=True)
    yield point
    subprocess.run(["umount", str(point)], check=True)


class RealHarness:
    """The suite's harness (see cgroup_suite.py) minus what is version-specific:
    a subclass sets `cg` (created) and defines limit_files, read, removed.
    `tmpfs` is a tmpfs mount point for leave_files()."""

    cpu_slack = 0.01

    def __init__(self, bin_dir, cg, tmpfs=None):
        self.bin, self.cg, self.tmpfs = bin_dir, cg, tmpfs
        self.launches: list[Launch] = []

    def reset(self) -> None:
        self.cg.reset()

    def launch(self, name: str, *args) -> Launch:
        launch = Launch(self.cg, [str(self.bin / name), *map(str, args)])
        self.launches.append(launch)
        return launch

    def run(self, name: str, *args) -> tuple[Outcome, bytes]:
        launch = self.launch(name, *args)
        output = launch.output()
        outcome = launch.finish()
        self.launches.remove(launch)
        return outcome, output

    def busy(self, seconds: float) -> float:
        outcome, output = self.run("busy", seconds)
        assert outcome == Outcome(0, None)
        return float(output)

    def touch(self, mib: int) -> Outcome:
        return self.run("touch", mib)[0]

    def try_fork(self) -> bool:
        return self.run("fork")[0] == Outcome(0, None)

    def pin_sockets(self, mib: int) -> tuple[Outcome, int | None]:
        outcome, output = self.run("pin", mib)
        return outcome, int(output) if output.strip() else None

    def leave_files(self, mib: int) -> Outcome:
        return self.run("fill", self.tmpfs / "left", mib)[0]

    def daemon(self) -> int:
        launch = self.launch("daemon")
        return int(launch.output())

    def alive(self, pid: int) -> bool:
        return alive(pid)

    def close(self) -> None:
        self.cg.destroy()  # kills what is left, so every launcher can finish
        for launch in self.launches:
            launch.finish()

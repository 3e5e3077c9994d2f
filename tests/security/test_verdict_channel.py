"""The verdict cannot be lost or forged (issue 9, class 3).

`rustbox run` without --stdout lets the program write to rustbox's own
stdout, where the verdict goes. The program must never hold rustbox's own
open file description of it (nor of stderr, where error lines go, nor of
stdin when it is the same file): otherwise it sets O_NONBLOCK there and
fills it, the verdict write fails with EAGAIN, and a verdict-looking line
the program printed is the last one a consumer reads. Tried with stdout as
a pipe, a socket (inetd-style: stdin too), a regular file and a terminal.
"""
from __future__ import annotations

import fcntl
import os
import select
import socket
import subprocess
import time

import orjson
import pytest

from .conftest import BOX, RUSTBOX

FORGED_STATUS = "OK"     # what channel.c's forged line says; the real verdict is RE


class Channel:
    """rustbox's stdin/stdout/stderr of one kind, with copies the test keeps
    of the very open file descriptions rustbox gets (to see their flags)."""

    def __init__(self, kind: str, tmp_path):
        self.kind, self.out_reader = kind, None
        if kind == "pipe":
            self.out_reader, out = os.pipe()
            stdin, self._stdin_w = os.pipe()
        elif kind == "socket":
            ours, theirs = socket.socketpair()
            self.out_reader, out = os.dup(ours.fileno()), os.dup(theirs.fileno())
            ours.close()
            theirs.close()
            stdin = out                                     # inetd: one socket for both
        elif kind == "file":
            self.path = tmp_path / "rustbox.out"
            out = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            (tmp_path / "in.txt").write_text("input\n" * 100)
            stdin = os.open(tmp_path / "in.txt", os.O_RDONLY)
        elif kind == "tty":
            self.out_reader, out = os.openpty()
            stdin = out                                     # a terminal on 0-2
        self.err_reader, err = os.pipe()
        self.fds = (stdin, out, err)
        self.kept = tuple(os.dup(fd) for fd in self.fds)   # the same descriptions
        self.output = b""
        self.errors = b""

    def run(self, *args, timeout=60) -> int:
        proc = subprocess.Popen([*RUSTBOX, "run", "--box-id", str(BOX), *args],
                                stdin=self.fds[0], stdout=self.fds[1], stderr=self.fds[2],
                                cwd=self.cwd)
        for fd in set(self.fds):
            os.close(fd)
        readers = [fd for fd in (self.out_reader, self.err_reader) if fd is not None]
        chunks = {fd: [] for fd in readers}
        for fd in readers:
            os.set_blocking(fd, False)
        deadline = time.monotonic() + timeout
        while readers:
            # The test keeps copies of the write ends: read until rustbox is gone.
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"rustbox run {' '.join(args)} did not end in {timeout} s")
            ready, _, _ = select.select(readers, [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:     # EIO: the terminal's other side closed
                    data = b""
                if data:
                    chunks[fd].append(data)
                else:
                    readers.remove(fd)
            if not ready and proc.poll() is not None:
                break
        status = proc.wait(timeout=timeout)
        if self.out_reader is not None:
            self.output = b"".join(chunks[self.out_reader]).replace(b"\r\n", b"\n")
        else:
            self.output = self.path.read_bytes()
        self.errors = b"".join(chunks[self.err_reader])
        return status

    def last_line(self) -> dict:
        lines = [line for line in self.output.split(b"\n") if line.strip()]
        return orjson.loads(lines[-1])

    def nonblocking(self) -> list[str]:
        """Which of rustbox's own stdin/stdout/stderr descriptions ended up O_NONBLOCK."""
        return [name for name, fd in zip(("stdin", "stdout", "stderr"), self.kept)
                if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK]

    def close(self) -> None:
        for fd in {*self.kept, self.out_reader, self.err_reader} - {None}:
            os.close(fd)
        if self.kind == "pipe":
            os.close(self._stdin_w)


@pytest.fixture
def channel(build_dir, tmp_path):
    made = []

    def make(kind):
        made.append(Channel(kind, tmp_path))
        made[-1].cwd = build_dir
        return made[-1]
    yield make
    for chan in made:
        chan.close()
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BOX)], capture_output=True)


KINDS = ["pipe", "socket", "file", "tty"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_program_never_holds_rustboxs_own_stdio(channel, kind):
    chan = channel(kind)
    status = chan.run("./channel", "nonblock")
    assert chan.nonblocking() == [], "the program set O_NONBLOCK on rustbox's own description"
    verdict = chan.last_line()
    assert (verdict["status"], verdict["exit_code"], verdict["box_id"]) == ("RE", 3, BOX), \
        chan.output[-600:]
    assert status == 1, chan.errors


def test_an_output_file_rewound_by_the_program_still_ends_with_the_verdict(channel):
    chan = channel("file")
    assert chan.run("./channel", "rewind") == 1
    assert chan.last_line()["status"] == "RE", chan.output[-600:]
    assert chan.output.startswith(b"output\n" * 64)   # what the program wrote is kept


def test_a_terminal_stopped_by_the_program_still_gets_the_verdict(channel):
    # tcflow(TCOOFF) on the terminal would block rustbox's verdict write for ever.
    chan = channel("tty")
    assert chan.run("./channel", "stop_tty", timeout=30) == 1
    assert chan.last_line()["status"] == "RE", chan.output[-600:]


def test_a_socket_shut_down_by_the_program_still_gets_the_verdict(channel):
    chan = channel("socket")
    assert chan.run("./channel", "shutdown") == 1
    assert chan.last_line()["status"] == "RE", chan.output[-600:]


def test_the_relay_and_reopened_files_keep_the_programs_output_before_the_verdict(channel):
    for kind in KINDS:
        chan = channel(kind)
        assert chan.run("/usr/bin/seq", "20000") == 0, chan.errors
        lines = chan.output.split(b"\n")
        assert lines[:20000] == [b"%d" % i for i in range(1, 20001)], kind
        assert orjson.loads(lines[20000])["status"] == "OK", (kind, chan.output[-600:])


def test_in_a_file_the_verdict_has_a_line_of_its_own(channel):
    chan = channel("file")
    assert chan.run("/usr/bin/printf", "a\\nb") == 0, chan.errors
    lines = chan.output.split(b"\n")
    assert lines[:2] == [b"a", b"b"] and orjson.loads(lines[2])["status"] == "OK", chan.output


def test_a_verdict_that_cannot_be_written_is_exit_2_with_one_line(build_dir):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*RUSTBOX, "run", "--box-id", str(BOX), "--stdout", "out",
                               "/bin/true"], stdout=full, stderr=subprocess.PIPE, cwd=build_dir)
    read_end, write_end = os.pipe()
    os.close(read_end)                           # nobody will ever read the verdict
    gone = subprocess.run([*RUSTBOX, "run", "--box-id", str(BOX), "--stdout", "out",
                           "/bin/true"], stdout=write_end, stderr=subprocess.PIPE,
                          cwd=build_dir)
    os.close(write_end)
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BOX)], capture_output=True)
    for result, reason in ((proc, b"No space left on device"), (gone, b"Broken pipe")):
        assert result.returncode == 2, result
        assert result.stderr.count(b"\n") == 1, result.stderr
        assert b"verdict (OK) could not be written to stdout" in result.stderr, result.stderr
        assert reason in result.stderr


def test_batch_verdicts_that_cannot_be_written_stop_the_batch_with_exit_2(build_dir):
    spec = b'{"argv": ["/bin/true"]}\n' * 4
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", "716"], input=spec,
                              stdout=full, stderr=subprocess.PIPE, timeout=60)
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", "716"], capture_output=True)
    assert proc.returncode == 2, proc.stderr
    assert b"Traceback" not in proc.stderr and proc.stderr.count(b"\n") == 1, proc.stderr
    assert b"verdicts could not be written to stdout (No space left on device)" in proc.stderr

"""The box helper: a small, single-threaded, long-lived process per box.

The API and batch mode run programs through it instead of forking the
(big, threaded) calling process: the fork is cheap, its exec-time teardown
charges almost nothing to the program, the box's cgroup fds and seccomp
filters are made once and reused for every run, and each run's new
namespaces are made while the helper waits for it (Runner.prepare_next).

Protocol on its stdin/stdout, length-prefixed `marshal` frames (the peer is
our own parent on the same Python; marshal is built in, so the helper needs
no JSON library in memory):
    -> {"ready": True, "path": ..., "cgroup": "v1"}  or {"error": msg, "kind": name}
    <- a wire RunRequest (RunRequest.to_wire, read by RunRequest.from_options)
    -> a Verdict dict
A connected run (connected.py) announces its pipe ends in the request
(`passed_fds`: which of stdin, stdout, stderr come as descriptors); they
arrive first on the fd channel (a socket, the fourth argument) and the
answer says when the program ended as well:
    <- a wire RunRequest with "passed_fds": [bool, bool, bool]
    -> {"verdict": a Verdict dict, "ended": monotonic time the program ended, or None}
"""
from __future__ import annotations

import marshal
import os
import struct
import sys

# Started as `python -S -c BOOT <import path, one per line> <box id> <root> <cg>`:
# skipping site keeps the helper small; the caller hands over its import path.
BOOT = ("import sys; sys.path[:0] = sys.argv[1].split('\\n'); "
        "from rustbox.helper import main; main(sys.argv[2:])")
_HEADER = struct.Struct("<I")


def write_frame(stream, obj) -> None:
    data = marshal.dumps(obj)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream):
    """The next object, or None at end of stream."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    data = _read_exactly(stream, size)
    return None if data is None else marshal.loads(data)


def _read_exactly(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main(args: list[str]) -> None:
    from .errors import RustboxError
    from .request import RunRequest
    from .session import BoxSession, JoinWarmer
    from .verdict import sandbox_failure

    import select
    import signal

    import prctl
    prctl.set_pdeathsig(signal.SIGKILL)  # never outlive the process that owns us

    # Signals. The helper runs in a session of its own (Box starts it so), so
    # a terminal's Ctrl-C or a SIGTERM to its owner's process group never
    # reaches it; SIGINT is ignored besides. SIGTERM is how the owner says
    # "stop now" (Box.close(kill=True)): it only wakes the helper (a byte on
    # the wake-up pipe), which then ends the run in progress at a safe point
    # (Runner's stop_fd: kill, reap, RunStopped), answers and exits. Nothing
    # is ever unwound from inside a signal handler.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    box_id, root, cg = int(args[0]), args[1] or None, args[2]
    channel = int(args[3]) if len(args) > 3 else None
    if channel is not None:
        os.set_inheritable(channel, False)   # never into the namespace's init

    control_in = os.fdopen(0, "rb", buffering=0)
    out = sys.stdout.buffer

    def send(obj) -> None:
        write_frame(out, obj)

    try:
        session = BoxSession(box_id, cg, root, stop_fd=wake_r).open()
    except RustboxError as exc:
        send({"error": str(exc), "kind": type(exc).__name__})
        return
    send({"ready": True, "path": str(session.box.path), "cgroup": session.cgroup.version})
    session.runner.prepare_next()
    try:
        while not stopping:
            # The next request usually comes soon: keep the cgroup join warm.
            JoinWarmer.until_readable(session.cgroup, [control_in, wake_r], JoinWarmer.AFTER_RUN)
            if stopping or wake_r in select.select([control_in, wake_r], [], [])[0]:
                break
            passed = None
            connected = False
            try:
                wire = read_frame(control_in)
                if wire is None:
                    break
                connected = isinstance(wire, dict) and "passed_fds" in wire
                if connected:
                    passed = _receive_fds(channel, wire.pop("passed_fds"))
                request = RunRequest.from_options(wire, str(session.box.root))
            except (ValueError, TypeError, EOFError, OSError, RustboxError) as exc:
                failure = sandbox_failure(box_id, f"bad request: {exc}").to_dict()
                _close_all(passed)
                send({"verdict": failure, "ended": None} if connected else failure)
                continue
            try:
                if not connected:
                    send(session.run(request).to_dict())   # a failed run is its XX verdict
                else:
                    send(_run_connected(session, request, passed))
            except BrokenPipeError:
                break               # the owner is gone or stopped listening
            session.runner.prepare_next()
    finally:
        session.close()


def _receive_fds(channel: int | None, wanted) -> list:
    """The pipe ends of a connected run: [fd or None] for stdin, stdout, stderr."""
    import socket
    if (channel is None or not isinstance(wanted, (list, tuple)) or len(wanted) != 3):
        raise ValueError("a connected run needs the fd channel and three passed_fds flags")
    count = sum(bool(flag) for flag in wanted)
    fds: list = []
    if count:
        sock = socket.socket(fileno=os.dup(channel))
        try:
            _, fds, _, _ = socket.recv_fds(sock, 1, count)
        finally:
            sock.close()
        for fd in fds:
            os.set_inheritable(fd, False)
        if len(fds) != count:
            _close_all(fds)
            raise ValueError(f"expected {count} pipe ends, got {len(fds)}")
    ends = iter(fds)
    return [next(ends) if flag else None for flag in wanted]


def _close_all(fds) -> None:
    for fd in fds or ():
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _run_connected(session, request, passed: list) -> dict:
    """Run one program of a connected group on the ends passed to us. They
    are the program's alone once it is cloned (the runner closes ours then),
    so its peer sees end of file or EPIPE the moment it lets go of them."""
    request.stdio_fds = tuple(passed)
    request.stdio_handover = True
    try:
        verdict = session.run(request)
    finally:
        if request.stdio_fds is not None:   # never cloned: still ours
            _close_all(request.stdio_fds)
            request.stdio_fds = None
    return {"verdict": verdict.to_dict(), "ended": session.runner.last_end}

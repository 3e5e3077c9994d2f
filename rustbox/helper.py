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
            try:
                wire = read_frame(control_in)
                if wire is None:
                    break
                request = RunRequest.from_options(wire, str(session.box.root))
            except (ValueError, TypeError, EOFError, RustboxError) as exc:
                send(sandbox_failure(box_id, f"bad request: {exc}").to_dict())
                continue
            try:
                send(session.run(request).to_dict())   # a failed run is its XX verdict
            except BrokenPipeError:
                break               # the owner is gone or stopped listening
            session.runner.prepare_next()
    finally:
        session.close()

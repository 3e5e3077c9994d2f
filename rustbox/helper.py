"""The box helper: a small, single-threaded, long-lived process per box.

The API and batch mode run programs through it instead of forking the
(big, threaded) calling process: the fork is cheap, its exec-time teardown
charges almost nothing to the program, and the box's network namespace,
cgroup fds and seccomp filters are made once and reused for every run.

Protocol on its stdin/stdout, one orjson object per line:
    -> {"ready": true, "path": ..., "cgroup": "v1"}  or {"error": msg, "kind": name}
    <- a wire RunRequest (requests.request_to_wire)
    -> a Verdict dict
"""
from __future__ import annotations

import os
import sys

# Started as `python -S -c BOOT <sys.path json> <box id> <root> <cg>`: skipping
# site keeps the helper small; the caller hands over its import path instead.
BOOT = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
        "from rustbox.helper import main; main(sys.argv[2:])")


def main(args: list[str]) -> None:
    import orjson

    from .errors import RustboxError
    from .requests import request_from_wire
    from .session import BoxSession
    from .verdict import sandbox_failure

    import signal

    import prctl
    prctl.set_pdeathsig(signal.SIGKILL)  # never outlive the process that owns us

    def stop(signum, frame):
        # Unwinds the run in progress: its program is killed and reaped, then
        # the box's init, so nothing is left for anyone else to clean up.
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    box_id, root, cg = int(args[0]), args[1] or None, args[2]
    control_in = os.fdopen(0, "rb", buffering=0)
    out = sys.stdout.buffer

    def send(obj) -> None:
        out.write(orjson.dumps(obj) + b"\n")
        out.flush()

    try:
        session = BoxSession(box_id, cg, root, private_netns=True).open()
    except RustboxError as exc:
        send({"error": str(exc), "kind": type(exc).__name__})
        return
    send({"ready": True, "path": str(session.box.path), "cgroup": session.cgroup.version})
    try:
        for line in control_in:
            try:
                request = request_from_wire(orjson.loads(line))
            except (ValueError, TypeError) as exc:
                send(sandbox_failure(box_id, f"bad request: {exc}").to_dict())
                continue
            try:
                verdict = session.run(request)
            except RustboxError as exc:
                verdict = sandbox_failure(box_id, str(exc), session.cgroup.version,
                                          request.limits.summary(), request.id)
            send(verdict.to_dict())
    finally:
        session.close()

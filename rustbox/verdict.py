"""A run's outcome: status codes, the Verdict record, JSON and isolate meta.

Runner statuses live here and only here; the judge maps them to its own
verdicts (AC/WA/TLE/...) in judge/verdicts.py.
"""
from __future__ import annotations

import os
import signal

OK, RE, SG, TO, ML, OL, XX = "OK", "RE", "SG", "TO", "ML", "OL", "XX"
STATUSES = (OK, RE, SG, TO, ML, OL, XX)

# Exit status of `rustbox run` for a verdict (the contract's 0/1/2).
EXIT_STATUS = {OK: 0, RE: 1, SG: 1, TO: 1, ML: 1, OL: 1, XX: 2}


class Verdict:
    """One run's outcome (a plain class: the box helper stays small)."""

    FIELDS = ("box_id", "status", "exit_code", "signal", "cpu_time", "wall_time",
              "memory_peak", "oom", "tle", "output_limit", "message", "cgroup", "limits", "id")
    __slots__ = FIELDS

    def __init__(self, box_id: int, status: str, exit_code: int | None = None,
                 signal: int | None = None, cpu_time: float = 0.0, wall_time: float = 0.0,
                 memory_peak: int = 0, oom: bool = False, tle: bool = False,
                 output_limit: bool = False, message: str = "", cgroup: str | None = None,
                 limits: dict | None = None, id: str | None = None):
        self.box_id, self.status, self.exit_code, self.signal = box_id, status, exit_code, signal
        self.cpu_time, self.wall_time, self.memory_peak = cpu_time, wall_time, memory_peak
        self.oom, self.tle, self.output_limit = oom, tle, output_limit
        self.message, self.cgroup = message, cgroup
        self.limits = {} if limits is None else limits
        self.id = id    # batch spec id, omitted from the JSON when None

    def __eq__(self, other) -> bool:
        return isinstance(other, Verdict) and all(
            getattr(self, f) == getattr(other, f) for f in self.FIELDS)

    def __repr__(self) -> str:
        return "Verdict(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]

    def to_dict(self) -> dict:
        out = {f: getattr(self, f) for f in self.FIELDS}
        out["limits"] = dict(self.limits)
        if out["id"] is None:
            del out["id"]
        else:  # batch lines lead with their id
            out = {"id": out.pop("id"), **out}
        return out

    def to_json(self) -> bytes:
        import orjson  # not needed by the box helper, which never prints JSON
        return orjson.dumps(self.to_dict())

    def to_json_oneshot(self) -> bytes:
        """The same bytes as to_json(), from the standard library's json.

        For `rustbox run`, which prints one verdict and exits: importing
        orjson costs ~15 ms here (it loads dataclasses, uuid, json, ...),
        a sixth of the whole command.
        """
        import json
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, data: dict) -> "Verdict":
        return cls(**data)

    def to_meta(self, cgroup_keys: bool = True) -> str:
        """isolate's key:value meta file (isolate_meta)."""
        return isolate_meta(self, cgroup_keys)


# Exec failures that isolate 2.x reports as the program's own exit 127 (its
# child prints `execve("PROGRAM"): REASON` and exits), not as XX.
EXEC_FAILED = "exec failed: "


def isolate_meta(verdict: Verdict, cgroup_keys: bool = True) -> str:
    """The verdict as isolate's meta file: its keys and its four statuses.

    isolate knows RE, SG, TO and XX only, so ML and OL become what isolate
    itself reports for them: an OOM kill is `status:SG`, `exitsig:9` and
    `cg-oom-killed:1`; a run rustbox found over --mem that ended another
    way keeps its own exit (RE or SG) with `cg-oom-killed:1`; an output
    limit is `SG` with `exitsig:25` (SIGXFSZ). `cg-mem` and `cg-oom-killed`
    are isolate's --cg keys (`cgroup_keys`). Unlike isolate 1.10, both are
    this run's alone: counters are reset before each run.
    """
    if verdict.status == XX and not verdict.message.startswith(EXEC_FAILED):
        return f"status:XX\nmessage:{_one_line(verdict.message)}\n"
    peak = verdict.memory_peak // 1024
    lines = [f"time:{_seconds(verdict.cpu_time)}", f"time-wall:{_seconds(verdict.wall_time)}",
             f"max-rss:{peak}"]
    if cgroup_keys:
        lines.append(f"cg-mem:{peak}")
        if verdict.status == ML:
            lines.append("cg-oom-killed:1")
    status, message = isolate_status(verdict)
    if verdict.status == XX:                         # the exec failed: isolate's exit 127
        lines.append("exitcode:127")
    elif status == "TO":
        if verdict.exit_code is None:                # killed by the sandbox
            lines.append("killed:1")
    elif verdict.signal is not None:
        lines.append(f"exitsig:{verdict.signal}")
    elif verdict.exit_code is not None:
        lines.append(f"exitcode:{verdict.exit_code}")
    if status is not None:
        lines += [f"status:{status}", f"message:{message}"]
    return "\n".join(lines) + "\n"


def isolate_status(verdict: Verdict) -> tuple[str | None, str]:
    """(isolate's status or None for OK, isolate's message) of a verdict."""
    status = verdict.status
    if status == XX:
        if verdict.message.startswith(EXEC_FAILED):
            return "RE", "Exited with error status 127"
        return "XX", _one_line(verdict.message)
    if status == TO:
        wall = "wall" in verdict.message
        return "TO", "Time limit exceeded (wall clock)" if wall else "Time limit exceeded"
    if verdict.signal is not None:
        detail = f" ({verdict.message})" if verdict.signal == SIGSYS else ""
        return "SG", f"Caught fatal signal {verdict.signal}{detail}"
    if verdict.exit_code:
        return "RE", f"Exited with error status {verdict.exit_code}"
    if status == ML:   # over --mem yet exited 0 (socket buffers): still not a pass
        return "SG", "Memory limit exceeded"
    return None, f"OK ({_seconds(verdict.cpu_time)} sec real, {_seconds(verdict.wall_time)} sec wall)"


SIGSYS = 31


def _seconds(value: float) -> str:
    """isolate's %d.%03d of whole milliseconds (truncated, as isolate's are)."""
    ms = int(round(value * 1000, 6))
    return f"{ms // 1000}.{ms % 1000:03d}"


def _one_line(text: str) -> str:
    return text.replace("\n", " ")


def sandbox_failure(box_id: int, message: str, cgroup: str | None = None,
                    limits: dict | None = None, id: str | None = None) -> Verdict:
    """The XX verdict: the sandbox, not the program, failed."""
    return Verdict(box_id=box_id, status=XX, message=message, cgroup=cgroup,
                   limits=limits or {}, id=id)


def classify(box_id, limits,  status, cpu_time, wall_time, memory_peak, oom_kills,
             killed_for_time, cgroup_version) -> Verdict:
    """Turn what was measured (a wait status, or None when killed for time;
    the cgroup's figures) into the contract's status and message, for
    `limits` (a limits.Limits). Pure: tested by tables in tests/test_verdict.py."""
    exit_code = signum = None
    if status is not None:
        if os.WIFEXITED(status):
            exit_code = os.WEXITSTATUS(status)
        elif os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
    elif killed_for_time:
        signum = signal.SIGKILL.value
    over_cpu = limits.time is not None and cpu_time > limits.time
    over_wall = limits.wall_time is not None and wall_time > limits.wall_time
    oom = oom_kills > 0 or (limits.mem is not None and status is not None
                            and (signum is not None or exit_code)
                            and memory_peak >= limits.mem - (1 << 20)
                            and limits.swap == 0)
    # Socket buffers have a limit of their own on cgroup v1 (as large as
    # --mem): together with the rest they may pass --mem, which is then ML.
    oom = oom or (limits.mem is not None and memory_peak > limits.mem + limits.swap)
    verdict = Verdict(box_id=box_id, status=OK, exit_code=exit_code, signal=signum,
                      cpu_time=round(cpu_time, 4), wall_time=round(wall_time, 4),
                      memory_peak=memory_peak, cgroup=cgroup_version, limits=limits.summary())
    if killed_for_time or over_cpu or over_wall:
        verdict.status, verdict.tle = TO, True
        verdict.message = ("time limit exceeded" if (over_cpu or not over_wall)
                           else "wall time limit exceeded")
    elif oom:
        verdict.status, verdict.oom = ML, True
        verdict.message = "memory limit exceeded"
    elif signum == signal.SIGXFSZ:
        verdict.status, verdict.output_limit = OL, True
        verdict.message = "output limit exceeded"
    elif signum is not None:
        verdict.status = SG
        verdict.message = f"caught fatal signal {signum} ({_signal_name(signum)})"
    elif exit_code:
        verdict.status = RE
        verdict.message = f"exited with code {exit_code}"
    else:
        verdict.message = "exited normally"
    return verdict


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"

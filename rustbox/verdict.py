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

    def to_meta(self) -> str:
        """isolate's key:value meta file."""
        lines = [f"time:{self.cpu_time:.3f}", f"time-wall:{self.wall_time:.3f}",
                 f"cg-mem:{self.memory_peak // 1024}", f"max-rss:{self.memory_peak // 1024}"]
        if self.oom:
            lines.append("cg-oom-killed:1")
        if self.exit_code is not None:
            lines.append(f"exitcode:{self.exit_code}")
        if self.signal is not None:
            lines.append(f"exitsig:{self.signal}")
        if self.status != OK:
            lines.append(f"status:{self.status}")
        if self.tle:
            lines.append("killed:1")
        if self.message:
            lines.append("message:" + self.message.replace("\n", " "))
        return "\n".join(lines) + "\n"


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

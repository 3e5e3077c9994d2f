"""Judge verdicts and the one mapping from rustbox run statuses to them.

Runner statuses (OK RE SG TO ML OL XX, rustbox/verdict.py) say how a process
ended; judge verdicts say what the contestant gets. The validator decides
between AC and WA for runs that ended OK; every other status maps here.
"""
from __future__ import annotations

from rustbox.verdict import ML, OL, RE, SG, TO, XX

AC, WA, TLE, MLE, OLE, RTE, CE, JE = "AC", "WA", "TLE", "MLE", "OLE", "RTE", "CE", "JE"
VERDICTS = (AC, WA, TLE, MLE, OLE, RTE, CE, JE)

NAMES = {
    AC: "accepted", WA: "wrong answer", TLE: "time limit exceeded",
    MLE: "memory limit exceeded", OLE: "output limit exceeded",
    RTE: "run-time error", CE: "compile error", JE: "judge error",
}

# A run that did not end OK: what the contestant is told. XX is the
# sandbox's own failure, so it is a judge error and never blamed on them.
STATUS_TO_VERDICT = {RE: RTE, SG: RTE, TO: TLE, ML: MLE, OL: OLE, XX: JE}

# The default grader's "worst_error" order (legacy spec): first one present wins.
WORST_FIRST = (JE, RTE, MLE, TLE, OLE, WA)


def from_status(status: str) -> str:
    """The verdict of a run that did not end OK (OK itself goes to the validator)."""
    if status == "OK":
        raise ValueError("a run that ended OK is judged by the validator")
    return STATUS_TO_VERDICT.get(status, JE)


def worst(verdicts) -> str:
    """The worst_error aggregate of some verdicts (AC when all are AC)."""
    present = set(verdicts)
    for verdict in WORST_FIRST:
        if verdict in present:
            return verdict
    return AC


__all__ = ["AC", "WA", "TLE", "MLE", "OLE", "RTE", "CE", "JE", "VERDICTS", "NAMES",
           "STATUS_TO_VERDICT", "from_status", "worst"]

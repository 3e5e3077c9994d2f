"""`judge verify`: grade every submissions/<expected>/ entry and compare.

Also derives the time limit the way the package format defines it when
neither the command line nor problem.yaml gives one: the slowest test run
of the accepted submissions times the multiplier (legacy `time_multiplier`,
2023-07-draft `ac_to_time_limit`), rounded up to a multiple of the time
resolution (1 s in legacy packages).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .grader import grade_submission, resolve_time_limit
from .problem import Problem
from .verdicts import AC, EXPECTED_BY_DIRECTORY

PROBE_TIME_LIMIT = 10.0      # seconds the accepted submissions get while we measure them


@dataclass
class Check:
    submission: Path
    directory: str
    expected: str
    result: dict

    @property
    def got(self) -> str:
        return self.result["verdict"]

    @property
    def slowest(self) -> float:
        return max((t["cpu_time"] for t in self.result["tests"]), default=0.0)

    @property
    def ok(self) -> bool:
        if self.got != self.expected:
            return False
        score, best = self.result.get("score"), self.result.get("max_score")
        if self.directory == "accepted" and score is not None and best is not None:
            return score >= best - 1e-9
        if self.directory == "partially_accepted":
            return score is not None and best is not None and 0 < score < best - 1e-9
        return True


def derive_time_limit(problem: Problem, slowest_accepted: float) -> tuple[float, str]:
    if problem.draft:
        multiplier, name = problem.limits.ac_to_time_limit, "ac_to_time_limit"
        resolution = problem.limits.time_resolution
    else:
        multiplier, name, resolution = problem.limits.time_multiplier, "time_multiplier", 1.0
    steps = max(1, math.ceil(round(slowest_accepted * multiplier / resolution, 9)))
    limit = round(steps * resolution, 6)
    how = (f"derived: slowest accepted test run {slowest_accepted:.3f} s x {multiplier:g} ({name}), "
           f"rounded up to a multiple of {resolution:g} s")
    return limit, how


def submissions_to_check(problem: Problem) -> list[tuple[str, Path]]:
    out = []
    for directory, entries in problem.submissions().items():
        if directory in EXPECTED_BY_DIRECTORY:
            out.extend((directory, entry) for entry in entries)
    return out


def verify(problem: Problem, pool, time_limit: float | None = None, languages=None,
           on_result=None, on_time_limit=None) -> list[Check]:
    """Grade every example submission; on_result(check) after each one,
    on_time_limit(seconds, how) once the limit is known."""
    todo = submissions_to_check(problem)
    checks: list[Check] = []
    limit, source = resolve_time_limit(problem, time_limit)

    def grade(directory: str, entry: Path, seconds: float) -> Check:
        result = grade_submission(problem, entry, time_limit=seconds, pool=pool, languages=languages,
                                  submission_id=f"{directory}/{entry.name}")
        check = Check(entry, directory, EXPECTED_BY_DIRECTORY[directory], result)
        checks.append(check)
        if on_result:
            on_result(check)
        return check

    if source == "default":
        accepted = [(d, e) for d, e in todo if d == "accepted"]
        measured = [grade(d, e, PROBE_TIME_LIMIT) for d, e in accepted]
        slowest = max((c.slowest for c in measured if c.got == AC), default=0.0)
        limit, how = derive_time_limit(problem, slowest)
        for check in measured:
            check.result["time_limit"] = limit
        todo = [(d, e) for d, e in todo if d != "accepted"]
    else:
        how = f"from the {source}"
    if on_time_limit:
        on_time_limit(limit, how)
    for directory, entry in todo:
        grade(directory, entry, limit)
    return checks


__all__ = ["verify", "derive_time_limit", "Check", "submissions_to_check", "PROBE_TIME_LIMIT"]

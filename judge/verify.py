"""`judge verify`: grade every submissions/<expected>/ entry and compare.

Also derives the time limit the way the package format defines it when
neither the command line nor problem.yaml gives one: the slowest test run
of the fully accepted submissions times the multiplier (legacy
`time_multiplier`, 2023-07-draft `ac_to_time_limit`), rounded up to a
multiple of the time resolution (1 s in legacy packages). Only a run that
passed every test (with full score on scoring problems) says how fast a
correct solution is: a failed run's tests may have been cut at the probe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import LanguageError, SubmissionError
from .grader import DEFAULT_TIME_LIMIT, grade_submission, resolve_time_limit
from .problem import Problem
from .verdicts import ALSO_ACCEPTED_IN_DIRECTORY, EXPECTED_BY_DIRECTORY, TLE

PROBE_TIME_LIMIT = 10.0      # seconds the accepted submissions get while we measure them


@dataclass
class Check:
    submission: Path
    directory: str
    expected: str
    result: dict
    skipped: str = ""                # why it was not graded (an unknown language, ...)

    @property
    def got(self) -> str:
        return self.result["verdict"]

    @property
    def slowest(self) -> float:
        return max((t["cpu_time"] for t in self.result["tests"]), default=0.0)

    @property
    def note(self) -> str:
        """Why a verdict other than the directory's own is still right."""
        if self.got == self.expected:
            return ""
        return ALSO_ACCEPTED_IN_DIRECTORY.get(self.directory, {}).get(self.got, "")

    @property
    def ok(self) -> bool:
        if self.skipped:
            return False
        if self.got != self.expected and not self.note:
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


def _skipped_result(problem: Problem, seconds: float) -> dict:
    return {"submission": None, "problem": problem.short_name, "language": None, "verdict": None,
            "score": None, "max_score": None, "time_limit": seconds,
            "compile": {"status": None, "message": ""}, "tests": []}


def _reason(exc: Exception, entry: Path) -> str:
    text = str(exc)
    for prefix in (f"{entry}: ", f"{entry.resolve()}: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.replace("; use --lang", "")
    if text == "cannot tell the language from the file ending":
        files = [p.name for p in entry.iterdir() if p.is_file()] if entry.is_dir() else [entry.name]
        endings = sorted({"".join(Path(f).suffixes) or f for f in files})
        text = f"no language of this judge for {', '.join(endings) or 'an empty directory'}"
    return text


def submissions_to_check(problem: Problem) -> list[tuple[str, Path]]:
    out = []
    for directory, entries in problem.submissions().items():
        if directory in EXPECTED_BY_DIRECTORY:
            out.extend((directory, entry) for entry in entries)
    return out


def _over(check: Check, limit: float) -> bool:
    """Whether any test of a probe run went past `limit`: its verdict under
    the real limit could differ, so it is graded again."""
    return any(t["verdict"] == TLE or t["cpu_time"] > limit for t in check.result["tests"])


def verify(problem: Problem, pool, time_limit: float | None = None, languages=None,
           on_result=None, on_time_limit=None, on_start=None, progress=None) -> list[Check]:
    """Grade every example submission. Callbacks: on_start(directory, entry,
    seconds) before each grading (also the probe runs that measure the
    accepted submissions), on_time_limit(seconds, how) once the limit is
    known, on_result(check) for each submission's final check; progress is
    grade_submission's per-test callback."""
    todo = submissions_to_check(problem)
    checks: list[Check] = []
    limit, source = resolve_time_limit(problem, time_limit)

    def grade(directory: str, entry: Path, seconds: float) -> Check:
        if on_start:
            on_start(directory, entry, seconds)
        expected = EXPECTED_BY_DIRECTORY[directory]
        try:
            result = grade_submission(problem, entry, time_limit=seconds, pool=pool, languages=languages,
                                      submission_id=f"{directory}/{entry.name}", progress=progress)
        except (LanguageError, SubmissionError) as exc:
            # One file the judge cannot run (an unknown ending, a missing
            # compiler) is that submission's problem, not the package's.
            return Check(entry, directory, expected, _skipped_result(problem, seconds),
                         skipped=_reason(exc, entry))
        return Check(entry, directory, expected, result)

    def report(check: Check) -> None:
        checks.append(check)
        if on_result:
            on_result(check)

    if source == "default":
        accepted = [(d, e) for d, e in todo if d == "accepted"]
        todo = [(d, e) for d, e in todo if d != "accepted"]
        measured = [grade(d, e, PROBE_TIME_LIMIT) for d, e in accepted]
        passed = [c for c in measured if c.ok]
        if passed:
            limit, how = derive_time_limit(problem, max(c.slowest for c in passed))
        else:
            limit = DEFAULT_TIME_LIMIT
            how = (f"default: no accepted submission passed every test within the {PROBE_TIME_LIMIT:g} s "
                   "probe, so there is nothing to derive the time limit from")
        if on_time_limit:
            on_time_limit(limit, how)
        for check in measured:
            if check.skipped or check.ok or not _over(check, limit):
                check.result["time_limit"] = limit      # the same outcome under the real limit
                report(check)
            else:
                report(grade(check.directory, check.submission, limit))
    elif on_time_limit:
        on_time_limit(limit, f"from the {source}")
    for directory, entry in todo:
        report(grade(directory, entry, limit))
    return checks


__all__ = ["verify", "derive_time_limit", "Check", "submissions_to_check", "PROBE_TIME_LIMIT"]

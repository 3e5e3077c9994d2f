"""Test-group results: the default grader of the package format.

A group's result aggregates its sub-results (test cases and subgroups, in
judging order) per its testdata.yaml: on_reject (break stops at the first
rejected sub-result), grader_flags (verdict mode worst_error | first_error |
always_accept, score mode sum | avg | min | max, ignore_sample,
accept_if_any_accepted), accept_score / reject_score and range.

A group's score is the aggregate of its sub-results' scores whatever its
verdict, so a "sum" group keeps partial credit past a wrong answer and a
"min" group scores zero when any test fails.
"""
from __future__ import annotations

from dataclasses import dataclass

from .problem import GRADER_FLAGS, TestCase, TestGroup
from .verdicts import AC, WA, worst

VERDICT_MODES = ("worst_error", "first_error", "always_accept")
SCORE_MODES = ("sum", "avg", "min", "max")
FLAGS = GRADER_FLAGS


@dataclass
class Result:
    verdict: str
    score: float
    first_rejection: str | None = None       # verdict of the first rejected test, in order


@dataclass(frozen=True)
class GraderMode:
    verdict: str = "worst_error"
    score: str = "sum"
    ignore_sample: bool = False
    accept_if_any_accepted: bool = False

    @classmethod
    def from_flags(cls, flags) -> "GraderMode":
        verdict, score, ignore, any_ok = "worst_error", "sum", False, False
        for flag in flags:             # the last of conflicting modes wins
            if flag in VERDICT_MODES:
                verdict = flag
            elif flag in SCORE_MODES:
                score = flag
            elif flag == "ignore_sample":
                ignore = True
            elif flag == "accept_if_any_accepted":
                any_ok = True
            else:
                raise ValueError(f"unknown grader flag {flag!r}")
        return cls(verdict, score, ignore, any_ok)

    @property
    def rejects_on_any(self) -> bool:
        """One rejected sub-result surely rejects the group."""
        return self.verdict != "always_accept" and not self.accept_if_any_accepted


def is_sample_group(node) -> bool:
    """data/sample itself: what ignore_sample ignores, by name and never by
    position (a package without samples has data/secret first)."""
    return isinstance(node, TestGroup) and node.parent is not None and node.parent.parent is None \
        and node.name == "sample"


def test_score(test: TestCase, verdict: str, validator_score: float | None) -> float:
    if verdict == AC:
        return validator_score if validator_score is not None else test.group.settings.accept_score
    return test.group.settings.reject_score


def aggregate(group: TestGroup, results: dict[str, Result], skip_sample_score: bool = False) -> tuple[Result, list[str]]:
    """The group's Result from the test results by name, and the names of the
    tests that count (a break stops the group at its first rejection)."""
    mode = GraderMode.from_flags(group.settings.grader_flags)
    subs: list[Result] = []
    counted: list[str] = []
    for child in group.children:
        if isinstance(child, TestCase):
            if child.name not in results:
                break                   # never run: an earlier break cut it
            sub = results[child.name]
            names = [child.name]
        else:
            sub, names = aggregate(child, results)
            if not names:
                continue                # an empty group has no say
        counted.extend(names)
        ignored = mode.ignore_sample and is_sample_group(child)
        scored_out = skip_sample_score and group.parent is None and child.name == "sample"
        if not ignored:
            subs.append(Result(sub.verdict, 0.0 if scored_out else sub.score, sub.first_rejection))
        if sub.verdict != AC and group.settings.on_reject == "break" and not ignored:
            break
    first = next((s.first_rejection for s in subs if s.first_rejection), None)
    verdicts = [s.verdict for s in subs]
    if not subs:
        verdict = AC
    elif mode.accept_if_any_accepted and AC in verdicts:
        verdict = AC
    elif mode.verdict == "always_accept":
        verdict = AC
    elif mode.verdict == "first_error":
        verdict = next((v for v in verdicts if v != AC), AC)
    else:
        verdict = worst(verdicts)
    scores = [s.score for s in subs]
    if not scores:
        score = 0.0
    elif mode.score == "sum":
        score = sum(scores)
    elif mode.score == "avg":
        score = sum(scores) / len(scores)
    elif mode.score == "min":
        score = min(scores)
    else:
        score = max(scores)
    low, high = group.settings.range
    score = min(max(score, low), high)
    failed = _required_group_failed(group, results)
    if failed:
        # 2025-09 require_pass: not scored, and its tests count as not accepted
        verdict = verdict if verdict != AC else failed
        score, first = 0.0, first or failed
    return Result(verdict, score, first), counted


def _required_group_failed(group: TestGroup, results: dict) -> str | None:
    """The first rejection of a group `group` requires to pass, if any."""
    if not group.settings.require_pass:
        return None
    root = group
    while root.parent is not None:
        root = root.parent
    by_name = {g.name: g for g in root.groups()}
    for name in group.settings.require_pass:
        for test in by_name[name].tests():
            result = results.get(test.name)
            if result is None or result.verdict != AC:
                return result.verdict if result is not None else WA
    return None


def cut_by_rejection(test: TestCase) -> list[TestCase]:
    """The tests that on_reject: break will never judge once `test` is rejected.

    Walks up the groups: a breaking group drops its later children; the walk
    goes on only while the group is surely rejected by one rejected child.
    """
    cut: list[TestCase] = []
    node, group = test, test.group
    while group is not None:
        mode = GraderMode.from_flags(group.settings.grader_flags)
        index = group.children.index(node)
        if mode.ignore_sample and is_sample_group(node):
            break
        if group.settings.on_reject == "break":
            for later in group.children[index + 1:]:
                cut.extend([later] if isinstance(later, TestCase) else later.tests())
        if not mode.rejects_on_any:
            break
        node, group = group, group.parent
    return cut


__all__ = ["Result", "GraderMode", "aggregate", "test_score", "cut_by_rejection", "is_sample_group"]

"""The default grader's aggregation, without running anything."""
import pytest

from judge.problem import load_problem
from judge.scoring import GraderMode, Result, aggregate, cut_by_rejection

from judge_helpers import make_package


def problem_with(tmp_path, files):
    base = {"problem.yaml": "type: scoring\n"}
    for group in ("a", "b"):
        for i in (1, 2, 3):
            base[f"data/secret/{group}/{i}.in"] = ""
            base[f"data/secret/{group}/{i}.ans"] = ""
    base.update(files)
    return load_problem(make_package(tmp_path / "p", base))


def results(problem, wrong=(), verdict="WA"):
    return {t.name: Result(verdict if t.name in wrong else "AC",
                           t.group.settings.reject_score if t.name in wrong else t.group.settings.accept_score,
                           verdict if t.name in wrong else None)
            for t in problem.tests()}


def test_defaults_break_at_the_first_rejection(tmp_path):
    problem = problem_with(tmp_path, {})
    root, counted = aggregate(problem.root, results(problem, {"secret/a/2"}))
    assert counted == ["secret/a/1", "secret/a/2"] and root.verdict == "WA" and root.score == 1
    cut = [t.name for t in cut_by_rejection(problem.tests()[1])]
    assert cut == ["secret/a/3", "secret/b/1", "secret/b/2", "secret/b/3"]


def test_min_groups_and_sum_root(tmp_path):
    problem = problem_with(tmp_path, {
        "data/secret/testdata.yaml": "on_reject: continue\ngrader_flags: sum\n",
        "data/secret/a/testdata.yaml": "on_reject: continue\ngrader_flags: min\naccept_score: 25\n",
        "data/secret/b/testdata.yaml": "on_reject: continue\ngrader_flags: min\naccept_score: 75\n"})
    root, counted = aggregate(problem.root, results(problem, {"secret/a/3"}))
    assert root.score == 75 and root.verdict == "WA" and len(counted) == 6 and root.first_rejection == "WA"
    # continue everywhere: a rejection cuts nothing
    assert cut_by_rejection(problem.tests()[0]) == []


@pytest.mark.parametrize("flags, verdict, score", [
    # groups a (WA on a/1) and b (TLE on b/3) inherit the root's flags (legacy):
    # each scores 2 of 3 under sum, and secret aggregates the two groups.
    ("", "TLE", 4), ("first_error", "WA", 4), ("worst_error", "TLE", 4), ("always_accept", "AC", 4),
    ("avg", "TLE", 2 / 3), ("max", "TLE", 1), ("min", "TLE", 0), ("accept_if_any_accepted", "AC", 4),
])
def test_grader_flags(tmp_path, flags, verdict, score):
    problem = problem_with(tmp_path, {"data/testdata.yaml": f"on_reject: continue\ngrader_flags: {flags}\n"
                                      if flags else "on_reject: continue\n"})
    scores = results(problem, {"secret/a/1"})
    scores["secret/b/3"] = Result("TLE", 0.0, "TLE")
    secret = next(g for g in problem.root.groups() if g.name == "secret")
    result, _ = aggregate(secret, scores)
    assert result.verdict == verdict and result.score == pytest.approx(score)


def test_range_clamps_the_group_score(tmp_path):
    problem = problem_with(tmp_path, {"data/testdata.yaml": "on_reject: continue\naccept_score: 10\nrange: 0 15\n"})
    assert aggregate(problem.root, results(problem))[0].score == 15


def test_ignore_sample(tmp_path):
    problem = problem_with(tmp_path, {"data/sample/1.in": "", "data/sample/1.ans": "",
                                      "data/testdata.yaml": "grader_flags: ignore_sample sum\n"})
    root, counted = aggregate(problem.root, results(problem, {"sample/1"}))
    assert root.verdict == "AC" and "secret/b/3" in counted
    assert cut_by_rejection(problem.tests()[0]) == []


def test_unknown_grader_flag():
    with pytest.raises(ValueError):
        GraderMode.from_flags(["median"])

"""The package loader: formats, groups, settings and broken packages."""
import math
import os
from dataclasses import replace

import pytest

from judge.errors import ProblemError
from judge.problem import load_problem


def write(root, files: dict):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def package(tmp_path, extra=None, yaml="name: T\n"):
    files = {"problem.yaml": yaml, "data/sample/1.in": "1\n", "data/sample/1.ans": "1\n",
             "data/secret/a.in": "2\n", "data/secret/a.ans": "2\n"}
    files.update(extra or {})
    return write(tmp_path / "pkg", files)


def test_legacy_minimal(tmp_path):
    problem = load_problem(package(tmp_path))
    assert problem.format_version == "legacy" and problem.type == "pass-fail"
    assert [t.name for t in problem.tests()] == ["sample/1", "secret/a"]
    assert problem.limits.time_limit is None and problem.limits.memory == 2048
    assert problem.custom_validators == []


def test_nested_groups_in_lexicographic_order(tmp_path):
    path = package(tmp_path, {
        "data/secret/b/2.in": "", "data/secret/b/2.ans": "",
        "data/secret/b/10.in": "", "data/secret/b/10.ans": "",
        "data/secret/0first/x.in": "", "data/secret/0first/x.ans": "",
        "data/invalid_input/bad.in": "",
    })
    names = [t.name for t in load_problem(path).tests()]
    assert names == ["sample/1", "secret/0first/x", "secret/a", "secret/b/10", "secret/b/2"]


def test_symlinked_test_files(tmp_path):
    path = package(tmp_path)
    os.symlink("a.in", path / "data/secret/b.in")
    os.symlink("../secret/a.ans", path / "data/secret/b.ans")
    tests = load_problem(path).tests()
    assert tests[-1].name == "secret/b" and tests[-1].answer.read_text() == "2\n"


def test_dangling_symlink_is_named(tmp_path):
    path = package(tmp_path)
    os.symlink("nowhere.in", path / "data/secret/c.in")
    with pytest.raises(ProblemError, match="c.in: dangling symlink"):
        load_problem(path)


def test_missing_answer_is_named(tmp_path):
    path = package(tmp_path, {"data/secret/b.in": "3\n"})
    with pytest.raises(ProblemError) as info:
        load_problem(path)
    assert str(info.value).endswith("secret/b.ans: missing answer file for b.in")
    assert "\n" not in str(info.value)


def test_unreadable_yaml_is_named(tmp_path):
    path = package(tmp_path, yaml="name: [unclosed\n")
    with pytest.raises(ProblemError, match=r"problem.yaml: unreadable YAML at line \d+"):
        load_problem(path)


def test_bad_testdata_yaml_is_named(tmp_path):
    path = package(tmp_path, {"data/secret/testdata.yaml": "on_reject: sometimes\n"})
    with pytest.raises(ProblemError, match="secret/testdata.yaml: on_reject"):
        load_problem(path)


def test_missing_problem_yaml_and_secret(tmp_path):
    with pytest.raises(ProblemError, match="problem.yaml: missing"):
        load_problem(write(tmp_path / "p", {"data/secret/a.in": ""}))
    with pytest.raises(ProblemError, match="data: missing"):
        load_problem(write(tmp_path / "q", {"problem.yaml": "name: x\n"}))
    with pytest.raises(ProblemError, match="secret: missing"):
        load_problem(write(tmp_path / "r", {"problem.yaml": "name: x\n", "data/sample/1.in": "",
                                            "data/sample/1.ans": ""}))
    with pytest.raises(ProblemError, match="not a problem package"):
        load_problem(tmp_path / "nothing")


def test_limits_and_flags(tmp_path):
    yaml = ("limits:\n  time_limit: 2.5\n  memory: 128\n  output: 4\n  compilation_time: 30\n"
            "validator_flags: float_tolerance 1e-4 case_sensitive\n")
    problem = load_problem(package(tmp_path, yaml=yaml))
    assert problem.limits.time_limit == 2.5 and problem.limits.memory == 128
    assert problem.limits.output == 4 and problem.limits.compilation_time == 30
    flags = problem.default_flags(problem.tests()[0])
    assert flags.case_sensitive and flags.float_absolute_tolerance == 1e-4


def test_bad_validator_flags_are_caught_at_load(tmp_path):
    with pytest.raises(ProblemError, match="float_tolerance"):
        load_problem(package(tmp_path, yaml="validator_flags: float_tolerance\n"))


def test_bad_limit(tmp_path):
    with pytest.raises(ProblemError, match="limits.memory"):
        load_problem(package(tmp_path, yaml="limits:\n  memory: lots\n"))


def test_legacy_testdata_yaml_inherits_whole_file(tmp_path):
    path = package(tmp_path, {
        "problem.yaml": "type: scoring\n",
        "data/testdata.yaml": "on_reject: continue\ngrader_flags: sum\n",
        "data/secret/testdata.yaml": "accept_score: 5\nrange: 0 50\ngrader_flags: min\n",
        "data/secret/g/x.in": "", "data/secret/g/x.ans": "",
    })
    problem = load_problem(path)
    secret = next(g for g in problem.root.groups() if g.name == "secret")
    sub = next(g for g in problem.root.groups() if g.name == "secret/g")
    assert problem.root.settings.on_reject == "continue"
    # secret has its own file: defaults where it is silent (on_reject: break)
    assert secret.settings.on_reject == "break" and secret.settings.accept_score == 5
    assert secret.settings.range == (0, 50) and secret.settings.grader_flags == ("min",)
    # no file: the closest ancestor's settings (but not its own-file markers)
    assert replace(sub.settings, configured=True) == secret.settings
    sample = next(g for g in problem.root.groups() if g.name == "sample")
    assert sample.settings.on_reject == "continue"


def test_scores_only_for_scoring_problems(tmp_path):
    with pytest.raises(ProblemError, match="only for scoring"):
        load_problem(package(tmp_path, {"data/secret/testdata.yaml": "accept_score: 3\n"}))


def test_draft_format(tmp_path):
    path = package(tmp_path, yaml=(
        "problem_format_version: 2023-07-draft\nname: {en: Draft}\ntype: [scoring]\n"
        "limits:\n  time_multipliers: {ac_to_time_limit: 3}\n  time_resolution: 0.5\n"), extra={
        "data/secret/testdata.yaml": "output_validator_args: [case_sensitive]\n",
        "data/secret/g/test_group.yaml": "scoring: {score: 40, aggregation: min}\n",
        "data/secret/g/x.in": "", "data/secret/g/x.ans": "",
    })
    problem = load_problem(path)
    assert problem.draft and problem.scoring and problem.name == "Draft"
    assert problem.limits.ac_to_time_limit == 3 and problem.limits.time_resolution == 0.5
    test = problem.tests()[-1]
    assert test.name == "secret/g/x"
    assert test.group.settings.accept_score == 40 and test.group.settings.grader_flags == ("min",)
    assert test.validator_args == ("case_sensitive",)   # inherited key by key in the draft


def test_interactive_and_multi_pass_in_every_spelling(tmp_path):
    validator = {"output_validators/v/v.py": ""}
    cases = [("validation: custom interactive\n", {"interactive"}),
             ("validation: custom multi-pass\nlimits:\n  validation_passes: 26\n", {"multi-pass"}),
             ("validation: custom interactive multi-pass\n", {"interactive", "multi-pass"}),
             ("validation: custom score multi-pass\n", {"multi-pass"}),
             ("problem_format_version: 2023-07-draft\ntype: interactive\n", {"interactive"}),
             ("problem_format_version: 2023-07-draft\ntype: [scoring, multi-pass]\n", {"multi-pass"}),
             ("problem_format_version: 2025-09\ntype:\n  - interactive\n  - multi-pass\n",
              {"interactive", "multi-pass"}),
             ("validation: custom\n", set())]
    for number, (yaml, modes) in enumerate(cases):
        problem = load_problem(package(tmp_path / str(number), validator, yaml=yaml))
        assert problem.modes == modes, yaml
    assert load_problem(package(tmp_path / "p", validator, yaml=cases[1][0])).limits.validation_passes == 26
    assert load_problem(package(tmp_path / "q", validator, yaml=cases[0][0])).limits.validation_passes == 2
    with pytest.raises(ProblemError, match="needs a custom output validator"):
        load_problem(package(tmp_path / "d", yaml="validation: default interactive\n"))
    with pytest.raises(ProblemError, match="exactly one output validator, found 0"):
        load_problem(package(tmp_path / "n", yaml="problem_format_version: 2023-07-draft\ntype: interactive\n"))
    with pytest.raises(ProblemError, match="validation_passes: expected a whole number"):
        load_problem(package(tmp_path / "m", validator, yaml="validation: custom multi-pass\n"
                                                              "limits:\n  validation_passes: 1\n"))


def test_output_validators(tmp_path):
    legacy = load_problem(package(tmp_path / "l", {"output_validators/check/check.cpp": "",
                                                   "problem.yaml": "validation: custom\n"}))
    assert [p.name for p in legacy.custom_validators] == ["check"]
    single = load_problem(package(tmp_path / "s", {"output_validators/v.py": ""}))
    assert [p.name for p in single.custom_validators] == ["v.py"]
    draft = load_problem(package(tmp_path / "d", {"output_validator/validator.cpp": ""},
                                 yaml="problem_format_version: 2023-07-draft\n"))
    assert [p.name for p in draft.custom_validators] == ["output_validator"]
    with pytest.raises(ProblemError, match="no output validator"):
        load_problem(package(tmp_path / "x", yaml="validation: custom\n"))


def test_submissions_listing(tmp_path):
    path = package(tmp_path, {"submissions/accepted/a.py": "", "submissions/wrong_answer/w.c": ""})
    assert {k: [p.name for p in v] for k, v in load_problem(path).submissions().items()} == {
        "accepted": ["a.py"], "wrong_answer": ["w.c"]}


def test_our_packages_load():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "problems")
    for name in sorted(os.listdir(root)):
        problem = load_problem(os.path.join(root, name))
        assert problem.tests(), name
    aplusb = load_problem(os.path.join(root, "aplusb"))
    assert len(aplusb.tests()) >= 100 and not math.isnan(aplusb.limits.time_limit)


def test_unknown_grader_flag_is_named(tmp_path):
    with pytest.raises(ProblemError, match="secret/testdata.yaml: grader_flags: unknown flag 'median'"):
        load_problem(package(tmp_path, {"data/secret/testdata.yaml": "grader_flags: median\n"}))

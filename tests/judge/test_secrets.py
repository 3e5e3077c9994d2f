"""A submission cannot read the answer files or the validator from its box.

The submission below is the attack: it knows the host paths of the package
(they are baked into its source), tries them directly, lists what the box
shows, and searches every non-system file it can see for the secret that
only the .ans file (and the validator) contain. Reading it would get AC;
not finding it prints "no leak" and gets WA with our validator's message.
"""
from __future__ import annotations

import uuid

import pytest

from judge import grade_submission

from judge_helpers import make_package

ATTACK = r'''
import os, sys
PATHS = {paths!r}
MARK = {mark!r}[::-1].encode()   # reversed: this source must not contain it
found = []
for path in PATHS:
    try:
        with open(path, "rb") as fh:
            found.append("read " + path)
    except OSError:
        pass
for top in ("/", "/box", "/prog", "/tmp"):
    try:
        os.listdir(top)
    except OSError:
        pass
SYSTEM = ("/usr", "/etc", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/proc", "/dev")
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in SYSTEM]
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as fh:
                if MARK in fh.read(1 << 20):
                    found.append("secret in " + os.path.join(root, name))
        except OSError:
            pass
print(" ".join(found) if found else "no leak")
'''

VALIDATOR = r'''
import sys
MARK = {mark!r}
team = sys.stdin.read()
answer = open(sys.argv[2]).read()
with open(sys.argv[3] + "judgemessage.txt", "w") as fh:
    fh.write("team said: " + team.strip())
sys.exit(42 if MARK in answer and MARK in team else 43)
'''


@pytest.mark.parametrize("custom_validator", [False, True])
def test_answers_and_validator_are_invisible_from_the_box(pool, cache_dir, tmp_path, custom_validator):
    mark = "secret-" + uuid.uuid4().hex
    files = {"data/secret/01.in": "1\n", "data/secret/01.ans": mark + "\n",
             "data/sample/01.in": "0\n", "data/sample/01.ans": mark + "\n"}
    if custom_validator:
        files["output_validators/check.py"] = VALIDATOR.format(mark=mark)
    problem = make_package(tmp_path / "pkg", files)
    targets = [str(problem / "data/secret/01.ans"), str(problem / "data/sample/01.ans"),
               str(problem / "output_validators/check.py"), str(problem / "problem.yaml"),
               str(cache_dir)]
    source = tmp_path / "attack.py"
    source.write_text(ATTACK.format(paths=targets, mark=mark[::-1]))
    result = grade_submission(problem, source, pool=pool, cache_dir=cache_dir, time_limit=10)
    assert result["verdict"] == "WA", result["tests"]
    message = result["tests"][0]["message"]
    assert "team said: no leak" in message or "got 'no'" in message, message


def test_a_package_under_a_box_visible_directory_is_refused(pool, cache_dir, tmp_path):
    from judge.errors import ProblemError
    from judge.grader import _check_not_visible
    from judge.problem import load_problem
    problem = load_problem(make_package(tmp_path / "pkg", {"data/secret/1.in": "", "data/secret/1.ans": ""}))
    problem.path = type(problem.path)("/usr/share/some-package")
    with pytest.raises(ProblemError, match="every box can read"):
        _check_not_visible(problem)


def test_the_attack_finds_the_secret_when_it_is_mounted(pool, cache_dir, tmp_path):
    """Control: the same attack, in a language that (wrongly) mounts the
    package into the box, finds the answer, so the test above means something."""
    from judge.languages import load_languages
    mark = "secret-" + uuid.uuid4().hex
    problem = make_package(tmp_path / "pkg", {"data/secret/01.in": "1\n", "data/secret/01.ans": mark + "\n"})
    leaky = tmp_path / "leaky.toml"
    leaky.write_text(f'[language.python3]\nrun_dirs = ["{problem}/data:/leak:ro"]\n')
    source = tmp_path / "attack.py"
    source.write_text(ATTACK.format(paths=[], mark=mark[::-1]))
    result = grade_submission(problem, source, pool=pool, cache_dir=cache_dir, time_limit=10,
                              languages=load_languages(leaky))
    assert "got 'secret'" in result["tests"][0]["message"]      # it printed "secret in /leak/..."

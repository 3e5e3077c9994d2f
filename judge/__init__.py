"""rustbox's judge: grade submissions against Kattis / ICPC problem packages.

    from judge import grade_submission
    result = grade_submission("testdata/problems/aplusb", "sum.cpp")

The public surface is re-exported here; the modules behind it are private.
Exports load on first use, so `judge submit` (and `import judge.queue`)
does not load the grader and the sandbox.

Log records go to the "judge" loggers; like any library, nothing is shown
unless the application configures logging (`judge worker` does).
"""
import logging
from importlib import import_module

logging.getLogger(__name__).addHandler(logging.NullHandler())

_EXPORTS = {
    "grade_submission": "grader", "resolve_time_limit": "grader",
    "load_problem": "problem", "load_languages": "languages",
    "JudgeError": "errors", "ProblemError": "errors", "LanguageError": "errors",
    "SubmissionError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'judge' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value

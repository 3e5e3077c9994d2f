"""rustbox's judge: grade submissions against Kattis / ICPC problem packages.

    from judge import grade_submission
    result = grade_submission("testdata/problems/aplusb", "sum.cpp")

The public surface is re-exported here; the modules behind it are private.
"""
from .errors import JudgeError, LanguageError, ProblemError, SubmissionError
from .grader import grade_submission, resolve_time_limit
from .languages import load_languages
from .problem import load_problem

__all__ = ["grade_submission", "resolve_time_limit", "load_problem", "load_languages",
           "JudgeError", "ProblemError", "LanguageError", "SubmissionError"]

"""The judge's own failures (a contestant's failure is a verdict, never one of these).

    JudgeError               the judge could not do its job -> one line on stderr, exit 2
     +-- ProblemError        the problem package is broken (names the file)
     +-- LanguageError       unknown language, bad languages TOML, missing compiler
     +-- SubmissionError     the submission file is missing or unreadable
     +-- SandboxFailure      the sandbox failed under a grading (a run came back XX,
                             a box helper died): says nothing about the submission;
                             a queue worker grades it again instead of storing JE
"""
from __future__ import annotations


class JudgeError(Exception):
    """Base of every error the judge raises about itself or its input."""

    exit_code = 2


class ProblemError(JudgeError):
    """A problem package that cannot be judged; the message names the file."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


class LanguageError(JudgeError):
    """A language that cannot be used (unknown, badly described, not installed)."""


class SubmissionError(JudgeError):
    """A submission that cannot even be read."""


class SandboxFailure(JudgeError):
    """A box run of the grading ended XX: the grading is void, not a verdict."""


__all__ = ["JudgeError", "ProblemError", "LanguageError", "SubmissionError", "SandboxFailure"]

"""Output validation: the default validator and the custom validator protocol.

The default validator follows the problem package format: both files are
split into tokens on runs of the six whitespace bytes; tokens are compared
as strings (ASCII case folded unless `case_sensitive`), and, only when a
float tolerance is set, answer tokens that are floating-point numbers are
compared as numbers (accepted within either tolerance). With
`space_change_sensitive` every whitespace run, leading and trailing
included, must match the answer's byte for byte.

Two choices the specification leaves open, made here: a value equal to the
answer is always within tolerance (so `inf` matches `inf`, whose difference
is not a number), and `nan` matches `nan` (an answer of nan would otherwise
reject every output).

A custom validator is a built program (build.py) run in a box as
`validator input answer feedback_dir/ [args] < team_output`; exit 42 is
accepted, 43 wrong answer, anything else a judge error. `judgemessage.txt`
and `score.txt` are read back from the feedback directory.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from rustbox.verdict import OK, RE

WHITESPACE = b" \t\n\v\f\r"
_TOKEN = re.compile(rb"[^ \t\n\v\f\r]+")
_SPLIT = re.compile(rb"([^ \t\n\v\f\r]+)")
_DECIMAL = re.compile(rb"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)[pP][+-]?\d+")
_SPECIAL = re.compile(rb"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)

ACCEPTED_EXIT, WRONG_ANSWER_EXIT = 42, 43


class FlagError(ValueError):
    """Validator flags that do not make sense (the caller names the file)."""


@dataclass(frozen=True)
class DefaultValidatorFlags:
    case_sensitive: bool = False
    space_change_sensitive: bool = False
    float_absolute_tolerance: float | None = None
    float_relative_tolerance: float | None = None

    @property
    def floats(self) -> bool:
        return self.float_absolute_tolerance is not None or self.float_relative_tolerance is not None


@dataclass
class Judgement:
    """What a validator said about one output."""

    accepted: bool
    message: str = ""
    score: float | None = None
    error: str | None = None        # set when the validator itself failed (-> JE)


def parse_flags(args) -> DefaultValidatorFlags:
    """The default validator's flags from its argument list."""
    args = list(args)
    values: dict = {}
    seen_tolerances: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("case_sensitive", "space_change_sensitive"):
            values[arg] = True
            i += 1
        elif arg in ("float_tolerance", "float_absolute_tolerance", "float_relative_tolerance"):
            if i + 1 >= len(args):
                raise FlagError(f"{arg} needs a value")
            try:
                eps = float(args[i + 1])
            except ValueError:
                raise FlagError(f"{arg}: {args[i + 1]!r} is not a number") from None
            if not math.isfinite(eps) or eps < 0:
                raise FlagError(f"{arg}: {args[i + 1]!r} must be a finite number >= 0")
            if arg in seen_tolerances:
                raise FlagError(f"{arg} given twice")
            seen_tolerances.add(arg)
            if arg == "float_tolerance":
                values["float_absolute_tolerance"] = values["float_relative_tolerance"] = eps
            else:
                values[arg] = eps
            i += 2
        else:
            raise FlagError(f"unknown default validator flag {arg!r}")
    if "float_tolerance" in seen_tolerances and len(seen_tolerances) > 1:
        raise FlagError("float_tolerance cannot be combined with float_absolute/relative_tolerance")
    return DefaultValidatorFlags(**values)


def parse_float(token: bytes) -> float | None:
    """A token as an IEEE 754 number (decimal, hexadecimal, inf, nan), else None."""
    if _DECIMAL.fullmatch(token) or _SPECIAL.fullmatch(token):
        return float(token)
    if _HEX.fullmatch(token):
        return float.fromhex(token.decode("ascii"))
    return None


def floats_close(output: float, answer: float, flags: DefaultValidatorFlags) -> bool:
    if output == answer or (math.isnan(output) and math.isnan(answer)):
        return True
    if not (math.isfinite(output) and math.isfinite(answer)):
        return False            # an infinity is only close to itself
    diff = abs(output - answer)
    if flags.float_absolute_tolerance is not None and diff <= flags.float_absolute_tolerance:
        return True
    if flags.float_relative_tolerance is not None and diff <= flags.float_relative_tolerance * abs(answer):
        return True
    return False


def _show(token: bytes, limit: int = 40) -> str:
    text = token.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _tokens_differ(out: bytes, ans: bytes, flags: DefaultValidatorFlags) -> str | None:
    """Why one output token does not match its answer token, or None."""
    if flags.floats:
        expected = parse_float(ans)
        if expected is not None:
            got = parse_float(out)
            if got is None:
                return f"expected a number close to {_show(ans)}, got {_show(out)}"
            if floats_close(got, expected, flags):
                return None
            diff = abs(got - expected)
            rel = diff / abs(expected) if expected not in (0.0,) and math.isfinite(expected) else math.inf
            return (f"expected {_show(ans)}, got {_show(out)} "
                    f"(absolute error {diff:.3e}, relative error {rel:.3e})")
    if out == ans or (not flags.case_sensitive and out.lower() == ans.lower()):
        return None
    return f"expected {_show(ans)}, got {_show(out)}"


def _line(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def compare(output: bytes, answer: bytes, flags: DefaultValidatorFlags = DefaultValidatorFlags()) -> Judgement:
    """The default validator on a team output and an answer file (both bytes)."""
    if output == answer:
        return Judgement(True)
    if not flags.floats and not flags.space_change_sensitive:
        a, b = (output, answer) if flags.case_sensitive else (output.lower(), answer.lower())
        if a.split() == b.split():          # bytes.split() splits on exactly the six
            return Judgement(True)          # whitespace bytes of the specification
    if flags.space_change_sensitive:
        return _compare_spaced(output, answer, flags)
    out_tokens = list(_TOKEN.finditer(output))
    ans_tokens = list(_TOKEN.finditer(answer))
    for out_m, ans_m in zip(out_tokens, ans_tokens):
        why = _tokens_differ(out_m.group(), ans_m.group(), flags)
        if why:
            return Judgement(False, f"line {_line(output, out_m.start())} of the output "
                                    f"(line {_line(answer, ans_m.start())} of the answer): {why}")
    if len(out_tokens) > len(ans_tokens):
        extra = out_tokens[len(ans_tokens)]
        return Judgement(False, f"line {_line(output, extra.start())} of the output: "
                                f"more output than the answer, starting with {_show(extra.group())}")
    if len(out_tokens) < len(ans_tokens):
        missing = ans_tokens[len(out_tokens)]
        if not out_tokens:
            return Judgement(False, f"empty output; the answer starts with {_show(missing.group())}")
        return Judgement(False, f"output ends early: expected {_show(missing.group())} "
                                f"(line {_line(answer, missing.start())} of the answer)")
    return Judgement(True)


def _compare_spaced(output: bytes, answer: bytes, flags: DefaultValidatorFlags) -> Judgement:
    # re.split with a capturing group alternates: space, token, space, ..., space.
    out_parts = _SPLIT.split(output)
    ans_parts = _SPLIT.split(answer)
    offset = 0
    for index, (out_p, ans_p) in enumerate(zip(out_parts, ans_parts)):
        if index % 2 == 0:
            if out_p != ans_p:
                return Judgement(False, f"line {_line(output, offset)} of the output: whitespace "
                                        f"differs from the answer ({_show(out_p)} instead of {_show(ans_p)})")
        else:
            why = _tokens_differ(out_p, ans_p, flags)
            if why:
                return Judgement(False, f"line {_line(output, offset)} of the output: {why}")
        offset += len(out_p)
    if len(out_parts) > len(ans_parts):
        return Judgement(False, f"line {_line(output, offset)} of the output: more output than the answer, "
                                f"starting with {_show(out_parts[len(ans_parts)])}")
    if len(out_parts) < len(ans_parts):
        if not output:
            return Judgement(False, "empty output")
        return Judgement(False, f"output ends early: expected {_show(ans_parts[len(out_parts)])}")
    return Judgement(True)


# ---- the custom validator protocol -------------------------------------

FEEDBACK_DIR = "feedback"
MESSAGE_LIMIT = 2000


def read_feedback(box_dir, name: str, limit: int = MESSAGE_LIMIT) -> str | None:
    """A feedback file written by a validator in its box, never following a link."""
    path = os.path.join(box_dir, FEEDBACK_DIR, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not os.path.stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    text = data.decode("utf-8", "replace")
    if len(data) > limit:
        text = text[:limit] + " [...]"
    return text.strip()


def interpret(exit_code: int | None, status: str, box_dir, stderr_tail: str = "",
              run_message: str = "") -> Judgement:
    """A custom validator run's outcome as a Judgement.

    `status` is the rustbox status of the validator's own run; anything but
    OK with exit 42 or 43 is the validator failing, which is a judge error.
    """
    message = read_feedback(box_dir, "judgemessage.txt") or ""
    if status in (OK, RE) and exit_code in (ACCEPTED_EXIT, WRONG_ANSWER_EXIT):
        score = None
        score_text = read_feedback(box_dir, "score.txt", 100)
        if score_text:
            try:
                score = float(score_text.split()[0])
            except ValueError:
                return Judgement(False, message, error=f"validator wrote a bad score.txt: {score_text!r}")
            if not math.isfinite(score):
                return Judgement(False, message, error=f"validator wrote a bad score.txt: {score_text!r}")
        return Judgement(exit_code == ACCEPTED_EXIT, message, score)
    detail = run_message or f"exit code {exit_code}"
    if status == "OK":
        detail = "exit code 0 (validators must exit 42 or 43)"
    tail = f"; stderr: {stderr_tail}" if stderr_tail else ""
    return Judgement(False, message, error=f"output validator failed ({status}: {detail}){tail}")


__all__ = ["DefaultValidatorFlags", "Judgement", "FlagError", "parse_flags", "parse_float",
           "floats_close", "compare", "interpret", "read_feedback", "FEEDBACK_DIR",
           "ACCEPTED_EXIT", "WRONG_ANSWER_EXIT"]

"""Interactive and multi-pass tests (the Kattis problem package format).

An interactive test runs the submission and the output validator (the
interactor) at once, each in a box of its own, the interactor's stdout
piped to the submission's stdin and back (rustbox's connected runs): the
interactor gets `input answer feedback_dir [flags]` in its box, the
submission sees neither file. A multi-pass test runs the submission again
while the validator accepts a pass and leaves `nextpass.in` in its feedback
directory (the next pass's input), up to `limits.validation_passes`.
Both together: each pass is interactive.

One pass's verdict, in problemtools' order:
  the validator failed (an exit other than 42/43, killed, a bad score)  JE
  the validator exited first with 43                                    WA
  the submission went over its time limit                               TLE
  the submission failed (a crash, exit code, memory)                    RTE (MLE)
  the validator's own decision (42 AC, 43 WA)
`nextpass.in` with any exit but 42, or past the last allowed pass, is JE.
The test's time is its slowest pass's; the interactor's time is its own,
never the submission's (each box is measured on its own).

The grader hands over what it owns (its pool, limits_for, the validator
and the answers) as the `grader` argument: this module imports nothing of
it, and returns a PassesOutcome that the grader turns into its TestResult.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from rustbox.connected import ConnectedGroup, run_group
from rustbox.request import RunRequest
from rustbox.verdict import ML, OK, OL, RE, SG, TO, XX

from .build import _read_box_file
from .errors import SandboxFailure
from .validators import FEEDBACK_DIR, interpret
from .verdicts import AC, JE, OLE, RTE, TLE, WA, from_status

NEXTPASS = "nextpass.in"
# Beyond the submission's wall limit, how long the interactor has to finish
# once the submission is gone (it reads end of file and decides).
INTERACTOR_GRACE = 2.0
TRANSCRIPT_BYTES = 64 << 10     # of each interactive pass, kept by the relay
TRANSCRIPT_SHOWN = 1500         # characters of its end shown for a failed test
STDERR_TAIL = 300


@dataclass
class PassesOutcome:
    verdict: str
    cpu_time: float = 0.0
    wall_time: float = 0.0
    memory_peak: int = 0
    message: str = ""
    score: float | None = None        # the validator's score.txt (scoring problems)
    status: str = ""                  # rustbox's status of the slowest pass's run
    passes: int = 0
    transcript: str | None = None     # the end of the last pass's transcript, when it failed


def pass_wall(time_limit_wall: float) -> float:
    """The wall limit of one interactive pass's group: the submission's own
    wall limit and the interactor's grace (grading_budget counts it)."""
    return time_limit_wall + INTERACTOR_GRACE


def run_passes(grader, program, test) -> PassesOutcome:
    """Every pass of `test` for the submission `program`, on two boxes of
    the grader's pool held for the whole test (the feedback directory
    persists between passes)."""
    problem = grader.problem
    allowed = problem.limits.validation_passes if problem.multi_pass else 1
    validator = grader.validators[0]
    with grader.pool.borrow(2) as (submission_box, validator_box):
        _prepare_validator_box(validator_box, test, grader.answer(test))
        pass_input = test.input.read_bytes()
        outcome = PassesOutcome(AC)
        for number in range(1, allowed + 2):
            if number > allowed:
                return _slowest(outcome, JE, f"the output validator asked for pass {number} "
                                             f"(wrote {NEXTPASS}) but at most {allowed} are allowed "
                                             "(limits.validation_passes)")
            run = (_interactive_pass if problem.interactive else _plain_pass)(
                grader, program, validator, test, submission_box, validator_box, pass_input)
            _account(outcome, run)
            outcome.passes = number
            nextpass = _take_nextpass(validator_box, (problem.limits.output << 20) + 1)
            if nextpass is not None and run.validator_exit not in (None, 42):
                return _slowest(outcome, JE, f"the output validator wrote {NEXTPASS} and exited "
                                             f"{run.validator_exit} (only 42 may ask for a pass)",
                                run.transcript)
            if run.verdict != AC:
                return _slowest(outcome, run.verdict, run.message, run.transcript, run.score)
            if nextpass is None or not problem.multi_pass:
                return _slowest(outcome, AC, run.message, None, run.score)
            pass_input = nextpass
    raise AssertionError("unreachable")


@dataclass
class _Pass:
    verdict: str
    cpu_time: float
    wall_time: float
    memory_peak: int
    status: str
    message: str = ""
    score: float | None = None
    validator_exit: int | None = None
    transcript: str | None = None


def _account(outcome: PassesOutcome, run: _Pass) -> None:
    if run.cpu_time >= outcome.cpu_time:
        outcome.cpu_time, outcome.status = run.cpu_time, run.status
    outcome.wall_time = max(outcome.wall_time, run.wall_time)
    outcome.memory_peak = max(outcome.memory_peak, run.memory_peak)


def _slowest(outcome: PassesOutcome, verdict: str, message: str, transcript: str | None = None,
             score: float | None = None) -> PassesOutcome:
    outcome.verdict, outcome.message, outcome.score = verdict, message, score
    if verdict != AC:
        outcome.transcript = transcript
    if outcome.passes > 1:
        outcome.message = f"pass {outcome.passes}: {message}" if message else f"{outcome.passes} passes"
    return outcome


def _write(box, name: str, data: bytes) -> None:
    (box.path / name).write_bytes(data)
    os.chmod(box.path / name, 0o644)


def _prepare_validator_box(box, test, answer: bytes) -> None:
    box.clear()
    _write(box, "answer", answer)
    feedback = box.path / FEEDBACK_DIR
    feedback.mkdir(mode=0o755)
    os.chown(feedback, box.uid, box.uid)


def _take_nextpass(box, limit: int) -> bytes | None:
    """The validator's nextpass.in, moved out of its feedback directory (a
    later pass must write its own); never following a link."""
    path = box.path / FEEDBACK_DIR / NEXTPASS
    if not os.path.lexists(path):
        return None
    data = _read_box_file(path, limit) if path.is_file() and not path.is_symlink() else b""
    path.unlink()
    return data


def _validator_args(grader, test) -> list[str]:
    return ["/box/input", "/box/answer", f"/box/{FEEDBACK_DIR}/",
            *grader.problem.validator_flags, *test.validator_args]


def _stderr(box, name: str) -> str:
    text = _read_box_file(box.path / name, 4096).decode("utf-8", "replace").strip()
    return text[-STDERR_TAIL:]


def _checked(verdict, box_id) -> None:
    if verdict.status == XX:
        raise SandboxFailure(f"box {box_id}: {verdict.message}")


def _submission_failed(grader, verdict, box) -> tuple[str, str]:
    """A submission run that did not end OK: its verdict and message."""
    if verdict.status == TO:
        return TLE, grader._time_message(verdict)
    if verdict.status in (RE, SG) and grader._hit_output_limit(box.path):
        return OLE, f"wrote more than {grader.problem.limits.output} MiB"
    return from_status(verdict.status), grader._failure_message(verdict, box.path)


def _interactive_pass(grader, program, validator, test, submission_box, validator_box,
                      pass_input: bytes) -> _Pass:
    submission_box.clear()
    _write(validator_box, "input", pass_input)
    for name in ("validator.err",):
        (validator_box.path / name).unlink(missing_ok=True)
    sub_limits = grader.limits_for("test", program)
    group = ConnectedGroup.from_options({
        "group": [
            RunRequest.from_options({
                "id": "submission", "argv": [*program.argv, *test.args], "limits": sub_limits,
                "stderr": "error", "dir": program.dir_rules(), "env": program.env}),
            RunRequest.from_options({
                "id": "validator", "argv": [*validator.argv, *_validator_args(grader, test)],
                "limits": grader.limits_for("validator", validator), "stderr": "validator.err",
                "dir": validator.dir_rules(), "env": validator.env}),
        ],
        "pipes": [["submission", "validator"], ["validator", "submission"]],
        "wall_time": pass_wall(sub_limits.wall_kill_at),
        "transcript": TRANSCRIPT_BYTES,
    })
    result = run_group([submission_box, validator_box], group)
    sub, val = result["submission"], result["validator"]
    _checked(sub, submission_box.box_id)
    _checked(val, validator_box.box_id)
    transcript = result.transcript.tail(TRANSCRIPT_SHOWN) if result.transcript else None
    judgement = interpret(val.exit_code, val.status, validator_box.path,
                          _stderr(validator_box, "validator.err"), val.message)
    run = _Pass(AC, sub.cpu_time, sub.wall_time, sub.memory_peak, sub.status,
                validator_exit=val.exit_code if val.status in (OK, RE) else None,
                transcript=transcript)
    if judgement.error:
        run.verdict, run.message = JE, judgement.error
    elif not judgement.accepted and _validator_first(result, sub):
        run.verdict, run.message = WA, judgement.message or "the output validator rejected the interaction"
    elif sub.status != OK:
        run.verdict, run.message = _submission_failed(grader, sub, submission_box)
    else:
        run.verdict = AC if judgement.accepted else WA
        run.message, run.score = judgement.message, judgement.score
    return run


def _validator_first(result, sub) -> bool:
    """Whether the interactor exited before the submission. A submission
    killed by SIGPIPE wrote after its reader had gone; else the relay's
    view of the two stdout pipes closing (exact, one observer), else the
    box helpers' clocks (a millisecond or two of doubt on a busy host)."""
    if sub.status == SG and sub.signal == signal.SIGPIPE:
        return True
    closed = result.closed_first("validator>submission", "submission>validator")
    return result.ended_first("validator") if closed is None else closed


def _plain_pass(grader, program, validator, test, submission_box, validator_box,
                pass_input: bytes) -> _Pass:
    """A multi-pass test's pass without interaction: the submission on the
    pass's input, then the validator on its output."""
    submission_box.clear()
    _write(submission_box, "input", pass_input)
    sub = submission_box.run([*program.argv, *test.args], grader.limits_for("test", program),
                             stdin="input", stdout="output", stderr="error",
                             dirs=program.dir_rules(), env=program.env)
    _checked(sub, submission_box.box_id)
    run = _Pass(AC, sub.cpu_time, sub.wall_time, sub.memory_peak, sub.status)
    if sub.status != OK:
        run.verdict, run.message = _submission_failed(grader, sub, submission_box)
        return run
    output = _read_box_file(submission_box.path / "output", (grader.problem.limits.output << 20) + 1)
    _write(validator_box, "input", pass_input)
    _write(validator_box, "team_output", output)
    val = validator_box.run([*validator.argv, *_validator_args(grader, test)],
                            grader.limits_for("validator", validator), stdin="team_output",
                            stdout="validator.out", stderr="validator.err",
                            dirs=validator.dir_rules(), env=validator.env)
    _checked(val, validator_box.box_id)
    judgement = interpret(val.exit_code, val.status, validator_box.path,
                          _stderr(validator_box, "validator.err"), val.message)
    run.validator_exit = val.exit_code if val.status in (OK, RE) else None
    if judgement.error:
        run.verdict, run.message = JE, judgement.error
    else:
        run.verdict = AC if judgement.accepted else WA
        run.message, run.score = judgement.message, judgement.score
    return run


__all__ = ["run_passes", "PassesOutcome", "pass_wall", "INTERACTOR_GRACE", "NEXTPASS"]

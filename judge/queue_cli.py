"""The queue verbs of `judge`: submit, worker, result.

judge/cli.py registers `COMMANDS`; `python -m judge.queue_cli` runs them
alone. The queue URL comes from `--queue`, else `$JUDGE_QUEUE`, else
`sqlite:///var/lib/rustbox/queue.db`. Every error is one line on stderr.

Exit status: 0 done (`result`: the submission was graded); 1 `result` of a
submission that failed or is still pending; 2 bad input, or a queue that
cannot do what was asked; 3 `submit --id` names a different submission
already taken (an identical one is a retried submit: exit 0, enqueued
once); 4 the queue is unavailable (Redis unreachable for --timeout
seconds, a full disk, a locked or read-only SQLite file): nothing was
changed, try again later.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from pathlib import Path

import click
import orjson

from .errors import JudgeError
from .queue import QueueError, Submission, SubmissionConflict, new_id, open_queue, valid_id
from .queue.base import CLI_TIMEOUT, DEFAULT_LEASE, DEFAULT_TIMEOUT, DONE, InvalidSubmission
from .queue.factory import DEFAULT_QUEUE_URL
from .calibration import DEFAULT_EVERY
from .worker import (DEFAULT_MAX_GRADING, Worker, WorkerConfig, default_worker_id,
                     install_signal_handlers, open_pool)

DEFAULT_GRADER = "judge.grader:grade_submission"


class QueueCliError(click.ClickException):
    """One line on stderr; exit 2, or the queue error's own status."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @classmethod
    def of(cls, exc: QueueError) -> "QueueCliError":
        return cls(str(exc), exc.exit_code)


class ConflictError(QueueCliError):
    """`submit --id` names a different submission already queued: exit 3."""

    exit_code = 3


def _queue_option(fn):
    return click.option(
        "--queue", "queue_url", envvar="JUDGE_QUEUE", default=DEFAULT_QUEUE_URL,
        show_default=True, metavar="URL",
        help="sqlite:///path/queue.db or redis://host:port/db ($JUDGE_QUEUE).")(fn)


def _timeout_option(help_text: str):
    return click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                        metavar="S", help=help_text)


def _open(url: str, timeout: float | None = None, create: bool = True):
    try:
        return open_queue(url, create=create,
                          timeout=CLI_TIMEOUT if timeout is None else timeout)
    except QueueError as exc:
        raise QueueCliError.of(exc) from None


def load_grader(spec: str):
    """'module:function' -> the function."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name or "grade_submission")
    except (ImportError, AttributeError) as exc:
        raise QueueCliError(f"cannot load the grader {spec!r}: {exc}") from None


@click.command()
@click.argument("problem_dir", metavar="PROBLEM_DIR")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--lang", "language", metavar="L", help="Language (default: from the extension).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="CPU seconds per test (default: the package's).")
@click.option("--id", "submission_id", metavar="ID",
              help="Use this id (a retried submit with the same id is enqueued once).")
@_queue_option
@_timeout_option(f"Give up on an unreachable queue after S seconds (default {CLI_TIMEOUT:g}).")
def submit(problem_dir, submission, language, time_limit, submission_id, queue_url, timeout):
    """Enqueue SUBMISSION (a file, or a directory as `judge run` takes) for
    PROBLEM_DIR; prints the submission id.

    PROBLEM_DIR is a package path (checked here), or a package name that
    workers started with --problems DIR look up there. The language is
    checked here too. Exit 3: --id is taken by a different submission."""
    problem = _problem(problem_dir)
    if submission_id is not None and not valid_id(submission_id):
        raise QueueCliError(f"invalid --id {submission_id!r} (1-128 of A-Z a-z 0-9 . _ : -)")
    try:
        from .build import detect_language, source_files
        from .languages import load_languages
        files = source_files(submission)
        detect_language(submission, load_languages(), language)   # as the worker will
    except JudgeError as exc:
        raise QueueCliError(str(exc)) from None
    texts = {name: _read_text(path) for name, path in files.items()}
    try:
        common = dict(language=language, time_limit=time_limit)
        if submission.is_dir():
            executable = sorted(name for name, path in files.items() if os.access(path, os.X_OK))
            sub = Submission(submission_id or new_id(), problem, "", submission.resolve().name,
                             files=texts, executable=executable, **common)
        else:
            sub = Submission(submission_id or new_id(), problem, texts[submission.name],
                             submission.name, **common)
    except InvalidSubmission as exc:
        raise QueueCliError(str(exc)) from None
    queue = _open(queue_url, timeout)
    try:
        queue.enqueue(sub)
        queue.close()
    except SubmissionConflict as exc:
        raise ConflictError(str(exc)) from None
    except QueueError as exc:
        raise QueueCliError.of(exc) from None
    click.echo(sub.id)


def _problem(problem_dir: str) -> str:
    """What the queue stores as the problem: a checked package's absolute path,
    or a bare name for the workers' --problems directory."""
    path = Path(problem_dir)
    if path.is_dir():
        from .problem import load_problem
        try:
            load_problem(path)
        except JudgeError as exc:
            raise QueueCliError(str(exc)) from None
        return str(path.resolve())
    if os.sep not in problem_dir and problem_dir not in (".", ".."):
        return problem_dir           # a name, resolved by the workers
    raise QueueCliError(f"no problem package {problem_dir}")


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise QueueCliError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise QueueCliError(f"cannot read {path}: {exc.strerror}") from None


@click.command()
@_queue_option
@click.option("--boxes", default=None, metavar="IDS",
              help="Box ids to grade in, e.g. 0-3 (default: one per core).")
@click.option("--problems", "problems_dir", metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Look problem packages up by name here.")
@click.option("--parallel", type=click.IntRange(min=1), metavar="K",
              help="Submissions graded at once (default: one per box).")
@click.option("--lease", type=click.FloatRange(min=1), default=DEFAULT_LEASE, show_default=True,
              metavar="S", help="Seconds a silent worker keeps a submission.")
@click.option("--grace", type=click.FloatRange(min=0), default=60.0, show_default=True,
              metavar="S", help="On SIGTERM, time to finish before giving submissions back.")
@click.option("--worker-id", default=None, metavar="NAME", help="Default: HOST:PID.")
@click.option("--grader", default=DEFAULT_GRADER, show_default=True, metavar="MODULE:FUNC",
              help="The grade function.")
@click.option("--max-grading", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_MAX_GRADING, show_default=True, metavar="S",
              help="Fail a grading after S seconds if its grader states no bound of its own "
                   "(the judge's grader does: from the problem's limits).")
@click.option("--calibration", type=click.Choice(["on", "warn", "off"]), default="on",
              show_default=True,
              help="Calibrate the host's timing at start and every few minutes: on (claim nothing "
                   "while it is unusable), warn (grade anyway), off. Results carry the class.")
@click.option("--calibrate-every", type=click.FloatRange(min=1), default=DEFAULT_EVERY,
              show_default=True, metavar="S", help="Seconds between calibrations.")
@click.option("--reruns", type=click.IntRange(min=0), default=None, metavar="K",
              help="More runs for a test near the time limit, judged on its fastest (default 2; 0: none).")
@click.option("--rerun-band", metavar="LOW-HIGH",
              help="Which tests are near the limit: CPU time within LOW-HIGH x the limit (default 0.8-1.5).")
def worker(queue_url, boxes, problems_dir, parallel, lease, grace, worker_id, grader,
           max_grading, calibration, calibrate_every, reruns, rerun_band):
    """Consume the queue until stopped (SIGTERM or Ctrl-C: finish, then exit 0;
    a second one: give back what is held, then exit 0).

    Exit 2 when it cannot start (bad options, busy boxes, not root) or the
    queue broke under it (a store error waiting cannot fix), 4 when the
    queue was unreachable at start; an unavailable store later is waited out."""
    from rustbox.privileges import NotRootError, require_root
    try:
        require_root("judge worker")
    except NotRootError as exc:
        raise QueueCliError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from rustbox.batch import parse_box_ids
    from rustbox.errors import RustboxError

    grade = load_grader(grader)
    from .reruns import RerunPolicy
    try:
        policy = (RerunPolicy.parse(rerun_band, reruns)
                  if reruns is not None or rerun_band is not None else None)
    except JudgeError as exc:
        raise QueueCliError(str(exc)) from None
    try:
        box_ids = parse_box_ids(boxes) if boxes else list(range(os.cpu_count() or 1))
    except RustboxError as exc:
        raise QueueCliError(str(exc)) from None
    config = WorkerConfig(worker_id=worker_id or default_worker_id(),
                          parallel=parallel or len(box_ids), problems_dir=problems_dir,
                          lease=lease, grace=grace, max_grading=max_grading,
                          calibration=calibration, calibrate_every=calibrate_every, reruns=policy)
    stop, abort = threading.Event(), threading.Event()
    install_signal_handlers(stop, abort)
    queue = _open(queue_url, DEFAULT_TIMEOUT)      # a worker rides out a Redis restart
    try:
        pool = open_pool(box_ids)
    except RustboxError as exc:
        queue.close()
        raise QueueCliError(f"cannot open boxes {boxes or 'one per core'}: {exc}") from None
    runner = Worker(queue, grade, config, pool)
    log = logging.getLogger("judge.worker")
    try:
        stats = runner.run(stop, abort)
    finally:
        # Submissions given back mid-run: end their programs now.
        pool.close(kill=runner.stats.interrupted or runner.stats.error is not None)
        try:
            queue.retire(config.worker_id)
            queue.close()
        except QueueError as exc:
            log.warning("worker %s: closing the queue: %s", config.worker_id, exc)
    log.info("worker %s stopped: %d done, %d failed (%d past their bound), %d graded but "
             "stored first by another worker, %d returned to the queue, %d given back after "
             "a sandbox failure", config.worker_id, stats.done, stats.failed, stats.overdue,
             stats.duplicates, stats.released, stats.retried)
    if stats.error is not None:
        raise QueueCliError(f"the worker stopped: {stats.error}")


@click.command()
@click.argument("submission_id", metavar="ID")
@_queue_option
@click.option("--wait", is_flag=True, help="Block until the submission has a result.")
@_timeout_option(f"Give up after S seconds: on an unreachable queue (default {CLI_TIMEOUT:g}), "
                 "and with --wait on a result that does not come (default: never).")
def result(submission_id, queue_url, wait, timeout):
    """Print the stored result of submission ID as JSON."""
    queue = _open(queue_url, timeout, create=False)
    try:
        if wait:
            record = queue.wait_result(submission_id, timeout)
        else:
            record = queue.result(submission_id)
        queue.close()
    except QueueError as exc:
        raise QueueCliError.of(exc) from None
    if record is None:
        record = {"submission": submission_id, "state": "pending"}
    click.echo(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode())
    sys.exit(0 if record.get("state", DONE) == DONE else 1)


COMMANDS = [submit, worker, result]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The judge's queue commands (also available as `judge submit|worker|result`)."""


for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()

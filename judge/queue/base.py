"""The submission queue's one interface and the records it moves.

A contest site enqueues a `Submission`; a worker claims it with a lease
(a `Claim`), keeps the lease alive with heartbeats while it grades, and ends
it with exactly one of: `complete` (the judge's result), `fail` (the
submission cannot be graded: unknown problem or language), `retry` (this
attempt failed for a reason that is not the submission's, e.g. the sandbox
failed under it: back to the queue, counted as a delivery, the reason kept
for when it is given up) or `release` (give it back untouched, e.g. on
shutdown: not counted). A claim whose worker goes silent
for longer than its lease is handed to the next worker that asks, so a
crashed worker loses nothing. Results are stored once per submission id:
the first `complete`/`fail` wins, later ones are no-ops. An id names one
submission for good: enqueueing it again with the same content is a no-op
(a retried submit), with other content a `SubmissionConflict`.

Backends (sqlite.py, redis.py) implement `Queue`; `factory.open_queue(url)`
is the only place that picks one. Every backend takes `timeout`: how long
one call keeps trying a backend that cannot answer (Redis down or
restarting, a SQLite file locked by another process) before it raises
QueueUnavailable. A worker waits long (DEFAULT_TIMEOUT), a command line
short (CLI_TIMEOUT).

Errors (every backend failure is one of these, never the driver's own):
    QueueError              the queue could not do what was asked -> exit 2
     +-- InvalidSubmission  a message that is not a valid submission (reason)
     +-- QueueUnavailable   the store cannot be used now: unreachable after
     |                      `timeout`, a full disk, a read-only or locked
     |                      file -> exit 4 (try again later)
     +-- UnknownSubmission  no submission with that id
     +-- SubmissionConflict the id is taken by a different submission
"""
from __future__ import annotations

import hashlib
import re
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

import orjson

# States a submission goes through. "dead" is a message that was never a
# valid submission (the dead-letter list); "failed" is a valid submission
# that could not be graded; both carry a reason.
QUEUED, RUNNING, DONE, FAILED, DEAD = "queued", "running", "done", "failed", "dead"
STATES = (QUEUED, RUNNING, DONE, FAILED, DEAD)

MAX_SOURCE_BYTES = 1 << 20          # a contest source file is far smaller (a directory: all files)
MAX_FILES = 100                     # files of one directory submission
DEFAULT_LEASE = 30.0                # seconds a claim lives without a heartbeat
DEFAULT_MAX_DELIVERIES = 3          # deliveries before a submission is given up
DEFAULT_TIMEOUT = 120.0             # a worker rides out a Redis restart this long
CLI_TIMEOUT = 10.0                  # a command line gives up on the queue sooner

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class QueueError(Exception):
    """Base of every error the queue raises about itself."""

    exit_code = 2


class InvalidSubmission(QueueError):
    """A message that is not a valid submission; `str()` is the reason."""


class QueueUnavailable(QueueError):
    """The store cannot be used now (unreachable, full, read-only, locked);
    retrying later may succeed."""

    exit_code = 4


class UnknownSubmission(QueueError):
    """No submission with that id in this queue."""


class SubmissionConflict(QueueError):
    """The id is already taken by a submission with other content."""

    exit_code = 3


def valid_id(text: object) -> bool:
    """True for a usable submission id: 1-128 of A-Z a-z 0-9 . _ : - (no leading punctuation)."""
    return isinstance(text, str) and _ID.match(text) is not None


def new_id() -> str:
    """A fresh submission id: 16 hex digits, unique without coordination."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Submission:
    """What a worker needs to grade one submission.

    `problem` is a package path (used as is) or a package name (looked up
    in the worker's problems directory). `filename` is the source file's
    name, which carries the extension the judge detects the language from.
    A directory submission (several files, or `build`/`run` scripts, as
    `judge run DIR` takes) has `files` (name -> text), the names in
    `executable` written with the execute bit, `filename` the directory's
    name and an empty `source`.
    """

    id: str
    problem: str
    source: str
    filename: str = "submission"
    language: str | None = None
    time_limit: float | None = None
    enqueued_at: float = field(default_factory=time.time)
    files: dict | None = None
    executable: tuple = ()

    def __post_init__(self) -> None:
        if isinstance(self.executable, list):        # as JSON gives it back
            object.__setattr__(self, "executable", tuple(self.executable))
        reason = _invalid_reason(self)
        if reason:
            raise InvalidSubmission(reason)

    def fingerprint(self) -> str:
        """What makes two submissions the same one (all but `enqueued_at`)."""
        content = {k: v for k, v in self.to_dict().items() if k != "enqueued_at"}
        return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: object) -> "Submission":
        if not isinstance(data, dict):
            raise InvalidSubmission(f"expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise InvalidSubmission(f"unknown field(s): {', '.join(unknown)}")
        missing = [key for key in ("id", "problem", "source") if key not in data]
        if missing:
            raise InvalidSubmission(f"missing field(s): {', '.join(missing)}")
        return cls(**data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Submission":
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidSubmission(f"not JSON: {exc}") from None
        return cls.from_dict(data)


_FIELDS = {f for f in Submission.__dataclass_fields__}


def _invalid_reason(sub: Submission) -> str | None:
    if not valid_id(sub.id):
        return f"invalid id {sub.id!r} (1-128 of A-Z a-z 0-9 . _ : -)"
    if not isinstance(sub.problem, str) or not sub.problem or "\0" in sub.problem:
        return f"invalid problem {sub.problem!r}"
    if not isinstance(sub.source, str):
        return "source must be a string"
    if len(sub.source.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        return f"source larger than {MAX_SOURCE_BYTES} bytes"
    if not _bare_name(sub.filename):
        return f"invalid filename {sub.filename!r} (a bare file name)"
    if sub.files is not None:
        reason = _invalid_files(sub)
        if reason:
            return reason
    elif sub.executable:
        return "executable names files, but the submission has no files"
    if sub.language is not None and (not isinstance(sub.language, str) or not sub.language):
        return f"invalid language {sub.language!r}"
    limit = sub.time_limit
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                              or not 0 < limit < 1e6):
        return f"invalid time_limit {limit!r} (positive seconds)"
    if isinstance(sub.enqueued_at, bool) or not isinstance(sub.enqueued_at, (int, float)):
        return f"invalid enqueued_at {sub.enqueued_at!r}"
    return None


def _bare_name(name: object) -> bool:
    return (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..")
            and "/" not in name and "\0" not in name)


def _invalid_files(sub: Submission) -> str | None:
    files = sub.files
    if not isinstance(files, dict) or not files:
        return "files must be a non-empty object of file name -> text"
    if len(files) > MAX_FILES:
        return f"more than {MAX_FILES} files"
    if sub.source != "":
        return "a directory submission (files) has an empty source"
    size = 0
    for name, text in files.items():
        if not _bare_name(name) or name.startswith("."):
            return f"invalid file name {name!r} in files (a bare name, not hidden)"
        if not isinstance(text, str):
            return f"files[{name!r}] must be a string"
        size += len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        return f"files larger than {MAX_SOURCE_BYTES} bytes in all"
    if any(not isinstance(name, str) or name not in files for name in sub.executable):
        return f"executable names a file not in files: {list(sub.executable)!r}"
    return None


@dataclass(frozen=True)
class Claim:
    """A worker's lease on one submission. `receipt` is the backend's handle."""

    submission: Submission
    worker: str
    receipt: str
    attempt: int            # 1 on the first delivery
    claimed_at: float


@dataclass(frozen=True)
class Entry:
    """One line of `Queue.list()`."""

    id: str
    state: str
    problem: str | None = None
    language: str | None = None
    worker: str | None = None
    attempts: int = 0
    enqueued_at: float | None = None
    finished_at: float | None = None
    verdict: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def given_up_reason(deliveries: int, last_worker: str | None = None,
                    last_reason: str | None = None) -> str:
    """Why a submission delivered `deliveries` times without a result is failed."""
    times = f"{deliveries} delivery" if deliveries == 1 else f"{deliveries} deliveries"
    if last_reason:
        return f"given up after {times} without a result; the last: {last_reason}"
    last = f" (last: {last_worker})" if last_worker else ""
    return (f"given up after {times} without a result: the workers holding it "
            f"stopped or crashed{last}")


def failure_record(submission_id: str, reason: str, *, worker: str | None,
                   problem: str | None = None, language: str | None = None,
                   state: str = FAILED) -> dict:
    """The stored result of a submission that could not be graded."""
    return {"submission": submission_id, "state": state, "problem": problem,
            "language": language, "verdict": None, "error": reason,
            "worker": worker, "finished_at": time.time()}


class Queue(ABC):
    """A durable submission queue with leases. Safe to share between threads."""

    url: str

    @abstractmethod
    def enqueue(self, submission: Submission) -> bool:
        """Add a submission; True if it is new. An id already known with the
        same content (`Submission.fingerprint`, a retried submit) is False and
        no change; with other content it raises SubmissionConflict (no change).
        The check and the insert are one atomic step."""

    @abstractmethod
    def claim(self, worker: str, lease: float = DEFAULT_LEASE, block: float = 0.0,
              max_deliveries: int = DEFAULT_MAX_DELIVERIES) -> Claim | None:
        """The next queued submission, or one whose lease expired; None if none
        comes within `block` seconds. Messages that are not valid submissions
        are dead-lettered on the way, and a submission already delivered
        `max_deliveries` times is failed instead of delivered again.

        Every worker of one queue must use the same `lease`: Redis measures
        it as the claimer's minimum idle time (XAUTOCLAIM), not per claim."""

    @abstractmethod
    def heartbeat(self, claim: Claim, lease: float = DEFAULT_LEASE) -> bool:
        """Extend the lease to now+lease; False if the claim is no longer ours."""

    @abstractmethod
    def complete(self, claim: Claim, result: dict) -> bool:
        """Store the result and end the claim; False if a result was already stored."""

    @abstractmethod
    def fail(self, claim: Claim, reason: str) -> bool:
        """Store a failure record (no retry); False if a result was already stored."""

    @abstractmethod
    def release(self, claim: Claim) -> None:
        """Give the submission back to the queue now, not counted as a delivery."""

    @abstractmethod
    def retry(self, claim: Claim, reason: str) -> None:
        """Give the submission back to the queue now, counted as a delivery: this
        attempt failed, not the submission. A submission given up after
        max_deliveries says the last such reason. No-op if the claim is not ours."""

    @abstractmethod
    def result(self, submission_id: str) -> dict | None:
        """The stored result (done or failed), None while it is queued or running.
        Raises UnknownSubmission for an id this queue never saw."""

    @abstractmethod
    def list(self, state: str | None = None, limit: int = 100) -> list[Entry]:
        """Submissions in enqueue order (oldest first), optionally one state only."""

    def pending(self, limit: int = 10000) -> list[Entry]:
        """The submissions not finished yet, queued ones in the order they will
        be claimed (a server's queue depth and positions; running ones carry
        their worker). Backends whose `list` reads finished results too
        override this with a read of the unfinished ones only."""
        queued = self.list(QUEUED, limit)
        return queued + self.list(RUNNING, max(limit - len(queued), 0))

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict]:
        """Messages that were not valid submissions, each with its `reason`."""

    def retire(self, worker: str) -> None:
        """A worker stops for good: forget what the backend keeps about it."""

    def wait_result(self, submission_id: str, timeout: float | None = None,
                    poll: float = 0.2) -> dict | None:
        """Block until the submission has a result (None on timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.result(submission_id)
            if record is not None:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    def close(self) -> None:
        """Release connections; the queue object is unusable afterwards."""

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

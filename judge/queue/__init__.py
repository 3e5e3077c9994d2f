"""Submission queue: the interface (base.py), its backends and the factory.

    from judge.queue import open_queue, Submission, new_id
    with open_queue("sqlite:///tmp/q.db") as queue:
        queue.enqueue(Submission(new_id(), "testdata/problems/hello", source, "a.py"))
"""
from .base import (DEAD, DONE, FAILED, QUEUED, RUNNING, STATES, Claim, Entry,
                   InvalidSubmission, Queue, QueueError, QueueUnavailable, Submission,
                   SubmissionConflict, UnknownSubmission, failure_record, new_id, valid_id)
from .factory import DEFAULT_QUEUE_URL, open_queue

__all__ = [
    "Queue", "Submission", "Claim", "Entry", "open_queue",
    "DEFAULT_QUEUE_URL", "new_id", "valid_id", "failure_record",
    "QueueError", "InvalidSubmission", "QueueUnavailable", "UnknownSubmission",
    "SubmissionConflict",
    "QUEUED", "RUNNING", "DONE", "FAILED", "DEAD", "STATES",
]

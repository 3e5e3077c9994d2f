"""The server's Prometheus metrics (prometheus-client), one registry per app.

Counted from what the tracker sees stored in the queue, so submissions from
`judge submit` and from remote workers count as well as the API's own (from
the moment this server first sees them queued or running).

    judge_queue_depth                      submissions queued, not yet claimed
    judge_submissions_running              claimed by a worker, not yet finished
    judge_workers_alive                    local workers running + other workers seen grading
    judge_submissions_accepted_total       taken in through the API (new ids)
    judge_submissions_total{verdict}       finished, by final verdict ("failed":
                                           could not be graded, "dead": not a submission)
    judge_grading_seconds                  histogram of a worker's grading time
    judge_tests_run_total                  tests run by finished gradings
    judge_box_runs_total{status}           test runs in boxes, by the test's verdict
    judge_callbacks_total{outcome}         callback deliveries: delivered, retried, given_up
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

GRADING_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.queue_depth = Gauge("judge_queue_depth", "Submissions queued, not yet claimed",
                                 registry=registry)
        self.running = Gauge("judge_submissions_running",
                             "Submissions claimed by a worker and not finished", registry=registry)
        self.workers_alive = Gauge("judge_workers_alive",
                                   "Local workers running plus other workers seen grading",
                                   registry=registry)
        self.accepted = Counter("judge_submissions_accepted",
                                "Submissions taken in through the API (new ids)", registry=registry)
        self.finished = Counter("judge_submissions", "Finished submissions by final verdict",
                                ["verdict"], registry=registry)
        self.grading = Histogram("judge_grading_seconds", "Grading time of finished submissions",
                                 buckets=GRADING_BUCKETS, registry=registry)
        self.tests = Counter("judge_tests_run", "Tests run by finished gradings", registry=registry)
        self.box_runs = Counter("judge_box_runs", "Test runs in boxes by the test's verdict",
                                ["status"], registry=registry)
        self.callbacks = Counter("judge_callbacks", "Callback deliveries by outcome",
                                 ["outcome"], registry=registry)

    def observe_result(self, record: dict) -> None:
        """A result just stored in the queue."""
        state = record.get("state") or "done"
        verdict = record.get("verdict") if state == "done" else state
        self.finished.labels(verdict=verdict or "unknown").inc()
        grading = (record.get("timings") or {}).get("grading")
        if isinstance(grading, (int, float)):
            self.grading.observe(grading)
        tests = record.get("tests") or []
        self.tests.inc(len(tests))
        for test in tests:
            self.box_runs.labels(status=test.get("verdict") or "unknown").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

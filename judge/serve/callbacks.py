"""Callbacks: a stored result POSTed to the URL its submitter gave.

`Outbox.register(id, url)` when a submission comes in; `Outbox.deliver(id,
record)` when the tracker sees its result stored. Each delivery is tried at
once, then again after `backoff`, 2x, 4x ... (at most a minute apart) until
the receiver answers 2xx or `attempts` tries have failed; then it is given
up, logged and counted. Deliveries run on a few threads of their own, so a
slow or failing receiver never holds back grading, the tracker or another
submission's callback; and the result itself stays in the queue whatever
the receiver does (GET /submissions/{id} serves it).

A receiver is told which submission with `X-Judge-Submission: ID`; the body
is the result exactly as GET /submissions/{id} gives it. Redirects are not
followed (a POST must not turn into a GET somewhere else).
"""
from __future__ import annotations

import heapq
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

log = logging.getLogger("judge.serve")

DEFAULT_ATTEMPTS = 6
DEFAULT_BACKOFF = 1.0
MAX_DELAY = 60.0
TIMEOUT = 10.0          # one attempt: connect and answer


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Delivery:
    submission: str
    url: str
    state: str = "waiting"          # waiting (no result yet), pending, delivered, given_up
    attempts: int = 0
    last_error: str | None = None
    record: dict | None = field(default=None, repr=False)

    def describe(self) -> dict:
        return {"url": self.url, "state": self.state, "attempts": self.attempts,
                "last_error": self.last_error}


class Outbox:
    def __init__(self, metrics=None, attempts: int = DEFAULT_ATTEMPTS,
                 backoff: float = DEFAULT_BACKOFF, threads: int = 4, timeout: float = TIMEOUT):
        self.metrics, self.attempts, self.backoff, self.timeout = metrics, attempts, backoff, timeout
        self._deliveries: dict[str, Delivery] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._lock = threading.Condition()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="judge-callback")
        self._stopped = False
        self._timer = threading.Thread(target=self._schedule, daemon=True, name="judge-callbacks")
        self._timer.start()

    def register(self, submission_id: str, url: str) -> None:
        with self._lock:
            known = self._deliveries.get(submission_id)
            if known is None or known.url != url:
                self._deliveries[submission_id] = Delivery(submission_id, url)

    def wants(self, submission_id: str) -> bool:
        with self._lock:
            delivery = self._deliveries.get(submission_id)
            return delivery is not None and delivery.state == "waiting"

    def deliver(self, submission_id: str, record: dict) -> None:
        """The result is stored: send it (no-op without a callback, or if sent)."""
        with self._lock:
            delivery = self._deliveries.get(submission_id)
            if delivery is None or delivery.state != "waiting":
                return
            delivery.state, delivery.record = "pending", record
            self._push(time.monotonic(), submission_id)

    def status(self, submission_id: str) -> dict | None:
        with self._lock:
            delivery = self._deliveries.get(submission_id)
            return None if delivery is None else delivery.describe()

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the schedule -----------------------------------------------------
    def _push(self, due: float, submission_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._due, (due, self._seq, submission_id))
        self._lock.notify_all()

    def _schedule(self) -> None:
        with self._lock:
            while not self._stopped:
                if not self._due:
                    self._lock.wait()
                    continue
                due, _, submission_id = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._due)
                delivery = self._deliveries.get(submission_id)
                if delivery is not None and delivery.state == "pending":
                    self._pool.submit(self._attempt, delivery)

    def _attempt(self, delivery: Delivery) -> None:
        error = self._post(delivery)
        with self._lock:
            delivery.attempts += 1
            delivery.last_error = error
            if error is None:
                delivery.state, delivery.record = "delivered", None
                outcome = "delivered"
            elif delivery.attempts >= self.attempts:
                delivery.state, delivery.record = "given_up", None
                outcome = "given_up"
            else:
                delay = min(self.backoff * 2 ** (delivery.attempts - 1), MAX_DELAY)
                self._push(time.monotonic() + delay, delivery.submission)
                outcome = "retried"
        if self.metrics is not None:
            self.metrics.callbacks.labels(outcome=outcome).inc()
        if outcome == "given_up":
            log.warning("callback for %s to %s given up after %d attempts: %s (the result "
                        "stays in the queue)", delivery.submission, delivery.url,
                        delivery.attempts, error)
        elif outcome == "retried":
            log.info("callback for %s to %s failed (%s); attempt %d of %d follows",
                     delivery.submission, delivery.url, error, delivery.attempts + 1, self.attempts)

    def _post(self, delivery: Delivery) -> str | None:
        """None when the receiver took it (2xx), else why not."""
        request = urllib.request.Request(
            delivery.url, data=orjson.dumps(delivery.record), method="POST",
            headers={"Content-Type": "application/json",
                     "X-Judge-Submission": delivery.submission,
                     "User-Agent": "rustbox-judge"})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                response.read(1 << 16)
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason

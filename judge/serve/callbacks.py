"""Callbacks: a stored result POSTed to the URL its submitter gave.

`Outbox.register(id, url)` when a submission comes in; `Outbox.deliver(id,
record)` when the tracker sees its result stored. Each delivery is tried at
once, then again after `backoff`, 2x, 4x ... (at most a minute apart) until
the receiver answers 2xx or `attempts` tries have failed; then it is given
up, logged and counted. Deliveries run on a few threads of their own, so a
slow or failing receiver never holds back grading, the tracker or another
submission's callback; and the result itself stays in the queue whatever
the receiver does (GET /submissions/{id} serves it).

What is still to send is kept in a small SQLite file (`CallbackStore`, one
row per callback, keyed by the queue's URL too): a server stopped or killed
before a result came, or while a delivery was being retried, sends it after
its next start (the tracker watches those ids again). Delivered and
given-up rows are kept for the record; only the newest `KEEP_FINISHED` stay
in memory.

A receiver is told which submission with `X-Judge-Submission: ID`; the body
is the result exactly as GET /submissions/{id} gives it. Redirects are not
followed (a POST must not turn into a GET somewhere else).
"""
from __future__ import annotations

import heapq
import logging
import os
import sqlite3
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
KEEP_FINISHED = 10000   # delivered / given-up callbacks remembered in memory (status pages)
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


class CallbackStore:
    """The callbacks of one queue in a SQLite file: what survives a restart."""

    _SCHEMA = """CREATE TABLE IF NOT EXISTS callbacks (
        queue TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated REAL NOT NULL,
        PRIMARY KEY (queue, id))"""

    def __init__(self, path: str, queue_url: str):
        self.path, self.queue_url = path, queue_url
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(self._SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"cannot open the callbacks file {path}: {exc}") from None
        self._lock = threading.Lock()

    def save(self, delivery: "Delivery") -> None:
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO callbacks VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.queue_url, delivery.submission, delivery.url, delivery.state,
                     delivery.attempts, delivery.last_error, time.time()))
        except sqlite3.Error as exc:      # the callback still goes out; only a restart would lose it
            log.error("cannot record the callback of %s in %s: %s", delivery.submission,
                      self.path, exc)

    def unfinished(self) -> list["Delivery"]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, attempts, last_error FROM callbacks WHERE queue = ? AND state"
                " IN ('waiting', 'pending') ORDER BY updated", (self.queue_url,)).fetchall()
        return [Delivery(sub_id, url, "waiting", attempts, error)
                for sub_id, url, attempts, error in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Outbox:
    def __init__(self, metrics=None, attempts: int = DEFAULT_ATTEMPTS,
                 backoff: float = DEFAULT_BACKOFF, threads: int = 4, timeout: float = TIMEOUT,
                 store: CallbackStore | None = None):
        self.metrics, self.attempts, self.backoff, self.timeout = metrics, attempts, backoff, timeout
        self.store = store
        self._finished: list[str] = []          # oldest first, for forgetting
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
            if known is not None and known.url == url:
                return
            delivery = self._deliveries[submission_id] = Delivery(submission_id, url)
        if self.store is not None:
            self.store.save(delivery)

    def resume(self) -> list[str]:
        """The callbacks a previous run left unsent; their ids (to watch)."""
        if self.store is None:
            return []
        left = self.store.unfinished()
        with self._lock:
            for delivery in left:
                self._deliveries.setdefault(delivery.submission, delivery)
        if left:
            log.info("%d callback(s) left by the previous run will be sent once their "
                     "results are stored", len(left))
        return [d.submission for d in left]

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
        if self.store is not None:
            self.store.save(delivery)

    def status(self, submission_id: str) -> dict | None:
        with self._lock:
            delivery = self._deliveries.get(submission_id)
            return None if delivery is None else delivery.describe()

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.store is not None:
            self.store.close()

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
            if outcome != "retried":
                self._forget_old(delivery.submission)
        if self.store is not None and not self._stopped:
            self.store.save(delivery)
        if self.metrics is not None:
            self.metrics.callbacks.labels(outcome=outcome).inc()
        if outcome == "given_up":
            log.warning("callback for %s to %s given up after %d attempts: %s (the result "
                        "stays in the queue)", delivery.submission, delivery.url,
                        delivery.attempts, error)
        elif outcome == "retried":
            log.info("callback for %s to %s failed (%s); attempt %d of %d follows",
                     delivery.submission, delivery.url, error, delivery.attempts + 1, self.attempts)

    def _forget_old(self, submission_id: str) -> None:
        self._finished.append(submission_id)
        while len(self._finished) > KEEP_FINISHED:
            old = self._finished.pop(0)
            if self._deliveries.get(old) is not None and self._deliveries[old].state in (
                    "delivered", "given_up"):
                del self._deliveries[old]

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

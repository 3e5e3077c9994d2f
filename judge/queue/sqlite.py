"""The embedded queue backend: one SQLite file, no server (`sqlite:///path`).

One table holds every submission with its state, lease and result. The
database runs in WAL mode so readers never wait for the writer, and every
state change is one `BEGIN IMMEDIATE` transaction: the write lock is taken
before the row is read, so two worker processes can never claim the same
row. A lease is a deadline (`lease_until`, wall clock seconds) in the row;
a running row past its deadline is claimable again, which is how a killed
worker's submission comes back. All processes must share one machine (and
one clock): SQLite's locking is not safe on network filesystems.

A store that cannot take a write now (a full disk, an I/O error, a
read-only file, a lock held longer than `timeout`) raises QueueUnavailable
and the transaction leaves nothing behind; a file that is not a healthy
database raises QueueError. Never sqlite3's own exceptions.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
import uuid

import orjson

from .base import (DEAD, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, DEFAULT_TIMEOUT, DONE, FAILED,
                   QUEUED, RUNNING, STATES, Claim, Entry, InvalidSubmission, Queue, QueueError,
                   QueueUnavailable, Submission, SubmissionConflict, UnknownSubmission,
                   failure_record,
                   given_up_reason)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,   -- enqueue order
    id          TEXT NOT NULL UNIQUE,
    body        BLOB NOT NULL,                       -- Submission JSON
    problem     TEXT,
    language    TEXT,
    state       TEXT NOT NULL DEFAULT 'queued',
    deliveries  INTEGER NOT NULL DEFAULT 0,
    worker      TEXT,
    receipt     TEXT,                                -- the live claim's token
    lease_until REAL,
    enqueued_at REAL NOT NULL,
    finished_at REAL,
    result      BLOB,                                -- done/failed record JSON
    reason      TEXT                                 -- why failed or dead; queued: why
                                                     -- its last delivery came to nothing
);
CREATE INDEX IF NOT EXISTS submissions_by_state ON submissions(state, seq);
CREATE INDEX IF NOT EXISTS submissions_by_lease ON submissions(state, lease_until);
"""

_POLL = 0.1   # seconds between looks while a claim blocks
# SQLite's primary result codes for a store that may work again later:
# BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, PROTOCOL.
_UNAVAILABLE = {5, 6, 7, 8, 10, 13, 15}


def _full_hint(path: str) -> str:
    try:
        fs = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return ""
    return " (the file system is full)" if fs.f_bavail * fs.f_frsize < (64 << 10) else ""


class SqliteQueue(Queue):
    def __init__(self, path: str, timeout: float = DEFAULT_TIMEOUT, create: bool = True):
        self.url = f"sqlite://{path}"
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        if not create and not os.path.isfile(path):
            raise QueueError(f"no queue database {path} (is --queue / $JUDGE_QUEUE right? "
                             "judge submit and judge worker create it)")
        try:
            if create:
                os.makedirs(directory, exist_ok=True)
            # mode=rw: never create the file when asked not to (it may vanish meanwhile).
            target = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode={'rwc' if create else 'rw'}"
            self._db = sqlite3.connect(target, uri=True, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except OSError as exc:
            raise QueueError(f"cannot open the SQLite queue {path}: {exc}") from None
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot open the SQLite queue") from None
        # One connection per queue object; the lock makes it safe to share
        # between a worker's grading threads and its heartbeat thread.
        self._lock = threading.Lock()

    def _error(self, exc: sqlite3.Error, what: str = "the SQLite queue") -> QueueError:
        code = getattr(exc, "sqlite_errorcode", None)
        kind = QueueUnavailable if code is not None and code & 0xFF in _UNAVAILABLE else QueueError
        # SQLite says "disk I/O error" when it cannot even make its -shm file.
        return kind(f"{what} {self.path}: {exc}{'' if 'full' in str(exc) else _full_hint(self.path)}")

    # -- one transaction -------------------------------------------------
    def _write(self, fn, *args):
        """Run fn(db, *args) inside BEGIN IMMEDIATE ... COMMIT; all or nothing."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(db, *args)
                    db.execute("COMMIT")     # a full disk fails here too (the WAL grows)
                except BaseException:
                    if db.in_transaction:
                        try:
                            db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass             # SQLite rolled back already
                    raise
                return out
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    def _read(self, sql: str, args=()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    # -- Queue ------------------------------------------------------------
    def enqueue(self, submission: Submission) -> bool:
        def insert(db):
            cur = db.execute(
                "INSERT OR IGNORE INTO submissions (id, body, problem, language, enqueued_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (submission.id, submission.to_json(), submission.problem,
                 submission.language, submission.enqueued_at))
            if cur.rowcount == 1:
                return True
            (body,), = db.execute("SELECT body FROM submissions WHERE id = ?",
                                  (submission.id,)).fetchall()
            try:
                same = Submission.from_json(body).fingerprint() == submission.fingerprint()
            except InvalidSubmission:
                same = False                 # a dead letter holds the id
            if not same:
                raise SubmissionConflict(f"submission id {submission.id!r} is already taken "
                                         f"by a different submission in {self.url}")
            return False
        return self._write(insert)

    def claim(self, worker: str, lease: float = DEFAULT_LEASE, block: float = 0.0,
              max_deliveries: int = DEFAULT_MAX_DELIVERIES) -> Claim | None:
        deadline = time.monotonic() + block
        while True:
            # A cheap read first, so idle workers do not queue up for the
            # write lock just to find nothing.
            if self._claimable():
                claim = self._write(self._claim_one, worker, lease, max_deliveries)
                if claim is not None:
                    return claim
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL)

    def _claimable(self) -> bool:
        rows = self._read(
            "SELECT 1 FROM submissions WHERE state = ? "
            "UNION ALL SELECT 1 FROM submissions WHERE state = ? AND lease_until < ? LIMIT 1",
            (QUEUED, RUNNING, time.time()))
        return bool(rows)

    def _claim_one(self, db, worker: str, lease: float, max_deliveries: int) -> Claim | None:
        while True:
            now = time.time()
            # Expired leases first: they are older than anything still queued.
            row = db.execute(
                "SELECT seq, id, body, deliveries, worker, reason FROM submissions"
                " WHERE state = ? AND lease_until < ? ORDER BY lease_until LIMIT 1",
                (RUNNING, now)).fetchone()
            if row is None:
                row = db.execute(
                    "SELECT seq, id, body, deliveries, worker, reason FROM submissions"
                    " WHERE state = ? ORDER BY seq LIMIT 1", (QUEUED,)).fetchone()
            if row is None:
                return None
            seq, sub_id, body, deliveries, last_worker, last_reason = row
            try:
                submission = Submission.from_json(body)
            except InvalidSubmission as exc:
                db.execute("UPDATE submissions SET state = ?, reason = ?, worker = ?,"
                           " finished_at = ?, receipt = NULL, lease_until = NULL WHERE seq = ?",
                           (DEAD, str(exc), worker, now, seq))
                continue
            if deliveries >= max_deliveries:
                reason = given_up_reason(deliveries, last_worker, last_reason)
                record = failure_record(sub_id, reason, worker=last_worker,
                                        problem=submission.problem,
                                        language=submission.language)
                db.execute("UPDATE submissions SET state = ?, reason = ?, result = ?,"
                           " finished_at = ?, receipt = NULL, lease_until = NULL WHERE seq = ?",
                           (FAILED, reason, orjson.dumps(record), now, seq))
                continue
            receipt = uuid.uuid4().hex
            db.execute("UPDATE submissions SET state = ?, deliveries = deliveries + 1,"
                       " worker = ?, receipt = ?, lease_until = ?, reason = NULL WHERE seq = ?",
                       (RUNNING, worker, receipt, now + lease, seq))
            return Claim(submission, worker, receipt, deliveries + 1, now)

    def heartbeat(self, claim: Claim, lease: float = DEFAULT_LEASE) -> bool:
        def extend(db):
            return db.execute(
                "UPDATE submissions SET lease_until = ? WHERE id = ? AND receipt = ?"
                " AND state = ?", (time.time() + lease, claim.submission.id,
                                   claim.receipt, RUNNING)).rowcount == 1
        return self._write(extend)

    def complete(self, claim: Claim, result: dict) -> bool:
        return self._finish(claim, DONE, result, None)

    def fail(self, claim: Claim, reason: str) -> bool:
        sub = claim.submission
        record = failure_record(sub.id, reason, worker=claim.worker, problem=sub.problem,
                                language=sub.language)
        return self._finish(claim, FAILED, record, reason)

    def _finish(self, claim: Claim, state: str, record: dict, reason: str | None) -> bool:
        # Keyed by id, not by receipt: a worker whose lease ran out may still
        # be first to finish, and then its result is the one kept.
        # The same record again (a write retried after an error that hid its
        # success) counts as stored, as in the Redis backend.
        data = orjson.dumps(record)

        def store(db):
            if db.execute(
                    "UPDATE submissions SET state = ?, result = ?, reason = ?, worker = ?,"
                    " finished_at = ?, receipt = NULL, lease_until = NULL"
                    " WHERE id = ? AND state IN (?, ?)",
                    (state, data, reason, claim.worker, time.time(),
                     claim.submission.id, QUEUED, RUNNING)).rowcount == 1:
                return True
            return db.execute("SELECT 1 FROM submissions WHERE id = ? AND state = ? AND"
                              " result = ?", (claim.submission.id, state, data)
                              ).fetchone() is not None
        return self._write(store)

    def release(self, claim: Claim) -> None:
        def give_back(db):
            db.execute("UPDATE submissions SET state = ?, deliveries = deliveries - 1,"
                       " worker = NULL, receipt = NULL, lease_until = NULL"
                       " WHERE id = ? AND receipt = ? AND state = ?",
                       (QUEUED, claim.submission.id, claim.receipt, RUNNING))
        self._write(give_back)

    def retry(self, claim: Claim, reason: str) -> None:
        def give_back(db):
            # `reason` on a queued row: why its last delivery came to nothing.
            db.execute("UPDATE submissions SET state = ?, worker = NULL, receipt = NULL,"
                       " lease_until = NULL, reason = ? WHERE id = ? AND receipt = ? AND state = ?",
                       (QUEUED, reason, claim.submission.id, claim.receipt, RUNNING))
        self._write(give_back)

    def result(self, submission_id: str) -> dict | None:
        rows = self._read("SELECT state, result, reason, worker, finished_at FROM submissions"
                          " WHERE id = ?", (submission_id,))
        if not rows:
            raise UnknownSubmission(f"no submission {submission_id!r} in {self.url}")
        state, result, reason, worker, finished_at = rows[0]
        if state in (DONE, FAILED):
            return orjson.loads(result)
        if state == DEAD:
            record = failure_record(submission_id, reason, worker=worker, state=DEAD)
            record["finished_at"] = finished_at
            return record
        return None

    def list(self, state: str | None = None, limit: int = 100) -> list[Entry]:
        if state is not None and state not in STATES:
            raise QueueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        sql = ("SELECT id, state, problem, language, worker, deliveries, enqueued_at,"
               " finished_at, result, reason FROM submissions")
        args: tuple = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state,)
        rows = self._read(sql + " ORDER BY seq LIMIT ?", args + (limit,))
        entries = []
        for (sub_id, st, problem, language, worker, deliveries, enqueued_at,
             finished_at, result, reason) in rows:
            verdict = orjson.loads(result).get("verdict") if result else None
            entries.append(Entry(sub_id, st, problem, language, worker, deliveries,
                                 enqueued_at, finished_at, verdict, reason))
        return entries

    def dead_letters(self, limit: int = 100) -> list[dict]:
        rows = self._read("SELECT id, body, reason, worker, finished_at FROM submissions"
                          " WHERE state = ? ORDER BY seq LIMIT ?", (DEAD, limit))
        return [{"id": sub_id, "message": body if isinstance(body, str)
                 else bytes(body).decode("utf-8", "replace"),
                 "reason": reason, "worker": worker, "at": at}
                for sub_id, body, reason, worker, at in rows]

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error as exc:
                raise self._error(exc) from None

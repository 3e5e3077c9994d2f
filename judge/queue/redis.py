"""The shared queue backend: Redis Streams (`redis://host:port/db`).

Keys (prefix `judge`, or `?prefix=NAME` in the URL):
    {p}:stream    the submissions; fields `id`, `data` (Submission JSON) and,
                  for a released message, `prior` (deliveries before it) and,
                  for one given back by `retry`, `reason` (why that delivery
                  came to nothing)
    group `workers` on the stream, one consumer per worker
    {p}:index     hash id -> {problem, language, enqueued_at, fingerprint}: every
                  id ever enqueued (makes enqueue idempotent, a different
                  submission under a known id a conflict, and `list` possible)
    {p}:results   hash id -> stored result; HSETNX keeps the first only
    {p}:dead      list of messages that were not valid submissions, with why

A claim is a message in the consumer group's pending list (PEL). Its lease
is the message's idle time: a heartbeat re-claims it for the same consumer
(resetting the idle time), and `XAUTOCLAIM` hands a message idle longer than
the lease to another worker. A result is stored, acknowledged and deleted
from the stream in one Lua script, so completing twice stores one result.
Every call goes through `_call`, which reconnects with redis-py's own
`Retry` and `ExponentialBackoff` while Redis restarts, for at most `timeout`
seconds (a worker's default: 2 minutes; the command line's: 10 s), then
raises QueueUnavailable; the server must persist (AOF) for nothing to be lost.
"""
from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit

import orjson
import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from .base import (DEAD, DEFAULT_LEASE, DEFAULT_MAX_DELIVERIES, DEFAULT_TIMEOUT, DONE, QUEUED,
                   RUNNING, STATES, Claim, Entry, InvalidSubmission, Queue, QueueError,
                   QueueUnavailable, Submission, SubmissionConflict, UnknownSubmission,
                   failure_record, given_up_reason, valid_id)

log = logging.getLogger("judge.queue")

GROUP = "workers"
_MAX_BLOCK = 5.0            # longest single XREADGROUP wait (s); socket timeout is above it
_SOCKET_TIMEOUT = 15.0
_CONNECT_TIMEOUT = 5.0      # one connection attempt (a host that drops packets)


class _UntilDeadline(ExponentialBackoff):
    """Waits between reconnection attempts: 0.1 s doubling to 5 s, the last
    one cut short at the deadline (a Retry that never gives up by count
    ends when `remaining()` is 0)."""

    def __init__(self, deadline: float):
        super().__init__(cap=5.0, base=0.05)
        self.deadline = deadline

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def compute(self, failures: int) -> float:
        return min(super().compute(failures), self.remaining())


# Replies that mean "this server cannot serve writes right now" (out of
# memory, a replica during failover): the queue is unavailable, not broken.
_TRANSIENT = (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError,
              redis.exceptions.TryAgainError, redis.exceptions.ClusterDownError)
# A wrong password or user is not going to heal by waiting.
_PERMANENT = (redis.exceptions.AuthenticationError, redis.exceptions.AuthorizationError)

# 1 when added; else the index entry already there (its fingerprint decides
# between a retried submit and a conflict).
_ENQUEUE = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return redis.call('HGET', KEYS[1], ARGV[1])
end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'data', ARGV[3])
return 1
"""

# Store the result unless one exists, then retire the message. A record
# byte-for-byte the one sent (it names the worker, the attempt and the time)
# is this very store, retried because the server's reply was lost when it
# went down: that counts as stored, not as somebody else's earlier result.
_FINISH = """
local stored = redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[4])
if stored == 0 and redis.call('HGET', KEYS[1], ARGV[3]) == ARGV[4] then stored = 1 end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
return stored
"""

# Only the consumer that holds the message may extend it.
_HEARTBEAT = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""

# Put the message back at the tail, carrying its earlier deliveries: minus
# this one for a release (ARGV[4] = 0: not a failed delivery), with it and
# its reason for a retry (ARGV[4] = 1, ARGV[5] = the reason).
_RELEASE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
local m = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if #m == 0 then return 0 end
local fields, prior = {}, 0
local f = m[1][2]
for i = 1, #f, 2 do
  if f[i] == 'prior' then prior = tonumber(f[i + 1]) or 0
  elseif f[i] ~= 'reason' then fields[#fields + 1] = f[i]; fields[#fields + 1] = f[i + 1] end
end
local counted = tonumber(ARGV[4])
fields[#fields + 1] = 'prior'
fields[#fields + 1] = tostring(prior + p[1][4] - 1 + counted)
if counted == 1 then
  fields[#fields + 1] = 'reason'
  fields[#fields + 1] = ARGV[5]
end
redis.call('XADD', KEYS[1], '*', unpack(fields))
return 1
"""

_DEAD_LETTER = """
redis.call('RPUSH', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[5]) end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""


def _count(raw: bytes | None) -> int:
    try:
        return max(int(raw or 0), 0)
    except ValueError:
        return 0


def parse_url(url: str) -> tuple[str, str]:
    """redis://host:port/db?prefix=NAME -> (URL for redis-py, key prefix)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", ["judge"])[-1]
    if query:
        raise QueueError(f"unknown option(s) in queue URL: {', '.join(sorted(query))}")
    if not prefix:
        raise QueueError("empty ?prefix= in queue URL")
    return urlunsplit(parts._replace(query="")), prefix


class RedisQueue(Queue):
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        self.url = url
        client_url, prefix = parse_url(url)
        self.timeout = timeout
        self.stream = f"{prefix}:stream"
        self.index = f"{prefix}:index"
        self.results = f"{prefix}:results"
        self.dead = f"{prefix}:dead"
        # One attempt never outlasts the whole timeout; a read outlasts the
        # longest blocking XREADGROUP.
        connect = min(_CONNECT_TIMEOUT, timeout)
        read = max(min(_SOCKET_TIMEOUT, timeout), _MAX_BLOCK + 1.0)
        try:
            # The client itself does not retry: _call does, around whole
            # calls, so that the time bound and the log lines are ours.
            self._redis = redis.Redis.from_url(
                client_url, socket_timeout=read, socket_connect_timeout=connect,
                retry=Retry(NoBackoff(), 0), decode_responses=False)
        except ValueError as exc:
            raise QueueError(f"invalid queue URL {url!r}: {exc}") from None
        r = self._redis
        self._enqueue = r.register_script(_ENQUEUE)
        self._finish = r.register_script(_FINISH)
        self._heartbeat = r.register_script(_HEARTBEAT)
        self._release = r.register_script(_RELEASE)
        self._dead_letter = r.register_script(_DEAD_LETTER)
        self._autoclaim_cursor = "0-0"
        self._call(self._ensure_group)

    # -- connection handling ---------------------------------------------
    def _ensure_group(self) -> None:
        try:
            self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), reconnecting with exponential backoff for at
        most `timeout` seconds (BusyLoadingError, Redis reading its AOF, is a
        ConnectionError too), then QueueUnavailable."""
        started = time.monotonic()
        backoff = _UntilDeadline(started + self.timeout)
        retry = Retry(backoff, -1, supported_errors=(redis.ConnectionError, redis.TimeoutError))

        def retryable(exc) -> bool:
            return not isinstance(exc, _PERMANENT) and backoff.remaining() > 0

        def log_failure(exc, count: int) -> None:
            log.warning("redis at %s unreachable (%s); retrying in %.2fs",
                        self.url, exc, backoff.compute(count))

        while True:
            try:
                return retry.call_with_retry(lambda: fn(*args, **kwargs), log_failure,
                                             is_retryable=retryable, with_failure_count=True)
            except _PERMANENT as exc:
                raise QueueError(f"redis at {self.url}: {exc}") from None
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                waited = time.monotonic() - started
                raise QueueUnavailable(f"redis at {self.url} unreachable for "
                                       f"{waited:.0f}s: {exc}") from None
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream or group vanished (data loss)
                    log.warning("consumer group missing on %s; recreating it", self.url)
                    self._call(self._ensure_group)
                    continue
                if isinstance(exc, _TRANSIENT):
                    raise QueueUnavailable(f"redis at {self.url}: {exc}") from None
                raise QueueError(f"redis at {self.url}: {exc}") from None
            except redis.RedisError as exc:
                raise QueueError(f"redis at {self.url}: {exc}") from None

    # -- Queue ------------------------------------------------------------
    def enqueue(self, submission: Submission) -> bool:
        fingerprint = submission.fingerprint()
        meta = orjson.dumps({"problem": submission.problem, "language": submission.language,
                             "enqueued_at": submission.enqueued_at,
                             "fingerprint": fingerprint})
        reply = self._call(self._enqueue, keys=[self.index, self.stream],
                           args=[submission.id, meta, submission.to_json()])
        if reply == 1:
            return True
        try:
            known = orjson.loads(reply).get("fingerprint")
        except (orjson.JSONDecodeError, AttributeError):
            known = None
        if known != fingerprint:
            raise SubmissionConflict(f"submission id {submission.id!r} is already taken "
                                     f"by a different submission in {self.url}")
        return False

    def claim(self, worker: str, lease: float = DEFAULT_LEASE, block: float = 0.0,
              max_deliveries: int = DEFAULT_MAX_DELIVERIES) -> Claim | None:
        deadline = time.monotonic() + block
        while True:
            message = self._call(self._take_expired, worker, lease)
            if message is None:
                wait = min(max(deadline - time.monotonic(), 0.0), _MAX_BLOCK)
                message = self._call(self._take_new, worker, wait)
            if message is not None:
                claim = self._accept(message, worker, max_deliveries)
                if claim is not None:
                    return claim
                continue
            if time.monotonic() >= deadline:
                return None

    def _take_expired(self, worker: str, lease: float):
        # The cursor walks the whole pending list across calls: XAUTOCLAIM
        # scans only a few entries per call.
        cursor, messages, *_ = self._redis.xautoclaim(
            self.stream, GROUP, worker, int(lease * 1000), self._autoclaim_cursor, count=1)
        self._autoclaim_cursor = cursor
        return messages[0] if messages else None

    def _take_new(self, worker: str, wait: float):
        block = int(wait * 1000) if wait > 0 else None
        reply = self._redis.xreadgroup(GROUP, worker, {self.stream: ">"}, count=1, block=block)
        if not reply:
            return None
        messages = reply[0][1]
        return messages[0] if messages else None

    def _accept(self, message, worker: str, max_deliveries: int) -> Claim | None:
        msg_id, fields = message
        msg_id = msg_id.decode()
        fields = fields or {}
        try:
            raw = fields.get(b"data")
            if raw is None:
                raise InvalidSubmission("no 'data' field in the message")
            submission = Submission.from_json(raw)
        except InvalidSubmission as exc:
            self._bury(msg_id, fields, str(exc), worker)
            return None
        pending = self._call(self._redis.xpending_range, self.stream, GROUP,
                             msg_id, msg_id, 1)
        delivered = pending[0]["times_delivered"] if pending else 1
        attempt = delivered + _count(fields.get(b"prior"))
        claim = Claim(submission, worker, msg_id, attempt, time.time())
        if attempt > max_deliveries:
            # `reason` tells of the delivery before this entry was added; it
            # is the last one only on this entry's first delivery.
            last = fields.get(b"reason") if delivered == 1 else None
            reason = given_up_reason(attempt - 1, None,
                                     last.decode("utf-8", "replace") if last else None)
            self._store(claim, failure_record(submission.id, reason, worker=worker,
                                              problem=submission.problem,
                                              language=submission.language))
            log.warning("submission %s: %s", submission.id, reason)
            return None
        return claim

    def _bury(self, msg_id: str, fields: dict, reason: str, worker: str) -> None:
        shown = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                 for k, v in fields.items()}
        entry = orjson.dumps({"message_id": msg_id, "fields": shown, "reason": reason,
                              "worker": worker, "at": time.time()})
        sub_id = shown.get("id", "")
        if not valid_id(sub_id):
            sub_id = ""
        record = orjson.dumps(failure_record(sub_id, reason, worker=worker, state=DEAD))
        self._call(self._dead_letter, keys=[self.stream, self.dead, self.results],
                   args=[GROUP, msg_id, entry, sub_id, record])
        log.warning("dead-lettered message %s: %s", msg_id, reason)

    def heartbeat(self, claim: Claim, lease: float = DEFAULT_LEASE) -> bool:
        return bool(self._call(self._heartbeat, keys=[self.stream],
                               args=[GROUP, claim.receipt, claim.worker]))

    def complete(self, claim: Claim, result: dict) -> bool:
        return self._store(claim, result)

    def fail(self, claim: Claim, reason: str) -> bool:
        sub = claim.submission
        return self._store(claim, failure_record(sub.id, reason, worker=claim.worker,
                                                 problem=sub.problem, language=sub.language))

    def _store(self, claim: Claim, record: dict) -> bool:
        return bool(self._call(self._finish, keys=[self.results, self.stream],
                               args=[GROUP, claim.receipt, claim.submission.id,
                                     orjson.dumps(record)]))

    def release(self, claim: Claim) -> None:
        self._call(self._release, keys=[self.stream],
                   args=[GROUP, claim.receipt, claim.worker, 0, ""])

    def retry(self, claim: Claim, reason: str) -> None:
        self._call(self._release, keys=[self.stream],
                   args=[GROUP, claim.receipt, claim.worker, 1, reason])

    def retire(self, worker: str) -> None:
        """Forget a stopping worker's consumer, unless it still holds messages."""
        def forget():
            for consumer in self._redis.xinfo_consumers(self.stream, GROUP):
                if consumer["name"].decode() == worker and consumer["pending"] == 0:
                    self._redis.xgroup_delconsumer(self.stream, GROUP, worker)
        self._call(forget)

    def result(self, submission_id: str) -> dict | None:
        def fetch():
            pipe = self._redis.pipeline(transaction=False)
            pipe.hget(self.results, submission_id)
            pipe.hexists(self.index, submission_id)
            return pipe.execute()
        record, known = self._call(fetch)
        if record is not None:
            return orjson.loads(record)
        if not known:
            raise UnknownSubmission(f"no submission {submission_id!r} in {self.url}")
        return None

    def list(self, state: str | None = None, limit: int = 100) -> list[Entry]:
        if state is not None and state not in STATES:
            raise QueueError(f"unknown state {state!r} (one of {', '.join(STATES)})")
        index = {k.decode(): orjson.loads(v) for k, v in self._call(self._redis.hgetall,
                                                                     self.index).items()}
        ids = sorted(index, key=lambda i: index[i].get("enqueued_at") or 0)
        records = self._call(self._redis.hmget, self.results, ids) if ids else []
        running = self._call(self._running)
        entries = []
        for sub_id, record in zip(ids, records):
            meta = index[sub_id]
            common = dict(problem=meta.get("problem"), language=meta.get("language"),
                          enqueued_at=meta.get("enqueued_at"))
            if record is not None:
                rec = orjson.loads(record)
                st = rec.get("state") or DONE
                entry = Entry(sub_id, st, worker=rec.get("worker"),
                              finished_at=rec.get("finished_at"), verdict=rec.get("verdict"),
                              reason=rec.get("error"), **common)
            elif sub_id in running:
                worker, attempts = running[sub_id]
                entry = Entry(sub_id, RUNNING, worker=worker, attempts=attempts, **common)
            else:
                entry = Entry(sub_id, QUEUED, **common)
            if state is None or entry.state == state:
                entries.append(entry)
                if len(entries) >= limit:
                    break
        return entries

    def pending(self, limit: int = 10000) -> list[Entry]:
        # The stream holds exactly the unfinished submissions (a result
        # deletes its message), in claim order; the pending list says which
        # of them a worker holds.
        messages = self._call(self._redis.xrange, self.stream, "-", "+", limit)
        running = self._call(self._running)
        queued, held = [], []
        for _msg_id, fields in messages:
            sub_id = fields.get(b"id", b"").decode("utf-8", "replace")
            try:
                data = orjson.loads(fields.get(b"data") or b"{}")
            except orjson.JSONDecodeError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            common = dict(problem=data.get("problem"), language=data.get("language"),
                          enqueued_at=data.get("enqueued_at"))
            if sub_id in running:
                worker, attempts = running[sub_id]
                held.append(Entry(sub_id, RUNNING, worker=worker, attempts=attempts, **common))
            else:
                queued.append(Entry(sub_id, QUEUED, **common))
        return queued + held

    def _running(self) -> dict[str, tuple[str, int]]:
        """submission id -> (worker, deliveries) for every pending message."""
        pending = self._redis.xpending_range(self.stream, GROUP, "-", "+", 10000)
        pipe = self._redis.pipeline(transaction=False)
        for item in pending:
            pipe.xrange(self.stream, item["message_id"], item["message_id"])
        out = {}
        for item, found in zip(pending, pipe.execute()):
            if found:
                sub_id = found[0][1].get(b"id", b"").decode("utf-8", "replace")
                out[sub_id] = (item["consumer"].decode(), item["times_delivered"])
        return out

    def dead_letters(self, limit: int = 100) -> list[dict]:
        return [orjson.loads(x) for x in self._call(self._redis.lrange, self.dead, 0, limit - 1)]

    def close(self) -> None:
        self._redis.close()

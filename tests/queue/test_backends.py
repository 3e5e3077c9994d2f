"""The queue contract (judge/queue/base.py), run against both backends."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import orjson
import pytest

from queue_helpers import HELPERS, REPO, inject_malformed, make

from judge.queue import (DEAD, DONE, FAILED, QUEUED, RUNNING, SubmissionConflict,
                         UnknownSubmission)

def test_enqueue_claim_complete_result(queue):
    sub = make(language="python3", time_limit=2.0)
    assert queue.enqueue(sub)
    assert queue.result(sub.id) is None
    claim = queue.claim("w1")
    assert claim.submission == sub and claim.attempt == 1 and claim.worker == "w1"
    assert queue.claim("w2") is None
    assert queue.complete(claim, {"submission": sub.id, "verdict": "AC"})
    assert queue.result(sub.id) == {"submission": sub.id, "verdict": "AC"}


def test_an_identical_resubmit_is_enqueued_once(queue):
    sub = make(language="python3", time_limit=2.0)
    assert queue.enqueue(sub)
    again = make(id=sub.id, language="python3", time_limit=2.0)   # a later enqueued_at
    assert again.enqueued_at >= sub.enqueued_at
    assert not queue.enqueue(again)
    assert queue.claim("w1").submission == sub
    assert queue.claim("w1") is None
    assert [e.id for e in queue.list()] == [sub.id]


@pytest.mark.parametrize("change", [{"source": "WA"}, {"problem": "/p/other"},
                                    {"filename": "b.py"}, {"language": "cpp"},
                                    {"time_limit": 3.0},
                                    {"source": "", "files": {"a.py": "AC"}}])
def test_the_same_id_with_other_content_is_a_conflict(queue, change):
    sub = make()
    assert queue.enqueue(sub)
    with pytest.raises(SubmissionConflict, match=f"id '{sub.id}' is already taken"):
        queue.enqueue(make(**{"source": "AC", "id": sub.id, **change}))
    claim = queue.claim("w1")
    assert claim.submission == sub and queue.claim("w1") is None
    # Also after it was graded: the id still names the first submission.
    queue.complete(claim, {"verdict": "AC"})
    with pytest.raises(SubmissionConflict):
        queue.enqueue(make(**{"source": "AC", "id": sub.id, **change}))
    assert not queue.enqueue(make(id=sub.id))
    assert queue.result(sub.id) == {"verdict": "AC"}


def test_a_directory_submission_round_trips(queue):
    sub = make("", files={"main.py": "print(1)\n", "run": "#!/bin/sh\n"}, executable=["run"],
               filename="solution")
    assert sub.executable == ("run",)
    assert queue.enqueue(sub)
    assert queue.claim("w1").submission == sub
    assert not queue.enqueue(make("", id=sub.id, files=dict(sub.files), executable=("run",),
                                  filename="solution"))


def test_claims_come_in_enqueue_order(queue):
    subs = [make() for _ in range(5)]
    for sub in subs:
        queue.enqueue(sub)
    assert [queue.claim("w").submission.id for _ in subs] == [s.id for s in subs]


def test_claim_blocks_then_gives_none(queue):
    started = time.monotonic()
    assert queue.claim("w", block=0.4) is None
    assert 0.35 < time.monotonic() - started < 30    # it waited, then gave up


def test_blocking_claim_wakes_for_a_new_submission(queue):
    sub = make()
    threading.Timer(0.3, queue.enqueue, [sub]).start()
    claim = queue.claim("w", block=5)
    assert claim is not None and claim.submission.id == sub.id


def test_completing_twice_stores_the_first_result(queue):
    sub = make()
    queue.enqueue(sub)
    claim = queue.claim("w1")
    assert queue.complete(claim, {"verdict": "AC", "n": 1})
    assert not queue.complete(claim, {"verdict": "WA", "n": 2})
    assert not queue.fail(claim, "too late")
    assert queue.result(sub.id) == {"verdict": "AC", "n": 1}


def test_a_store_repeated_after_a_lost_reply_counts_as_stored(queue):
    # A server that goes down after storing but before replying makes the
    # worker send the very same record again: it is stored (once), so the
    # worker counts it done, not as somebody else's earlier result.
    sub = make()
    queue.enqueue(sub)
    claim = queue.claim("w1")
    record = {"verdict": "AC", "worker": "w1", "attempt": 1, "finished_at": 12.5}
    assert queue.complete(claim, record)
    assert queue.complete(claim, dict(record))
    assert not queue.complete(claim, {**record, "finished_at": 13.0})
    assert queue.result(sub.id) == record


def test_expired_lease_goes_to_the_next_worker(queue):
    sub = make()
    queue.enqueue(sub)
    first = queue.claim("w1", lease=0.5)
    assert queue.claim("w2", lease=0.5) is None
    time.sleep(0.8)
    second = queue.claim("w2", lease=0.5)
    assert second.submission.id == sub.id and second.attempt == 2 and second.worker == "w2"
    assert not queue.heartbeat(first, lease=0.5)          # w1 lost it
    assert queue.heartbeat(second, lease=0.5)
    # The slow first worker still finishes first: its result is the one kept.
    assert queue.complete(first, {"by": "w1"})
    assert not queue.complete(second, {"by": "w2"})
    assert queue.result(sub.id) == {"by": "w1"}
    assert queue.claim("w3", lease=0.5) is None


def test_heartbeats_keep_the_lease(queue):
    queue.enqueue(make())
    claim = queue.claim("w1", lease=0.6)
    for _ in range(6):
        time.sleep(0.25)
        assert queue.heartbeat(claim, lease=0.6)
        assert queue.claim("w2", lease=0.6) is None


def test_release_gives_it_back_at_once_and_is_no_delivery(queue):
    sub = make()
    queue.enqueue(sub)
    claim = queue.claim("w1", lease=60)
    queue.release(claim)
    again = queue.claim("w2", lease=60)
    assert again.submission.id == sub.id and again.attempt == 1
    queue.release(claim)                       # not w1's any more: no effect
    assert not queue.heartbeat(claim) and queue.heartbeat(again)


def test_given_up_after_max_deliveries(queue):
    sub = make()
    queue.enqueue(sub)
    for attempt in (1, 2):
        claim = queue.claim(f"w{attempt}", lease=0.3, max_deliveries=2)
        assert claim.attempt == attempt
        time.sleep(0.5)
    assert queue.claim("w3", lease=0.3, max_deliveries=2) is None
    record = queue.result(sub.id)
    assert record["state"] == FAILED and "given up after 2 deliveries" in record["error"]


def test_fail_stores_a_clear_reason(queue):
    sub = make(language="cobol")
    queue.enqueue(sub)
    claim = queue.claim("w1")
    assert queue.fail(claim, "unknown language 'cobol'")
    record = queue.result(sub.id)
    assert record["state"] == FAILED and record["error"] == "unknown language 'cobol'"
    assert record["submission"] == sub.id and record["language"] == "cobol"
    assert record["worker"] == "w1"
    assert not queue.complete(claim, {"verdict": "AC"})


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "not JSON"),
    (b'["a list"]', "expected a JSON object"),
    (b'{"id": "x1", "problem": "p"}', "missing field(s): source"),
    (b'{"id": "x1", "problem": "p", "source": "", "bogus": 1}', "unknown field(s): bogus"),
    (b'{"id": "../x", "problem": "p", "source": ""}', "invalid id"),
    (b'{"id": "x1", "problem": "p", "source": "", "filename": "../../etc/passwd"}',
     "invalid filename"),
    (b'{"id": "x1", "problem": "p", "source": "", "time_limit": -1}', "invalid time_limit"),
])
def test_malformed_messages_are_dead_lettered(queue, raw, reason):
    inject_malformed(queue, raw)
    good = make()
    queue.enqueue(good)
    assert queue.claim("w1").submission.id == good.id
    dead = queue.dead_letters()
    assert len(dead) == 1 and reason in dead[0]["reason"] and dead[0]["worker"] == "w1"
    assert queue.result("broken-1")["state"] == DEAD
    assert queue.claim("w1") is None


def test_list_shows_every_state(queue):
    subs = [make() for _ in range(4)]
    for sub in subs:
        queue.enqueue(sub)
    done, failed, running = (queue.claim("w1") for _ in range(3))
    queue.complete(done, {"verdict": "WA", "state": DONE})
    queue.fail(failed, "no such problem")
    entries = queue.list()
    assert [e.id for e in entries] == [s.id for s in subs]
    assert [e.state for e in entries] == [DONE, FAILED, RUNNING, QUEUED]
    assert entries[0].verdict == "WA"
    assert entries[1].reason == "no such problem"
    assert entries[2].worker == "w1" and entries[2].attempts == 1
    assert entries[3].problem == "/p/hello"
    assert [e.id for e in queue.list(state=RUNNING)] == [running.submission.id]
    assert len(queue.list(limit=2)) == 2


def test_result_of_an_unknown_id(queue):
    with pytest.raises(UnknownSubmission):
        queue.result("never-submitted")


def test_wait_result(queue):
    sub = make()
    queue.enqueue(sub)
    claim = queue.claim("w1")
    assert queue.wait_result(sub.id, timeout=0.3) is None
    threading.Timer(0.3, queue.complete, [claim, {"verdict": "AC"}]).start()
    assert queue.wait_result(sub.id, timeout=10) == {"verdict": "AC"}


def test_several_processes_never_claim_the_same_submission(queue, queue_url, tmp_path):
    ids = {make().id for _ in range(200)}
    for sub_id in ids:
        queue.enqueue(make(id=sub_id))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(HELPERS), "claim", queue_url,
                               "--worker-id", f"p{i}", "--go", str(go)],
                              stdout=subprocess.PIPE, env=env)
             for i in range(4)]
    time.sleep(1.0)             # let every process open the queue first
    go.touch()
    claimed = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        claimed.append(orjson.loads(out))
    every = [sub_id for batch in claimed for sub_id in batch]
    assert len(every) == len(set(every)) == 200 and set(every) == ids
    assert sum(1 for batch in claimed if batch) >= 2, [len(b) for b in claimed]  # they competed
    assert all(queue.result(sub_id)["verdict"] == "AC" for sub_id in ids)

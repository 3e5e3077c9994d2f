"""`judge serve`'s API against a real server process, a real `judge worker`
(started by --workers 1) grading in real boxes, on both queue backends.
Needs root (boxes). Box ids: 620, 621."""
from __future__ import annotations

import os
import re

import pytest

from .serve_helpers import (ADD_C_BROKEN, ADD_OK, ADD_TESTS, ADD_WRONG, http, wait_for)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="workers need root")


def submit(server, body, wait=None, **kw):
    return http("POST", server.url + "/submissions" + (f"?wait={wait}" if wait else ""), body, **kw)


def test_submit_wait_and_fetch(judged):
    reply = submit(judged, {"problem": "add", "language": "python3", "source": ADD_OK}, wait=60)
    assert reply.status == 201, reply
    body = reply.json()
    assert body["created"] is True and "result" in body, body
    result = body["result"]
    assert result["verdict"] == "AC" and result["state"] == "done"
    assert [t["name"] for t in result["tests"]] == [name for name, _, _ in ADD_TESTS]
    assert reply.headers["Location"] == f"/submissions/{body['id']}"
    fetched = http("GET", f"{judged.url}/submissions/{body['id']}")
    assert fetched.status == 200 and fetched.json() == result


def test_submit_then_poll_a_wrong_answer(judged):
    reply = submit(judged, {"problem": "add", "source": ADD_WRONG, "filename": "sub.py"})
    assert reply.status == 201, reply
    sub_id = reply.json()["id"]
    first = http("GET", f"{judged.url}/submissions/{sub_id}").json()
    assert first["submission"] == sub_id and first["state"] in ("queued", "running", "done")
    done = wait_for(lambda: (r := http("GET", f"{judged.url}/submissions/{sub_id}").json())
                    .get("state") == "done" and r, what="the result")
    assert done["verdict"] == "WA"
    assert done["language"] == "python3"          # told by the file name's ending


def test_a_compile_error_is_a_verdict(judged):
    reply = submit(judged, {"problem": "add", "language": "c", "source": ADD_C_BROKEN}, wait=60)
    result = reply.json()["result"]
    assert result["verdict"] == "CE" and result["compile"]["message"]


def test_batch(judged):
    items = [{"problem": "add", "language": "python3", "source": ADD_OK, "id": f"b-ok-{judged.backend}"},
             {"problem": "add", "language": "python3", "source": ADD_WRONG},
             {"problem": "add", "files": {"main.py": ADD_OK}}]
    reply = http("POST", f"{judged.url}/submissions/batch", {"submissions": items})
    assert reply.status == 201, reply
    ids = [s["id"] for s in reply.json()["submissions"]]
    assert ids[0] == f"b-ok-{judged.backend}" and len(set(ids)) == 3

    def verdicts():
        got = [http("GET", f"{judged.url}/submissions/{i}").json() for i in ids]
        return all(g.get("state") == "done" for g in got) and [g["verdict"] for g in got]
    assert wait_for(verdicts, 120, "the batch's results") == ["AC", "WA", "AC"]
    # The same batch again: the same submissions, nothing new.
    again = http("POST", f"{judged.url}/submissions/batch", items[:1])
    assert again.status == 201 and again.json()["submissions"] == [{"id": ids[0], "created": False}]


def test_ids_are_idempotent_and_a_reused_id_is_a_conflict(judged):
    body = {"problem": "add", "language": "python3", "source": ADD_OK, "id": f"same-{judged.backend}"}
    first, second = submit(judged, body), submit(judged, body)
    assert first.status == 201 and first.json() == {"id": body["id"], "created": True}
    assert second.status == 200 and second.json() == {"id": body["id"], "created": False}
    other = submit(judged, {**body, "source": ADD_WRONG})
    assert other.status == 409 and "already used" in other.json()["error"], other
    batch = http("POST", f"{judged.url}/submissions/batch",
                 [{**body, "source": ADD_WRONG}, {**body, "id": f"fresh-{judged.backend}"}])
    assert batch.status == 409, batch
    rows = batch.json()["submissions"]
    assert "error" in rows[0] and rows[1] == {"id": f"fresh-{judged.backend}", "created": True}


def test_problems_languages_health_openapi(judged):
    problems = http("GET", f"{judged.url}/problems").json()["problems"]
    assert [p["name"] for p in problems] == ["add", "broken", "conly"]
    assert "error" in problems[1] and problems[2]["languages"] == ["c"]
    one = http("GET", f"{judged.url}/problems/add").json()
    assert one["tests"] == len(ADD_TESTS) and one["time_limit"] == 1 and one["memory_limit_mib"] == 256
    assert one["type"] == "pass-fail"
    assert http("GET", f"{judged.url}/problems/nope").status == 404
    languages = {lang["id"] for lang in http("GET", f"{judged.url}/languages").json()["languages"]}
    assert {"c", "cpp", "python3", "java"} <= languages
    health = http("GET", f"{judged.url}/health").json()
    assert health["status"] == "ok" and health["workers_alive"] == 1
    schema = http("GET", f"{judged.url}/openapi.json").json()
    from judge.serve.app import ROUTES
    assert set(schema["paths"]) == {route.path for route in ROUTES}


def test_metrics(judged):
    submit(judged, {"problem": "add", "language": "python3", "source": ADD_WRONG}, wait=60)
    def counted():
        text = http("GET", f"{judged.url}/metrics").body.decode()
        return text if 'judge_submissions_total{verdict="WA"}' in text else None
    text = wait_for(counted, 30, "the WA counted")
    values = {m.group(1): float(m.group(2)) for m in
              re.finditer(r"^(judge_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", text, re.M)}
    assert values['judge_submissions_total{verdict="WA"}'] >= 1
    assert values["judge_tests_run_total"] >= len(ADD_TESTS)
    assert values['judge_box_runs_total{status="WA"}'] >= 1
    assert values["judge_grading_seconds_count"] >= 1
    assert values["judge_workers_alive"] == 1
    assert "judge_queue_depth" in values and values["judge_submissions_accepted_total"] >= 1


def test_callbacks(judged, receiver):
    ok = submit(judged, {"problem": "add", "language": "python3", "source": ADD_OK,
                         "callback_url": receiver.url + "/ok"}).json()["id"]
    flaky = submit(judged, {"problem": "add", "language": "python3", "source": ADD_WRONG,
                            "callback_url": receiver.url + "/fail/2"}).json()["id"]
    down = submit(judged, {"problem": "add", "language": "python3", "source": ADD_OK,
                           "callback_url": receiver.url + "/down"}).json()["id"]
    after = submit(judged, {"problem": "add", "language": "python3", "source": ADD_OK,
                            "callback_url": receiver.url + "/ok"}).json()["id"]
    wait_for(lambda: {b["submission"] for _, _, b in receiver.received} >= {ok, flaky, after},
             120, "the callbacks")
    by_id = {body["submission"]: (path, headers, body) for path, headers, body in receiver.received}
    for sub_id, verdict in ((ok, "AC"), (flaky, "WA"), (after, "AC")):
        path, headers, body = by_id[sub_id]
        assert body == http("GET", f"{judged.url}/submissions/{sub_id}").json()
        assert body["verdict"] == verdict and headers["X-Judge-Submission"] == sub_id
    assert receiver.refused["/fail/2"] == 2               # retried until it took it
    # The failing receiver: tried --callback-attempts (3) times, then given up;
    # the result is kept, and grading went on meanwhile.
    wait_for(lambda: receiver.refused.get("/down") == 3, 30, "three tries of /down")
    assert http("GET", f"{judged.url}/submissions/{down}").json()["verdict"] == "AC"
    metrics = http("GET", f"{judged.url}/metrics").body.decode()
    assert 'judge_callbacks_total{outcome="given_up"} 1.0' in metrics
    assert sum(1 for path, _, _ in receiver.received if path == "/ok") == 2


@pytest.mark.parametrize("backend,box", [("sqlite", "623"), ("redis", "624")])
def test_a_callback_outlives_a_server_killed_before_the_result(start_server, receiver, tmp_path,
                                                               backend, box):
    callbacks = ("--callbacks-db", str(tmp_path / "callbacks.db"))
    first = start_server(backend, *callbacks)                 # no workers: nothing is graded
    sub_id = submit(first, {"problem": "add", "language": "python3", "source": ADD_OK,
                            "callback_url": receiver.url + "/ok"}).json()["id"]
    first.proc.kill()                                         # SIGKILL: no goodbye
    first.proc.wait()
    second = start_server(backend, *callbacks, "--workers", "1", "--boxes", box,
                          "--calibration", "off", queue_url=first.queue_url)
    wait_for(lambda: any(b["submission"] == sub_id for _, _, b in receiver.received), 60,
             "the callback after the restart")
    body = next(b for _, _, b in receiver.received if b["submission"] == sub_id)
    assert body == http("GET", f"{second.url}/submissions/{sub_id}").json()
    assert body["verdict"] == "AC"

"""`judge serve` refusing bad input, pending states, auth and start-up
refusals: a real server process, no workers (nothing is graded here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .serve_helpers import ADD_OK, REPO, http

BACKENDS = ["sqlite", "redis"]


@pytest.fixture(scope="module")
def idle(tmp_path_factory, problems, request):
    """A server on SQLite with no workers, shared by the input tests."""
    from .conftest import queue_url_for
    from .serve_helpers import Server
    tmp = tmp_path_factory.mktemp("idle")
    server = Server(tmp, queue_url_for("sqlite", tmp, request), problems,
                    "--max-source", "1000").start()
    yield server
    assert server.stop() == 0, server.stderr()


GOOD = {"problem": "add", "language": "python3", "source": ADD_OK}

# (what, how to send it, status, a phrase the error must have)
BAD = [
    ("malformed JSON", dict(raw=b'{"problem": "add",'), 400, "malformed JSON"),
    ("empty body", dict(raw=b""), 400, "empty request body"),
    ("not an object", dict(body=["add"]), 400, "expected a JSON object"),
    ("missing problem", dict(body={"source": ADD_OK, "language": "python3"}), 400, "missing field: problem"),
    ("missing source", dict(body={"problem": "add", "language": "python3"}), 400, "missing field: source"),
    ("unknown field", dict(body={**GOOD, "sauce": 1}), 400, "unknown field(s): sauce"),
    ("source and files", dict(body={**GOOD, "files": {"a.py": ""}}), 400, "not both"),
    ("source not text", dict(body={**GOOD, "source": 12}), 400, "source must be a string"),
    ("bad id", dict(body={**GOOD, "id": "../x"}), 400, "invalid id"),
    ("bad time limit", dict(body={**GOOD, "time_limit": -1}), 400, "invalid time_limit"),
    ("bool time limit", dict(body={**GOOD, "time_limit": True}), 400, "invalid time_limit"),
    ("bad callback", dict(body={**GOOD, "callback_url": "file:///etc/passwd"}), 400, "callback_url"),
    ("bad file name", dict(body={"problem": "add", "language": "python3", "files": {"../a.py": "x"}}),
     400, "invalid file name"),
    ("unknown problem", dict(body={**GOOD, "problem": "nope"}), 422,
     "unknown problem 'nope' (known: add, broken, conly)"),
    ("a broken package", dict(body={**GOOD, "problem": "broken"}), 422, "problem 'broken' cannot be judged: "),
    ("a language the package refuses", dict(body={**GOOD, "problem": "conly"}), 422,
     "problem.yaml allows only c, not python3"),
    ("a path as problem", dict(body={**GOOD, "problem": "/etc"}), 422, "unknown problem '/etc'"),
    ("dot-dot problem", dict(body={**GOOD, "problem": ".."}), 422, "unknown problem '..'"),
    ("unknown language", dict(body={**GOOD, "language": "cobol"}), 422, "unknown language 'cobol'"),
    ("no language", dict(body={"problem": "add", "source": ADD_OK}), 422, "cannot tell the language"),
    ("unknown ending", dict(body={"problem": "add", "source": ADD_OK, "filename": "a.xyz"}), 422,
     "a.xyz: cannot tell the language"),
    ("source over the cap", dict(body={**GOOD, "source": "#" * 1001}), 413, "over the cap of 1000 bytes"),
    ("body over the cap", dict(raw=b'{"problem": "add", "source": "' + b"x" * 200_000 + b'"}'), 413,
     "over the cap"),
    ("wait not a number", dict(body=GOOD, query="?wait=soon"), 400, "invalid wait='soon'"),
    ("wait too long", dict(body=GOOD, query="?wait=100000"), 400, "invalid wait"),
]


@pytest.mark.parametrize("what,send,status,phrase", BAD, ids=[b[0] for b in BAD])
def test_bad_submission(idle, what, send, status, phrase):
    reply = http("POST", idle.url + "/submissions" + send.get("query", ""),
                 send.get("body"), raw=send.get("raw"))
    assert reply.status == status, reply
    assert reply.headers["Content-Type"] == "application/json"
    error = reply.json()["error"]
    assert phrase in error, error
    assert "\n" not in error and "Traceback" not in error


BAD_BATCHES = [
    ("not a list", {"submissions": "x"}, 400, "must be a JSON array"),
    ("empty", [], 400, "an empty batch"),
    ("over 100", [GOOD] * 101, 413, "101 submissions in one batch, over the cap of 100"),
    ("one bad item", [GOOD, {**GOOD, "problem": "nope"}], 422, "submissions[1]: unknown problem"),
    ("one id twice", [{**GOOD, "id": "twice"}, {**GOOD, "id": "twice", "source": "print(2)"}], 409,
     "submissions[1]: id 'twice' is used by submissions[0]"),
    ("other keys", {"submissions": [GOOD], "x": 1}, 400, "expected {\"submissions\": [...]}"),
]


@pytest.mark.parametrize("what,body,status,phrase", BAD_BATCHES, ids=[b[0] for b in BAD_BATCHES])
def test_bad_batch_takes_nothing_in(idle, what, body, status, phrase):
    before = http("GET", idle.url + "/health").json()["queue_depth"]
    reply = http("POST", idle.url + "/submissions/batch", body)
    assert reply.status == status, reply
    assert phrase in reply.json()["error"], reply
    import time
    time.sleep(0.6)                      # a look of the tracker
    assert http("GET", idle.url + "/health").json()["queue_depth"] == before


@pytest.mark.parametrize("method,path,status,phrase", [
    ("GET", "/submissions/unknown-id", 404, "no submission 'unknown-id'"),
    ("GET", "/nowhere", 404, "no route /nowhere"),
    ("DELETE", "/submissions", 405, "DELETE is not allowed"),
    ("GET", "/problems/nope", 404, "no problem 'nope'"),
    ("GET", "/ui/submissions/unknown-id/live", 200, "no submission"),
])
def test_unknown_things(idle, method, path, status, phrase):
    reply = http(method, idle.url + path)
    assert reply.status == status, reply
    assert phrase in reply.body.decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_pending_submissions_show_state_and_position(start_server, backend):
    server = start_server(backend)
    ids = [http("POST", server.url + "/submissions", GOOD).json()["id"] for _ in range(3)]
    import time
    time.sleep(0.8)                     # the tracker has looked
    for position, sub_id in enumerate(ids, 1):
        reply = http("GET", f"{server.url}/submissions/{sub_id}")
        assert reply.status == 200
        assert reply.json() == {"submission": sub_id, "state": "queued", "position": position,
                                "queue_depth": 3}
    waited = http("POST", server.url + "/submissions?wait=0.5", GOOD)
    assert waited.status == 201 and waited.json()["pending"]["state"] == "queued"
    assert "judge_queue_depth 4.0" in http("GET", server.url + "/metrics").body.decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tokens(start_server, tmp_path, backend):
    tokens = tmp_path / "tokens"
    tokens.write_text("# the site\nsecret-one\n\nsecret-two\n")
    server = start_server(backend, "--token-file", str(tokens))
    for path in ("/problems", "/languages", "/metrics", "/submissions/x", "/", "/ui/status"):
        assert http("GET", server.url + path).status == 401, path
        assert http("GET", server.url + path, token="wrong").status == 401, path
    refused = http("POST", server.url + "/submissions", GOOD)
    assert refused.status == 401 and "unauthorized" in refused.json()["error"]
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert http("POST", server.url + "/submissions", GOOD, token="secret-one").status == 201
    assert http("GET", server.url + "/problems", token="secret-two").status == 200
    assert http("GET", server.url + "/health").status == 200          # open: a load balancer's probe
    # A browser: /?token= sets a cookie, then the pages work with it.
    import urllib.request
    from http.cookiejar import CookieJar
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(server.url + "/?token=secret-one") as page:
        assert page.status == 200 and b"Latest submissions" in page.read()
    with opener.open(server.url + "/ui/status") as fragment:
        assert fragment.status == 200


def test_no_tokens_means_open_on_loopback(start_server):
    server = start_server("sqlite")
    assert http("POST", server.url + "/submissions", GOOD).status == 201
    assert "no authentication, so listening on loopback only" in server.stderr()


def _serve(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "judge", "serve", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_public_host_without_tokens_is_refused(problems, tmp_path):
    out = _serve("--queue", f"sqlite://{tmp_path}/q.db", "--problems", str(problems),
                 "--host", "0.0.0.0")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "refusing to listen on 0.0.0.0 without --token-file" in out.stderr


@pytest.mark.parametrize("case,phrase", [
    ("empty token file", "has no token"),
    ("missing token file", "cannot read the token file"),
    ("bad queue", "cannot use the queue"),
    ("port in use", "cannot listen on 127.0.0.1"),
])
def test_start_up_refusals(problems, tmp_path, case, phrase):
    import socket
    args = ["--queue", f"sqlite://{tmp_path}/q.db", "--problems", str(problems), "--port", "0"]
    holder = None
    if case == "empty token file":
        (tmp_path / "t").write_text("# nothing\n")
        args += ["--token-file", str(tmp_path / "t")]
    elif case == "missing token file":
        args += ["--token-file", str(tmp_path / "none")]
    elif case == "bad queue":
        args[1] = "postgres://x"
    else:
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        args[-1] = str(holder.getsockname()[1])
    out = _serve(*args)
    if holder:
        holder.close()
    assert out.returncode == 2, out
    assert phrase in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr


def test_openapi_documents_every_route(idle):
    schema = http("GET", idle.url + "/openapi.json").json()
    from judge.serve.app import ROUTES
    assert schema["openapi"].startswith("3.") and set(schema["paths"]) == {r.path for r in ROUTES}
    assert json.dumps(schema)


def test_pages_escape_what_they_show():
    """A test's message, a test name and the compiler's output are the
    submission's (or the package's) text: shown escaped, never as markup."""
    from judge.serve import pages
    hostile = "<script>alert(1)</script>"
    tests = [{"name": f"secret/{hostile}", "verdict": "WA", "cpu_time": 0.1, "wall_time": 0.1,
              "memory_peak": 1 << 20, "score": None, "message": hostile, "transcript": hostile}]
    html = pages._test_table(tests, False) + pages.chart("cpu-chart", tests, "cpu_time", 1.0,
                                                         str, "s")
    assert "<script>" not in html and "&lt;script&gt;" in html

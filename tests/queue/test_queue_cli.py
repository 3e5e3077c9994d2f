"""judge/queue_cli.py through click's CliRunner, registered in the `judge` group."""
from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from judge.cli import main as judge
from judge.queue import Submission, open_queue

APLUSB = "testdata/problems/aplusb"


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    monkeypatch.delenv("JUDGE_QUEUE", raising=False)
    return CliRunner()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "sum.py"
    path.write_text("print(sum(map(int, input().split())))\n")
    return path


def test_the_commands_are_registered():
    assert {"submit", "worker", "result"} <= set(judge.commands)


def test_submit_then_result(runner, queue_url, source):
    out = runner.invoke(judge, ["submit", APLUSB, str(source), "--lang", "python3",
                                "--time-limit", "2", "--queue", queue_url])
    assert out.exit_code == 0, out.output
    sub_id = out.stdout.strip()
    with open_queue(queue_url) as queue:
        (entry,) = queue.list()
        claim = queue.claim("w1")
        sub = claim.submission
        assert (sub.id, sub.language, sub.time_limit, sub.filename) == (
            sub_id, "python3", 2.0, "sum.py")
        assert sub.problem.endswith("/testdata/problems/aplusb") and sub.problem.startswith("/")
        assert sub.source == source.read_text()
        pending = runner.invoke(judge, ["result", sub_id, "--queue", queue_url])
        assert pending.exit_code == 1
        assert orjson.loads(pending.stdout) == {"submission": sub_id, "state": "pending"}
        queue.complete(claim, {"submission": sub_id, "state": "done", "verdict": "AC"})
    done = runner.invoke(judge, ["result", sub_id, "--queue", queue_url, "--wait"])
    assert done.exit_code == 0 and orjson.loads(done.stdout)["verdict"] == "AC"


def test_queue_from_the_environment_and_an_explicit_id(runner, tmp_path, source, monkeypatch):
    url = f"sqlite://{tmp_path}/env.db"
    monkeypatch.setenv("JUDGE_QUEUE", url)
    for _ in range(2):               # a retried submit: enqueued once
        out = runner.invoke(judge, ["submit", "aplusb", str(source), "--id", "contest-1.42"])
        assert out.exit_code == 0 and out.stdout.strip() == "contest-1.42"
    with open_queue(url) as queue:
        assert [(e.id, e.problem) for e in queue.list()] == [("contest-1.42", "aplusb")]


def test_a_failed_submission_exits_1(runner, queue_url):
    with open_queue(queue_url) as queue:
        queue.enqueue(Submission("s1", "nope", "x"))
        queue.fail(queue.claim("w1"), "unknown problem 'nope'")
    out = runner.invoke(judge, ["result", "s1", "--queue", queue_url])
    assert out.exit_code == 1
    assert orjson.loads(out.stdout)["error"] == "unknown problem 'nope'"


def test_result_wait_gives_up_after_its_timeout(runner, queue_url):
    with open_queue(queue_url) as queue:
        queue.enqueue(Submission("s1", "p", "x"))
    out = runner.invoke(judge, ["result", "s1", "--queue", queue_url, "--wait",
                                "--timeout", "0.3"])
    assert out.exit_code == 1 and orjson.loads(out.stdout)["state"] == "pending"


@pytest.mark.parametrize("args, message", [
    (["result", "nope", "--queue", "sqlite://{tmp}/q.db"], "no queue database {tmp}/q.db"),
    (["result", "x", "--queue", "mysql://db/q"], "unknown queue URL scheme 'mysql'"),
    (["result", "x", "--queue", "redis-without-scheme"], "invalid queue URL"),
    (["result", "x", "--queue", "redis://127.0.0.1:1/0?bogus=1"], "unknown option(s)"),
    (["submit", APLUSB, "{source}", "--queue", "sqlite:///proc/no/q.db"],
     "cannot open the SQLite queue"),
    (["submit", "no/such/dir", "{source}", "--queue", "sqlite://{tmp}/q.db"],
     "no problem package no/such/dir"),
    (["submit", APLUSB, "{latin1}", "--queue", "sqlite://{tmp}/q.db"], "is not UTF-8 text"),
    (["submit", APLUSB, "{source}", "--id", "../x", "--queue", "sqlite://{tmp}/q.db"],
     "invalid --id"),
    (["submit", APLUSB, "{source}", "--time-limit", "0"], "Invalid value"),
    (["submit", APLUSB, "{tmp}/missing.py"], "does not exist"),
    (["worker", "--boxes", "3-1", "--queue", "sqlite://{tmp}/q.db"], "--boxes"),
    (["worker", "--grader", "no_such_module:grade", "--queue", "sqlite://{tmp}/q.db"],
     "cannot load the grader"),
])
def test_bad_input_is_one_line_and_exit_2(runner, tmp_path, source, args, message):
    latin1 = tmp_path / "latin1.py"
    latin1.write_bytes(b"# caf\xe9\nprint(1)\n")
    args = [a.format(tmp=tmp_path, source=source, latin1=latin1) for a in args]
    out = runner.invoke(judge, args)
    message = message.format(tmp=tmp_path)
    assert out.exit_code == 2, out.output
    assert message in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in out.output

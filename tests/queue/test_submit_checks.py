"""`judge submit` checks what it can before anything is queued (issue 10.5).

Through the real command (`python -m judge`, a subprocess), on both
backends: a taken id is a conflict (exit 3, one line) unless the submission
is the same; an unknown language or a directory that is not a package is
refused at once; a directory submission is accepted as `judge run` takes
it; `judge result` never creates a database. The worker half: a failure
stored later names the submitted file, never the worker's temp directory.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from queue_helpers import REPO

from judge.queue import FAILED, Submission, new_id, open_queue
from judge.worker import Worker, WorkerConfig

APLUSB = REPO / "testdata" / "problems" / "aplusb"
SUM_PY = "print(sum(map(int, input().split())))\n"


def judge(*args, cwd=REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "JUDGE_QUEUE"}
    return subprocess.run([sys.executable, "-m", "judge", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def one_line_error(proc: subprocess.CompletedProcess, status: int, text: str) -> None:
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and text in proc.stderr, proc.stderr


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "sum.py"
    path.write_text(SUM_PY)
    return path


def test_a_taken_id_with_other_content_is_a_conflict_and_the_same_is_accepted(
        queue_url, source, tmp_path):
    for _ in range(2):
        proc = judge("submit", APLUSB, source, "--id", "c1.7", "--queue", queue_url)
        assert proc.returncode == 0 and proc.stdout == "c1.7\n", proc.stderr
    other = tmp_path / "other" / "sum.py"
    other.parent.mkdir()
    other.write_text(SUM_PY.replace("sum(", "1 + sum("))
    for args in ([other], [source, "--time-limit", "3"], [source, "--lang", "python3"]):
        proc = judge("submit", APLUSB, *args, "--id", "c1.7", "--queue", queue_url)
        one_line_error(proc, 3, "submission id 'c1.7' is already taken by a different submission")
    with open_queue(queue_url) as queue:
        (entry,) = queue.list()
        assert entry.id == "c1.7"
        assert queue.claim("w").submission.source == SUM_PY


@pytest.mark.parametrize("what", ["lang", "ending", "not-a-package", "broken-package"])
def test_what_submit_can_see_is_checked_before_queueing(queue_url, source, tmp_path, what):
    problem, args, message = APLUSB, [source], None
    if what == "lang":
        args, message = [source, "--lang", "cobol"], "unknown language 'cobol'"
    elif what == "ending":
        odd = tmp_path / "sum.xyz"
        odd.write_text(SUM_PY)
        args, message = [odd], "sum.xyz: cannot tell the language from the file ending"
    elif what == "not-a-package":
        problem, message = tmp_path, "problem.yaml: missing"
    else:
        problem = tmp_path / "pkg"
        (problem / "data" / "secret").mkdir(parents=True)
        (problem / "problem.yaml").write_text("name: x\n")
        (problem / "data" / "secret" / "1.in").write_text("1\n")
        message = "1.ans: missing answer file for 1.in"
    proc = judge("submit", problem, *args, "--queue", queue_url)
    one_line_error(proc, 2, message)
    with open_queue(queue_url) as queue:
        assert queue.list() == []


def test_a_package_name_is_left_to_the_workers_but_the_language_is_checked(queue_url, source):
    assert judge("submit", "aplusb", source, "--queue", queue_url).returncode == 0
    one_line_error(judge("submit", "aplusb", source, "--lang", "cobol", "--queue", queue_url),
                   2, "unknown language 'cobol'")


def test_a_directory_is_submitted_as_judge_run_takes_it(queue_url, tmp_path):
    sub = tmp_path / "mine"
    sub.mkdir()
    (sub / "main.py").write_text(SUM_PY)
    (sub / "helper.py").write_text("X = 1\n")
    (sub / "run").write_text("#!/bin/sh\nexec python3 /prog/main.py\n")
    (sub / "run").chmod(0o755)
    (sub / ".hidden").write_text("not sent\n")
    proc = judge("submit", APLUSB, sub, "--queue", queue_url)
    assert proc.returncode == 0, proc.stderr
    with open_queue(queue_url) as queue:
        got = queue.claim("w").submission
    assert got.id == proc.stdout.strip() and got.filename == "mine" and got.source == ""
    assert got.files == {"main.py": SUM_PY, "helper.py": "X = 1\n",
                         "run": "#!/bin/sh\nexec python3 /prog/main.py\n"}
    assert got.executable == ("run",)
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(judge("submit", APLUSB, empty, "--queue", queue_url), 2,
                   "no files in the program directory")


def test_result_on_a_mistyped_sqlite_path_creates_nothing(tmp_path):
    db = tmp_path / "typo" / "queue.db"
    for args in (["x"], ["x", "--wait", "--timeout", "1"]):
        proc = judge("result", *args, "--queue", f"sqlite://{db}")
        one_line_error(proc, 2, f"no queue database {db}")
    assert not db.parent.exists()
    (tmp_path / "real.db").write_text("")   # an empty file is a database SQLite can start
    one_line_error(judge("result", "x", "--queue", f"sqlite://{tmp_path}/real.db"), 2,
                   "no submission 'x'")


def test_a_stored_failure_names_the_file_not_the_workers_temp_dir(queue, tmp_path):
    """The real grader, whose errors name the file it was given: the worker's."""
    from judge.grader import grade_submission
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    subs = [Submission(new_id(), str(APLUSB), SUM_PY, "sum.xyz"),
            Submission(new_id(), str(APLUSB), "", "sol", files={"notes.txt": "hi\n"})]
    for sub in subs:
        queue.enqueue(sub)
    worker = Worker(queue, grade_submission, WorkerConfig(worker_id="w", scratch_dir=scratch))
    for _ in subs:
        worker.handle(queue.claim("w"))
    first, second = (queue.result(sub.id) for sub in subs)
    assert first["state"] == FAILED and second["state"] == FAILED
    assert first["error"] == ("cannot grade: sum.xyz: cannot tell the language from the file "
                              "ending; use --lang")
    assert second["error"].startswith("cannot grade: sol: ")
    for record in (first, second):
        text = orjson.dumps(record).decode()
        assert str(scratch) not in text and "/judge-" not in text, text

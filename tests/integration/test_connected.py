"""Connected runs (connected.py) end to end: the API, BoxPool and `rustbox batch`;
boxes 640-649.

Each group runs real programs in real boxes joined by real pipes. The
deadlock cases (a side that never reads, one that floods, one that closes
early or dies) must end by their limits with a verdict for every program.
"""
from __future__ import annotations

import subprocess
import time

import orjson
import pytest

import rustbox
from rustbox import BoxPool, ConnectedGroup
from rustbox.errors import UsageError
from tests.conftest import RUSTBOX

BOXES = [640, 641]
SH = "/bin/sh"
PY = "/usr/bin/python3"
# Reads lines and answers each with the same line, until end of file.
ECHO = [PY, "-c", "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line); sys.stdout.flush()"]


def ask(count: int) -> list[str]:
    """Writes 0..count-1, one line each, and checks every echo."""
    return [PY, "-c", f"import sys\nfor i in range({count}):\n"
            "    print(i, flush=True)\n    assert int(sys.stdin.readline()) == i\n"]


def pair(first: dict, second: dict, **group) -> dict:
    """Two programs, each one's stdout into the other's stdin."""
    return {"group": [{"id": "a", **first}, {"id": "b", **second}],
            "pipes": [["a", "b"], ["b", "a"]], **group}


@pytest.fixture(scope="module")
def pool():
    with BoxPool(BOXES) as pool:
        yield pool
    for box_id in BOXES:
        rustbox.Box(box_id).cleanup()


def test_round_trips_through_both_pipes(pool):
    result = pool.run_connected(pair({"argv": ask(200), "time": 5}, {"argv": ECHO, "time": 5},
                                     wall_time=20))
    assert [v.status for v in result.verdicts] == ["OK", "OK"]
    assert [v.id for v in result.verdicts] == ["a", "b"]
    assert {v.box_id for v in result.verdicts} == set(BOXES)   # one box each
    assert result.transcript is None
    # a asked last and ended; b then read end of file and ended after it.
    assert result.end_order == ["a", "b"]


def test_each_program_is_measured_on_its_own(pool):
    """The one that spins is charged its CPU; the one that waits for it is not,
    and its waiting costs it no CPU (an interactive submission that sleeps
    while the interactor thinks)."""
    think = [PY, "-c", "import sys, time\nt = time.process_time()\n"
             "while time.process_time() - t < 0.4: pass\nprint('go', flush=True)\n"
             "sys.stdin.readline()"]
    wait = [SH, "-c", "read line; echo got $line"]
    result = pool.run_connected(pair({"argv": think, "time": 3}, {"argv": wait, "time": 3},
                                     wall_time=10))
    thinker, waiter = result.verdicts
    assert thinker.status == waiter.status == "OK"
    assert thinker.cpu_time >= 0.35
    assert waiter.cpu_time < 0.05
    assert waiter.wall_time >= 0.35


def test_a_side_that_never_reads_ends_by_the_group_wall_limit(pool):
    """a writes 100 MB at b, which never reads: a sleeps in write(2), b
    sleeps; both are ended at the group's wall limit (TO), nothing hangs."""
    flood = [SH, "-c", "exec head -c 100000000 /dev/zero"]
    start = time.monotonic()
    result = pool.run_connected(pair({"argv": flood, "time": 5}, {"argv": ["sleep", "60"]},
                                     wall_time=1.5))
    took = time.monotonic() - start
    for verdict in result.verdicts:
        assert verdict.status == "TO", verdict
        assert verdict.message == "wall time limit exceeded"
        assert verdict.limits["wall_time"] == 1.5
    assert result["a"].cpu_time < 0.5          # blocked, not spinning
    assert took < 1.5 + 3                      # the wall limit plus the run's grace


def test_a_flood_into_a_reader_that_leaves_gets_epipe(pool):
    """b reads one line and exits: a, flooding, is killed by SIGPIPE at once
    rather than blocking until its limit."""
    flood = [SH, "-c", "exec yes flood"]
    result = pool.run_connected(pair({"argv": flood, "time": 5},
                                     {"argv": [SH, "-c", "read line"]}, wall_time=20))
    a, b = result.verdicts
    assert b.status == "OK"
    assert a.status == "SG" and a.signal == 13, a
    assert a.wall_time < 5
    assert result.end_order == ["b", "a"]


def test_closing_stdout_early_gives_the_peer_end_of_file_at_once(pool):
    """a closes its stdout and sleeps on: b reads end of file at once (no
    other copy of the write end survives, neither in a's helper nor here)."""
    close_early = [SH, "-c", "exec 1>&-; exec sleep 60"]
    count_eof = [SH, "-c", "while read line; do :; done; echo done"]
    result = pool.run_connected(pair({"argv": close_early}, {"argv": count_eof},
                                     wall_time=3))
    a, b = result.verdicts
    assert b.status == "OK", b
    assert b.wall_time < 1.5
    assert a.status == "TO"
    assert result.end_order == ["b", "a"]


def test_a_program_that_dies_gives_its_peer_end_of_file(pool):
    crash = [SH, "-c", "kill -SEGV $$"]
    result = pool.run_connected(pair({"argv": crash, "time": 2}, {"argv": ECHO, "time": 2},
                                     wall_time=10))
    a, b = result.verdicts
    assert a.status == "SG" and a.signal == 11
    assert b.status == "OK" and b.wall_time < 2


def test_a_program_that_cannot_start_is_xx_and_its_peer_ends(pool):
    result = pool.run_connected(pair({"argv": ["/nonexistent/program"], "time": 2},
                                     {"argv": ECHO, "time": 2}, wall_time=10))
    a, b = result.verdicts
    assert a.status == "XX" and "exec" in a.message
    assert b.status == "OK" and b.wall_time < 2


def test_transcript_records_offsets_and_times(pool):
    result = pool.run_connected(pair({"argv": ask(20), "time": 5}, {"argv": ECHO, "time": 5},
                                     wall_time=20, transcript=1 << 16))
    assert [v.status for v in result.verdicts] == ["OK", "OK"]
    transcript = result.transcript
    assert not transcript.truncated
    expected = "".join(f"{i}\n" for i in range(20)).encode()
    assert transcript.totals == {"a>b": len(expected), "b>a": len(expected)}
    for pipe in ("a>b", "b>a"):
        chunks = [c for c in transcript.chunks if c.pipe == pipe]
        assert b"".join(c.data for c in chunks) == expected
        offsets = [c.offset for c in chunks]
        assert offsets == sorted(offsets) and offsets[0] == 0
        assert all(c.time >= 0 for c in chunks)
    times = [c.time for c in transcript.chunks]
    assert times == sorted(times)
    # The question comes before its echo.
    first = {c.pipe: c.time for c in reversed(transcript.chunks)}
    assert first["a>b"] <= first["b>a"]
    assert transcript.tail().splitlines()[-1].endswith("b>a: 19")


def test_transcript_is_capped(pool):
    result = pool.run_connected(pair({"argv": ask(500), "time": 5}, {"argv": ECHO, "time": 5},
                                     wall_time=20, transcript=100))
    assert [v.status for v in result.verdicts] == ["OK", "OK"]
    transcript = result.transcript
    assert transcript.truncated
    assert sum(len(c.data) for c in transcript.chunks) == 100
    assert transcript.totals["a>b"] == len("".join(f"{i}\n" for i in range(500)))
    assert "cut at 100 bytes" in transcript.tail()


def test_transcript_relay_adds_no_deadlock(pool):
    """a writes 200 KB (more than a pipe and the relay hold) and closes its
    stdout, then reads b's answer: the relay passes it all on, end of file
    included, as one pipe would."""
    big = [PY, "-c", "import os, sys\nsys.stdout.write('x' * 200000); sys.stdout.flush()\n"
           "os.close(1)\nassert sys.stdin.read() == '200000\\n'"]
    count = [PY, "-c", "import sys\nn = len(sys.stdin.read())\nprint(n)"]
    result = pool.run_connected(pair({"argv": big, "time": 5}, {"argv": count, "time": 5},
                                     wall_time=10, transcript=1 << 20))
    assert [v.status for v in result.verdicts] == ["OK", "OK"]
    assert result.transcript.totals == {"a>b": 200000, "b>a": 7}


def test_stderr_can_be_piped(pool):
    group = {"group": [{"id": "a", "argv": [SH, "-c", "echo oops >&2"], "time": 2},
                       {"id": "b", "argv": [SH, "-c", "read x; test \"$x\" = oops"], "time": 2}],
             "pipes": [["a.stderr", "b.stdin"]], "transcript": 1000}
    result = pool.run_connected(group)
    assert [v.status for v in result.verdicts] == ["OK", "OK"]
    assert result.transcript.totals == {"a.stderr>b": 5}


@pytest.mark.parametrize("spec, message", [
    ({"group": []}, "non-empty list"),
    ({"group": [{"argv": ["x"], "time": 1}]}, "needs an 'id'"),
    ({"group": [{"id": "a", "argv": ["x"], "time": 1}] * 2}, "used twice"),
    ({"group": [{"id": "a", "argv": ["x"]}]}, "needs a wall limit"),
    ({"group": [{"id": "a", "argv": ["x"], "stdin": "in"}], "pipes": [["a", "a"]],
      "wall_time": 1}, "both a pipe and a stdin file"),
    ({"group": [{"id": "a", "argv": ["x"]}], "pipes": [["a", "b"]], "wall_time": 1},
     "no program has that id"),
    ({"group": [{"id": "a", "argv": ["x"]}], "pipes": [["a.stdin", "a"]], "wall_time": 1},
     "not one of stdout, stderr"),
    ({"group": [{"id": "a", "argv": ["x"]}, {"id": "b", "argv": ["x"]}],
      "pipes": [["a", "b"], ["a", "a"]], "wall_time": 1}, "already feeds"),
    ({"group": [{"id": "a", "argv": ["x"], "banana": 1}], "wall_time": 1}, "unknown key"),
    ({"group": [{"id": "a", "argv": ["x"]}], "wall_time": 1, "pipe": []}, "unknown group key"),
    ({"group": [{"id": "a", "argv": ["x"]}], "wall_time": -1}, "group wall_time"),
    ({"group": [{"id": "a", "argv": ["x"]}], "wall_time": 1, "transcript": "lots"},
     "transcript"),
])
def test_bad_group_specs_are_usage_errors(spec, message):
    with pytest.raises(UsageError, match=message):
        ConnectedGroup.from_options(spec)


def test_a_group_larger_than_the_pool_is_refused(pool):
    group = {"group": [{"id": str(i), "argv": ["/bin/true"]} for i in range(3)], "wall_time": 1}
    with pytest.raises(UsageError, match="needs 3 boxes"):
        pool.run_connected(group)


def test_run_connected_without_a_pool():
    result = rustbox.run_connected(pair({"argv": ask(3), "time": 2}, {"argv": ECHO, "time": 2},
                                        wall_time=10), box_ids=[642, 643])
    try:
        assert [v.status for v in result.verdicts] == ["OK", "OK"]
        assert [v.box_id for v in result.verdicts] == [642, 643]
    finally:
        for box_id in (642, 643):
            rustbox.Box(box_id).cleanup()


def test_batch_prints_one_line_per_program(tmp_path):
    lines = [
        orjson.dumps({"id": "g", **pair({"argv": ask(3), "time": 2}, {"argv": ECHO, "time": 2},
                                         wall_time=10, transcript=64)}),
        orjson.dumps({"id": "solo", "argv": ["/bin/true"]}),
        orjson.dumps({"id": "bad", "group": [{"id": "a", "argv": ["x"]}]}),
        orjson.dumps({"id": "big", "group": [{"id": str(i), "argv": ["/bin/true"]}
                                             for i in range(3)], "wall_time": 1}),
    ]
    spec = tmp_path / "spec.jsonl"
    spec.write_bytes(b"\n".join(lines) + b"\n")
    try:
        proc = subprocess.run([*RUSTBOX, "batch", str(spec), "--boxes", "644-645"],
                              capture_output=True, timeout=120)
    finally:
        for box_id in (644, 645):
            rustbox.Box(box_id).cleanup()
    verdicts = {v["id"]: v for v in map(orjson.loads, proc.stdout.splitlines())}
    assert set(verdicts) == {"g/a", "g/b", "solo", "bad", "big/0", "big/1", "big/2"}
    assert verdicts["g/a"]["status"] == verdicts["g/b"]["status"] == "OK"
    assert verdicts["g/a"]["group"] == "g" and verdicts["g/b"]["program"] == "b"
    assert [c["data"] for c in verdicts["g/a"]["transcript"]["chunks"]] == ["0\n", "1\n", "2\n"]
    assert verdicts["g/b"]["transcript"]["totals"] == {"b>a": 6}
    assert verdicts["solo"]["status"] == "OK"
    assert verdicts["bad"]["status"] == "XX" and "wall limit" in verdicts["bad"]["message"]
    assert all(verdicts[f"big/{i}"]["status"] == "XX" for i in range(3))
    assert "needs 3 boxes" in verdicts["big/0"]["message"]
    assert proc.returncode == 1

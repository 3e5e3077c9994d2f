"""`rustbox batch` and the Python API (Box, BoxPool) end to end; boxes 30-35."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter

import orjson
import pytest

import rustbox
from rustbox import Box, BoxPool, Limits
from rustbox.batch import parse_box_ids
from rustbox.errors import UsageError
from tests.conftest import RUSTBOX

SPIN = ["/bin/sh", "-c", "while :; do :; done"]
BOXES = range(30, 36)


@pytest.fixture(autouse=True, scope="module")
def boxes_not_initialised():
    """Several cases check that a batch removes the boxes it made itself: a box
    an interrupted earlier session left initialised would be kept instead."""
    for box_id in BOXES:
        Box(box_id).cleanup()
    yield
ALLOC = ["/usr/bin/python3", "-c", "x = bytearray(100 << 20)"]


def spec_lines(count: int) -> tuple[list[bytes], dict[str, str]]:
    """count specs cycling OK/RE/TO/ML, with the status each one must get."""
    lines, expected = [], {}
    kinds = [({"argv": ["/bin/true"]}, "OK"),
             ({"argv": ["/bin/sh", "-c", "exit 3"]}, "RE"),
             ({"argv": SPIN, "time": 0.05}, "TO"),
             ({"argv": ALLOC, "mem": "32M", "processes": 4}, "ML")]
    for i in range(count):
        spec, status = kinds[i % len(kinds)]
        lines.append(orjson.dumps({"id": f"t{i}", **spec}))
        expected[f"t{i}"] = status
    return lines, expected


def box_processes(box_ids) -> str:
    """Live processes of these boxes' uids (a zombie is dead already; one a
    killed helper left is reaped moments later)."""
    uids = ",".join(str(61000 + b) for b in box_ids)
    return subprocess.run(["pgrep", "-u", uids, "--runstates", "R,S,D,T,t"],
                          capture_output=True, text=True).stdout


def box_mounts(box_ids=(32, 33)) -> list[str]:
    """Mounts of these boxes (a quota's /box tmpfs) in the host's table."""
    dirs = tuple(f"/var/lib/rustbox/{box}/" for box in box_ids)
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if any(d in line for d in dirs)]


def test_batch_of_200_with_two_bad_lines(tmp_path):
    lines, expected = spec_lines(198)
    lines.insert(50, b"this is not json")
    lines.insert(120, orjson.dumps({"id": "odd", "argv": ["/bin/true"], "banana": 1}))
    spec = tmp_path / "spec.jsonl"
    spec.write_bytes(b"\n".join(lines) + b"\n")
    proc = subprocess.run([*RUSTBOX, "batch", str(spec), "--boxes", "30-31"],
                          capture_output=True, timeout=300)
    verdicts = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert len(verdicts) == 200
    by_id = {v["id"]: v for v in verdicts}
    assert len(by_id) == 200
    for spec_id, status in expected.items():
        assert by_id[spec_id]["status"] == status, by_id[spec_id]
    assert by_id["line-51"]["status"] == "XX" and "not JSON" in by_id["line-51"]["message"]
    assert by_id["odd"]["status"] == "XX" and "banana" in by_id["odd"]["message"]
    assert Counter(v["box_id"] for v in verdicts if v["status"] != "XX").keys() == {30, 31}
    summary = proc.stderr.decode().strip().splitlines()[-1]
    assert summary.startswith("batch: 200 runs") and "2 XX" in summary
    assert proc.returncode == 1
    # Boxes the batch created itself are gone again.
    assert not os.path.exists("/sys/fs/cgroup/memory/rustbox/box-30")
    assert box_processes([30, 31]) == ""


def test_sigterm_mid_batch_leaves_nothing_behind(tmp_path):
    spec = tmp_path / "spec.jsonl"
    spec.write_bytes(b"\n".join(orjson.dumps({"id": f"s{i}", "argv": SPIN, "time": 5,
                                              "processes": 3}) for i in range(20)) + b"\n")
    proc = subprocess.Popen([*RUSTBOX, "batch", str(spec), "--boxes", "32-33"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60        # a loaded machine starts them late
    while time.monotonic() < deadline and box_processes([32, 33]).count("\n") < 2:
        time.sleep(0.05)
    assert box_processes([32, 33]) != "", "the batch never started its runs"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert "interrupted" in err.decode()
    time.sleep(0.2)
    assert box_processes([32, 33]) == ""
    for controller in ("memory", "cpu", "cpuacct", "pids", "freezer"):
        for box in (32, 33):
            assert not os.path.exists(f"/sys/fs/cgroup/{controller}/rustbox/box-{box}")
    assert box_mounts() == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_to_the_process_group_stops_the_batch_at_once(tmp_path, signum):
    """A terminal's Ctrl-C (SIGINT) or `systemctl stop` (SIGTERM) reaches the
    whole process group: the box helpers must not die of it mid-run (a
    traceback, XX lines, a run left behind); the batch stops within a second,
    prints no verdict for the runs it cut, and says what ran (issue 10.1)."""
    spec = tmp_path / "spec.jsonl"
    lines = [orjson.dumps({"id": "quick", "argv": ["/bin/true"]})]
    lines += [orjson.dumps({"id": f"s{i}", "argv": SPIN, "time": 5}) for i in range(4)]
    spec.write_bytes(b"\n".join(lines) + b"\n")
    proc = subprocess.Popen([*RUSTBOX, "batch", str(spec), "--boxes", "32-33"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 60        # a loaded machine starts them late
    while time.monotonic() < deadline and box_processes([32, 33]).count("\n") < 2:
        time.sleep(0.05)
    if box_processes([32, 33]).count("\n") != 2:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"the batch never started its runs: {out}, {err}")
    os.killpg(proc.pid, signum)
    began = time.monotonic()
    out, err = proc.communicate(timeout=20)
    took = time.monotonic() - began
    assert took < 1.5, took
    assert box_processes([32, 33]) == ""
    assert [orjson.loads(line)["id"] for line in out.splitlines()] == ["quick"]
    text = err.decode()
    assert "Traceback" not in text
    assert text.strip().splitlines()[-1].startswith("batch: 1 run (1 OK) in ")
    assert text.strip().endswith("(interrupted; 2 cut short)")
    assert proc.returncode == 1
    for box in (32, 33):
        assert not os.path.exists(f"/sys/fs/cgroup/memory/rustbox/box-{box}")


def test_batch_reads_stdin_and_keeps_ids(tmp_path):
    lines = b"\n".join(orjson.dumps({"id": i, "argv": ["/bin/true"]}) for i in range(3))
    proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", "34"], input=lines,
                          capture_output=True, timeout=60)
    assert sorted(orjson.loads(l)["id"] for l in proc.stdout.splitlines()) == ["0", "1", "2"]
    assert proc.returncode == 0


def test_missing_spec_file_is_one_line_exit_2():
    proc = subprocess.run([*RUSTBOX, "batch", "/nonexistent.jsonl"], capture_output=True)
    assert proc.returncode == 2
    assert proc.stderr.decode().count("\n") == 1 and "nonexistent" in proc.stderr.decode()


@pytest.mark.parametrize("text, ids", [("0-3", [0, 1, 2, 3]), ("1,4", [1, 4]),
                                       ("0-1,5", [0, 1, 5])])
def test_box_id_ranges(text, ids):
    assert parse_box_ids(text) == ids


@pytest.mark.parametrize("text", ["a-b", "3-1", "1,1", "5000"])
def test_bad_box_id_ranges(text):
    with pytest.raises(UsageError):
        parse_box_ids(text)


def test_api_box_runs_and_reuses_its_helper():
    with Box(35) as box:
        (box.path / "in.txt").write_text("2 3\n")
        first = box.run(["/bin/sh", "-c", "read a b; echo $((a+b))"], Limits(time=1),
                        stdin="in.txt", stdout="out.txt")
        assert first.status == "OK", first
        assert (box.path / "out.txt").read_text() == "5\n"
        helper = box._helper.pid
        again = box.run(["/bin/sh", "-c", "exit 4"])
        assert again.status == "RE" and again.exit_code == 4
        assert box._helper.pid == helper
        # A second opener of the same box fails fast while we hold it.
        with pytest.raises(rustbox.BoxBusyError):
            Box(35).init()
        box.clear()
        assert list(box.path.iterdir()) == []
    Box(35).cleanup()
    assert not os.path.exists("/sys/fs/cgroup/memory/rustbox/box-35")


def test_api_pool_shares_boxes_between_threads():
    from concurrent.futures import ThreadPoolExecutor
    pool = BoxPool([30, 31])
    try:
        with ThreadPoolExecutor(4) as executor:
            verdicts = list(executor.map(
                lambda i: pool.run(["/bin/sh", "-c", f"exit {i % 3}"]), range(12)))
        assert [v.exit_code for v in verdicts] == [i % 3 for i in range(12)]
        assert {v.box_id for v in verdicts} <= {30, 31}
    finally:
        pool.cleanup()


def test_api_run_one_shot():
    verdict = rustbox.run(["/bin/true"], Limits(time=1), box_id=34)
    assert verdict.status == "OK" and verdict.cpu_time < 0.05
    Box(34).cleanup()


def test_api_runs_each_get_a_fresh_pid_namespace():
    # Same pids in every run: output cannot depend on how many runs came before.
    with Box(35) as box:
        pids = []
        for _ in range(3):
            verdict = box.run(["/bin/sh", "-c", "echo $$ > pid.txt"], Limits(processes=2))
            assert verdict.status == "OK"
            pids.append((box.path / "pid.txt").read_text().strip())
        assert pids == ["2", "2", "2"]
    Box(35).cleanup()


def test_a_box_first_used_from_a_short_lived_thread_keeps_its_helper():
    import threading
    pool = BoxPool([34])
    try:
        worker = threading.Thread(target=lambda: pool.run(["/bin/true"]))
        worker.start()
        worker.join()
        time.sleep(0.2)
        assert pool.boxes[0]._helper.poll() is None  # still alive after the thread ended
        assert pool.run(["/bin/true"]).status == "OK"
    finally:
        pool.cleanup()

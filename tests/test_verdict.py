"""Verdict classification, JSON and isolate's meta format."""
import signal

import orjson

from rustbox.limits import Limits
from rustbox.verdict import classify
from rustbox.verdict import EXIT_STATUS, Verdict

MiB = 1 << 20


def status_of(exit_code=None, signum=None, **kw):
    status = (exit_code << 8) if exit_code is not None else signum
    args = dict(limits=Limits(time=1, mem=64 * MiB), status=status, cpu_time=0.1,
                wall_time=0.1, memory_peak=MiB, oom_kills=0, killed_for_time=False)
    args.update(kw)
    return classify(0, args.pop("limits"), args.pop("status"), args.pop("cpu_time"),
                    args.pop("wall_time"), args.pop("memory_peak"), args.pop("oom_kills"),
                    args.pop("killed_for_time"), "v1")


def test_statuses():
    assert status_of(0).status == "OK"
    assert status_of(3).status == "RE"
    assert status_of(signum=signal.SIGSEGV).status == "SG"
    assert status_of(signum=signal.SIGXFSZ).status == "OL"
    assert status_of(signum=signal.SIGKILL, oom_kills=1).status == "ML"
    assert status_of(killed_for_time=True, status=None, cpu_time=1.01).status == "TO"


def test_run_inside_the_grace_is_still_TO():
    verdict = status_of(0, cpu_time=1.2)
    assert verdict.status == "TO" and verdict.exit_code == 0


def test_failed_allocation_at_the_limit_is_ML():
    verdict = status_of(1, memory_peak=64 * MiB - 4096)
    assert verdict.status == "ML" and verdict.oom


def test_a_peak_over_the_limit_is_ML_even_after_a_clean_exit():
    # v1 socket buffers have a limit of their own: with the rest they can pass --mem.
    verdict = status_of(0, memory_peak=64 * MiB + 4096)
    assert verdict.status == "ML" and verdict.oom
    assert status_of(0, memory_peak=64 * MiB).status == "OK"
    with_swap = Limits(time=1, mem=64 * MiB, swap=64 * MiB)
    assert status_of(0, limits=with_swap, memory_peak=100 * MiB).status == "OK"


def test_json_has_the_contract_keys():
    data = orjson.loads(status_of(0).to_json())
    assert list(data) == ["box_id", "status", "exit_code", "signal", "cpu_time", "wall_time",
                          "memory_peak", "oom", "tle", "output_limit", "message", "cgroup",
                          "limits"]


def test_batch_id_comes_first():
    verdict = status_of(0)
    verdict.id = "t1"
    assert list(verdict.to_dict())[0] == "id"


def test_meta_format():
    meta = Verdict(box_id=0, status="RE", exit_code=3, cpu_time=0.25, wall_time=0.5,
                   memory_peak=2 * MiB, message="exited with code 3").to_meta()
    fields = dict(line.split(":", 1) for line in meta.splitlines())
    assert fields == {"time": "0.250", "time-wall": "0.500", "cg-mem": "2048",
                      "max-rss": "2048", "exitcode": "3", "status": "RE",
                      "message": "Exited with error status 3"}


def test_exit_statuses_follow_the_contract():
    assert EXIT_STATUS == {"OK": 0, "RE": 1, "SG": 1, "TO": 1, "ML": 1, "OL": 1, "XX": 2}


def test_oneshot_json_is_byte_identical_to_orjson():
    verdict = status_of(signum=signal.SIGSEGV, cpu_time=0.1234, wall_time=1e-05)
    verdict.message = "caught fatal signal — é ✓ \"quoted\" \\ back"
    verdict.id = "t1"
    assert verdict.to_json_oneshot() == verdict.to_json()
    assert status_of(0).to_json_oneshot() == status_of(0).to_json()

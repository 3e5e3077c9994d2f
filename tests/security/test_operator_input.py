"""Operator input is bounded: sizes, counts and times have upper bounds at
parse time (one bad batch line is one XX, the others run), and the box uid
range can never reach root, -1 ("unchanged") or an existing user.
"""
from __future__ import annotations

import json
import os
import subprocess

import orjson
import pytest

from .conftest import BOX, RUSTBOX, cleanup

BATCH_BOX = 712
API_BOX = 713
HUGE = 10 ** 30


def batch(spec: bytes, box: int, env=None) -> tuple[subprocess.CompletedProcess, list[dict]]:
    proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(box)], input=spec,
                          capture_output=True, timeout=120, env=env)
    cleanup(box)
    return proc, [orjson.loads(line) for line in proc.stdout.splitlines() if line.startswith(b"{")]


@pytest.mark.parametrize("key, value", [("mem", HUGE), ("fsize", HUGE), ("stack", "99999999T"),
                                        ("processes", HUGE), ("open_files", HUGE),
                                        ("time", 1e300), ("wall_time", "1e300"),
                                        ("cpu_shares", HUGE), ("cpus", HUGE)])
def test_a_huge_limit_in_a_batch_line_is_that_lines_xx_and_the_rest_runs(key, value):
    # orjson cannot encode 10**30: before the bounds, the verdict of this line
    # killed its worker thread and every later line was lost.
    lines = [b'{"id": "before", "argv": ["/bin/true"]}',
             b'{"id": "huge", "argv": ["/bin/true"], "%s": %s}' % (key.encode(),
                                                                   json.dumps(value).encode()),
             *(b'{"id": "after%d", "argv": ["/bin/true"]}' % i for i in range(3))]
    proc, verdicts = batch(b"\n".join(lines) + b"\n", BATCH_BOX)
    by_id = {v["id"]: v for v in verdicts}
    assert sorted(by_id) == ["after0", "after1", "after2", "before", "huge"], proc.stderr
    assert by_id["huge"]["status"] == "XX" and "at most" in by_id["huge"]["message"], by_id
    assert {by_id[i]["status"] for i in by_id if i != "huge"} == {"OK"}, verdicts
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize("flag, value", [("--mem", str(HUGE)), ("--time", "1e300"),
                                         ("--processes", str(HUGE)), ("--fsize", "2000000T")])
def test_a_huge_limit_on_the_command_line_is_one_line_at_once(run_box, flag, value):
    run = run_box(flag, value, "/bin/true")
    assert run.returncode == 2 and run.verdict is None, run
    assert run.stderr.count("\n") == 1 and f"invalid {flag}" in run.stderr, run


def test_a_huge_limit_through_the_api_is_a_usage_error():
    from rustbox import Limits, UsageError
    with pytest.raises(UsageError, match="at most"):
        Limits(mem=HUGE)
    with pytest.raises(UsageError, match="at most"):
        Limits(time=1e300)


def _uid_env(first_uid: int) -> dict:
    return {**os.environ, "RUSTBOX_FIRST_UID": str(first_uid)}


# Each makes box uid = first + box id a uid the kernel or the host gives a
# meaning to: 2**32-1 is -1 for setresuid ("unchanged": the program stays
# root), 2**32 wraps to 0, 0 is root, 65534 is nobody (an existing user).
BAD_FIRST_UIDS = {
    "minus-one": lambda box: 2 ** 32 - 1 - box,
    "wraps-to-root": lambda box: 2 ** 32 - box,
    "root": lambda box: -box,
    "existing-user": lambda box: 65534 - box,
}


@pytest.mark.parametrize("case", sorted(BAD_FIRST_UIDS))
def test_the_box_uid_is_never_root_minus_one_or_an_existing_user_cli(run_box, case):
    env = _uid_env(BAD_FIRST_UIDS[case](BOX))
    try:
        run = run_box("/usr/bin/id", "-u", env=env)
    finally:
        subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BOX)], env=env, capture_output=True)
    assert run.returncode == 2 and run.verdict is None, run
    assert "RUSTBOX_FIRST_UID" in run.stderr and run.stderr.count("\n") == 1, run
    assert run.output == "", run   # nothing ran: `id -u` would print 0 as root


@pytest.mark.parametrize("case", sorted(BAD_FIRST_UIDS))
def test_the_box_uid_is_never_root_minus_one_or_an_existing_user_batch(case):
    env = _uid_env(BAD_FIRST_UIDS[case](BATCH_BOX))
    proc = subprocess.run([*RUSTBOX, "batch", "-", "--boxes", str(BATCH_BOX)],
                          input=b'{"id": "who", "argv": ["/usr/bin/id", "-u"]}\n', env=env,
                          capture_output=True, timeout=60)
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(BATCH_BOX)], env=env,
                   capture_output=True)
    assert proc.returncode == 2, proc
    assert b"RUSTBOX_FIRST_UID" in proc.stderr and b"Traceback" not in proc.stderr, proc
    assert b'"status":"OK"' not in proc.stdout


@pytest.mark.parametrize("case", sorted(BAD_FIRST_UIDS))
def test_the_box_uid_is_never_root_minus_one_or_an_existing_user_api(case, tmp_path):
    script = tmp_path / "who.py"
    script.write_text(
        "import rustbox, sys\n"
        f"try:\n    v = rustbox.run(['/usr/bin/id', '-u'], box_id={API_BOX}, stdout='who')\n"
        "except rustbox.RustboxError as exc:\n    print('refused:', exc); sys.exit(0)\n"
        "print('ran:', v.status)\n")
    env = _uid_env(BAD_FIRST_UIDS[case](API_BOX))
    proc = subprocess.run([*RUSTBOX[:1], str(script)], env=env, capture_output=True, timeout=60,
                          text=True)
    subprocess.run([*RUSTBOX, "cleanup", "--box-id", str(API_BOX)], env=env, capture_output=True)
    assert proc.stdout.startswith("refused:") and "RUSTBOX_FIRST_UID" in proc.stdout, proc

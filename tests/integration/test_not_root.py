"""Every command that needs root says so in one line, and leaves nothing (issue 10.6).

The real command lines run as `nobody` (setpriv). If the interpreter lives
under a directory `nobody` cannot enter (a pyenv under /root), each run gets
a private mount namespace in which that directory is a fresh tmpfs holding
only the needed subtree, bound back in: the host's mounts are not touched.
Box 732 and its cgroups must never appear; nor may anything under a
RUSTBOX_ROOT, XDG_CACHE_HOME, TMPDIR or queue path that `nobody` could
have written.
"""
from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
APLUSB = REPO / "testdata" / "problems" / "aplusb"
BOX = 732

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to become nobody")


def _closed_ancestor(path: Path) -> Path | None:
    """The first directory above `path` that others cannot search."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not os.stat(parent).st_mode & stat.S_IXOTH:
            return parent
    return None


def as_nobody(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    nobody = pwd.getpwnam("nobody")
    become = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
              "--clear-groups", "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
    needed = [Path(os.path.realpath(sys.executable)), Path(sys.prefix), REPO]
    closed = {c for c in map(_closed_ancestor, needed) if c is not None}
    if not closed:
        return subprocess.run(become, capture_output=True, text=True, timeout=120, cwd="/")
    (top,) = closed          # e.g. /root: only what we need of it, in a mount namespace
    keep = [top / p.relative_to(top).parts[0] for p in needed if top in p.parents]
    script = ["set -e", "hold=$(mktemp -d)"]
    for i, child in enumerate(dict.fromkeys(keep)):
        script += [f"mkdir $hold/{i}", f"mount --bind {shlex.quote(str(child))} $hold/{i}"]
    script.append(f"mount -t tmpfs -o mode=0755,size=1m rustbox-test {shlex.quote(str(top))}")
    for i, child in enumerate(dict.fromkeys(keep)):
        script += [f"mkdir {shlex.quote(str(child))}",
                   f"mount --move $hold/{i} {shlex.quote(str(child))}"]
    script += ["rm -rf $hold", 'exec "$@"']
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           "\n".join(script), "sh", *become],
                          capture_output=True, text=True, timeout=120, cwd="/")


@pytest.fixture
def place(tmp_path) -> Path:
    """A directory nobody may write in: whatever it makes there is a leftover."""
    tmp_path.chmod(0o777)
    for parent in tmp_path.parents:      # pytest's own dirs are 0700
        if parent == Path("/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    return tmp_path


def env_for(place: Path) -> dict:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(place / "home"),
            "RUSTBOX_ROOT": str(place / "boxes"), "XDG_CACHE_HOME": str(place / "cache"),
            "TMPDIR": str(place), "JUDGE_QUEUE": f"sqlite://{place}/queue/q.db"}


def box_cgroups() -> list[str]:
    return glob.glob(f"/sys/fs/cgroup/*/rustbox/box-{BOX}") + glob.glob(
        f"/sys/fs/cgroup/rustbox/box-{BOX}")


COMMANDS = [
    ("rustbox run", ["-m", "rustbox", "run", "--box-id", BOX, "/bin/true"]),
    ("rustbox run", ["-m", "rustbox", "run", "--box-id", BOX, "--time", "1", "--", "/bin/true"]),
    ("rustbox init", ["-m", "rustbox", "init", "--box-id", BOX]),
    ("rustbox cleanup", ["-m", "rustbox", "cleanup", "--box-id", BOX]),
    ("rustbox batch", ["-m", "rustbox", "batch", "{place}/spec.jsonl", "--boxes", BOX]),
    ("judge run", ["-m", "judge", "run", APLUSB, APLUSB / "submissions/accepted/sum.c",
                   "--boxes", BOX]),
    ("judge verify", ["-m", "judge", "verify", APLUSB, "--boxes", BOX]),
    ("judge worker", ["-m", "judge", "worker", "--boxes", BOX]),
]


@pytest.mark.parametrize("command, args", COMMANDS,
                         ids=[f"{c.replace(' ', '-')}-{i}" for i, (c, _) in enumerate(COMMANDS)])
def test_a_command_that_needs_root_says_so_in_one_line_and_leaves_nothing(command, args, place):
    (place / "spec.jsonl").write_text('{"id": "t1", "argv": ["/bin/true"]}\n')
    (place / "spec.jsonl").chmod(0o644)
    before = sorted(p.name for p in place.iterdir())
    argv = [sys.executable, *(str(a).format(place=place) for a in args)]
    proc = as_nobody(argv, env_for(place))
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr and proc.stdout == "", proc
    (line,) = proc.stderr.splitlines()
    assert f"{command} needs root: it makes namespaces, mounts and cgroups" in line, line
    assert sorted(p.name for p in place.iterdir()) == before
    assert not box_cgroups() and not Path(f"/var/lib/rustbox/{BOX}").exists()


def test_the_python_api_raises_one_clear_error(place):
    script = ("import rustbox\n"
              "try:\n    rustbox.run(['/bin/true'], box_id=%d)\n"
              "except rustbox.RustboxError as exc:\n    print(type(exc).__name__, exc)\n" % BOX)
    proc = as_nobody([sys.executable, "-c", script], env_for(place))
    assert proc.returncode == 0 and proc.stderr == "", proc
    assert proc.stdout.startswith("NotRootError a rustbox Box needs root: ")
    assert os.listdir(place) == [] and not box_cgroups()


def test_submit_and_result_need_no_root(place):
    """Only the verbs that touch boxes need root: a site submits as itself."""
    source = place / "sum.py"
    source.write_text("print(sum(map(int, input().split())))\n")
    source.chmod(0o644)
    env = env_for(place)
    submit = as_nobody([sys.executable, "-m", "judge", "submit", str(APLUSB), str(source)], env)
    assert submit.returncode == 0, submit
    result = as_nobody([sys.executable, "-m", "judge", "result", submit.stdout.strip()], env)
    assert result.returncode == 1 and '"state": "pending"' in result.stdout, result


def test_check_env_as_a_user_points_to_root_and_creates_nothing(place):
    env = {**env_for(place), "RUSTBOX_ROOT": str(place / "a" / "b")}
    proc = as_nobody([sys.executable, "-m", "rustbox", "check-env"], env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc
    failed = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert len(failed) == 1 and "privileges" in failed[0] and "needs root" in failed[0], failed
    assert "RUSTBOX_ROOT" not in proc.stdout
    assert os.listdir(place) == []


def test_check_env_advice_on_the_box_root_works(tmp_path):
    """As root: a box root that cannot be used is named with its fix, and the fix works."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bad = tmp_path / "file"
    bad.write_text("")
    rustbox = [sys.executable, "-m", "rustbox"]
    proc = subprocess.run([*rustbox, "check-env"], env={**env, "RUSTBOX_ROOT": str(bad / "x")},
                          capture_output=True, text=True, timeout=60)
    (line,) = [line for line in proc.stdout.splitlines() if "box root" in line]
    assert line.startswith("[FAIL]") and "set RUSTBOX_ROOT to a directory root can write" in line
    good = {**env, "RUSTBOX_ROOT": str(tmp_path / "boxes" / "deeper")}
    proc = subprocess.run([*rustbox, "check-env"], env=good, capture_output=True, text=True,
                          timeout=60)
    (line,) = [line for line in proc.stdout.splitlines() if "box root" in line]
    assert line.startswith("[ok  ]") and "will be created" in line, line
    assert not (tmp_path / "boxes").exists()
    try:
        run = subprocess.run([*rustbox, "run", "--box-id", str(BOX), "/bin/true"], env=good,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and '"status":"OK"' in run.stdout, run
    finally:
        subprocess.run([*rustbox, "cleanup", "--box-id", str(BOX)], env=good, timeout=60)
    assert not box_cgroups()

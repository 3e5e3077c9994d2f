"""Soak: thousands of hostile runs through `rustbox batch`, then a look at
what they left on the host (issue 9's acceptance; run by hand, not in CI).

The mix, taken round-robin from MIX below (the security suite's attack
programs, compiled here with gcc): clone(CLONE_PARENT) siblings (plain,
a chain, under the default policy too), a ptrace()d program whose tracer
never reaps it, a CPU-burning tracer, a fork bomb, a memory bomb,
sleepers (in a system call, stopped, in vfork), loopback TCP sockets
filled and never read, CPU burners that catch every signal, and a daemon.
They go over two boxes (--boxes, default 990-991) in one `rustbox batch`.

Then, after `rustbox cleanup` of the boxes, it checks and prints:
  - one verdict per spec line, each id once, and no XX;
  - no process of a box uid left (looked at after the batch, and after
    cleanup);
  - no cgroup of the boxes left, in any hierarchy;
  - no new mount of the boxes in the host's table (others' are only counted);
  - the host's TCP memory (/proc/net/sockstat, pages) back where it started
    (within the kernel's per-CPU reserves, net.core.mem_pcpu_rsv per CPU).
Exit status 0 when all hold, 1 when one does not, 2 when the soak could not
run (one line on stderr).

    .venv/bin/python benchmarks/soak.py [--runs 5000] [--boxes 990-991]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO, cleanup_boxes, git, positive, rustbox_cli  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.hoststate import cgroups_of, mount_table, processes_of  # noqa: E402

PROGRAMS = REPO / "tests" / "security" / "programs"
# TCP memory is counted with per-CPU reserves: the host-wide figure can sit
# up to net.core.mem_pcpu_rsv pages per CPU away from what sockets hold.
def tcp_slack_pages() -> int:
    try:
        reserve = int(Path("/proc/sys/net/core/mem_pcpu_rsv").read_text())
    except (OSError, ValueError):
        reserve = 256   # the kernel's default (1 MiB of 4 KiB pages)
    return reserve * (os.cpu_count() or 1)


SETTLE = 30.0   # seconds to wait for the kernel to give TCP memory back

# name -> (program and arguments, limits and options). Short limits: the
# default 5000 runs take about ten minutes on two cores.
MIX = {
    "clone_parent": (["runend", "clone_parent"],
                     {"seccomp": "off", "processes": 4, "time": 0.5, "wall_time": 1}),
    "clone_parent_chain": (["runend", "clone_parent_chain"],
                           {"seccomp": "off", "processes": 8, "time": 0.2, "wall_time": 0.5}),
    "clone_parent_filtered": (["runend", "clone_parent"],
                              {"processes": 4, "time": 0.5, "wall_time": 1}),
    "ptrace_zombie": (["runend", "ptrace_zombie"],
                      {"seccomp": "off", "processes": 4, "time": 0.5, "wall_time": 1}),
    "sibling_tracer": (["runend", "sibling_tracer"],
                       {"seccomp": "off", "processes": 4, "time": 0.5, "wall_time": 1}),
    "tracer_burns_cpu": (["runend", "ptrace_hold_spin"],
                         {"seccomp": "off", "processes": 4, "time": 0.2, "wall_time": 1}),
    "fork_bomb": (["forkbomb"], {"processes": 32, "time": 0.2, "wall_time": 0.5}),
    "memory_bomb": (["membomb"], {"mem": "32M", "time": 1, "wall_time": 2}),
    "sleeper": (["/bin/sleep", "10"], {"wall_time": 0.3}),
    "stopped": (["runend", "stop_self"], {"wall_time": 0.3}),
    "vfork_hang": (["runend", "vfork_hang"], {"processes": 2, "wall_time": 0.3}),
    "tcp_filler": (["pin_kernel", "tcp", "96", "4"],
                   {"mem": "32M", "processes": 4, "time": 1, "wall_time": 2}),
    "cpu_burner": (["sigterm_spin"], {"time": 0.2, "wall_time": 0.5}),
    "daemon": (["daemon", "1"], {"processes": 4, "time": 0.5, "wall_time": 1}),
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Fatal(Exception):
    """The soak cannot run; one line for stderr."""


def build(out: Path) -> set[str]:
    """Compile the programs MIX names; returns those that built."""
    if shutil.which("gcc") is None:
        raise Fatal("gcc is needed to build the attack programs")
    wanted = {argv[0] for argv, _ in MIX.values() if not argv[0].startswith("/")}
    built = set()
    for name in sorted(wanted):
        source = PROGRAMS / f"{name}.c"
        if not source.exists():
            log(f"soak: {source.name} is not in this checkout: its runs are left out")
            continue
        proc = subprocess.run(["gcc", "-O2", "-o", str(out / name), str(source)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise Fatal(f"cannot compile {source.name}: {proc.stderr.strip()[:300]}")
        built.add(name)
    return built


def specs(runs: int, built: set[str]) -> list[dict]:
    kinds = [name for name, (argv, _) in MIX.items()
             if argv[0].startswith("/") or argv[0] in built]
    lines = []
    for i in range(runs):
        name = kinds[i % len(kinds)]
        argv, options = MIX[name]
        program = argv[0] if argv[0].startswith("/") else "./" + argv[0]
        lines.append({"id": f"{name}-{i}", "argv": [program, *argv[1:]], **options})
    return lines


def box_uids(box_ids) -> set[int]:
    from rustbox.box import BoxDir
    return {BoxDir(box_id).uid for box_id in box_ids}


def box_homes(box_ids) -> list[str]:
    from rustbox.box import BoxDir
    return [str(BoxDir(box_id).home) for box_id in box_ids]


def tcp_pages() -> int:
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()[1:]
            return int(dict(zip(fields[::2], fields[1::2]))["mem"])
    raise Fatal("no TCP line in /proc/net/sockstat")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=positive, default=5000, help="spec lines (default 5000)")
    parser.add_argument("--boxes", default="990-991", help="box ids for the batch (default 990-991)")
    args = parser.parse_args(argv)
    try:
        return soak(args)
    except Fatal as exc:
        log(f"soak: error: {exc}")
        return 2


def soak(args) -> int:
    from rustbox.batch import parse_box_ids
    from rustbox.errors import UsageError
    if os.geteuid() != 0:
        raise Fatal("rustbox needs root")
    try:
        box_ids = parse_box_ids(args.boxes)
    except UsageError as exc:
        raise Fatal(str(exc)) from None
    cli = rustbox_cli()
    if cli is None:
        raise Fatal("no rustbox command next to this interpreter nor on PATH")
    work = Path(tempfile.mkdtemp(prefix="rustbox-soak-"))
    work.chmod(0o755)
    try:
        built = build(work)
        lines = specs(args.runs, built)
        spec_file = work / "soak.jsonl"
        import orjson
        spec_file.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        uids = box_uids(box_ids)
        cleanup_boxes(box_ids, log, "soak")
        mounts_before, tcp_before = mount_table(), tcp_pages()
        log(f"soak: {len(lines)} runs of {len({line['id'].rsplit('-', 1)[0] for line in lines})} "
            f"kinds over boxes {args.boxes} (commit {git('rev-parse', '--short', 'HEAD')})")
        longest = max(float(line.get("wall_time", 0)) for line in lines)
        timeout = 120 + len(lines) * (longest + 1) / len(box_ids)
        start = time.monotonic()
        try:
            proc = subprocess.run([cli, "batch", str(spec_file), "--boxes", args.boxes],
                                  cwd=work, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc = None
        elapsed = time.monotonic() - start
        left_after_batch = processes_of(uids)
        cleanup_boxes(box_ids, log, "soak")
        return report(lines, proc, elapsed, left_after_batch, uids, box_ids,
                      mounts_before, tcp_before)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(lines, proc, elapsed, left_after_batch, uids, box_ids, mounts_before,
           tcp_before) -> int:
    import orjson
    problems = []
    verdicts = []
    if proc is None:
        problems.append(f"the batch did not end within its timeout ({elapsed:.0f} s)")
    else:
        for raw in proc.stdout.splitlines():
            try:
                verdicts.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                problems.append(f"a line that is not a verdict: {raw[:120]!r}")
    wanted = Counter(line["id"] for line in lines)
    got = Counter(v.get("id") for v in verdicts)
    if got != wanted:
        missing = sorted(set(wanted) - set(got))[:5]
        twice = sorted(i for i, n in got.items() if n > 1)[:5]
        problems.append(f"{len(verdicts)} verdict lines for {len(lines)} specs "
                        f"(missing e.g. {missing}, twice e.g. {twice})")
    limits = {line["id"]: line for line in lines}
    by_kind: dict[str, Counter] = defaultdict(Counter)
    worst_over = 0.0
    for v in verdicts:
        kind = str(v.get("id")).rsplit("-", 1)[0]
        by_kind[kind][v.get("status")] += 1
        wall = limits.get(v.get("id"), {}).get("wall_time")
        if wall is not None and v.get("wall_time") is not None:
            worst_over = max(worst_over, v["wall_time"] - float(wall))
    sandbox_failures = [v for v in verdicts if v.get("status") == "XX"]
    if sandbox_failures:
        problems.append(f"{len(sandbox_failures)} XX verdicts, e.g. "
                        f"{sandbox_failures[0].get('id')}: {sandbox_failures[0].get('message')}")
    if left_after_batch:
        problems.append(f"processes of box uids after the batch: {left_after_batch[:5]}")
    left = processes_of(uids)
    if left:
        problems.append(f"processes of box uids after cleanup: {left[:5]}")
    cgroups = cgroups_of(box_ids)
    if cgroups:
        problems.append(f"cgroups left: {cgroups}")
    # Other work on the host may mount meanwhile: only our boxes' count.
    homes = box_homes(box_ids)
    new_mounts = sorted(mount_table() - mounts_before)
    ours = [m for m in new_mounts if any(m[0] == h or m[0].startswith(h + "/") for h in homes)]
    if ours:
        problems.append(f"new mounts: {ours[:5]}")
    slack = tcp_slack_pages()
    deadline = time.monotonic() + SETTLE
    while tcp_pages() > tcp_before + slack and time.monotonic() < deadline:
        time.sleep(0.5)
    tcp_after = tcp_pages()
    if tcp_after > tcp_before + slack:
        problems.append(f"TCP memory {tcp_after} pages, {tcp_before} before "
                        f"(still up after {SETTLE:.0f} s)")

    print(f"runs: {len(lines)} in {elapsed:.1f} s ({len(lines) / elapsed:.1f}/s), "
          f"{len(verdicts)} verdict lines")
    for kind in sorted(by_kind):
        counts = ", ".join(f"{status} {n}" for status, n in sorted(by_kind[kind].items()))
        print(f"  {kind:24} {counts}")
    print(f"largest wall_time past its wall limit: {worst_over:.3f} s")
    print(f"processes of box uids: {len(left_after_batch)} after the batch, {len(left)} after cleanup")
    print(f"cgroups of the boxes left: {len(cgroups)}; new mounts: {len(ours)} of the boxes"
          f" ({len(new_mounts) - len(ours)} elsewhere on the host, not ours)")
    print(f"TCP memory (pages): {tcp_before} before, {tcp_after} after "
          f"(per-CPU reserves allow {slack})")
    if proc is not None and proc.stderr.strip():
        print(f"batch: {proc.stderr.decode(errors='replace').strip().splitlines()[-1]}")
    for problem in problems:
        print(f"FAIL: {problem}")
    print("PASS" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

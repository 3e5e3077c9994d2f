"""The `rustbox` verbs; maps errors to exit statuses 0/1/2 and nothing else.

Exit status: 0 verdict OK (or a verb that succeeded), 1 the program failed
(RE SG TO ML OL), 2 the sandbox failed (XX) or the command line was wrong.
Every error is one line on stderr, never a traceback.
"""
from __future__ import annotations

import os
import signal
import sys

import click
import orjson

from .errors import RustboxError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _emit(obj, json_file: str | None = None) -> None:
    data = orjson.dumps(obj) + b"\n"
    if json_file:
        with open(json_file, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _box_id(value) -> int:
    from .box import check_box_id
    return check_box_id(value)


@click.group(context_settings=CONTEXT)
def main() -> None:
    """rustbox: run untrusted programs in a box with exact verdicts."""


@main.command()
@click.option("--box-id", default="0", help="Box number (0-999).")
@click.option("--cg", default="auto", help="cgroup version: auto, v1 or v2.")
def init(box_id, cg) -> None:
    """Prepare box N (directory, uid, cgroups); prints it as JSON."""
    from .session import init_box
    _emit(init_box(_box_id(box_id), cg))


@main.command()
@click.option("--box-id", default="0", help="Box number (0-999).")
def cleanup(box_id) -> None:
    """Remove box N's directory and cgroups (never following links in it)."""
    from .session import cleanup_box
    _emit(cleanup_box(_box_id(box_id)))


@main.command("check-env")
def check_env() -> None:
    """Say what this host supports for rustbox, and what to fix."""
    from .hostcheck import host_checks
    checks = host_checks()
    width = max(len(c["item"]) for c in checks)
    for check in checks:
        mark = "ok  " if check["ok"] else ("warn" if check.get("optional") else "FAIL")
        click.echo(f"[{mark}] {check['item']:<{width}}  {check['detail']}")
    if not all(c["ok"] or c.get("optional") for c in checks):
        sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": False,
                                "allow_interspersed_args": False})
@click.option("--box-id", default="0", help="Box number (0-999).")
@click.option("--time", help="CPU time limit, seconds.")
@click.option("--wall-time", help="Wall clock limit (default 2*time+1).")
@click.option("--extra-time", help="Grace before the kill, seconds.")
@click.option("--mem", help="Memory limit of the box (e.g. 64M).")
@click.option("--swap", help="Swap allowed on top of --mem (default 0).")
@click.option("--processes", help="Max processes+threads (default 1).")
@click.option("--cpu-shares", help="Relative CPU weight.")
@click.option("--cpus", help="Hard CPU quota in cores.")
@click.option("--fsize", help="Largest file the program may write.")
@click.option("--stack", help="Stack size (or 'unlimited').")
@click.option("--open-files", help="Max open files (default 64).")
@click.option("--stdin", help="File inside the box for stdin.")
@click.option("--stdout", help="File inside the box for stdout.")
@click.option("--stderr", help="File inside the box for stderr.")
@click.option("--stderr-to-stdout", is_flag=True, help="Send stderr to stdout.")
@click.option("--dir", "dirs", multiple=True, help="HOST[:INSIDE][:rw|:ro|:noexec] mount rule.")
@click.option("--no-default-dirs", is_flag=True, help="Drop the default mount rules.")
@click.option("--env", "env", multiple=True, help="KEY=VALUE for the program.")
@click.option("--full-env", is_flag=True, help="Pass rustbox's whole environment.")
@click.option("--share-net", is_flag=True, help="Keep the host's network namespace.")
@click.option("--seccomp", default="default", help="off, default, strict or a policy FILE.")
@click.option("--cg", default="auto", help="cgroup version when the box is new.")
@click.option("--meta", help="Also write isolate's key:value meta file here.")
@click.option("--json", "json_file", help="Write the verdict JSON here instead of stdout.")
@click.argument("program")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(box_id, time, wall_time, extra_time, mem, swap, processes, cpu_shares, cpus, fsize,
        stack, open_files, stdin, stdout, stderr, stderr_to_stdout, dirs, no_default_dirs,
        env, full_env, share_net, seccomp, cg, meta, json_file, program, args) -> None:
    """Run PROGRAM [ARGS...] in a box and print its verdict as JSON."""
    from .box import box_root
    from .limits import limits_from
    from .mounts import DirRule
    from .process import RunRequest
    from .requests import parse_env
    from .session import BoxSession

    limits = limits_from({
        "time": time, "wall_time": wall_time, "extra_time": extra_time, "mem": mem,
        "swap": swap, "processes": processes, "cpu_shares": cpu_shares, "cpus": cpus,
        "fsize": fsize, "stack": stack, "open_files": open_files})
    request = RunRequest(
        argv=[program, *args], limits=limits, stdin=stdin, stdout=stdout, stderr=stderr,
        stderr_to_stdout=stderr_to_stdout,
        dirs=[DirRule.parse(text, str(box_root())) for text in dirs],
        no_default_dirs=no_default_dirs, env=parse_env(env), full_env=full_env,
        share_net=share_net, seccomp=seccomp)
    _terminate_cleanly()
    with BoxSession(_box_id(box_id), cg) as session:
        verdict = session.run(request)
    if meta:
        with open(meta, "w") as f:
            f.write(verdict.to_meta())
    _emit(verdict.to_dict(), json_file)
    if verdict.status == "XX":
        click.echo(f"rustbox: error: {verdict.message}", err=True)
    sys.exit(verdict.exit_status)


@main.command()
@click.argument("spec")
@click.option("--boxes", default=None, help="Box ids, e.g. 0-3 or 0,2,5 (default: one per core).")
@click.option("--parallel", default=None, help="Runs at once (default: number of boxes).")
@click.option("--cg", default="auto", help="cgroup version for new boxes.")
def batch(spec, boxes, parallel, cg) -> None:
    """Run every spec line of SPEC (JSONL, or - for stdin); one verdict line each."""
    from .batch import parse_box_ids, run_batch
    from .limits import parse_count
    ids = parse_box_ids(boxes) if boxes else list(range(os.cpu_count() or 1))
    workers = parse_count(parallel, "--parallel") if parallel else len(ids)
    source = sys.stdin.buffer if spec == "-" else _open_spec(spec)
    _terminate_cleanly()
    summary = run_batch(source, ids, workers, cg, sys.stdout.buffer, sys.stderr)
    sys.exit(0 if summary.all_ok else 1)


def _open_spec(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None


def _terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C, so every box, cgroup and process is cleaned up."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def cli(argv=None) -> int:
    """Run the CLI; returns the exit status instead of raising."""
    try:
        main.main(args=argv, prog_name="rustbox", standalone_mode=False)
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    except click.ClickException as exc:
        click.echo(f"rustbox: error: {exc.format_message()}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("rustbox: interrupted", err=True)
        return 130
    except RustboxError as exc:
        click.echo(f"rustbox: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("rustbox: interrupted", err=True)
        return 130
    except OSError as exc:
        click.echo(f"rustbox: error: {exc}", err=True)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("RUSTBOX_DEBUG"):
            raise
        click.echo(f"rustbox: internal error: {type(exc).__name__}: {exc} "
                   "(set RUSTBOX_DEBUG=1 for a traceback)", err=True)
        return 2


def entry() -> None:
    sys.exit(cli())


if __name__ == "__main__":
    entry()

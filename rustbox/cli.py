"""The `rustbox` verbs as a click group; exit statuses are entry.py's."""
from __future__ import annotations

import os
import sys

import click
import orjson

from .errors import UsageError, guarded
from .privileges import require_root

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
    require_root("rustbox init")
    from .session import init_box
    _emit(init_box(_box_id(box_id), cg))


@main.command()
@click.option("--box-id", default="0", help="Box number (0-999).")
def cleanup(box_id) -> None:
    """Remove box N's directory and cgroups (never following links in it)."""
    require_root("rustbox cleanup")
    from .session import cleanup_box
    _emit(cleanup_box(_box_id(box_id)))


@main.command("check-env")
@click.option("--calibrate", "measure", is_flag=True,
              help="Also measure how steady CPU time is (rustbox calibrate; a few seconds, root).")
@click.option("--box-id", default="0", help="Box to calibrate in (with --calibrate).")
def check_env(measure, box_id) -> None:
    """Say what this host supports for rustbox, and what to fix."""
    from .hostcheck import host_checks, timing_check
    checks = host_checks()
    checks.append(timing_check(_box_id(box_id) if measure else None))
    width = max(len(c["item"]) for c in checks)
    for check in checks:
        mark = ("note" if check.get("note") else "ok  ") if check["ok"] else (
            "warn" if check.get("optional") else "FAIL")
        click.echo(f"[{mark}] {check['item']:<{width}}  {check['detail']}")
    if not all(c["ok"] or c.get("optional") for c in checks):
        sys.exit(1)


@main.command()
@click.option("--box-id", default="0", help="Box to run the workloads in (0-999).")
@click.option("--runs", default=None, help="Runs of each workload (default 7, 3-100).")
@click.option("--spread", default=None, metavar="STEADY,NOISY",
              help="Thresholds of slowest vs fastest run (default 0.1,1).")
@click.option("--slowdown", default=None, metavar="STEADY,NOISY",
              help="Thresholds of median vs fastest run (default 0.05,0.5).")
@click.option("--steal", default=None, metavar="STEADY,NOISY",
              help="Thresholds of steal time's share (default 0.02,0.1).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
def calibrate(box_id, runs, spread, slowdown, steal, as_json) -> None:
    """How steady this host's CPU time is: fixed workloads in a box, N runs each.

    Prints the median and spread of each workload, the steal time, and the
    class: steady, noisy or unusable. Exit 0 steady or noisy, 1 unusable,
    2 the calibration could not run."""
    require_root("rustbox calibrate")
    from .api import Box
    from .calibrate import DEFAULT_RUNS, calibrate as measure, check_runs, format_report, thresholds_from
    from .limits import parse_count
    count = check_runs(parse_count(runs, "--runs") if runs is not None else DEFAULT_RUNS)
    thresholds = thresholds_from({"spread": spread, "slowdown": slowdown, "steal": steal})
    with Box(_box_id(box_id)) as box:
        report = measure(box, count, thresholds)
    if as_json:
        _emit(report)
    else:
        for line in format_report(report):
            click.echo(line)
    sys.exit(1 if report["class"] == "unusable" else 0)


def _run_command():
    """`run`, built from the option table in run_command.py."""
    from . import run_command

    def callback(**values) -> None:
        require_root("rustbox run")
        sys.exit(run_command.run(values))

    params = [click.Argument(["program"]),
              click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)]
    for flag, kind, default, help_text in run_command.RUN_OPTIONS:
        name = run_command.dest(flag)
        if kind == "flag":
            params.insert(-2, click.Option([flag, name], is_flag=True, help=help_text))
        elif kind == "multi":
            params.insert(-2, click.Option([flag, name], multiple=True, help=help_text))
        else:
            params.insert(-2, click.Option([flag, name], default=default, help=help_text))
    return click.Command(
        "run", callback=callback, params=params,
        help="Run PROGRAM [ARGS...] in a box and print its verdict as JSON.",
        context_settings={**CONTEXT, "allow_interspersed_args": False})


main.add_command(_run_command())


@main.command()
@click.argument("spec")
@click.option("--boxes", default=None, help="Box ids, e.g. 0-3 or 0,2,5 (default: one per core).")
@click.option("--parallel", default=None, help="Runs at once (default: number of boxes).")
@click.option("--cg", default="auto", help="cgroup version for new boxes.")
def batch(spec, boxes, parallel, cg) -> None:
    """Run every spec line of SPEC (JSONL, or - for stdin); one verdict line each."""
    require_root("rustbox batch")
    from .batch import parse_box_ids, run_batch
    from .limits import parse_count
    ids = parse_box_ids(boxes) if boxes else list(range(os.cpu_count() or 1))
    workers = parse_count(parallel, "--parallel") if parallel else len(ids)
    source = sys.stdin.buffer if spec == "-" else _open_spec(spec)
    from .run_command import terminate_cleanly
    terminate_cleanly()
    summary = run_batch(source, ids, workers, cg, sys.stdout.buffer, sys.stderr)
    sys.exit(2 if summary.lost else 0 if summary.all_ok else 1)


def _open_spec(path: str):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read spec file {path}: {exc.strerror}") from None


def cli(argv=None) -> int:
    """Run the click CLI; returns the exit status instead of raising."""
    def invoke() -> int:
        try:
            main.main(args=argv, prog_name="rustbox", standalone_mode=False)
            return 0
        except click.exceptions.Abort:
            raise KeyboardInterrupt from None
        except click.ClickException as exc:
            click.echo(f"rustbox: error: {exc.format_message()}", err=True)
            return 2
    return guarded(invoke)


if __name__ == "__main__":
    sys.exit(cli())

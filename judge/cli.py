"""The `judge` command: run one submission, verify a package; maps errors to exits.

Exit status: 0 success (run: graded, whatever the verdict; verify: every
submission got its promised verdict), 1 verify found a mismatch, 2 bad
input or a judge/sandbox failure (one line on stderr, no traceback).
The queue's commands (submit, worker, result) come from judge/queue_cli.py
when it is there.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from rustbox.privileges import require_root
from rustbox.text import plural

from .errors import JudgeError
from .grader import resolve_time_limit
from .verdicts import AC, NAMES

EXIT_MISMATCH, EXIT_ERROR = 1, 2
_STYLE = {"AC": "green", "WA": "red", "TLE": "yellow", "MLE": "magenta", "OLE": "magenta",
          "RTE": "bright_red", "CE": "cyan", "JE": "bold red"}


class JudgeGroup(click.Group):
    """Turns the judge's and the sandbox's own errors into one line and exit 2."""

    def invoke(self, ctx):
        from rustbox.errors import RustboxError
        try:
            return super().invoke(ctx)
        except (JudgeError, RustboxError) as exc:
            click.echo(f"judge: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("judge: interrupted", err=True)
            ctx.exit(130)


class _Tally:
    """What a grading did so far, from its progress events (for Ctrl-C)."""

    def __init__(self, total: int):
        self.total, self.compiled, self.verdicts = total, False, {}

    def wrap(self, inner):
        def progress(event, data):
            if event == "compiled":
                self.compiled = True
            elif event == "test":
                verdict = data["test"]["verdict"]
                self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
            if inner is not None:
                inner(event, data)
        return progress

    def summary(self) -> str:
        if not self.compiled:
            return "before the tests (while building)"
        done = sum(self.verdicts.values())
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.verdicts.items()))
        return f"after {done} of {self.total} tests" + (f" ({counts})" if counts else "")


def parse_boxes(text: str | None) -> list[int] | None:
    """--boxes in rustbox's own grammar ('800-803', '800,802'; the ids `rustbox
    batch` refuses are refused here too); None -> one box per core."""
    if not text:
        return None
    from rustbox.batch import parse_box_ids
    return parse_box_ids(text)


def _pool(boxes: str | None):
    from rustbox import BoxPool
    return BoxPool(parse_boxes(boxes))


PYTHON3_CHOICES = {"pypy": "pypy3", "pypy3": "pypy3", "cpython": "cpython3", "cpython3": "cpython3"}


def _languages(path: Path | None, python3: str | None = None):
    from .languages import load_languages
    table = load_languages(path)
    return table.use(PYTHON3_CHOICES[python3.lower()]) if python3 else table


_python3_option = click.option(
    "--python3", "python3", type=click.Choice(sorted(PYTHON3_CHOICES), case_sensitive=False),
    help="What Python 3 (.py, .py3) runs on: pypy (the default, as on Kattis and DOMjudge) or cpython.")


def _json(data) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def _fmt_time(seconds: float) -> str:
    return f"{seconds:.3f}s"


def _fmt_mem(size: int) -> str:
    return f"{size / (1 << 20):.1f}MiB"


def _styled(verdict: str, width: int = 0) -> str:
    return f"[{_STYLE.get(verdict, 'white')}]{verdict}[/]" + " " * max(0, width - len(verdict))


def _summary(result: dict) -> list[str]:
    """What a person reads first: the verdict and score, how the tests went,
    the slowest test against the limit and the peak memory."""
    score = ""
    if result["max_score"] is not None:
        score = f", score {result['score']:g} of {result['max_score']:g}"
    lines = [f"verdict: {_styled(result['verdict'])} ({NAMES[result['verdict']]}){score}"]
    tests = result["tests"]
    if tests:
        counts: dict[str, int] = {}
        for test in tests:
            counts[test["verdict"]] = counts.get(test["verdict"], 0) + 1
        tally = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: (kv[0] != AC, kv[0])))
        slowest = max(tests, key=lambda t: t["cpu_time"])
        biggest = max(tests, key=lambda t: t["memory_peak"])
        lines.append(f"{plural(len(tests), 'test')} judged: {tally}; slowest {slowest['name']} "
                     f"{slowest['cpu_time']:.3f} s of {result['time_limit']:g} s; peak memory "
                     f"{_fmt_mem(biggest['memory_peak'])} ({biggest['name']})")
        rerun = [t for t in tests if t.get("reruns")]
        if rerun:
            band = result["reruns"]["band"]
            shown = ", ".join(t["name"] + " (" + " ".join(f"{r['cpu_time']:.3f}" for r in t["runs"])
                              + " s)" for t in rerun[:5])
            lines.append(f"near the limit ({band[0]:g}x-{band[1]:g}x), run again and judged on "
                         f"the fastest run: {shown}{' ...' if len(rerun) > 5 else ''}")
    return lines


def _test_table(result: dict, tests: list | None = None, what: str = ""):
    from rich.table import Table
    scoring = result.get("max_score") is not None
    title = f"{result['problem']}: {result['language']}, time limit {result['time_limit']:g} s"
    table = Table(title=f"{title}{': ' + what if what else ''}", title_justify="left")
    table.add_column("test", no_wrap=True)
    table.add_column("verdict")
    table.add_column("cpu", justify="right")
    table.add_column("wall", justify="right")
    table.add_column("memory", justify="right")
    if scoring:
        table.add_column("score", justify="right")
    table.add_column("message", overflow="fold")
    for test in result["tests"] if tests is None else tests:
        row = [test["name"], _styled(test["verdict"]), _fmt_time(test["cpu_time"]),
               _fmt_time(test["wall_time"]), _fmt_mem(test["memory_peak"])]
        if scoring:
            row.append(f"{test['score']:g}" if test["score"] is not None else "")
        row.append(test["message"][:200])
        table.add_row(*row)
    return table


@click.group(cls=JudgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Grade submissions against Kattis / ICPC problem packages in rustbox boxes."""


@main.command()
@click.argument("problem_dir", metavar="PROBLEM", type=click.Path(path_type=Path))
@click.argument("submission", type=click.Path(path_type=Path))
@click.option("--lang", "language", metavar="L", help="Language id (default: from the file ending).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Seconds per test (default: problem.yaml, else 1).")
@click.option("--json", "as_json", is_flag=True, help="Print only the final JSON.")
@click.option("--all", "show_all", is_flag=True, help="A row for every test, not only the failing ones.")
@click.option("--boxes", metavar="IDS", help="Box ids to use, e.g. 0-3 (default: one per core).")
@click.option("--languages", "languages_file", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of languages merged over the built-in table.")
@click.option("--reruns", type=click.IntRange(min=0), default=None, metavar="K",
              help="More runs for a test near the time limit, judged on its fastest (default 2; 0: none).")
@click.option("--rerun-band", metavar="LOW-HIGH",
              help="Which tests are near the limit: CPU time within LOW-HIGH x the limit (default 0.8-1.5).")
@click.option("--calibrate", "measure", is_flag=True,
              help="Calibrate the host first (rustbox calibrate, a few seconds); the result carries its class.")
@_python3_option
def run(problem_dir, submission, language, time_limit, as_json, show_all, boxes, languages_file,
        reruns, rerun_band, measure, python3):
    """Grade SUBMISSION against the problem package PROBLEM."""
    require_root("judge run")
    from .reruns import RerunPolicy
    policy = RerunPolicy.parse(rerun_band, reruns)
    from rich.console import Console
    from .grader import check_submission, grade_submission
    from .problem import load_problem

    from .build import source_files
    problem = load_problem(problem_dir, samples_only_ok=True)
    table = _languages(languages_file, python3)
    source_files(submission)                      # fail before printing anything
    check_submission(problem, submission, table, language)
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=120)     # a pipe or a file: room for the table
    err = Console(stderr=True, highlight=False)
    if not as_json:
        for warning in problem.warnings:
            err.print(f"[yellow]warning:[/] {warning}")
        if problem.samples_only:
            err.print(f"[yellow]note:[/] {problem.samples_only}", soft_wrap=True)
        limit, source = resolve_time_limit(problem, time_limit)
        console.print(f"time limit {limit:g} s (from the {source})")
    pool = _pool(boxes)
    tally = _Tally(len(problem.tests()))
    try:
        calibration = _calibrate(pool, None if as_json else console) if measure else None
        if as_json or not console.is_terminal:
            if not as_json:
                def progress(event, data):
                    if event == "compiled":
                        console.print(f"compile: {data['compile']['status']}")
            else:
                progress = None
            result = grade_submission(problem, submission, language, time_limit, pool=pool,
                                      progress=tally.wrap(progress), languages=table,
                                      reruns=policy, calibration=calibration)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("compiling", total=len(problem.tests()))

                def progress(event, data):
                    if event == "compiled":
                        bar.update(task, description="testing")
                    elif event == "test":
                        bar.update(task, completed=data["done"],
                                   description=f"testing ({data['test']['name']}: {data['test']['verdict']})")
                result = grade_submission(problem, submission, language, time_limit, pool=pool,
                                          progress=tally.wrap(progress), languages=table,
                                          reruns=policy, calibration=calibration)
    except KeyboardInterrupt:
        pool.close(kill=True)           # the runs in progress end now
        click.echo(f"judge: interrupted {tally.summary()}", err=True)
        sys.exit(130)
    finally:
        pool.close()
    if as_json:
        click.echo(_json(result))
        return
    if result["compile"]["message"]:
        console.print(f"[bold]compiler says[/] ({result['compile']['status']}):")
        console.print(result["compile"]["message"], markup=False)
    failing = [t for t in result["tests"] if t["verdict"] != AC]
    shown = result["tests"] if show_all else failing
    if shown:
        console.print(_test_table(result, shown, "" if show_all else "failing tests"))
    for test in result["tests"]:
        if test.get("transcript"):   # a failed interactive test: how the exchange ended
            console.print(f"transcript of {test['name']} (its end):", markup=False)
            console.print(test["transcript"], markup=False, soft_wrap=True, highlight=False)
    for line in _summary(result):
        console.print(line, soft_wrap=True)


def _calibrate(pool, console) -> dict:
    """rustbox calibrate in one of the pool's boxes; its summary for the result."""
    from rustbox.calibrate import calibrate, summary
    with pool.box() as box:
        report = calibrate(box)
    if console is not None:
        console.print(f"host timing: {report['class']} ({report['meaning']})", soft_wrap=True)
    return summary(report)


@main.command()
@click.argument("problem_dir", metavar="PROBLEM", type=click.Path(path_type=Path))
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Seconds per test (default: problem.yaml, else derived from the accepted runs).")
@click.option("--boxes", metavar="IDS", help="Box ids to use, e.g. 0-3 (default: one per core).")
@click.option("--languages", "languages_file", type=click.Path(path_type=Path), metavar="FILE",
              help="A TOML file of languages merged over the built-in table.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
@_python3_option
def verify(problem_dir, time_limit, boxes, languages_file, as_json, python3):
    """Grade every submissions/<expected>/ entry of PROBLEM and check its verdict."""
    require_root("judge verify")
    from rich.console import Console
    from .problem import load_problem
    from .expectations import plan
    from .verify import submissions_to_check, verify as run_verify

    problem = load_problem(problem_dir, samples_only_ok=True)
    table = _languages(languages_file, python3)
    console = Console(highlight=False)
    todo = submissions_to_check(problem)
    if not todo:
        raise JudgeError(f"{problem.path / 'submissions'}: no submissions to verify")
    promised = plan(problem, todo)
    if not as_json:
        for warning in problem.warnings:
            console.print(f"[yellow]warning:[/] {warning}", style=None)
        if problem.samples_only:
            console.print(f"[yellow]note:[/] {problem.samples_only}", soft_wrap=True)
        console.print(f"verifying {problem.short_name} ({problem.format_version}, {problem.type}, "
                      f"{plural(len(problem.tests()), 'test')}, {plural(len(todo), 'submission')})")
    elif problem.samples_only:
        click.echo(orjson.dumps({"samples_only": problem.samples_only}).decode())
    live = _VerifyProgress(console, len(todo), len(problem.tests())) \
        if console.is_terminal and not as_json else None

    def on_time_limit(seconds, how):
        if as_json:
            click.echo(orjson.dumps({"time_limit": seconds, "how": how}).decode())
        else:
            console.print(f"time limit {seconds:g} s ({how})", soft_wrap=True)

    def on_start(directory, entry, seconds):
        if live:
            live.start(f"{directory}/{entry.name}", seconds)

    def on_result(check):
        if live:
            live.finish()
        if as_json:
            line = {"submission": str(check.submission), "expected": check.expected, "ok": check.ok,
                    "result": check.result}
            for key in ("skipped", "not_checked"):
                if getattr(check, key):
                    line[key] = getattr(check, key)
            if check.findings:
                line["findings"] = [{"ok": f.ok, "text": f.text} for f in check.findings]
            click.echo(orjson.dumps(line).decode())
            return
        name = f"{check.directory}/{check.submission.name}"
        if check.skipped:
            console.print(f"  [yellow]skipped[/]  {name:<40} {check.skipped}", soft_wrap=True)
            return
        score = ""
        if check.result["max_score"] is not None:
            score = f" score {check.result['score']:g}/{check.result['max_score']:g}"
        mark = ("[green]ok[/]      " if check.ok else "[bold red]MISMATCH[/]" if check.mismatch
                else "[yellow]-[/]       ")
        console.print(f"  {mark} {name:<40} expected {_styled(check.expected, 4)} got "
                      f"{_styled(check.got, 4)}{score}  slowest test {check.slowest:.3f}s", soft_wrap=True)
        if check.not_checked:
            console.print(f"      not checked: {check.not_checked}", markup=False, soft_wrap=True)
        for note in check.notes:
            console.print(f"      {note}", markup=False, soft_wrap=True)
        for failure in check.failures:
            console.print(f"      {failure}", markup=False, soft_wrap=True)
        if check.mismatch:
            bad = next((t for t in check.result["tests"] if t["verdict"] != AC), None)
            detail = check.result["compile"]["message"] if check.got == "CE" else (
                f"{bad['name']}: {bad['message']}" if bad else "")
            if detail:
                console.print(f"      {detail[:300]}", markup=False, soft_wrap=True)
            if bad and bad.get("transcript"):
                console.print(f"      transcript of {bad['name']} (its end):", markup=False)
                for line in bad["transcript"].splitlines()[-12:]:
                    console.print(f"        {line}", markup=False, soft_wrap=True, highlight=False)

    pool = _pool(boxes)
    try:
        if live:
            with live:
                checks = run_verify(problem, pool, time_limit, table, on_result, on_time_limit, on_start,
                                    progress=live.progress, promised=promised)
        else:
            checks = run_verify(problem, pool, time_limit, table, on_result, on_time_limit, on_start,
                                promised=promised)
    finally:
        pool.close()
    skipped = [c for c in checks if c.skipped]
    unchecked = [c for c in checks if c.not_checked]
    bad = [c for c in checks if c.mismatch]
    checked = len(checks) - len(skipped) - len(unchecked)
    if not as_json:
        line = (f"{checked - len(bad)} of {plural(checked, 'submission')} got "
                f"{'its' if checked == 1 else 'their'} expected verdict"
                + ("" if not bad else f"; {len(bad)} did not"))
        if unchecked:
            line += f"; {len(unchecked)} more graded but not checked (nothing promised)"
        if skipped:
            line += f"; {len(skipped)} more not graded (skipped: see above)"
        console.print(line, soft_wrap=True)
    sys.exit(EXIT_MISMATCH if bad else 0)


class _VerifyProgress:
    """A transient line on a terminal: which submission is being graded,
    how far its tests are, and for how long (verify's silence otherwise
    lasts as long as the slowest submission)."""

    def __init__(self, console, submissions: int, tests: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=console, transient=True)
        self.submissions, self.tests, self.started, self.task = submissions, tests, 0, None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    def start(self, name: str, seconds: float) -> None:
        self.finish()
        self.started += 1
        what = f"[{min(self.started, self.submissions)}/{self.submissions}] {name} ({seconds:g} s per test)"
        self.task = self.bar.add_task(what, total=self.tests)
        self.bar.refresh()

    def progress(self, event: str, data: dict) -> None:
        if self.task is not None and event == "test":
            self.bar.update(self.task, completed=data["done"])

    def finish(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


from .queue_cli import COMMANDS  # noqa: E402 - after main: the queue verbs join it

for _command in COMMANDS:
    main.add_command(_command)

from .serve.cli import serve  # noqa: E402 - `judge serve` (its web stack loads when it runs)

main.add_command(serve)


__all__ = ["main", "parse_boxes"]

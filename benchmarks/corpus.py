"""`judge verify` over a corpus of public problem packages, as a table.

The corpus is not ours and stays out of the repository: fetch the packages
into a directory of your own, one sub-directory per source (a repository or
an archive), e.g.

    CORPUS/Kattis+problemtools/examples/hello/problem.yaml
    CORPUS/DOMjudge+domjudge/example_problems/hello/problem.yaml

Every directory holding a problem.yaml and a submissions/ directory is a
package (copies under testdata_tools/ and BAPCtools' skel/ are left out).
Each is verified with `judge verify --json` in a subprocess (so one that
aborts or hangs is that package's failure, not the table's), and the JSON
lines are kept under --results (a package already there is not graded
again unless --again). Then the table: per package, its source, the
submissions that got their folder's verdict out of those graded, those
skipped (with the reason: a language this machine does not run, ...), and
the package-level outcome (verified, mismatch, refused with the judge's
one line, aborted).

Submissions in languages this machine runs are the graded ones; the
overall figure is the share of them that got what their folder promises,
and the count of wrong_answer/ submissions judged AC (which must be 0).

    .venv/bin/python benchmarks/corpus.py CORPUS [--boxes 975-978] [--only NAME]
                     [--results DIR] [--again] [--timeout 1800] [--markdown] [--recheck]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SKIP_PARTS = {"testdata_tools", "skel"}


def packages(root: Path) -> list[tuple[str, Path]]:
    found = []
    for yaml in sorted(root.rglob("problem.yaml")):
        package = yaml.parent
        rel = package.relative_to(root)
        if SKIP_PARTS & set(rel.parts) or not (package / "submissions").is_dir():
            continue
        found.append((rel.parts[0], package))
    return found


def run_one(package: Path, out: Path, boxes: str, timeout: float) -> dict:
    judge = [sys.executable, "-m", "judge"]
    started = time.monotonic()
    try:
        proc = subprocess.run([*judge, "verify", "--json", "--boxes", boxes, str(package)],
                              capture_output=True, text=True, timeout=timeout)
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr, code = f"timed out after {timeout:g} s", -1
    record = {"package": str(package), "exit": code, "stderr": stderr.strip()[-2000:],
              "seconds": round(time.monotonic() - started, 1), "lines": []}
    for line in stdout.splitlines():
        try:
            record["lines"].append(json.loads(line))
        except ValueError:
            pass
    out.write_text(json.dumps(record))
    return record


def recheck(record: dict) -> None:
    """Check the stored results again with this judge's expectations (after
    a change to judge/expectations.py, without grading anything again)."""
    from judge.expectations import plan
    from judge.problem import load_problem
    from judge.verify import submissions_to_check
    try:
        problem = load_problem(record["package"], samples_only_ok=True)
        promised = plan(problem, submissions_to_check(problem))
    except Exception:                                 # the package's own refusal stands
        return
    for line in record["lines"]:
        if "submission" not in line or line.get("skipped") or line.get("not_checked"):
            continue
        entry = Path(line["submission"])
        expectations = promised.get((entry.parent.name, entry))
        if expectations is None:
            continue
        findings = expectations.check(line["result"])
        line["findings"] = [{"ok": f.ok, "text": f.text} for f in findings]
        line["ok"] = not any(not f.ok for f in findings)


def summarise(record: dict) -> dict:
    graded = ok = skipped = unchecked = wa_ac = fixtures = 0
    reasons: dict[str, int] = {}
    bad: list[str] = []
    for line in record["lines"]:
        if "submission" not in line:
            continue
        if line.get("skipped"):
            skipped += 1
            reasons[line["skipped"]] = reasons.get(line["skipped"], 0) + 1
            continue
        if line.get("not_checked"):
            unchecked += 1
            continue
        name = "/".join(Path(line["submission"]).parts[-2:])
        if ".bad." in Path(line["submission"]).name:
            # BAPCtools' own fixtures (identity/*/x.bad.py) sit in the wrong
            # folder on purpose: a verify must report them as mismatches.
            fixtures += 1
            if line["ok"]:
                bad.append(f"{name}: a .bad. fixture that should mismatch got its folder's verdict")
            continue
        graded += 1
        if line["ok"]:
            ok += 1
        else:
            failures = [f["text"] for f in line.get("findings", []) if not f["ok"]]
            bad.append(f"{name}: " + ("; ".join(failures) if failures else
                                      f"expected {line['expected']}, got {line['result']['verdict']}"))
        folder = Path(line["submission"]).parent.name
        if folder == "wrong_answer" and line["result"]["verdict"] == "AC":
            wa_ac += 1
    judged = any("submission" in line for line in record["lines"])
    if record["exit"] in (0, 1) and judged:
        outcome = "verified" if record["exit"] == 0 else "mismatch"
    elif record["exit"] == -1:
        outcome = "timed out"
    else:
        last = record["stderr"].splitlines()[-1] if record["stderr"] else f"exit {record['exit']}"
        outcome = ("refused: " if record["exit"] in (2, 3) else "aborted: ") + last
    return {"graded": graded, "ok": ok, "skipped": skipped, "unchecked": unchecked, "wa_ac": wa_ac,
            "fixtures": fixtures,
            "reasons": reasons, "bad": bad, "outcome": outcome, "seconds": record["seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--boxes", default="975-978")
    parser.add_argument("--only", action="append", default=[], help="packages whose path contains this")
    parser.add_argument("--results", type=Path, default=None, help="default: CORPUS/.results")
    parser.add_argument("--again", action="store_true", help="verify packages already in --results again")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per package")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--recheck", action="store_true",
                        help="check stored results again with the current expectations (no grading)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("corpus: needs root (judge verify runs boxes)", file=sys.stderr)
        return 2
    results = args.results or args.corpus / ".results"
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for source, package in packages(args.corpus):
        rel = str(package.relative_to(args.corpus))
        if args.only and not any(o in rel for o in args.only):
            continue
        out = results / (rel.replace("/", "__") + ".json")
        if out.exists() and not args.again:
            record = json.loads(out.read_text())
            if args.recheck:
                recheck(record)
        else:
            print(f"verifying {rel} ...", file=sys.stderr, flush=True)
            record = run_one(package, out, args.boxes, args.timeout)
        rows.append((source, package.name, rel, summarise(record)))
    total = {k: sum(r[3][k] for r in rows) for k in ("graded", "ok", "skipped", "unchecked", "wa_ac",
                                                      "fixtures")}
    if args.markdown:
        print("| package | source | got their folder's verdict | skipped | outcome |")
        print("|---|---|---|---|---|")
        for source, name, rel, s in rows:
            skipped = "; ".join(f"{n} {r}" for r, n in s["reasons"].items()) or "-"
            print(f"| {name} | {source.replace('+', '/')} | {s['ok']}/{s['graded']} | {skipped} | {s['outcome']} |")
    else:
        for source, name, rel, s in rows:
            print(f"{rel:<60} {s['ok']:>3}/{s['graded']:<3} skipped {s['skipped']:<3} "
                  f"{s['outcome']}  ({s['seconds']:g} s)")
            for line in s["bad"]:
                print(f"      {line}")
            for reason, n in s["reasons"].items():
                print(f"      skipped {n}: {reason}")
    share = 100.0 * total["ok"] / total["graded"] if total["graded"] else 0.0
    print(f"\n{len(rows)} packages from {len({r[0] for r in rows})} sources: {total['ok']} of "
          f"{total['graded']} graded submissions got their folder's verdict ({share:.1f}%); "
          f"{total['skipped']} skipped, {total['unchecked']} graded but not checked, "
          f"{total['fixtures']} .bad. fixtures (meant to mismatch); "
          f"wrong_answer/ judged AC: {total['wa_ac']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

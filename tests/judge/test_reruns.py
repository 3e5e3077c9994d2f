"""Near-limit re-runs (judge/reruns.py): the rules on tables, then real gradings.

The programs burn CPU until their own CPU clock reaches a set share of the
limit, so which band a run lands in does not depend on the host's speed
or noise (the cgroup adds only the program's start, a few milliseconds of
C). Boxes 671-672.
"""
from __future__ import annotations

import pytest

from judge import grade_submission
from judge.grader import TestResult as Outcome, grading_budget
from judge.reruns import OFF, RerunError, RerunPolicy, decide, wants_rerun
from judge.verdicts import AC, RTE, TLE, WA

from judge_helpers import echo_tests, make_package, PROBLEMS

LIMIT = 0.5


# ---- the rules, on tables ----------------------------------------------------

def run(verdict, status, cpu, wall_killed=False):
    return Outcome("t", verdict, cpu, cpu + 0.01, 1, status=status, message=str(verdict),
                   wall_killed=wall_killed)


POLICY = RerunPolicy()          # 0.8x-1.5x, 2 more runs


@pytest.mark.parametrize("runs, again", [
    ([run(AC, "OK", 0.30)], False),                # far below the band
    ([run(AC, "OK", 0.39)], False),                # just below 0.8x
    ([run(AC, "OK", 0.40)], True),                 # AC in the band: timed again
    ([run(TLE, "TO", 0.60)], True),                # a TLE inside the band
    ([run(TLE, "TO", 0.75)], False),               # killed at the band's top: a real TLE
    ([run(WA, "OK", 0.45)], False),                # the validator said WA: not about time
    ([run(RTE, "RE", 0.45)], False),               # crashed: not about time
    ([run(TLE, "TO", 0.6), run(TLE, "TO", 0.6)], True),
    ([run(TLE, "TO", 0.6)] * 3, False),            # 2 more runs at most
    ([run(TLE, "TO", 0.6), run(AC, "OK", 0.45)], True),   # decided AC, still in the band
    ([run(TLE, "TO", 0.6), run(AC, "OK", 0.30)], False),  # decided AC below the band
    ([run(TLE, "TO", 0.6), run(WA, "OK", 0.45)], False),  # decided WA
    ([run(AC, "OK", 0.45), run(None, "OK", 0.30)], False),  # fastest run below the band
    ([run(TLE, "TO", 0.05, wall_killed=True)], True),       # the wall clock stopped it
    ([run(TLE, "TO", 0.05, wall_killed=True)] * 3, False),  # ... 2 more times at most
    ([run(TLE, "TO", 0.05, True), run(AC, "OK", 0.1)], False),  # then done, below the band
])
def test_a_test_is_run_again_only_while_its_fastest_run_is_in_the_band(runs, again):
    assert wants_rerun(runs, POLICY, LIMIT) is again
    assert wants_rerun(runs, OFF, LIMIT) is False


def test_a_validators_decision_stands_whatever_later_runs_do():
    first_ac = run(AC, "OK", 0.45)
    for later in (run(None, "OK", 0.41), run(TLE, "TO", 0.7), run(RTE, "RE", 0.2)):
        deciding, timed = decide([first_ac, later])
        assert deciding is first_ac and deciding.verdict == AC
    first_wa = run(WA, "OK", 0.45)
    assert decide([first_wa, run(None, "OK", 0.41)])[0] is first_wa
    # Over the limit first, then validated: the validator's verdict, and the
    # fastest run within the limit gives the figures.
    tle, ac, faster = run(TLE, "TO", 0.6), run(AC, "OK", 0.48), run(None, "OK", 0.42)
    assert decide([tle, ac, faster]) == (ac, faster)
    wa = run(WA, "OK", 0.48)
    assert decide([tle, wa, faster]) == (wa, wa)
    # Every run over the limit: a TLE, reported with its fastest run.
    slow, slower = run(TLE, "TO", 0.62), run(TLE, "TO", 0.7)
    assert decide([slower, slow]) == (slower, slow)


@pytest.mark.parametrize("band, extra, message", [
    ("1.2-1.5", None, "0 < LOW <= 1 <= HIGH"),
    ("0.8-0.9", None, "0 < LOW <= 1 <= HIGH"),
    ("0-1.5", None, "0 < LOW <= 1 <= HIGH"),
    ("0.8", None, "LOW-HIGH"),
    ("a-b", None, "LOW-HIGH"),
    (None, 11, "0-10"),
    (None, -1, "0-10"),
])
def test_bad_policies_are_refused_in_one_line(band, extra, message):
    with pytest.raises(RerunError, match=message):
        RerunPolicy.parse(band, extra)


def test_the_grading_bound_counts_every_rerun_at_the_bands_top():
    from judge.problem import load_problem
    from judge.grader import RUN_MARGIN
    problem = load_problem(PROBLEMS / "aplusb")
    tests = len(problem.tests())
    # Each test: 1 + 2 runs, each killed at the wall limit plus the extra
    # time that lets it run to 1.5x the CPU limit.
    assert grading_budget(problem, 1.0, POLICY)["tests"] == tests * 3 * (2 * 1.0 + 1 + 0.5
                                                                         + RUN_MARGIN)
    assert grading_budget(problem, 1.0, OFF)["tests"] == tests * (2 * 1.0 + 1 + RUN_MARGIN)


# ---- real gradings --------------------------------------------------------------

BURN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static void burn(double seconds) { while ((double)clock() / CLOCKS_PER_SEC < seconds) {} }
int main(void) {
    long n;
    if (scanf("%ld", &n) != 1) return 3;
    %s
    return 0;
}
"""


def program(tmp_path, body: str, name: str = "p.c"):
    path = tmp_path / name
    path.write_text(BURN_C.replace("%s", body))
    return path


@pytest.fixture(scope="module")
def rerun_pool():
    from rustbox import BoxPool
    boxes = BoxPool([671, 672])
    yield boxes
    boxes.cleanup()


@pytest.fixture
def package(tmp_path):
    return make_package(tmp_path / "p", {
        "problem.yaml": f"name: Near\nlimits:\n  time_limit: {LIMIT}\n  memory: 128\n",
        **echo_tests(1)})


def grade(pool, tmp_path, problem, source, **options):
    return grade_submission(problem, source, pool=pool, cache_dir=tmp_path / "cache", **options)


def test_a_run_well_within_the_limit_is_not_run_again(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, f'burn({0.2 * LIMIT}); printf("%ld\\n", n);'))
    test = result["tests"][0]
    assert (result["verdict"], test["reruns"]) == (AC, 0)
    assert "runs" not in test
    assert result["reruns"] == {"band": [0.8, 1.5], "max": 2}


def test_a_tle_in_the_band_is_run_again_and_every_run_shown(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, f'burn({1.2 * LIMIT}); printf("%ld\\n", n);'))
    test = result["tests"][0]
    assert (result["verdict"], test["verdict"], test["reruns"]) == (TLE, TLE, 2)
    assert [r["status"] for r in test["runs"]] == ["TO", "TO", "TO"]
    # Each run went past the limit but stopped short of the band's top by
    # itself; the test reports its fastest run.
    assert all(LIMIT < r["cpu_time"] < 1.5 * LIMIT for r in test["runs"])
    assert test["cpu_time"] == min(r["cpu_time"] for r in test["runs"])
    assert test["message"] == f"over the time limit of {LIMIT:g} s"


def test_a_tle_past_the_bands_top_is_not_run_again(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package, program(tmp_path, "burn(1e9);"))
    test = result["tests"][0]
    assert (test["verdict"], test["reruns"]) == (TLE, 0)
    assert test["cpu_time"] >= 1.5 * LIMIT          # killed at the band's top, not at the limit


def test_an_ac_in_the_band_is_timed_again_and_stays_ac(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, f'burn({0.9 * LIMIT}); printf("%ld\\n", n);'))
    test = result["tests"][0]
    assert (test["verdict"], test["reruns"]) == (AC, 2)
    assert [r["status"] for r in test["runs"]] == ["OK", "OK", "OK"]
    assert test["cpu_time"] == min(r["cpu_time"] for r in test["runs"])


def test_a_wrong_answer_in_the_band_is_not_run_again(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, f'burn({0.9 * LIMIT}); printf("%ld\\n", n + 1);'))
    test = result["tests"][0]
    assert (result["verdict"], test["verdict"], test["reruns"]) == (WA, WA, 0)


def test_no_reruns_when_turned_off(rerun_pool, tmp_path, package):
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, f'burn({1.2 * LIMIT}); printf("%ld\\n", n);'), reruns=OFF)
    test = result["tests"][0]
    assert (test["verdict"], test["reruns"]) == (TLE, 0)
    assert test["cpu_time"] < 1.1 * LIMIT           # no extra time either: killed at the limit
    assert result["reruns"] == {"band": [0.8, 1.5], "max": 0}


# A program that answers right or wrong at random, and says which by how
# long it burns (right: 0.95x the limit, wrong: 0.82x): the runs' CPU times
# show what each run printed, so the test can see a re-run print a wrong
# answer after the validator accepted the first.
RANDOM_ANSWER = """
    unsigned char bit = 0;
    FILE *random = fopen("/dev/urandom", "rb");
    if (!random || fread(&bit, 1, 1, random) != 1) return 4;
    if (bit & 1) { burn(%RIGHT%); printf("%ld\\n", n); }
    else { burn(%WRONG%); printf("%ld\\n", n + 1); }
"""


def test_reruns_never_change_a_verdict_the_validator_decided(rerun_pool, tmp_path, package):
    source = program(tmp_path, RANDOM_ANSWER.replace("%RIGHT%", str(0.95 * LIMIT))
                     .replace("%WRONG%", str(0.82 * LIMIT)))

    def printed_right(run) -> bool:
        return run["cpu_time"] > 0.885 * LIMIT

    seen_wrong_rerun_after_ac = seen_wa_first = False
    for _ in range(20):
        test = grade(rerun_pool, tmp_path, package, source)["tests"][0]
        runs = test.get("runs") or [{"cpu_time": test["cpu_time"], "status": "OK"}]
        first_right = printed_right(runs[0])
        # The first run is the one validated; what it printed is the verdict.
        assert test["verdict"] == (AC if first_right else WA), test
        if first_right:
            assert test["reruns"] == 2
            seen_wrong_rerun_after_ac |= not all(printed_right(r) for r in runs[1:])
        else:
            assert test["reruns"] == 0              # a WA is not about time
            seen_wa_first = True
        if seen_wrong_rerun_after_ac and seen_wa_first:
            break
    assert seen_wrong_rerun_after_ac and seen_wa_first


def test_a_wall_clock_kill_is_run_again_and_stays_a_tle_if_it_sleeps(rerun_pool, tmp_path, package):
    # Sleeps past the wall limit (2 x 0.5 + 1 s) with almost no CPU time.
    result = grade(rerun_pool, tmp_path, package,
                   program(tmp_path, "struct timespec t = {30, 0}; nanosleep(&t, 0);"))
    test = result["tests"][0]
    assert (test["verdict"], test["reruns"]) == (TLE, 2)
    assert all(r["status"] == "TO" and r.get("wall_killed") for r in test["runs"])
    assert test["message"].startswith("over the wall time limit")

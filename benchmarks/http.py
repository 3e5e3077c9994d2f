"""judge serve's HTTP API under load: POST /submissions and GET
/submissions/{id}, beside the queue's own enqueue measured in the same run.

A `judge serve` process (no workers: nothing is graded, the queue only
grows) runs on a fresh queue of each backend (sqlite: a new file; redis: a
private redis-server on loopback with AOF fsync on every write, see
tests/localredis.py) and a one-problem --problems directory. Then, per
backend:

  enqueue    `Queue.enqueue` called directly in this process, one at a time
             (--direct N): per-call latency and calls/s
  1 client   N sequential POST /submissions on one keep-alive connection:
             p50/p99 latency, and p50 minus enqueue's p50 (the goal: <= 2 ms)
  C clients  C concurrent keep-alive connections (asyncio, raw HTTP/1.1)
             POSTing N submissions in all: accepted/s and p50/p99 (the goal
             on SQLite: >= 500/s with 50 clients)
  C GETs     the same clients GET /submissions/{id} of those submissions

The load generator runs on the same machine and shares its cores with the
server (and with whatever else runs there: the other load is printed, see
bench_common.MachineLoad); the figures are what one loaded machine gives.

    .venv/bin/python benchmarks/http.py [-n 2000] [--clients 50] [--single 500]
        [--direct 2000] [--backends sqlite,redis] [--json FILE]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, and this
# file's name would hide the standard library's `http` from everyone.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import http.client  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import orjson  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_common import REPO, MachineLoad, git, positive, write_report  # noqa: E402

SOURCE = "a, b = map(int, input().split())\nprint(a + b)\n"
GOAL_SINGLE_MS, GOAL_RATE = 2.0, 500.0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def make_problems(root: Path) -> Path:
    add = root / "problems" / "add"
    for part in ("sample", "secret"):
        (add / "data" / part).mkdir(parents=True)
        (add / "data" / part / "1.in").write_text("1 2\n")
        (add / "data" / part / "1.ans").write_text("3\n")
    (add / "problem.yaml").write_text("name: Add\n")
    return root / "problems"


def body(i: int, run: str) -> bytes:
    return orjson.dumps({"problem": "add", "language": "python3", "source": SOURCE,
                         "id": f"{run}-{i}"})


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "mean_ms": statistics.fmean(ordered) * 1000}


class Server:
    def __init__(self, queue_url: str, problems: Path, port: int, tmp: Path):
        self.port, self.log = port, tmp / f"serve-{port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "judge", "serve", "--queue", queue_url, "--problems",
             str(problems), "--port", str(port)], cwd=REPO, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),
            env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"http.py: judge serve did not start: {self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def direct_enqueue(queue_url: str, count: int, run: str) -> dict:
    from judge.queue import Submission, open_queue
    with open_queue(queue_url) as queue:
        times = []
        start = time.perf_counter()
        for i in range(count):
            sub = Submission(f"{run}-{i}", "add", SOURCE, "Main.py", language="python3")
            t0 = time.perf_counter()
            queue.enqueue(sub)
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    return {**percentiles(times), "per_s": count / elapsed}


def single_client(port: int, count: int, run: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        payload = body(i, run)
        t0 = time.perf_counter()
        conn.request("POST", "/submissions", payload, headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        if response.status != 201:
            raise SystemExit(f"http.py: POST answered {response.status}")
    conn.close()
    return percentiles(times)


async def _client(port: int, requests: list[bytes], times: list[float], statuses: list[int]):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        t0 = time.perf_counter()
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        times.append(time.perf_counter() - t0)
        statuses.append(int(status_line.split()[1]))
    writer.close()


def concurrent(port: int, requests: list[bytes], clients: int, ok: int) -> dict:
    times: list[float] = []
    statuses: list[int] = []
    shares = [requests[i::clients] for i in range(clients)]

    async def main():
        await asyncio.gather(*(_client(port, share, times, statuses) for share in shares))
    start = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - start
    bad = sum(1 for s in statuses if s != ok)
    if bad:
        raise SystemExit(f"http.py: {bad} of {len(statuses)} requests did not answer {ok}")
    return {**percentiles(times), "per_s": len(requests) / elapsed, "clients": clients}


def post_request(i: int, run: str) -> bytes:
    payload = body(i, run)
    return (b"POST /submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)


def get_request(sub_id: str) -> bytes:
    return f"GET /submissions/{sub_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def bench_backend(backend: str, args, tmp: Path, problems: Path) -> dict:
    from tests.localredis import LocalRedis, free_port
    redis = None
    if backend == "sqlite":
        url, direct_url = f"sqlite://{tmp}/serve.db", f"sqlite://{tmp}/direct.db"
    else:
        redis = LocalRedis(tmp / "redis")
        redis.start()
        url, direct_url = f"{redis.url}?prefix=serve", f"{redis.url}?prefix=direct"
    server = Server(url, problems, free_port(), tmp)
    try:
        single_client(server.port, 50, "warm")          # the first requests pay for imports
        out = {"enqueue": direct_enqueue(direct_url, args.direct, "direct")}
        out["single"] = single_client(server.port, args.single, "one")
        out["single"]["over_enqueue_p50_ms"] = out["single"]["p50_ms"] - out["enqueue"]["p50_ms"]
        out["post"] = concurrent(server.port, [post_request(i, "many") for i in range(args.n)],
                                 args.clients, 201)
        out["get"] = concurrent(server.port, [get_request(f"many-{i}") for i in range(args.n)],
                                args.clients, 200)
    finally:
        server.stop()
        if redis is not None:
            redis.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=positive, default=2000, help="requests of the concurrent runs")
    parser.add_argument("--clients", type=positive, default=50)
    parser.add_argument("--single", type=positive, default=500, help="requests of the 1-client run")
    parser.add_argument("--direct", type=positive, default=2000, help="direct enqueue calls")
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "http.json"))
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - {"sqlite", "redis"}
    if unknown:
        log(f"http.py: error: unknown backend(s) {', '.join(sorted(unknown))} (sqlite, redis)")
        return 2
    load = MachineLoad()
    report = {"commit": git("rev-parse", "--short", "HEAD"), "cores": os.cpu_count(), "backends": {}}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        problems = make_problems(Path(tmp))
        for backend in backends:
            where = Path(tmp) / backend
            where.mkdir()
            report["backends"][backend] = result = bench_backend(backend, args, where, problems)
            e, s, p, g = result["enqueue"], result["single"], result["post"], result["get"]
            print(f"{backend}:")
            print(f"  enqueue (direct)       {e['per_s']:8.0f}/s   p50 {e['p50_ms']:6.2f} ms  p99 {e['p99_ms']:6.2f} ms")
            print(f"  POST, 1 client         {1000 / s['mean_ms']:8.0f}/s   p50 {s['p50_ms']:6.2f} ms  p99 {s['p99_ms']:6.2f} ms"
                  f"   (p50 {s['over_enqueue_p50_ms']:+.2f} ms over enqueue; goal <= {GOAL_SINGLE_MS:g}: "
                  f"{'PASS' if s['over_enqueue_p50_ms'] <= GOAL_SINGLE_MS else 'FAIL'})")
            rate_goal = "" if backend != "sqlite" else (
                f"   (goal >= {GOAL_RATE:g}/s: {'PASS' if p['per_s'] >= GOAL_RATE else 'FAIL'})")
            print(f"  POST, {p['clients']} clients       {p['per_s']:8.0f}/s   p50 {p['p50_ms']:6.2f} ms  "
                  f"p99 {p['p99_ms']:6.2f} ms{rate_goal}")
            print(f"  GET, {g['clients']} clients        {g['per_s']:8.0f}/s   p50 {g['p50_ms']:6.2f} ms  p99 {g['p99_ms']:6.2f} ms")
    report["load"] = load.report()
    print(MachineLoad.note(report["load"]))
    print("the load generator shares this machine's cores with the server")
    return write_report(args.json, report, log, "http.py")


if __name__ == "__main__":
    sys.exit(main())

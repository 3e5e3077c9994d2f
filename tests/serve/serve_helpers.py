"""What the `judge serve` tests share: a real server process, a small problem
package, an HTTP client that never raises on a status, and a callback
receiver (a real HTTP server on loopback).

Box ids: 620-639 (each test module takes its own).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ADD_OK = "a, b = map(int, input().split())\nprint(a + b)\n"
ADD_WRONG = "a, b = map(int, input().split())\nprint(a - b)\n"
ADD_C_BROKEN = "int main( { return 0; }\n"
ADD_TESTS = [("sample/1", "1 2\n", "3\n"), ("secret/1", "10 20\n", "30\n"),
             ("secret/2", "-5 5\n", "0\n"), ("secret/3", "100 1\n", "101\n")]


def make_problems(root: Path) -> Path:
    """A problems directory: `add` (A+B, four tests), `conly` (the same in C
    only: problem.yaml's languages) and `broken` (a problem.yaml that does
    not load)."""
    yamls = {"add": "name: Add\nlimits:\n  time_limit: 1\n  memory: 256\n",
             "conly": "problem_format_version: 2025-09\nname: Add in C\nlanguages: [c]\n"}
    for package, text in yamls.items():
        (root / package / "data" / "sample").mkdir(parents=True)
        (root / package / "data" / "secret").mkdir(parents=True)
        (root / package / "problem.yaml").write_text(text)
        for name, given, answer in ADD_TESTS:
            (root / package / "data" / f"{name}.in").write_text(given)
            (root / package / "data" / f"{name}.ans").write_text(answer)
    (root / "broken").mkdir()
    (root / "broken" / "problem.yaml").write_text("limits: [not, a, mapping\n")
    return root


def free_port() -> int:
    from tests.localredis import free_port as port
    return port()


class Reply:
    def __init__(self, status: int, body: bytes, headers):
        self.status, self.body, self.headers = status, body, headers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:300]!r})"


def http(method: str, url: str, body=None, token: str | None = None, raw: bytes | None = None,
         headers: dict | None = None, timeout: float = 60) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, response.read(), response.headers)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read(), exc.headers)


class Server:
    """`judge serve` as a process on a free loopback port."""

    def __init__(self, tmp: Path, queue_url: str, problems: Path, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        self.argv = [sys.executable, "-m", "judge", "serve", "--queue", queue_url,
                     "--problems", str(problems), "--port", str(self.port), *args]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "Server":
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"judge serve exited {self.proc.returncode}: {self.stderr()}")
            try:
                if http("GET", self.url + "/health", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"judge serve did not answer: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def wait_for(predicate, timeout: float = 60, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Receiver:
    """A callback receiver: POSTs to /ok are taken (200); to /fail/N refused
    (500) N times, then taken; to /down always refused."""

    def __init__(self):
        self.received: list[tuple[str, dict, dict]] = []      # (path, headers, body)
        self.refused: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path
                status = 200
                if path == "/down":
                    status = 500
                elif path.startswith("/fail/"):
                    if receiver.refused.get(path, 0) < int(path.split("/")[2]):
                        status = 500
                if status == 200:
                    receiver.received.append((path, dict(self.headers), json.loads(body)))
                else:
                    receiver.refused[path] = receiver.refused.get(path, 0) + 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

"""Fixtures of the `judge serve` tests: backends, a problems directory,
servers (real processes) and a callback receiver."""
from __future__ import annotations

import uuid

import pytest

from tests.queue.conftest import redis_binary
from tests.localredis import LocalRedis

from .serve_helpers import Receiver, Server, make_problems


@pytest.fixture(scope="module")
def redis_for_serve(tmp_path_factory):
    server = LocalRedis(tmp_path_factory.mktemp("redis"), binary=redis_binary())
    server.start()
    yield server
    server.stop()


def queue_url_for(backend: str, tmp, request) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp}/queue-{uuid.uuid4().hex[:6]}.db"
    redis = request.getfixturevalue("redis_for_serve")
    return f"{redis.url}?prefix=serve-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    return make_problems(tmp_path_factory.mktemp("problems"))


@pytest.fixture
def start_server(tmp_path, problems, request):
    """start_server(backend, *args) -> a running Server; stopped after the test."""
    servers = []

    def start(backend: str = "sqlite", *args: str, problems_dir=None, queue_url=None) -> Server:
        url = queue_url or queue_url_for(backend, tmp_path, request)
        server = Server(tmp_path, url, problems_dir or problems, *args).start()
        server.queue_url = url
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="session", autouse=True)
def no_serve_box_left():
    """Local workers leave their boxes initialised; remove every box of the
    serve tests' range (620-639) at the end."""
    yield
    from rustbox.box import BoxDir
    from rustbox.session import cleanup_box
    for box_id in range(620, 640):
        if BoxDir(box_id).home.exists():
            cleanup_box(box_id)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def judged(request, tmp_path_factory, problems):
    """A server with one local worker (a real `judge worker`, real boxes), per backend."""
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"serve-{backend}")
    url = queue_url_for(backend, tmp, request)
    box = {"sqlite": "620", "redis": "621"}[backend]
    server = Server(tmp, url, problems, "--workers", "1", "--boxes", box, "--calibration", "off",
                    "--callback-attempts", "3", "--callback-backoff", "0.2").start()
    server.queue_url, server.backend = url, backend
    yield server
    code = server.stop()
    assert code == 0, server.stderr()

"""Fixtures of the queue tests: a real redis-server and a queue per backend.

The server is started once per session on a free loopback port with its own
temporary directory, and stopped at the end; each test gets its own key
prefix on it, so tests never see each other's submissions.
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from judge.queue import open_queue
from tests.localredis import LocalRedis

BACKENDS = ("sqlite", "redis")


def redis_binary() -> str:
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if shutil.which("/usr/bin/redis-server") else None)
    if binary is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    return binary


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = LocalRedis(tmp_path_factory.mktemp("redis"), binary=redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_redis(tmp_path):
    """A server of the test's own, for tests that stop and restart it."""
    server = LocalRedis(tmp_path / "redis", binary=redis_binary())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def queue_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite://{tmp_path}/queue.db"
    server = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queue(queue_url):
    q = open_queue(queue_url)
    yield q
    q.close()


@pytest.fixture
def problems(tmp_path) -> Path:
    """A problems directory with one (empty) package, `hello`, for fake_grade."""
    (tmp_path / "problems" / "hello").mkdir(parents=True)
    return tmp_path / "problems"

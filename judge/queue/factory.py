"""Picks the queue backend from a URL: the only place that knows them all.

    sqlite:///var/lib/rustbox/queue.db    absolute path (three slashes)
    sqlite://queue.db                     relative to the current directory
    redis://host:6379/0[?prefix=judge]    Redis Streams, shared by many machines

The command line's default is `$JUDGE_QUEUE`, else `DEFAULT_QUEUE_URL`.
"""
from __future__ import annotations

from .base import Queue, QueueError

DEFAULT_QUEUE_URL = "sqlite:///var/lib/rustbox/queue.db"


def open_queue(url: str, *, create: bool = True, **options) -> Queue:
    """A queue for the URL; options go to the backend's constructor.

    create=False (readers such as `judge result`): a SQLite file that does
    not exist is an error, not a new empty queue (a mistyped path would
    otherwise make one and report every id unknown)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise QueueError(f"invalid queue URL {url!r} (expected sqlite:///path or "
                         "redis://host:port/db)")
    if scheme == "sqlite":
        from .sqlite import SqliteQueue
        return SqliteQueue(rest, create=create, **options)
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisQueue
        return RedisQueue(url, **options)      # made on first use either way
    raise QueueError(f"unknown queue URL scheme {scheme!r} in {url!r} (sqlite or redis)")

"""`judge serve`: the API, the status page and (--workers N) local workers.

Exit status: 0 stopped (SIGTERM or Ctrl-C), 2 cannot start (bad options,
a token file without tokens, a non-loopback --host without --token-file,
an address in use, a queue that cannot be opened), 4 the queue is
unavailable at start. Each refusal is one line on stderr.
"""
from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import sys
from pathlib import Path

import click

from ..queue.base import DEFAULT_TIMEOUT
from ..queue.factory import DEFAULT_QUEUE_URL
from .intake import DEFAULT_MAX_SOURCE

DEFAULT_CALLBACKS_DB = "/var/lib/rustbox/serve-callbacks.db"


class ServeError(click.ClickException):
    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--queue", "queue_url", envvar="JUDGE_QUEUE", default=DEFAULT_QUEUE_URL,
              show_default=True, metavar="URL",
              help="sqlite:///path/queue.db or redis://host:port/db ($JUDGE_QUEUE).")
@click.option("--problems", "problems_dir", required=True, metavar="DIR",
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The problem packages, submitted by directory name.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (other than loopback only with --token-file).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--token-file", type=click.Path(path_type=Path), metavar="FILE",
              help="Bearer tokens, one per line: every route but /health wants one.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Also start N `judge worker` processes on this machine.")
@click.option("--boxes", metavar="IDS", default=None,
              help="Box ids the local workers share out, e.g. 0-3 (default: 0 to N-1).")
@click.option("--max-source", type=click.IntRange(min=1), default=DEFAULT_MAX_SOURCE,
              show_default=True, metavar="BYTES", help="Largest source (all files) taken in.")
@click.option("--callback-attempts", type=click.IntRange(min=1, max=100), default=6,
              show_default=True, metavar="N", help="Tries of one callback before it is given up.")
@click.option("--callback-backoff", type=click.FloatRange(min=0), default=1.0, show_default=True,
              metavar="S", help="Wait before the second try; doubles each time (at most 60 s).")
@click.option("--calibration", type=click.Choice(["on", "warn", "off"]), default="on",
              show_default=True, help="The local workers' host calibration (as judge worker's).")
@click.option("--callbacks-db", metavar="FILE", default=None,
              help="Where unsent callbacks are kept across restarts (default: beside a "
                   f"SQLite queue, else {DEFAULT_CALLBACKS_DB}).")
def serve(queue_url, problems_dir, host, port, token_file, workers, boxes, max_source,
          callback_attempts, callback_backoff, calibration, callbacks_db):
    """Serve the judge over HTTP: the API, /metrics and a live status page at /."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    tokens: tuple[str, ...] = ()
    from .app import ServeConfig, create_app, read_tokens
    if token_file is not None:
        try:
            tokens = read_tokens(token_file)
        except ValueError as exc:
            raise ServeError(str(exc)) from None
    elif not is_loopback(host):
        raise ServeError(f"refusing to listen on {host} without --token-file: anyone who can "
                         "reach it could submit programs (use 127.0.0.1, or give tokens)")
    box_ids = _boxes(boxes, workers)
    from ..queue import QueueError, open_queue
    try:
        queue = open_queue(queue_url, timeout=DEFAULT_TIMEOUT)
        queue.pending(1)                     # unreachable or broken: say so now
    except QueueError as exc:
        raise ServeError(f"cannot use the queue {queue_url}: {exc}", exc.exit_code) from None
    _check_port(host, port)
    local = None
    if workers:
        from rustbox.privileges import NotRootError, require_root
        try:
            require_root("judge serve --workers")
        except NotRootError as exc:
            raise ServeError(str(exc)) from None
        from .workers import LocalWorkers
        local = LocalWorkers(workers, queue_url, problems_dir.resolve(), box_ids,
                             extra_args=("--calibration", calibration))
    if callbacks_db is None:
        callbacks_db = (queue.path + "-callbacks" if queue.url.startswith("sqlite://")
                        else DEFAULT_CALLBACKS_DB)
    try:
        app = create_app(ServeConfig(queue=queue, problems_dir=problems_dir.resolve(),
                                     tokens=tokens, max_source=max_source,
                                     callback_attempts=callback_attempts,
                                     callback_backoff=callback_backoff,
                                     callbacks_db=callbacks_db, local_workers=local))
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    auth = (f"{len(tokens)} bearer token(s) from {token_file}" if tokens else
            "no --token-file: no authentication, so listening on loopback only")
    click.echo(f"judge serve: http://{_url_host(host)}:{port}/ (queue {queue.url}, problems "
               f"{problems_dir}, {workers} local worker(s)); {auth}", err=True)
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    # uvicorn handles SIGTERM/SIGINT while it serves, then raises the signal
    # again under the handlers found at start: these, so that the workers
    # are stopped below and the exit status is 0.
    stops: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stops.append(number))
    if local is not None:
        local.start()          # from this (the main) thread: they die with it
    try:
        server.run()
    finally:
        if local is not None:
            local.stop()
        queue.close()
    if not server.started:
        raise ServeError(f"could not serve on {host}:{port} (see above)")


def _boxes(text: str | None, workers: int) -> list[int]:
    if text is None:
        return list(range(max(workers, 1)))
    from rustbox.batch import parse_box_ids
    from rustbox.errors import RustboxError
    try:
        return parse_box_ids(text)
    except RustboxError as exc:
        raise ServeError(f"invalid --boxes {text!r}: {exc}") from None


def _check_port(host: str, port: int) -> None:
    """An address in use is one line now, not uvicorn's log later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

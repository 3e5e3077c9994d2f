"""The HTTP API and pages of `judge serve`, on Starlette (ASGI).

Routes (JSON unless said; every refusal is `{"error": "..."}`, see errors.py):

    POST /submissions[?wait=S]      one submission -> 201 {id} (200 for an id
                                    already taken by the same content)
    POST /submissions/batch         up to 100 -> 201 {submissions: [{id, created}]}
    GET  /submissions/{id}          the stored result, or its state and position
    GET  /problems, /problems/{name}, /languages, /health, /metrics (Prometheus text)
    GET  /openapi.json              the schema of the above
    GET  /                          the status page (HTML; /ui/... its live parts)
    GET  /ui/submissions/{id}       one submission's page

Queue calls block, so handlers run them on Starlette's thread pool; the
queue objects are safe to share between threads. With tokens, every route
but /health wants `Authorization: Bearer TOKEN`; a browser gets a cookie by
opening `/?token=TOKEN` once.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..queue import (DONE, Queue, QueueError, QueueUnavailable, SubmissionConflict,
                     UnknownSubmission)
from . import pages
from .callbacks import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, CallbackStore, Outbox
from .catalog import Catalog
from .errors import ApiError
from .intake import DEFAULT_MAX_SOURCE, MAX_BATCH, Request as SubmissionRequest
from .intake import parse_batch, parse_submission
from .metrics import Metrics
from .openapi import schema
from .tracker import Tracker

log = logging.getLogger("judge.serve")

MAX_WAIT = 300.0
COOKIE = "judge_token"
_OPEN = {"/health"}


@dataclass
class ServeConfig:
    queue: Queue
    problems_dir: Path
    tokens: tuple[str, ...] = ()
    max_source: int = DEFAULT_MAX_SOURCE
    callback_attempts: int = DEFAULT_ATTEMPTS
    callback_backoff: float = DEFAULT_BACKOFF
    callbacks_db: str | None = None       # where unsent callbacks are kept (None: memory only)
    local_workers: object = None          # a LocalWorkers, for the status page
    languages: object = None              # a LanguageTable (default: the built-in one)
    extra: dict = field(default_factory=dict)


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_response(status: int, message: str, headers: dict | None = None) -> Response:
    return json_response({"error": message}, status, headers)


class Judge:
    """What the handlers share: the queue, catalog, tracker, outbox, metrics."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.queue = config.queue
        self.catalog = Catalog(config.problems_dir, config.languages)
        self.metrics = Metrics()
        store = CallbackStore(config.callbacks_db, config.queue.url) if config.callbacks_db else None
        self.outbox = Outbox(self.metrics, config.callback_attempts, config.callback_backoff,
                             store=store)
        self.tracker = Tracker(self.queue, self.metrics, self.outbox, config.local_workers)
        self.max_body = 6 * config.max_source + (64 << 10)     # JSON escapes grow text up to 6x

    # -- the body ---------------------------------------------------------
    async def json_body(self, request: Request, cap: int):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > cap:
            raise ApiError(413, f"request body of {size} bytes, over the cap of {cap} bytes")
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > cap:
                raise ApiError(413, f"request body over the cap of {cap} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            raise ApiError(400, "empty request body (expected JSON)")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None

    # -- the queue --------------------------------------------------------
    def enqueue(self, item: SubmissionRequest) -> bool:
        try:
            created = self.queue.enqueue(item.submission)
        except SubmissionConflict:
            raise ApiError(409, f"id {item.submission.id!r} is already used by a different "
                                "submission") from None
        if item.callback_url:
            self.outbox.register(item.submission.id, item.callback_url)
        if created:
            self.metrics.accepted.inc()
        self.tracker.accepted(item.submission, item.language)
        return created

    def result(self, submission_id: str) -> dict | None:
        try:
            record = self.queue.result(submission_id)
        except UnknownSubmission:
            raise ApiError(404, f"no submission {submission_id!r}") from None
        if record is not None:
            self.tracker.finished(submission_id, record)
        return record

    def state(self, submission_id: str) -> dict:
        """What GET /submissions/{id} answers: the stored result as `judge
        result` prints it, or the pending state and position."""
        record = self.result(submission_id)
        if record is not None:
            return record
        state, position, worker = self.tracker.position(submission_id)
        out = {"submission": submission_id, "state": state}
        if position is not None:
            out["position"] = position
            out["queue_depth"] = len(self.tracker.snapshot.queued)
        if worker is not None:
            out["worker"] = worker
        return out

    async def wait(self, submission_id: str, seconds: float) -> dict:
        deadline = time.monotonic() + seconds
        delay = 0.02
        while True:
            state = await run_in_threadpool(self.state, submission_id)
            if state.get("state") not in ("queued", "running") or time.monotonic() >= deadline:
                return state
            await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.25)


def _wait_seconds(request: Request) -> float | None:
    raw = request.query_params.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ApiError(400, f"invalid wait={raw!r} (seconds, 0 to {MAX_WAIT:g})") from None
    if not 0 <= seconds <= MAX_WAIT:
        raise ApiError(400, f"invalid wait={raw!r} (seconds, 0 to {MAX_WAIT:g})")
    return seconds


# -- handlers ----------------------------------------------------------------
async def submit(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    wait = _wait_seconds(request)
    data = await judge.json_body(request, judge.max_body)
    item = await run_in_threadpool(parse_submission, data, judge.catalog, judge.config.max_source)
    created = await run_in_threadpool(judge.enqueue, item)
    body = {"id": item.submission.id, "created": created}
    if wait:
        state = await judge.wait(item.submission.id, wait)
        body["result" if state.get("state") not in ("queued", "running") else "pending"] = state
    return json_response(body, 201 if created else 200,
                         {"Location": f"/submissions/{item.submission.id}"})


async def submit_batch(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    data = await judge.json_body(request, MAX_BATCH * judge.max_body)
    items = await run_in_threadpool(parse_batch, data, judge.catalog, judge.config.max_source)
    results, conflict = [], False
    for item in items:
        try:
            created = await run_in_threadpool(judge.enqueue, item)
            results.append({"id": item.submission.id, "created": created})
        except ApiError as exc:
            if exc.status != 409:
                raise
            conflict = True
            results.append({"id": item.submission.id, "error": exc.message})
    if conflict:
        return json_response({"error": "some ids are already used by different submissions; "
                                       "the others were taken in", "submissions": results}, 409)
    return json_response({"submissions": results}, 201)


async def get_submission(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    state = await run_in_threadpool(judge.state, request.path_params["id"])
    return json_response(state)


async def list_problems(request: Request) -> Response:
    judge: Judge = request.app.state.judge

    def describe():
        return [judge.catalog.package(name).describe() for name in judge.catalog.names()]
    return json_response({"problems": await run_in_threadpool(describe)})


async def get_problem(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    name = request.path_params["name"]
    package = await run_in_threadpool(judge.catalog.package, name)
    if package is None:
        raise ApiError(404, f"no problem {name!r}")
    return json_response(package.describe())


async def languages(request: Request) -> Response:
    return json_response({"languages": request.app.state.judge.catalog.describe_languages()})


async def health(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    ok, error = judge.tracker.healthy()
    body = {"status": "ok" if ok else "unavailable", "queue": judge.queue.url,
            "queue_depth": len(judge.tracker.snapshot.queued),
            "workers_alive": sum(1 for w in judge.tracker.workers() if w["alive"])}
    if error:
        body["error"] = error
    return json_response(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    return Response(judge.metrics.render(), media_type=judge.metrics.content_type)


async def openapi(request: Request) -> Response:
    return json_response(schema())


async def status_page(request: Request) -> Response:
    token = request.query_params.get("token")
    if token is not None:              # a browser's way in: the cookie, then a clean URL
        response = RedirectResponse("/", 303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response
    return HTMLResponse(pages.status_page(request.app.state.judge))


async def status_fragment(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    return HTMLResponse(await run_in_threadpool(pages.status_fragment, judge))


async def submission_page(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    html = await run_in_threadpool(pages.submission_page, judge, request.path_params["id"])
    return HTMLResponse(html)


async def submission_fragment(request: Request) -> Response:
    judge: Judge = request.app.state.judge
    html = await run_in_threadpool(pages.submission_fragment, judge, request.path_params["id"])
    return HTMLResponse(html)


ROUTES = [
    Route("/submissions", submit, methods=["POST"]),
    Route("/submissions/batch", submit_batch, methods=["POST"]),
    Route("/submissions/{id}", get_submission, methods=["GET"]),
    Route("/problems", list_problems, methods=["GET"]),
    Route("/problems/{name}", get_problem, methods=["GET"]),
    Route("/languages", languages, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    Route("/", status_page, methods=["GET"]),
    Route("/ui/status", status_fragment, methods=["GET"]),
    Route("/ui/submissions/{id}", submission_page, methods=["GET"]),
    Route("/ui/submissions/{id}/live", submission_fragment, methods=["GET"]),
]


# -- errors and auth -----------------------------------------------------------
async def _api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: f"no route {request.url.path}",
                405: f"{request.method} is not allowed on {request.url.path}"}
    return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)),
                          dict(exc.headers or {}))


async def _queue_error(request: Request, exc: QueueError) -> Response:
    if isinstance(exc, QueueUnavailable):
        return error_response(503, f"the queue is unavailable, try again later: {exc}",
                              {"Retry-After": "5"})
    log.error("queue error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, f"the queue failed: {exc}")


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises it after this answer: uvicorn logs the traceback.
    return error_response(500, "internal error (the server log has the details)")


class TokenAuth:
    """Bearer tokens (or the page cookie) on every route but /health."""

    def __init__(self, app, tokens: tuple[str, ...]):
        self.app, self.tokens = app, tuple(t.encode() for t in tokens)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.tokens or scope["path"] in _OPEN:
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = None
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            given = header[7:].strip()
        elif scope["path"] == "/" and "token" in request.query_params:
            given = request.query_params["token"]
        else:
            given = request.cookies.get(COOKIE)
        if given is None or not self._known(given):
            why = "a wrong token" if given is not None else "no token"
            response = error_response(401, f"unauthorized: {why} (send Authorization: Bearer TOKEN)",
                                      {"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    def _known(self, given: str) -> bool:
        raw = given.encode("utf-8", "surrogateescape")
        found = False
        for token in self.tokens:           # every token compared: no early exit
            found |= hmac.compare_digest(raw, token)
        return found


def create_app(config: ServeConfig) -> Starlette:
    judge = Judge(config)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        judge.tracker.watch(judge.outbox.resume())
        judge.tracker.start()
        try:
            yield
        finally:
            judge.tracker.stop()
            judge.outbox.close()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={
        ApiError: _api_error, HTTPException: _http_error, QueueError: _queue_error,
        Exception: _internal_error})
    app.state.judge = judge
    if config.tokens:
        app.add_middleware(TokenAuth, tokens=config.tokens)
    return app


def read_tokens(path: Path) -> tuple[str, ...]:
    """One token per line; blank lines and `#` comments ignored."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the token file {path}: {getattr(exc, 'strerror', exc)}") from None
    tokens = tuple(line.strip() for line in text.splitlines()
                   if line.strip() and not line.lstrip().startswith("#"))
    if not tokens:
        raise ValueError(f"the token file {path} has no token (one per line)")
    return tokens

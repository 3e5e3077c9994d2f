"""The OpenAPI 3.1 schema of the API, as data (served at /openapi.json).

Kept by hand beside app.py's routes; tests/serve/test_api.py checks that
every route is here and every path here is a route.
"""
from __future__ import annotations

from .intake import DEFAULT_MAX_SOURCE, MAX_BATCH

_ERROR = {"description": "refused", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _json(description: str, ref: str | None = None) -> dict:
    body = {"description": description}
    if ref:
        body["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
    return body


def _errors(*codes: int) -> dict:
    return {str(code): _ERROR for code in codes}


SUBMISSION = {
    "type": "object", "additionalProperties": False, "required": ["problem"],
    "properties": {
        "problem": {"type": "string", "description": "a package name of the server's --problems directory"},
        "language": {"type": "string", "description": "a language id (GET /languages); else from filename's ending"},
        "source": {"type": "string", "description": f"the program's text (at most the server's --max-source, default {DEFAULT_MAX_SOURCE} bytes)"},
        "files": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "several files (name -> text), as `judge run DIR` takes; instead of source"},
        "executable": {"type": "array", "items": {"type": "string"}, "description": "names in files written executable (build/run scripts)"},
        "filename": {"type": "string", "description": "the source file's name (default Main.<ext> of the language)"},
        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
               "description": "your id: the same id with the same content is one submission; with other content, 409"},
        "time_limit": {"type": "number", "exclusiveMinimum": 0, "description": "CPU seconds per test (default: the package's)"},
        "callback_url": {"type": "string", "format": "uri", "description": "the result is POSTed here once stored"},
    },
}

COMPONENTS = {"schemas": {
    "Submission": SUBMISSION,
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Accepted": {"type": "object", "properties": {
        "id": {"type": "string"}, "created": {"type": "boolean"},
        "result": {"$ref": "#/components/schemas/Result"},
        "pending": {"$ref": "#/components/schemas/Result"}}},
    "Result": {"type": "object", "description": "the stored result as `judge result` prints it "
               "(verdict, score, tests, compile, timings...), or while pending "
               "{submission, state: queued|running, position, queue_depth, worker}",
               "properties": {"submission": {"type": "string"}, "state": {"type": "string"},
                              "verdict": {"type": ["string", "null"]}}},
}}


def schema() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "rustbox judge", "version": "1",
                 "description": "Submit programs to the judge and read their results."},
        "components": {**COMPONENTS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/submissions": {"post": {
                "summary": "Submit one program",
                "parameters": [{"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 300},
                                "description": "wait up to this many seconds for the result"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Submission"}}}},
                "responses": {"201": _json("taken in", "Accepted"),
                              "200": _json("the same id and content again: the same submission", "Accepted"),
                              **_errors(400, 401, 409, 413, 422, 503)}}},
            "/submissions/batch": {"post": {
                "summary": f"Submit up to {MAX_BATCH} programs (all checked before any is queued)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"submissions": {"type": "array", "maxItems": MAX_BATCH,
                                                                     "items": {"$ref": "#/components/schemas/Submission"}}}}}}},
                "responses": {"201": _json("all taken in"), **_errors(400, 401, 409, 413, 422, 503)}}},
            "/submissions/{id}": {"get": {
                "summary": "A submission's result, or its state and position while pending",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("the result or the pending state", "Result"), **_errors(401, 404, 503)}}},
            "/problems": {"get": {"summary": "The problems the server judges",
                                  "responses": {"200": _json("name, type, limits, number of tests of each")}}},
            "/problems/{name}": {"get": {
                "summary": "One problem: type, limits, number of tests",
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("the problem"), **_errors(401, 404)}}},
            "/languages": {"get": {"summary": "The languages the judge knows",
                                   "responses": {"200": _json("id, name, file endings")}}},
            "/health": {"get": {"summary": "Is the queue readable (no token needed)", "security": [],
                                "responses": {"200": _json("ok"), "503": _json("the queue cannot be read")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format)",
                                 "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
            "/openapi.json": {"get": {"summary": "This schema", "responses": {"200": _json("OpenAPI 3.1")}}},
            "/": {"get": {"summary": "The status page (HTML)", "responses": {"200": {"description": "text/html"}}}},
            "/ui/status": {"get": {"summary": "The status page's live part (HTML)", "responses": {"200": {"description": "text/html"}}}},
            "/ui/submissions/{id}": {"get": {
                "summary": "A submission's page (HTML): per-test table and chart",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "text/html"}}}},
            "/ui/submissions/{id}/live": {"get": {
                "summary": "A submission page's live part (HTML)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "text/html"}}}},
        },
    }

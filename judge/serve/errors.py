"""The server's one error: an HTTP status and a one-line message.

Every refusal the API makes is an `ApiError`; the app turns it into
`{"error": message}` with its status. Anything else that escapes a handler
is a bug: logged with its traceback on the server, answered with a 500 that
says only that (never the traceback).

    400  malformed JSON, a field of the wrong type, missing or unknown fields
    401  no or a wrong bearer token (with --token-file)
    404  unknown submission id or route
    409  a submission id already used with other content
    413  a source or a batch over its cap
    422  a well-formed request naming an unknown problem or language
    503  the queue cannot be used now (try again later)
"""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}

"""A submission request's JSON, checked and turned into a queue `Submission`.

The checks are the ones `judge submit` makes, against the server's own
catalog: the problem is a package of the --problems directory (by name,
never a path), the language is known (given, or told by the file name's
ending) and allowed by the package, and the source is within the size cap.
What the queue itself refuses (`Submission`'s own checks) comes back with
the queue's reason. Every refusal is an ApiError naming the field.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import JudgeError
from ..grader import check_submission
from ..queue import InvalidSubmission, Submission, new_id, valid_id
from ..worker import write_source
from .catalog import Catalog
from .errors import ApiError

DEFAULT_MAX_SOURCE = 256 << 10
MAX_BATCH = 100
FIELDS = {"problem", "language", "source", "files", "executable", "filename", "id",
          "time_limit", "callback_url"}


@dataclass(frozen=True)
class Request:
    submission: Submission
    callback_url: str | None
    language: str            # the language id the worker will grade it in


def parse_submission(data: object, catalog: Catalog, max_source: int,
                     where: str = "") -> Request:
    """One submission object -> Request; ApiError naming `where` (a batch index)."""
    def refuse(status: int, message: str):
        raise ApiError(status, f"{where}{message}")

    if not isinstance(data, dict):
        refuse(400, f"expected a JSON object, got {_kind(data)}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        refuse(400, f"unknown field(s): {', '.join(unknown)} (known: {', '.join(sorted(FIELDS))})")
    if "problem" not in data:
        refuse(400, "missing field: problem")
    if "source" not in data and "files" not in data:
        refuse(400, "missing field: source (the program's text) or files (name -> text)")
    if "source" in data and "files" in data:
        refuse(400, "give source or files, not both")
    for key in ("problem", "source", "language", "filename", "id", "callback_url"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            refuse(400, f"{key} must be a string, got {_kind(data[key])}")
    sub_id = data.get("id")
    if sub_id is not None and not valid_id(sub_id):
        refuse(400, f"invalid id {sub_id!r} (1-128 of A-Z a-z 0-9 . _ : -, no leading punctuation)")
    limit = data.get("time_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                              or not 0 < limit < 1e6):
        refuse(400, f"invalid time_limit {limit!r} (positive seconds)")
    callback = data.get("callback_url")
    if callback is not None and not callback.startswith(("http://", "https://")):
        refuse(400, f"invalid callback_url {callback!r} (an http:// or https:// URL)")

    files, executable = data.get("files"), data.get("executable", [])
    if files is not None:
        if not isinstance(files, dict) or not files or not all(
                isinstance(v, str) for v in files.values()):
            refuse(400, "files must be a non-empty object of file name -> text")
        if not isinstance(executable, list) or not all(isinstance(n, str) for n in executable):
            refuse(400, "executable must be a list of file names")
        size = sum(len(text.encode("utf-8", "surrogatepass")) for text in files.values())
    else:
        if "executable" in data:
            refuse(400, "executable names files, but the submission has no files")
        size = len(data["source"].encode("utf-8", "surrogatepass"))
    if size > max_source:
        refuse(413, f"source is {size} bytes, over the cap of {max_source} bytes")

    name = data["problem"]
    package = catalog.package(name)
    if package is None:
        known = catalog.names()
        refuse(422, f"unknown problem {name!r} (known: {', '.join(known) or 'none'})")
    if package.problem is None:
        refuse(422, f"problem {name!r} cannot be judged: {package.error}")
    language = data.get("language")
    table = catalog.languages
    if language is not None:
        try:
            language = table.get(language).id
        except JudgeError as exc:
            refuse(422, str(exc))
    filename = data.get("filename")
    if filename is None:
        if files is not None:
            filename = "submission"
        elif language is None:
            refuse(422, "cannot tell the language: give language, or a filename with its ending")
        else:
            filename = "Main." + table.get(language).extensions[0]
    try:
        submission = Submission(sub_id or new_id(), name, "" if files is not None else data["source"],
                                filename, language=language, time_limit=limit,
                                files=files, executable=tuple(executable))
    except InvalidSubmission as exc:
        refuse(400, str(exc))
    try:
        language_id = _check_language(submission, package.problem, catalog)
    except JudgeError as exc:
        message = str(exc).replace(_NOWHERE + "/", "").replace(_SCRATCH, "")
        refuse(422, message.replace("use --lang", "give language"))
    return Request(submission, callback, language_id)


_SCRATCH = "/judge-intake/"
_NOWHERE = "/nonexistent/judge-intake"      # never made: only names are looked at under it


def _check_language(submission: Submission, problem, catalog: Catalog) -> str:
    """The worker's own check (check_submission) on the files as it will write them.

    One source file and a package without constants: the check reads only
    the file's name, so it is given a name that was not written (making and
    removing a scratch directory would be most of a request's time)."""
    if submission.files is None and not problem.constants:
        return check_submission(problem, Path(_NOWHERE) / submission.filename, catalog.languages,
                                submission.language).id
    with tempfile.TemporaryDirectory(prefix="judge-serve-") as tmp:
        scratch = Path(tmp + _SCRATCH)
        scratch.mkdir()
        path = scratch / submission.filename
        write_source(submission, path)
        try:
            return check_submission(problem, path, catalog.languages, submission.language).id
        except JudgeError as exc:
            raise JudgeError(str(exc).replace(tmp, "")) from None


def parse_batch(data: object, catalog: Catalog, max_source: int) -> list[Request]:
    items = data.get("submissions") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) != {"submissions"}:
        raise ApiError(400, "expected {\"submissions\": [...]} or a JSON array of submissions")
    if not isinstance(items, list):
        raise ApiError(400, f"submissions must be a JSON array, got {_kind(items)}")
    if not items:
        raise ApiError(400, "an empty batch")
    if len(items) > MAX_BATCH:
        raise ApiError(413, f"{len(items)} submissions in one batch, over the cap of {MAX_BATCH}")
    requests = [parse_submission(item, catalog, max_source, f"submissions[{i}]: ")
                for i, item in enumerate(items)]
    seen: dict[str, int] = {}
    for i, request in enumerate(requests):
        first = seen.setdefault(request.submission.id, i)
        if first != i and (requests[first].submission.fingerprint()
                           != request.submission.fingerprint()):
            raise ApiError(409, f"submissions[{i}]: id {request.submission.id!r} is used by "
                                f"submissions[{first}] with other content")
    return requests


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)

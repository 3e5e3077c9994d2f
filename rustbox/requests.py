"""Building a RunRequest from flag-like values (CLI, batch specs, the API),
and its wire form for the box helper process.
"""
from __future__ import annotations

from .errors import UsageError
from .limits import LIMIT_PARSERS, Limits, limits_from
from .mounts import DirRule
from .process import RunRequest

# Spec keys that are not limits, with the type each one takes.
OPTION_KEYS = {
    "argv": list, "stdin": str, "stdout": str, "stderr": str,
    "stderr_to_stdout": bool, "dir": list, "no_default_dirs": bool,
    "env": (dict, list), "full_env": bool, "share_net": bool, "seccomp": str, "id": (str, int),
}


def request_from_spec(spec: dict, box_root: str) -> RunRequest:
    """A batch spec line (keys = long flag names, - or _) -> RunRequest."""
    if not isinstance(spec, dict):
        raise UsageError("a spec line must be a JSON object")
    values = {key.replace("-", "_"): value for key, value in spec.items()}
    unknown = sorted(k for k in values if k not in LIMIT_PARSERS and k not in OPTION_KEYS)
    if unknown:
        raise UsageError(f"unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    for key, kind in OPTION_KEYS.items():
        if key in values and values[key] is not None and not isinstance(values[key], kind):
            raise UsageError(f"invalid {key!r}: {values[key]!r}")
    argv = values.get("argv")
    if not argv or not all(isinstance(a, str) for a in argv):
        raise UsageError("'argv' must be a non-empty list of strings")
    limits = limits_from({k: v for k, v in values.items() if k in LIMIT_PARSERS})
    return RunRequest(
        argv=argv, limits=limits, stdin=values.get("stdin"), stdout=values.get("stdout"),
        stderr=values.get("stderr"), stderr_to_stdout=bool(values.get("stderr_to_stdout")),
        dirs=[DirRule.parse(text, box_root) for text in values.get("dir") or []],
        no_default_dirs=bool(values.get("no_default_dirs")), env=parse_env(values.get("env")),
        full_env=bool(values.get("full_env")), share_net=bool(values.get("share_net")),
        seccomp=values.get("seccomp") or "default", inherit_stdio=False,
        id=None if values.get("id") is None else str(values["id"]))


def parse_env(items) -> dict:
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    env = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --env {item!r} (expected KEY=VALUE)")
        env[key] = value
    return env


def request_to_wire(request: RunRequest) -> dict:
    out = {name: getattr(request, name) for name in RunRequest.FIELDS}
    out["limits"] = request.limits.as_dict()
    out["dirs"] = [tuple(rule) for rule in request.dirs]
    return out


def request_from_wire(data: dict) -> RunRequest:
    data = dict(data)
    data["limits"] = Limits(**data["limits"])
    data["dirs"] = [DirRule(*rule) for rule in data["dirs"]]
    return RunRequest(**data)

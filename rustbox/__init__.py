"""rustbox: a programming-contest sandbox.

    from rustbox import Box, Limits
    with Box(0) as box:
        verdict = box.run(["./a.out"], Limits(time=1, mem=64 << 20), stdin="in.txt")

The public surface is re-exported here; the modules behind it are private.
Exports load on first use so that `rustbox run` and the box helper start
fast (they import only what a run needs).
"""
from importlib import import_module

_EXPORTS = {
    "Box": "api", "BoxPool": "api", "BoxLoan": "api", "run": "api", "run_connected": "api",
    "ConnectedGroup": "connected", "ConnectedResult": "connected", "Transcript": "connected",
    "Limits": "limits", "limits_from": "limits", "parse_size": "limits", "parse_time": "limits",
    "DirRule": "mounts", "Verdict": "verdict", "STATUSES": "verdict",
    "RustboxError": "errors", "UsageError": "errors", "BoxBusyError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rustbox' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value

"""Compiled seccomp filters kept on disk between processes.

`load_filter(spec, cache_dir)` is what a run asks for: the BPF of a policy
compiled before (by any process) is read back without loading libseccomp,
JSON or dataclasses (the box helper forks once per run and stays small);
on a miss the policy is loaded and compiled by seccomp.py.
"""
from __future__ import annotations

import os

from .bpf import BUILTIN_POLICIES, POLICY_DIR, CompiledFilter


def load_filter(spec: str | None, cache_dir: str | None = None) -> CompiledFilter | None:
    """load_policy + build_filter, the BPF kept on disk under its content's hash.

    A `rustbox run` whose policy was compiled before (by any process) reads
    the BPF back and never loads libseccomp; the key covers the policy's
    bytes, the built-ins it may extend, this module and the libseccomp
    library file, so any change compiles afresh.
    """
    if spec is None or spec == "off":
        return None
    key = _cache_key(spec) if cache_dir is not None else None
    path = None if key is None else os.path.join(cache_dir, f"{key}.bpf")
    if path is not None:
        try:
            with open(path, "rb") as f:
                return CompiledFilter(None, f.read(), name=os.path.basename(spec))
        except (OSError, RuntimeError):
            pass
    from .seccomp import build_filter, load_policy  # libseccomp: only on a miss
    compiled = build_filter(load_policy(spec))
    if path is not None:
        try:
            os.makedirs(cache_dir, mode=0o700, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(compiled.bpf)
            os.replace(tmp, path)  # readers see a whole file or none
        except OSError:
            pass  # a cache, not a requirement
    return compiled


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cache_key(spec: str) -> str | None:
    from _sha256 import sha256  # not hashlib: that maps all of OpenSSL
    digest = sha256()
    try:
        raw = _read(os.path.join(POLICY_DIR, f"{spec}.json") if spec in BUILTIN_POLICIES
                    else spec)
        for name in BUILTIN_POLICIES:
            digest.update(_read(os.path.join(POLICY_DIR, f"{name}.json")))
        me = os.stat(os.path.join(os.path.dirname(__file__), "seccomp.py"))
    except OSError:
        return None  # load_policy reports the unreadable file
    library = _libseccomp_identity()
    if library is None:
        return None
    digest.update(raw)
    digest.update(f"{library}|{me.st_size}|{me.st_mtime_ns}|{os.uname().machine}".encode())
    return digest.hexdigest()


def _libseccomp_identity() -> str | None:
    for directory in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64",
                      "/usr/lib", "/lib64", "/lib"):
        path = os.path.join(directory, "libseccomp.so.2")
        try:
            st = os.stat(path)
        except OSError:
            continue
        return f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"
    return None



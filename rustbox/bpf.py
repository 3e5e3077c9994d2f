"""A compiled seccomp filter: its BPF bytes, the disk cache, installing it.

Kept apart from seccomp.py (policies and compiling them with libseccomp) so
that the box helper, which forks once per run, loads a known policy's BPF
from the cache without libseccomp, JSON or dataclasses in its memory.
"""
from __future__ import annotations

import ctypes
import os

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "policies")
BUILTIN_POLICIES = ("default", "strict")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SYS_SECCOMP = 317            # x86_64
_SECCOMP_SET_MODE_FILTER = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


class CompiledFilter:
    """A policy compiled to BPF by libseccomp, ready for the child to install.

    Everything `install` touches is allocated here, in the supervisor, so the
    forked child makes exactly one system call.
    """

    def __init__(self, policy, bpf: bytes, name: str | None = None):
        if len(bpf) % 8 or not bpf:
            raise RuntimeError("libseccomp exported a malformed BPF program")
        self.policy = policy  # a seccomp.Policy; None when the BPF came from the cache
        self.name = name or (policy.name if policy else "?")
        self.bpf = bpf
        self._buffer = ctypes.create_string_buffer(bpf, len(bpf))
        self._prog = _SockFprog(len(bpf) // 8, ctypes.addressof(self._buffer))

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8

    def load(self) -> None:
        """Install into the calling thread; needs no_new_privs (or CAP_SYS_ADMIN).

        Raises OSError, which the child reports as SetupError("seccomp", errno).
        """
        rc = _libc.syscall(ctypes.c_long(_SYS_SECCOMP),
                           ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER),
                           ctypes.c_ulong(0), ctypes.byref(self._prog))
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp(SET_MODE_FILTER): {os.strerror(err)}")

    def __repr__(self) -> str:
        return f"<CompiledFilter {self.name}: {self.instructions} BPF instructions>"


def install(compiled: CompiledFilter | None) -> None:
    """The child's call: install `compiled` (None means seccomp off)."""
    if compiled is not None:
        compiled.load()


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



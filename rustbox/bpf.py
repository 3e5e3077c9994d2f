"""A compiled seccomp filter: its BPF bytes, and installing it (one system call).

Kept apart from seccomp.py (policies and compiling them with libseccomp) so
that the box helper, which forks once per run, loads a known policy's BPF
from the cache without libseccomp, JSON or dataclasses in its memory.
"""
from __future__ import annotations

import ctypes
import os

from .libc import libc as _libc

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "policies")
BUILTIN_POLICIES = ("default", "strict")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SYS_SECCOMP = 317            # x86_64
_SECCOMP_SET_MODE_FILTER = 1


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

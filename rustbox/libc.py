"""The one ctypes handle on the C library, for the calls Python's os lacks
(namespaces.py: clone, mount, setns, ...; bpf.py: seccomp(2)).

Argument and result types are declared once, here, for every caller.
"""
from __future__ import annotations

import ctypes

libc = ctypes.CDLL(None, use_errno=True)
# PyDLL keeps the GIL across the call: the cloned child must come back
# holding it, or its Python state would wait for a thread it does not have.
libc_gil = ctypes.PyDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
libc_gil.syscall.restype = ctypes.c_long
libc.syscall.restype = ctypes.c_long

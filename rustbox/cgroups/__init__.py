"""cgroup adapters: one interface (`BoxCgroup`), a v1 and a v2 implementation,
and the factory that picks one (`open_box_cgroup`).

Everything the rest of rustbox needs is re-exported here; v1.py, v2.py and
_files.py are private.
"""
from .base import BoxCgroup, CgroupStats
from .detect import detect_version, host_report, open_box_cgroup

__all__ = ["BoxCgroup", "CgroupStats", "open_box_cgroup", "detect_version", "host_report"]

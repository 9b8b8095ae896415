"""How much memory this process could still take, for sizing pools of worker processes.

The kernel's estimate of what can be allocated without swapping (`MemAvailable` of
/proc/meminfo) counts the whole machine; a container or batch job may be held to less by its
cgroup's limit, and is killed when it passes it. `available_memory` takes the smaller of the
two. Not for measuring what a process uses (bench/preprocess_memory.py does that).
"""

from __future__ import annotations

from pathlib import Path

_CGROUP = Path("/sys/fs/cgroup")
# cgroup limits this large stand for "no limit" (v1 writes the largest page-aligned int64).
_UNLIMITED = 2**60


def meminfo_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """`MemAvailable` in bytes; None where the system does not say (not Linux, before 3.14)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cgroup_available(root: Path = _CGROUP, proc_cgroup: Path = Path("/proc/self/cgroup")
                     ) -> int | None:
    """What this process's cgroup may still take: its limit less its use, not counting the
    page cache the kernel drops before it refuses memory (`inactive_file`); None without a
    limit. cgroup v2 (`memory.max`, `memory.current`) or v1 (`memory.limit_in_bytes`,
    `memory.usage_in_bytes`)."""
    v2 = _own_cgroup_v2(root, proc_cgroup)
    for folder, limit_name, usage_name, inactive_name in (
        (v2, "memory.max", "memory.current", "inactive_file"),
        (root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes",
         "total_inactive_file"),
    ):
        try:
            limit_text = (folder / limit_name).read_text().strip()
            usage = int((folder / usage_name).read_text())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= _UNLIMITED:
            return None
        return max(0, int(limit_text) - usage + _stat_value(folder / "memory.stat",
                                                               inactive_name))
    return None


def available_memory() -> int | None:
    """Bytes this process could still allocate: the smaller of `MemAvailable` and what its
    cgroup's limit leaves; None where neither is known."""
    known = [value for value in (meminfo_available(), cgroup_available()) if value is not None]
    return min(known) if known else None


def _own_cgroup_v2(root: Path, proc_cgroup: Path) -> Path:
    """This process's cgroup v2 folder (`0::/path` of /proc/self/cgroup), else the root."""
    try:
        for line in proc_cgroup.read_text().splitlines():
            if line.startswith("0::"):
                return root / line[3:].lstrip("/")
    except OSError:
        pass
    return root


def _stat_value(stat: Path, name: str) -> int:
    try:
        for line in stat.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0

"""How many CPUs this process may use, and thread pools sized to them.

`os.cpu_count()` counts the machine's cores; a container limited by a CPU quota, a job pinned
to some cores (`taskset`, a batch scheduler) or a Ray slot may use fewer. Thread pools sized to
the machine then outnumber the cores they run on, and OpenMP threads that spin while waiting
for each other take turns on them: on a busy 2-core machine, training ran an order of
magnitude slower than alone. `available_cpus` reads the affinity mask and the cgroup quota;
`choose_wait_policy` makes OpenMP's idle threads sleep instead of spin when other work is
running as attrmer starts (it must run before torch loads its OpenMP runtime:
`attrmer/__init__.py` calls it). Alone, spinning is the faster (bench/threads.py).
Not for choosing how many trainings run side by side (attrmer.train.executors).
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
from collections.abc import MutableMapping
from pathlib import Path

# OpenMP threads that wait for work sleep rather than spin: slower alone (a tenth to a third
# on two cores), the difference between sharing the cores and fighting over them when
# another process computes beside (bench/threads.py).
PASSIVE_WAIT = {"OMP_WAIT_POLICY": "PASSIVE"}
# {"set": True} once `choose_wait_policy` set the policy in this process's environment, so
# that commands starting others can leave it out of theirs.
CHOSEN_WAIT_POLICY: dict[str, bool] = {}

_CGROUP = Path("/sys/fs/cgroup")


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by its cgroup's quota."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        allowed = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(allowed, quota) if quota else allowed)


def others_running(loadavg: Path = Path("/proc/loadavg")) -> int:
    """Threads of other processes running or ready to run right now (the kernel's count of
    runnable threads, this one left out); 0 where the system does not say."""
    try:
        running = int(loadavg.read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, running - 1)


def choose_wait_policy(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Set OpenMP to sleep while waiting (`PASSIVE_WAIT`) when other threads occupy half the
    CPUs this process may use or more; the policy set, or None (one given in the
    environment is kept)."""
    if any(key in environ for key in (*PASSIVE_WAIT, "GOMP_SPINCOUNT")):
        return None
    if others_running() * 2 < available_cpus():
        return None
    environ.update(PASSIVE_WAIT)
    if environ is os.environ:
        CHOSEN_WAIT_POLICY["set"] = True
    return PASSIVE_WAIT["OMP_WAIT_POLICY"]


def _own_cgroup() -> Path:
    """This process's cgroup v2 folder (`/proc/self/cgroup`'s `0::/path`), else the root."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return _CGROUP / line[3:].lstrip("/")
    except OSError:
        pass
    return _CGROUP


def cgroup_cpu_quota(root: Path | None = None) -> int | None:
    """CPUs granted by the cgroup's quota, rounded up (cgroup v2 `cpu.max` of this process's
    own cgroup, v1 `cpu.cfs_quota_us`); None without a quota."""
    v1 = (root if root is not None else _CGROUP) / "cpu"
    root = root if root is not None else _own_cgroup()
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((v1 / "cpu.cfs_quota_us").read_text())
        period = int((v1 / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None


def default_threads() -> int:
    """Threads for one process's compute: `OMP_NUM_THREADS` when set (torchrun sets 1 per
    process), else the CPUs it may use shared among the processes its launcher started on
    this node (`LOCAL_WORLD_SIZE`)."""
    for name, divide in (("OMP_NUM_THREADS", False), ("LOCAL_WORLD_SIZE", True)):
        try:
            value = int(os.environ[name])
        except (KeyError, ValueError):
            continue
        if value >= 1:
            return max(1, available_cpus() // value) if divide else value
    return available_cpus()


def size_thread_pools(count: int | None = None) -> int:
    """torch's and OpenCV's thread pools set to `count` (default: `default_threads`); the
    count set. Imports torch: call it after anything that must run before torch loads."""
    import cv2
    import torch

    count = count or default_threads()
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    cv2.setNumThreads(count)
    return count


def machine_description() -> str:
    """"<n> CPUs available, <model name>": what a benchmark's figures were measured on."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        model = next((line.split(":", 1)[1].strip()
                      for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), model)
    return f"{available_cpus()} CPUs available, {model}"


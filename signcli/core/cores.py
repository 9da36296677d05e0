"""How many CPU cores this process may use, and how busy other work keeps them.

`os.cpu_count()` counts the machine's cores, not the process's: a container or a batch
scheduler hands out fewer through the CPU affinity mask (taskset, cpusets) or a cgroup CPU
quota (docker --cpus, Kubernetes limits). Math threads and worker processes beyond that
only wait for each other. Torch-free; reads /proc and /sys where they exist (Linux) and
falls back to `os.cpu_count()` elsewhere.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class Cores:
    """The cores available to this process and where the number comes from."""

    count: int
    """min(affinity, cgroup quota rounded up), at least 1."""
    affinity: int
    """CPUs in the affinity mask (os.cpu_count() where there is none)."""
    quota: float | None
    """The cgroup CPU quota in cores (cpu.max, or cfs_quota_us / cfs_period_us); None = none."""

    def describe(self) -> str:
        quota = "" if self.quota is None else f", cgroup quota {self.quota:g}"
        return f"{self.count} core(s) available (affinity {self.affinity}{quota})"


def available_cores(cgroup_root: Path = CGROUP_ROOT) -> Cores:
    """The cores this process may run on: its affinity mask, capped by a cgroup quota."""
    affinity = len(_affinity()) or (os.cpu_count() or 1)
    quota = cgroup_quota(cgroup_root)
    count = affinity if quota is None else min(affinity, max(1, math.ceil(quota - 1e-9)))
    return Cores(max(1, count), affinity, quota)


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of the process's cgroup in cores (v2 `cpu.max`, v1 `cpu.cfs_quota_us`),
    None when there is none or it cannot be read."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # v2: "max 100000"
        return None if quota == "max" else _cores(float(quota), float(period))
    except (OSError, ValueError):
        pass
    try:  # v1
        quota_us = float((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = float((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us < 0 else _cores(quota_us, period_us)
    except (OSError, ValueError):
        return None


def _cores(quota: float, period: float) -> float | None:
    return quota / period if quota > 0 and period > 0 else None


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        return set()


@dataclass(frozen=True)
class CpuSample:
    """One reading of the busy time of this process's CPUs and of this process itself."""

    wall_s: float
    busy_s: float
    """Busy (non-idle) seconds of the CPUs in the affinity mask since boot."""
    own_s: float
    """CPU seconds of this process (all its threads)."""


def cpu_sample(proc_stat: Path = PROC_STAT) -> CpuSample | None:
    """Read the busy seconds of this process's CPUs and of the process; None where
    /proc/stat is missing or unreadable (not Linux)."""
    cpus = _affinity()
    try:
        lines = proc_stat.read_text().splitlines()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = 0
    found = False
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        if cpus and int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal ...: idle and iowait are not busy
        fields = [int(v) for v in rest.split()]
        busy += sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
        found = True
    if not found:
        return None
    return CpuSample(time.monotonic(), busy / ticks, time.process_time())


def others_busy_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores kept busy by other processes between two samples: the CPUs' busy time less
    this process's own, per second of wall time (>= 0)."""
    wall = after.wall_s - before.wall_s
    if wall <= 0:
        return 0.0
    others = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
    return max(0.0, others / wall)


def measure_others_busy(seconds: float = 0.25) -> float | None:
    """Cores other processes keep busy, measured over `seconds` (None where it cannot be
    read)."""
    before = cpu_sample()
    if before is None:
        return None
    time.sleep(seconds)
    after = cpu_sample()
    return None if after is None else others_busy_cores(before, after)

"""How many threads torch's math uses: chosen by signcli unless the user chose.

PyTorch takes every core for its intra-op threads. On a machine where other work runs
(a CI runner, a shared server, a laptop) the threads of one operation wait for each other
at every barrier while the scheduler runs someone else: on 2 cores with other jobs,
training ran at 6-8 samples/s with 2 threads against 74 with 1 (issue 26). Small models
gain little from a second thread even on an idle machine, because an operation on a few
thousand numbers costs less than waking a thread.

The policy (`choose_threads`), unless `training.threads`, OMP_NUM_THREADS / MKL_NUM_THREADS
or a `torch.set_num_threads` call of the user's already says:

    cores   = the process's cores (affinity mask, cgroup quota; signcli/cores.py)
              // torchrun's LOCAL_WORLD_SIZE
    free    = cores other processes leave idle (a core counts when FREE_CORE_SHARE of it is)
    by_work = 1 + the work of a step / WORK_PER_THREAD (small models: 1)
    threads = max(1, min(cores, free, by_work))

While a run trains, `ThreadGovernor.recheck` measures again every RECHECK_S seconds (what
other processes used meanwhile, from /proc/stat less this process's own CPU time) and
follows the load. A `--deterministic` run keeps the first choice made without the load
(cores and work only), so a resume uses the same count and repeats bit for bit.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from signcli.core.cores import (
    Cores,
    CpuSample,
    available_cores,
    cpu_sample,
    measure_others_busy,
    others_busy_cores,
)

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
FREE_CORE_SHARE = 0.75  # a core others keep busy a quarter of the time still counts as free
RECHECK_S = 10.0  # a load that changes is followed within this long (a /proc read, ~50 us)
START_SAMPLE_S = 0.2  # how long the load is measured before the first choice
# Multiply-adds of a training step (forward + backward ~ 3 x 2 x parameters x frames) per
# thread below which another thread does not pay: below ~1 GFLOP a step takes under ~50 ms
# on one core of this class, and its hundreds of small operations each pay a fork-join.
# On a 2-core machine the quick start's model (0.1M parameters, 16 clips) makes 0.3 GFLOP
# a step: one thread; d_model 128 and batch 32 make ~2.4 GFLOP: two when both are idle.
WORK_PER_THREAD = 1.0e9

_set_by_signcli: int | None = None  # the count signcli set last in this process


@dataclass(frozen=True)
class ThreadChoice:
    """The intra-op thread count of a run and why; `adaptive` = follows the load."""

    threads: int
    reason: str
    adaptive: bool = False
    applied: bool = True
    """Whether signcli sets the count (False: the environment or the caller set it)."""
    cap: int = 1
    """The most threads an adaptive choice may go up to (cores and work)."""

    def describe(self) -> str:
        return f"{self.threads} thread(s): {self.reason}"


def user_thread_count(setting: int | str) -> ThreadChoice | None:
    """The user's own choice, if there is one: `training.threads`, then the environment,
    then a torch.set_num_threads call (a count torch would not pick itself)."""
    if setting != "auto":
        return ThreadChoice(int(setting), "training.threads")
    for name in THREAD_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return ThreadChoice(
                torch.get_num_threads(), f"{name}={value} (set by you)", applied=False
            )
    current = torch.get_num_threads()
    if current not in _torch_default_counts():
        return ThreadChoice(current, "torch.set_num_threads (set by you)", applied=False)
    return None


def _torch_default_counts() -> set[int]:
    """Counts torch starts with (cores: logical, in the affinity mask, physical) or that
    signcli set earlier in this process."""
    counts = {os.cpu_count() or 1, available_cores().affinity, _physical_cores()}
    if _set_by_signcli is not None:
        counts.add(_set_by_signcli)
    return counts


def _physical_cores() -> int:
    """Physical cores from /proc/cpuinfo (torch's default with MKL); logical count elsewhere."""
    try:
        text = open("/proc/cpuinfo", encoding="utf-8", errors="replace").read()
    except OSError:
        return os.cpu_count() or 1
    cores, package = set(), ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            cores.add((package, value.strip()))
    return len(cores) or (os.cpu_count() or 1)


def local_world_size() -> int:
    """Processes torchrun started on this machine (1 without torchrun)."""
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        return 1


def choose_threads(
    *,
    cores: Cores,
    processes: int,
    others_busy: float | None,
    work_per_step: float,
    deterministic: bool = False,
) -> ThreadChoice:
    """The automatic choice (module docstring): `others_busy` is the cores other processes
    keep busy (None = unknown), `work_per_step` the multiply-adds of one step."""
    per_process = max(1, cores.count // processes)
    by_work = 1 + int(work_per_step // WORK_PER_THREAD)
    cap = max(1, min(per_process, by_work))
    parts = [cores.describe()]
    if processes > 1:
        parts.append(f"{processes} processes share them (torchrun)")
    if by_work < per_process:
        parts.append(f"a step of {work_per_step / 1e9:.2g} GFLOP uses at most {by_work}")
    if deterministic or others_busy is None:
        if deterministic:
            parts.append("--deterministic: not following the load")
        return ThreadChoice(cap, "auto: " + "; ".join(parts), adaptive=False, cap=cap)
    threads = free_threads(cores.count, others_busy, cap)
    parts.append(f"other work keeps {others_busy:.1f} core(s) busy")
    return ThreadChoice(threads, "auto: " + "; ".join(parts), adaptive=True, cap=cap)


def free_threads(cores: int, others_busy: float, cap: int) -> int:
    """Threads for the cores other work leaves free, between 1 and cap."""
    free = cores - others_busy
    return max(1, min(cap, math.floor(free + (1.0 - FREE_CORE_SHARE))))


def set_threads(count: int) -> None:
    global _set_by_signcli
    torch.set_num_threads(count)
    _set_by_signcli = count


class ThreadGovernor:
    """Applies a ThreadChoice and, when it is adaptive, follows the load while a run trains.

    `recheck()` is cheap enough for every step: it reads /proc/stat only every RECHECK_S."""

    def __init__(self, choice: ThreadChoice) -> None:
        self.choice = choice
        self.threads = choice.threads
        self.used: set[int] = {choice.threads}
        self._previous = torch.get_num_threads()
        self._sample: CpuSample | None = None
        self._cores = available_cores().count

    @classmethod
    def for_work(
        cls, setting: int | str, work_per_step: float, *, deterministic: bool = False
    ) -> ThreadGovernor:
        """The governor of a run or an eval: the user's choice, else the automatic one."""
        choice = user_thread_count(setting)
        if choice is None:
            sample = None if deterministic else measure_others_busy(START_SAMPLE_S)
            choice = choose_threads(
                cores=available_cores(),
                processes=local_world_size(),
                others_busy=sample,
                work_per_step=work_per_step,
                deterministic=deterministic,
            )
        return cls(choice)

    def apply(self) -> None:
        """Set the chosen count (a user's choice is left as it is)."""
        if self.choice.applied:
            set_threads(self.threads)
        self._sample = cpu_sample()

    def recheck(self) -> None:
        """Follow the load: every RECHECK_S, the threads for the cores left free since."""
        if not self.choice.adaptive or self._sample is None:
            return
        now = time.monotonic()
        if now - self._sample.wall_s < RECHECK_S:
            return
        sample = cpu_sample()
        if sample is None:
            return
        others = others_busy_cores(self._sample, sample)
        self._sample = sample
        threads = free_threads(self._cores, others, self.choice.cap)
        if threads != self.threads:
            self.threads = threads
            self.used.add(threads)
            set_threads(threads)

    def restore(self) -> None:
        """Give torch back the count it had before `apply` (Python callers run on)."""
        if self.choice.applied:
            set_threads(self._previous)

    def summary(self) -> str:
        """What the run used, for its end-of-run summary."""
        if len(self.used) == 1:
            return self.choice.describe()
        low, high = min(self.used), max(self.used)
        return f"{low}-{high} threads, following the load ({self.choice.reason})"


def step_work(parameters: int, frames_per_batch: float) -> float:
    """Multiply-adds of one training step: forward (2 per parameter and frame) + backward
    (twice that). Attention adds T^2 terms that this ignores; a rough size is all the
    policy needs."""
    return 6.0 * parameters * frames_per_batch


# DataLoader workers of `data.num_workers: auto` on CUDA: enough to read and collate while
# the GPU steps (the augmentation runs there, on the batch: data/batch_augment.py); more
# only cost memory (each holds a copy of an in-memory cache's pages it touches).
CUDA_LOADER_WORKERS = 4
CUDA_PREFETCH_FACTOR = 4  # batches each worker keeps ready: a GPU step is short


def loader_workers(setting: int | str, device: torch.device, cores: Cores | None = None) -> int:
    """DataLoader worker processes for `data.num_workers`: the number given, else (auto)
    0 on CPU, where the main process hands a cached sample over faster than a worker's
    pipe does and the math threads want the cores, and on CUDA CUDA_LOADER_WORKERS,
    within the cores torchrun's processes on this machine share (one left for each
    process's own thread)."""
    if setting != "auto":
        return int(setting)
    if device.type != "cuda":
        return 0
    cores = cores or available_cores()
    per_process = cores.count // local_world_size()
    return max(0, min(CUDA_LOADER_WORKERS, per_process - 1))

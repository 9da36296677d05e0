"""Data-parallel training under `torchrun` (docs/architecture.md, "Many processes").

torchrun starts one process per device and tells each its place in environment variables
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT); signcli has no launcher of its
own. Without them (or with WORLD_SIZE=1) the run has one process and the trainer's
strategy (engine/strategy.py, `OneProcess`) calls nothing here.

With them, the `Torchrun` strategy joins the process group once per process
(`join_group`: gloo on CPU, NCCL on CUDA with device `cuda:LOCAL_RANK`), with a timeout,
so that a rank that dies or hangs makes the others fail with a `ProcessGroupError`
instead of waiting forever. It takes its shard of every global batch (`shard_batch`),
reduces its counters and gathers validation predictions with the helpers below; only
rank 0 writes (`is_main`).
"""

from __future__ import annotations

import datetime
import inspect
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from signcli.core.errors import ProcessGroupError, UsageError

log = logging.getLogger("signcli")

TIMEOUT_ENV = "SIGNCLI_DIST_TIMEOUT"  # seconds a collective waits for the other ranks
DEFAULT_TIMEOUT_S = 1800.0  # torch's own default for gloo; a dead peer is seen sooner
RESUME_UNDER_TORCHRUN = "torchrun --nproc_per_node N -m signcli resume"


@dataclass(frozen=True)
class World:
    """This process's place in the run: rank, how many processes, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """More than one process: batches are sharded and gradients all-reduced."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints progress."""
        return self.rank == 0


def env_world() -> World:
    """The place torchrun gave this process (RANK, WORLD_SIZE, LOCAL_RANK), or one process."""

    def number(name: str, default: int) -> int:
        value = os.environ.get(name, "").strip()
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f"environment variable {name}={value!r} is not a whole number",
                hint="start several processes with torchrun, which sets it",
            ) from None

    world_size = number("WORLD_SIZE", 1)
    rank = number("RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise UsageError(
            f"RANK={rank} and WORLD_SIZE={world_size} do not describe a process of a run",
            hint="start several processes with torchrun, which sets them",
        )
    return World(rank, world_size, number("LOCAL_RANK", rank))


def is_main_process() -> bool:
    """Whether this process writes the run's files (rank 0, or the only process)."""
    return env_world().is_main


def timeout_s() -> float:
    """How long a collective waits for the others: SIGNCLI_DIST_TIMEOUT or DEFAULT_TIMEOUT_S."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 10**7:
        raise UsageError(
            f"{TIMEOUT_ENV}={value!r}: expected a number of seconds > 0",
            hint=f"e.g. {TIMEOUT_ENV}=600",
        )
    return seconds


def join_group(world: World, device: torch.device) -> torch.device:
    """Join the process group torchrun describes (once per process; `world` has several
    ranks) and return this rank's device: `cuda:LOCAL_RANK` for CUDA, the device as given
    otherwise. Non-main ranks log errors only (engine/strategy.py `strategy_for` calls it)."""
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise UsageError(
                f"LOCAL_RANK {world.local_rank} but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)",
                hint="start at most one process per GPU (torchrun --nproc_per_node)",
            )
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
        # a collective that fails or times out raises instead of hanging the process
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise UsageError(
            f"--device {device.type} cannot train with several processes (torchrun)",
            hint="use --device cpu (gloo) or cuda (NCCL), or run one process",
        )
    if not world.is_main:
        logging.getLogger("signcli").setLevel(logging.ERROR)
    if not dist.is_initialized():
        try:
            dist.init_process_group(
                backend,
                rank=world.rank,
                world_size=world.world_size,
                timeout=datetime.timedelta(seconds=timeout_s()),
                **_bound_device(backend, device),
            )
        except (RuntimeError, ValueError) as exc:  # no MASTER_ADDR, unreachable, timeout
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise ProcessGroupError(
                f"rank {world.rank} of {world.world_size}: cannot join the run's process "
                f"group ({type(exc).__name__}: {reason})",
                hint="start the processes with torchrun, which sets RANK, WORLD_SIZE, "
                "MASTER_ADDR and MASTER_PORT, and check that every machine reaches the first",
            ) from None
    return device


def _bound_device(backend: str, device: torch.device) -> dict[str, torch.device]:
    """NCCL: bind the group to this rank's GPU where torch allows it (2.3 and later)."""
    if backend != "nccl":
        return {}
    if "device_id" not in inspect.signature(dist.init_process_group).parameters:
        return {}
    return {"device_id": device}


def is_collective_failure(exc: BaseException) -> bool:
    """Whether `exc` is a failed collective: torch's distributed errors, or the plain
    RuntimeError by which gloo reports a closed connection or a timeout."""
    dist_error = getattr(dist, "DistError", None)
    if dist_error is not None and isinstance(exc, dist_error):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        mark in text for mark in ("gloo", "Connection closed", "Timed out", "NCCL")
    )


def shutdown() -> None:
    """Leave the process group (at the end of a command that ran without errors)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def lost_contact(world: World, exc: BaseException, work_dir: Any = "WORK_DIR") -> ProcessGroupError:
    """The error a rank raises when a collective fails: another rank died, hung past the
    timeout, or could not be reached."""
    reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return ProcessGroupError(
        f"rank {world.rank} of {world.world_size}: lost contact with the other processes of "
        f"the run ({reason}); the last saved last.pt is kept",
        hint=f"see the other ranks' errors; continue with `{RESUME_UNDER_TORCHRUN} {work_dir}` "
        f"(a hung rank fails after {TIMEOUT_ENV} seconds, {timeout_s():g} now)",
    )


def check_same_start(facts: dict[str, str], world: World) -> None:
    """Compare what each rank starts from (`facts`: a name, such as a setting's key or
    `train data`, and a short description) with rank 0's, in one collective at start-up.
    UsageError on every rank, naming the first differences and the ranks, where ranks that
    read different data or settings used to train apart and then blame "lost contact"."""
    everyone: list[Any] = [None] * world.world_size
    dist.all_gather_object(everyone, facts)
    differences = start_differences(everyone)
    if differences:
        shown = "; ".join(differences[:3])
        more = f" and {len(differences) - 3} more" if len(differences) > 3 else ""
        raise UsageError(
            f"rank {world.rank} of {world.world_size}: the processes of the run start from "
            f"different data or settings: {shown}{more}",
            hint="start every rank with the same command, settings and data (torchrun "
            "gives each process the same arguments)",
        )


def start_differences(everyone: Sequence[Any]) -> list[str]:
    """Each fact in which a rank's `facts` (one per rank, in rank order) differ from rank
    0's, as one short line: `name: rank 0 value, rank R value`. A rank that sent no
    mapping differs in everything."""
    first = everyone[0] if isinstance(everyone[0], dict) else {}
    differences = []
    for rank, theirs in enumerate(everyone[1:], start=1):
        if not isinstance(theirs, dict):
            differences.append(f"rank {rank} sent no start facts ({_short(type(theirs).__name__)})")
            continue
        for name in sorted(set(first) | set(theirs), key=str):
            if first.get(name) != theirs.get(name):
                differences.append(
                    f"{_short(name)}: rank 0 {_short(first.get(name))}, rank {rank} "
                    f"{_short(theirs.get(name))}"
                )
    return differences


def _short(value: Any, limit: int = 60) -> str:
    """A fact as the message shows it: compared whole, shown on one line cut to `limit`
    characters."""
    if value is None:
        return "(none)"
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------
# Shards


def shard_size(batch_size: int, world: World) -> int:
    """How many samples of a global batch of `batch_size` this rank trains on."""
    return len(shard_batch(range(batch_size), world))


def shard_batch(batch: Sequence[int], world: World) -> list[int]:
    """This rank's contiguous part of a global batch (sizes differ by at most one; empty
    when the batch has fewer samples than there are ranks)."""
    size, rest = divmod(len(batch), world.world_size)
    start = world.rank * size + min(world.rank, rest)
    return list(batch[start : start + size + (world.rank < rest)])


class ShardedBatch(list):
    """A rank's shard of a batch that remembers the whole batch (`group`), so that what
    depends on the batch (stream mixing partners, data/augment.py) is the same on every
    number of ranks."""

    def __init__(self, shard: Sequence[int], group: Sequence[int]) -> None:
        super().__init__(shard)
        self.group = list(group)

    def __reduce__(self) -> Any:  # to DataLoader workers: a list subclass with a field
        return (ShardedBatch, (list(self), self.group))


class ShardedBatchSampler:
    """Each global batch of `sampler`, cut to this rank's shard (`split`), or every
    world_size-th batch (`stride`, validation: each batch whole on one rank). A batch too
    small to give this rank a sample yields its first sample instead, so that the rank
    still joins the gradient all-reduce; the trainer gives it weight 0 (`shard_size`)."""

    def __init__(self, sampler: Any, world: World, mode: str = "split") -> None:
        self.sampler = sampler
        self.world = world
        self.mode = mode

    def __len__(self) -> int:
        total = len(self.sampler)
        if self.mode == "split":
            return total
        return len(range(self.world.rank, total, self.world.world_size))

    def __iter__(self) -> Iterator[list[int]]:
        for index, batch in enumerate(self.sampler):
            if self.mode == "stride":
                if index % self.world.world_size == self.world.rank:
                    yield batch
                continue
            shard = shard_batch(batch, self.world)
            # an empty shard: one sample of the batch, trained with weight 0 (see Trainer)
            yield ShardedBatch(shard or batch[:1], batch)


# ---------------------------------------------------------------------------------------
# Collectives (the Torchrun strategy's; one process calls none of them)


def all_reduce_sum(values: Sequence[float], device: torch.device) -> list[float]:
    """The sums over ranks of a few numbers (float64), in one collective."""
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_to_main(obj: Any, world: World) -> list[Any] | None:
    """Every rank's `obj` on rank 0 (in rank order); None on the other ranks."""
    out: list[Any] | None = [None] * world.world_size if world.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_from_main(obj: Any, world: World) -> Any:
    """Rank 0's `obj` on every rank (a decision taken once, the same everywhere)."""
    box = [obj if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def no_buffer_sync() -> dict[str, bool]:
    """The DistributedDataParallel option that skips broadcasting buffers before each
    forward (`forward_sync_buffers` in newer torch, `broadcast_buffers` before it)."""
    from torch.nn.parallel import DistributedDataParallel

    parameters = inspect.signature(DistributedDataParallel.__init__).parameters
    if "forward_sync_buffers" in parameters:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


def rank_seed(seed: int, rank: int, step: int) -> int:
    """The torch seed of `rank` at optimizer step `step` (dropout draws): a function of
    (seed, rank, step) only, so a resumed run draws what the uninterrupted one drew."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1, np.uint64)[0] >> 1)

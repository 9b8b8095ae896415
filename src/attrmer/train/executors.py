"""Where the independent (seed, fold) trainings of a run execute (`train.executor`).

`LocalExecutor` trains them one after another in this process (under torchrun, each one
across its processes with DDP). `RayExecutor` submits each as a Ray task with its own resource
request (`train.ray`) to the cluster named by `train.ray.address` or `RAY_ADDRESS`, or to a
Ray started on this machine for the run: a machine with several GPUs, or a cluster, trains
many folds at once. Both yield each finished task's `FoldOutcome` as it arrives, and raise
`TrainingTaskError`, naming every failed (seed, fold), only after the others have finished,
so that nothing finished is lost. Not for what a training does (see attrmer.train.loop).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from attrmer.config import Params
from attrmer.errors import AttrmerError
from attrmer.train.data import TrainingTable
from attrmer.train.distributed import DistributedContext
from attrmer.train.runtime import Runtime, runtime_arithmetic
from attrmer.train.tasks import FoldOutcome, TrainingInputs, TrainingTask, run_task

log = logging.getLogger(__name__)


class TrainingTaskError(AttrmerError, RuntimeError):
    """One or more (seed, fold) trainings failed (after their retries, under Ray)."""


class Executor(Protocol):
    def arithmetic(self, params: Params, dist: DistributedContext) -> dict[str, Any]:
        """What of this executor's hardware use changes a training's numbers: part of the
        hash a finished fold is kept under."""
        ...

    def run(self, tasks: Sequence[TrainingTask], params: Params, inputs: TrainingInputs, *,
            table: TrainingTable, dist: DistributedContext,
            progress: bool) -> Iterator[tuple[TrainingTask, FoldOutcome]]: ...


def make_executor(params: Params) -> Executor:
    return RayExecutor() if params.train.executor == "ray" else LocalExecutor()


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to `count` (0: `attrmer.cpus.default_threads`, the CPUs
    this process may use, or OMP_NUM_THREADS as torchrun sets it) for the block."""
    from attrmer.cpus import default_threads

    before = torch.get_num_threads()
    count = count or default_threads()
    if count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LocalExecutor:
    """Every task in turn, in this process, sharing one loaded table and runtime."""

    def arithmetic(self, params: Params, dist: DistributedContext) -> dict[str, Any]:
        with torch_threads(params.train.threads):
            return {"executor": "local"} | runtime_arithmetic(
                Runtime.choose(params, dist.device))

    def run(self, tasks: Sequence[TrainingTask], params: Params, inputs: TrainingInputs, *,
            table: TrainingTable, dist: DistributedContext,
            progress: bool) -> Iterator[tuple[TrainingTask, FoldOutcome]]:
        runtime = Runtime.choose(params, dist.device)
        for task in tasks:
            log.info("training %s", task)
            try:
                with torch_threads(params.train.threads):
                    outcome = run_task(params, inputs, task, table=table, runtime=runtime,
                                       dist=dist, progress=progress)
            except AttrmerError as exc:
                raise TrainingTaskError(f"{task}: {exc}") from exc
            yield task, outcome


@dataclass(frozen=True)
class _Failure:
    """A task's configuration or data error, returned rather than raised: it would be the
    same on every retry."""

    message: str


def _train_on_worker(params: Params, inputs: TrainingInputs, task: TrainingTask,
                     threads: int, directory: str) -> FoldOutcome | _Failure:
    """The body of one Ray task (runs on a worker)."""
    import ray

    logger = logging.getLogger("attrmer")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    # Paths the settings hold (train.init, model.text_model) mean what they mean where the
    # run was started: the repository, at the same path on every node.
    if os.path.isdir(directory):
        os.chdir(directory)
    torch.set_num_threads(threads)
    # A task given no GPU computes on the CPU even where the node has one (Ray leaves
    # CUDA_VISIBLE_DEVICES alone for it).
    runtime = None if ray.get_gpu_ids() else Runtime.choose(params, torch.device("cpu"))
    try:
        return run_task(params, inputs, task, runtime=runtime, progress=False)
    except AttrmerError as exc:
        return _Failure(str(exc))


class RayExecutor:
    """Every task at once as Ray tasks; outcomes in the order they finish."""

    def arithmetic(self, params: Params, dist: DistributedContext) -> dict[str, Any]:
        cfg = params.train.ray
        return {"executor": "ray", "threads": _task_threads(params),
                "gpus_per_task": cfg.gpus_per_task}

    def run(self, tasks: Sequence[TrainingTask], params: Params, inputs: TrainingInputs, *,
            table: TrainingTable, dist: DistributedContext,
            progress: bool) -> Iterator[tuple[TrainingTask, FoldOutcome]]:
        if dist.world_size > 1:
            raise TrainingTaskError("train.executor: ray runs each training as one task; "
                                    "start it without torchrun (or use executor local)")
        if not tasks:
            return
        import ray
        from ray.exceptions import RayError

        cfg = params.train.ray
        started_here = _connect(cfg.address)
        pending: list = []
        try:
            cpus = ray.cluster_resources().get("CPU", 0.0)
            if cfg.cpus_per_task > cpus:
                raise TrainingTaskError(f"train.ray.cpus_per_task: {cfg.cpus_per_task:g} per "
                                        f"training, but the Ray cluster has {cpus:g} CPUs")
            gpus = _gpus_per_task(cfg.gpus_per_task, ray.cluster_resources())
            threads = _task_threads(params)
            remote = ray.remote(_train_on_worker)
            resources = {"num_cpus": cfg.cpus_per_task, "num_gpus": gpus,
                         "max_retries": cfg.max_retries, "retry_exceptions": True}
            log.info("ray: %d trainings, %s CPUs and %s GPUs each, on %s", len(tasks),
                     cfg.cpus_per_task, gpus, _describe_cluster(ray))
            inputs = inputs.resolved()
            submitted = {}
            for task in tasks:
                # Absolute paths for the worker; the caller gets its own task back.
                on_worker = TrainingTask(task.seed, task.fold, task.keep_model,
                                         None if task.checkpoint is None
                                         else task.checkpoint.resolve())
                ref = remote.options(name=f"train seed {task.seed} {task.fold}",
                                     **resources).remote(params, inputs, on_worker, threads,
                                                         os.getcwd())
                submitted[ref] = task
            failures = []
            pending = list(submitted)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                task = submitted[done[0]]
                try:
                    outcome = ray.get(done[0])
                except RayError as exc:
                    failures.append(f"{task}: failed after {cfg.max_retries + 1} attempts: "
                                    f"{_last_line(exc)}")
                    continue
                if isinstance(outcome, _Failure):
                    failures.append(f"{task}: {outcome.message}")
                    continue
                log.info("ray: %s finished (%d still running or queued)", task, len(pending))
                yield task, outcome
            if failures:
                raise TrainingTaskError("; ".join(failures))
        finally:
            # Stopped early (interrupted, or the caller failed): nothing keeps training.
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()


def _gpus_per_task(configured: float | str, resources: dict[str, float]) -> float:
    """The GPUs each training asks for; an error when the cluster could never give them (a
    task asking for more than there is would wait for ever)."""
    available = resources.get("GPU", 0.0)
    if configured == "auto":
        return 1.0 if available > 0 else 0.0
    if configured > available:
        raise TrainingTaskError(f"train.ray.gpus_per_task: {configured:g} per training, but the "
                                f"Ray cluster has {available:g} GPUs")
    return float(configured)


def _task_threads(params: Params) -> int:
    """Each Ray training computes with as many threads as it was given CPUs, unless
    train.threads fixes the count."""
    return params.train.threads or max(1, math.floor(params.train.ray.cpus_per_task))


def _connect(address: str) -> bool:
    """Join the cluster of `address` (train.ray.address) or RAY_ADDRESS, else start Ray here
    (or join one already running here); True when this call connected (and so must
    disconnect)."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, include_dashboard=False, configure_logging=False,
             log_to_driver=True)
    return True


def _describe_cluster(ray) -> str:
    resources = ray.cluster_resources()
    return (f"{len(ray.nodes())} node(s) with {resources.get('CPU', 0):g} CPUs, "
            f"{resources.get('GPU', 0):g} GPUs")


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__

"""Where the per-video stages run their work: worker processes here, or tasks on a Ray cluster.

``cluster.executor: local`` maps a per-video function over worker processes of this machine
(:func:`mscl.pipeline.pool.parallel_map`). ``ray`` sends each video to a Ray task instead, and the
stage's process (what ``dvc repro`` runs, the *driver*) stays the only reader of the workspace
and the only writer of outputs: a task receives its input files' bytes, runs the same
function on private copies in a scratch folder, and returns its result and its output files'
bytes, which the driver writes in place. Manifests, containers, resume-by-fingerprint and
bad-input rows are therefore those of the local executor, byte for byte, and the workers need
no shared file system, only the project installed.

Ray is an optional dependency (``pip install -e '.[ray]'``) imported only when asked for.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import tempfile
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from mscl.io.atomic import write_bytes
from mscl.params import ClusterParams
from mscl.pipeline.pool import parallel_map

# this machine's worker processes: what the per-video functions use when no cluster section is given
LOCAL = ClusterParams(executor="local", address="", max_retries=0, in_flight=0)
INSTALL_HINT = "cluster.executor: ray needs Ray; install it with: pip install -e '.[ray]'"


class ClusterError(RuntimeError):
    """Ray is missing, or the cluster cannot do what the stage asks (e.g. no GPU for GPU flow)."""


def connect(cluster: ClusterParams):
    """The ``ray`` module, connected to the cluster ``cluster.address`` names.

    A connection made before (a test's local instance, a notebook) is reused as it is.
    Otherwise this package's own source travels to the workers (``py_modules``), so tasks run
    exactly the driver's code; its dependencies must be installed on every node.
    """
    try:
        import ray
    except ImportError as e:
        raise ClusterError(INSTALL_HINT) from e
    if not ray.is_initialized():
        package = str(Path(__file__).resolve().parents[1])
        try:
            ray.init(address=cluster.address or None, runtime_env={"py_modules": [package]},
                     include_dashboard=False, logging_level="WARNING")
        except ConnectionError as e:
            raise ClusterError(f"cluster.address = {cluster.address!r}: no Ray cluster there ({e}); start one "
                               "with `ray start --head` or set cluster.address to ''") from e
    return ray


def start(cluster: ClusterParams, stage: str) -> None:
    """Connect at a stage's start, before any work: a missing Ray or an unreachable cluster ends
    the stage with one line that says what to do."""
    if cluster.executor == "ray":
        try:
            connect(cluster)
        except ClusterError as e:
            raise SystemExit(f"{stage}: {e}") from None


def cluster_resources(cluster: ClusterParams) -> dict[str, float]:
    """CPUs, GPUs, ... of the whole cluster (``{}`` for the local executor)."""
    return dict(connect(cluster).cluster_resources()) if cluster.executor == "ray" else {}


def run_shipped(fn: Callable, job, inputs: dict[str, bytes | None], outputs: Sequence[str]):
    """Run ``fn(job)`` on private copies of the job's files (this runs inside a Ray task).

    Args:
        job: a dataclass whose fields ``inputs`` and ``outputs`` name files.
        inputs: field -> the file's bytes (None: the file does not exist on the driver).
    Returns:
        (``fn``'s result with scratch paths put back to the job's own, {output field: bytes or
        None when ``fn`` wrote nothing}).
    """
    with tempfile.TemporaryDirectory(prefix="mscl-task-") as tmp:
        local = {f: os.path.join(tmp, f"{k}-{Path(getattr(job, f)).name}") for k, f in enumerate([*inputs, *outputs])}
        for field, data in inputs.items():
            if data is not None:
                Path(local[field]).write_bytes(data)
        result = fn(dataclasses.replace(job, **local))
        produced = {f: Path(local[f]).read_bytes() if os.path.exists(local[f]) else None for f in outputs}
    return _restore_paths(result, {path: getattr(job, f) for f, path in local.items()}), produced


def _restore_paths(result, paths: dict[str, str]):
    """Scratch paths in a result's strings (a reason quoting a file) replaced by the real ones."""
    if isinstance(result, dict):
        return {k: _restore_paths(v, paths) for k, v in result.items()}
    if isinstance(result, str):
        for scratch, real in paths.items():
            result = result.replace(scratch, str(real))
    return result


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # the task's function sees a missing file and reports it as the local run does


def map_videos(fn: Callable, jobs: Sequence, *, cluster: ClusterParams, workers: int, desc: str,
               inputs: Sequence[str] = (), outputs: Sequence[str] = (),
               failed: Callable[[object, str], object] | None = None) -> Iterator:
    """Yield ``fn(job)`` for every job, as results complete, on the executor ``cluster`` names.

    ``fn`` is a module-level function that never raises for a bad input (it returns a result
    saying so). On Ray, a task whose worker died is retried ``cluster.max_retries`` times; if it
    still fails, ``failed(job, reason)`` stands in for its result (without ``failed`` the error
    is raised), and every other video goes on.

    Args:
        inputs, outputs: names of the jobs' fields holding input / output file paths: shipped to
            and from Ray tasks (the local executor reads and writes them in place).
    """
    if cluster.executor == "local":
        yield from parallel_map(fn, jobs, workers=workers, desc=desc)
        return
    ray = connect(cluster)
    task = ray.remote(num_cpus=1, max_retries=cluster.max_retries)(run_shipped)
    window = cluster.in_flight or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    todo, running = iter(jobs), {}

    def submit(batch: Iterable) -> None:
        for job in batch:
            running[task.remote(fn, job, {f: _read(getattr(job, f)) for f in inputs}, tuple(outputs))] = job

    submit(islice(todo, window))
    with tqdm(total=len(jobs), desc=f"{desc} (ray)", unit="video", dynamic_ncols=True) as bar:
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            job = running.pop(ref)
            submit(islice(todo, 1))
            try:
                result, produced = ray.get(ref)
            except ray.exceptions.RayError as e:
                if failed is None:
                    raise
                result = failed(job, _reason(e))
            else:
                for field, data in produced.items():
                    if data is not None:
                        write_bytes(getattr(job, field), data)
            bar.update()
            yield result


def _reason(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:300]


def map_on_actors(cls: type, args: tuple, items: Iterable[tuple[object, tuple]], *, cluster: ClusterParams,
                  actors: int, gpus_per_actor: float, depth: int = 2) -> Iterator[tuple[object, object]]:
    """For every ``(key, call_args)`` yield ``(key, cls(*args).run(*call_args))``, in order, over
    ``actors`` Ray actors.

    For batched device work (GPU TV-L1: one actor per GPU keeping its compiled kernels). Up to
    ``depth`` calls per actor are in flight, so transfers overlap compute; ``key`` stays on the
    driver. An actor that dies is restarted and its call retried ``cluster.max_retries`` times;
    past that the error is raised (the stage stops, its finished outputs stay, a rerun resumes).
    """
    ray = connect(cluster)
    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_actor, max_restarts=cluster.max_retries,
                        max_task_retries=cluster.max_retries)(cls)
    pool = [remote.remote(*args) for _ in range(max(1, actors))]
    queue = collections.deque()
    for k, (key, call_args) in enumerate(items):
        queue.append((key, pool[k % len(pool)].run.remote(*call_args)))
        if len(queue) >= depth * len(pool):
            key, ref = queue.popleft()
            yield key, ray.get(ref)
    while queue:
        key, ref = queue.popleft()
        yield key, ray.get(ref)

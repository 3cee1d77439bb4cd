"""Run many episodes with bounded concurrency, streaming results to JSONL, resumable after a crash.

Episodes wait on I/O (model servers, tools), so one asyncio loop with N workers is the engine on
one machine. Each finished episode is appended to the output file as one JSON line, flushed at
once; the file is therefore always a prefix of complete records plus, after a crash, at most one
torn line. On restart, :func:`run_tasks` drops the torn line, skips every task id already written
and runs the rest: nothing is lost and nothing is written twice.

A task is a dict with a ``question`` and an ``id`` (or ``task_id``); other keys (``answer``,
``root_url``, ...) are passed through to the episode function untouched.

For many machines, :class:`RayExecutor` (extra ``distributed``) runs shards of the task list as
Ray tasks, each with this same asyncio runner inside.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent import aio
from webagent import trajectory as T
from webagent.jsonl import dumps_line, iter_lines, read_jsonl, split_lines
from webagent.secrets import redact
from webagent.trajectory import Trajectory

log = logging.getLogger(__name__)

Episode = Callable[[dict[str, Any]], Awaitable[Trajectory | dict[str, Any]]]


def task_id(task: dict[str, Any]) -> str:
    """The stable id of a task: its ``id``/``task_id``, else a hash of the question."""
    for key in ("id", "task_id"):
        if task.get(key) not in (None, ""):
            return str(task[key])
    if not task.get("question"):
        raise ValueError(f"a task needs an 'id' or a 'question': {str(task)[:200]}")
    return "q-" + hashlib.sha1(str(task["question"]).encode()).hexdigest()[:12]


@dataclass
class RunSummary:
    """What a call to :func:`run_tasks` did."""

    done: int = 0
    """Episodes run and written by this call."""
    skipped: int = 0
    """Tasks already present in the output (resume) or repeated in the input."""
    failed: dict[str, str] = field(default_factory=dict)
    """Task id -> error, for episodes that raised (not written; a later resume retries them)."""
    seconds: float = 0.0


def completed_ids(path: str | os.PathLike) -> set[str]:
    """Ids already in a results file, repairing a torn last line left by a crash."""
    path = Path(path)
    if not path.exists():
        return set()
    data = path.read_bytes()
    good = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
    if good < len(data):
        log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", path, len(data) - good)
        with open(path, "r+b") as f:
            f.truncate(good)
    ids = set()
    for n, line in enumerate(split_lines(data[:good].decode("utf-8")), 1):
        if not line.strip():
            continue
        try:
            ids.add(str(json.loads(line)["task_id"]))
        except (json.JSONDecodeError, KeyError) as e:
            raise ValueError(f"{path}:{n} is not a result record ({e}); refusing to append to it") from None
    return ids


async def run_tasks(
    tasks: Iterable[dict[str, Any]],
    episode: Episode,
    out_path: str | os.PathLike,
    *,
    concurrency: int = 16,
    resume: bool = True,
    fsync: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_failure: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> RunSummary:
    """Run ``episode(task)`` for every task not yet in ``out_path``, ``concurrency`` at a time.

    ``resume=False`` starts a fresh file. ``fsync=True`` also forces each line to disk (survives a
    power cut, not only a killed process). ``on_result`` sees each record as it is written.

    An episode that raises is written as a failed episode (``on_failure(task, reason)``, default
    :func:`failed_record`; the reason is in ``summary.failed``), so a resume does not run it
    again and again. Only an interrupted run leaves episodes to do.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if not resume and out_path.exists():
        out_path.unlink()
    done = completed_ids(out_path)
    summary, start = RunSummary(), time.perf_counter()
    queue = _pending(tasks, done, summary)
    # A plain blocking file is deliberate: one short append + flush per finished episode.
    with open(out_path, "a", encoding="utf-8") as out:  # noqa: ASYNC230

        async def worker() -> None:
            for tid, task in queue:  # a shared iterator: each task is taken by exactly one worker
                try:
                    result = await episode(task)
                    record = result.to_dict() if isinstance(result, Trajectory) else dict(result)
                    record["task_id"] = tid
                    line = dumps_line(record)
                except Exception as e:  # one bad episode must not stop the run
                    # Recorded as a failed episode, not left to be retried: an exception here is
                    # a property of the task (or the code), and a resume would only meet it again.
                    reason = redact(f"{type(e).__name__}: {e}")
                    log.warning("task %s failed: %s", tid, reason)
                    summary.failed[tid] = reason
                    record = (on_failure or failed_record)(task, reason)
                    record["task_id"] = tid
                    line = dumps_line(record)
                out.write(line)  # one write per record
                out.flush()
                if fsync:
                    os.fsync(out.fileno())
                summary.done += tid not in summary.failed
                if on_result is not None:
                    on_result(record)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    summary.seconds = time.perf_counter() - start
    return summary


def failed_record(task: dict[str, Any], reason: str) -> dict[str, Any]:
    """The record of an episode that raised: a trajectory with no steps, termination
    ``episode error``, judged wrong, the reason in ``meta["error"]``."""
    traj = Trajectory(question=str(task.get("question") or ""), gold=task.get("answer"),
                      termination=T.EPISODE_ERROR)
    traj.meta["error"] = reason
    return {**traj.to_dict(), "correct": False}


def _pending(tasks: Iterable[dict[str, Any]], done: set[str], summary: RunSummary):
    seen = set(done)
    for task in tasks:
        tid = task_id(task)
        if tid in seen:
            summary.skipped += 1
            continue
        seen.add(tid)
        yield tid, task


def read_tasks(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSONL task file, with the line number in any error."""
    return read_jsonl(path, torn_ok=False)


def read_results(path: str | os.PathLike) -> list[Trajectory]:
    """Load the trajectories of a results file."""
    return [Trajectory.from_json(line) for _, line in iter_lines(path) if line.strip()]


# ---------------------------------------------------------------------------------------------
# Many machines


class RayExecutor:
    """Run shards of a task list on a Ray cluster, one asyncio runner per shard.

    ``make_episode`` must be picklable and build the episode function *inside* the worker (models,
    tools and HTTP clients are per-process). Each shard writes ``{out_dir}/shard-{i}.jsonl``, so
    shards resume independently; :meth:`run` returns the shard paths.
    """

    def __init__(self, make_episode: Callable[[], Episode], *, shards: int = 4, concurrency: int = 16,
                 ray_address: str | None = None, num_cpus: int | None = None):
        try:
            import ray
        except ImportError as e:
            raise ImportError("RayExecutor needs ray: pip install 'webagent[distributed]'") from e
        self.ray = ray
        self.make_episode, self.shards, self.concurrency = make_episode, shards, concurrency
        self.init_kwargs = {"address": ray_address, "num_cpus": num_cpus, "include_dashboard": False,
                            "ignore_reinit_error": True, "log_to_driver": False}

    def run(self, tasks: list[dict[str, Any]], out_dir: str | os.PathLike) -> list[Path]:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(**{k: v for k, v in self.init_kwargs.items() if v is not None})
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Shard by a hash of the id, so a task lands in the same shard on every resume.
        parts: list[list[dict[str, Any]]] = [[] for _ in range(self.shards)]
        for t in tasks:
            parts[int(hashlib.sha1(task_id(t).encode()).hexdigest(), 16) % self.shards].append(t)
        remote = ray.remote(_run_shard)
        paths = [out_dir / f"shard-{i}.jsonl" for i in range(self.shards)]
        refs = [remote.remote(self.make_episode, part, str(p), self.concurrency) for part, p in zip(parts, paths, strict=True)]
        ray.get(refs)
        return paths


def _run_shard(make_episode: Callable[[], Episode], tasks: list[dict[str, Any]], path: str, concurrency: int) -> int:
    summary = aio.run(run_tasks(tasks, make_episode(), path, concurrency=concurrency))
    return summary.done

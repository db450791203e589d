"""Spreading independent batch work over the machine's CPUs with forked processes.

Leaderboard verification (one task per submission) and static faithfulness over large
batches (one task per chunk of samples) are pure Python per item, so threads would share one
interpreter lock; processes do not. Workers are forked, so they inherit the task (the
verifier's datasets, the scorer's catalog automaton and evidence) instead of receiving it
pickled: only the task's index goes out and its result comes back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_task: Callable[[int], object] | None = None


def available_cpus() -> int:
    """CPUs this process may run on (its affinity, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def fork_map(task: Callable[[int], T], count: int, jobs: int | None = None) -> list[T]:
    """``[task(0), …, task(count - 1)]``, in up to ``jobs`` forked processes (default: one
    per available CPU). Runs in this process where forking is not possible or would not help:
    one job or task, a platform without fork, or inside another ``fork_map`` (a worker, or
    this process running a first task: no nesting)."""
    global _task
    jobs = min(jobs or available_cpus(), count)
    if (
        jobs < 2
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon
        or _task is not None
    ):
        return [task(index) for index in range(count)]
    _task = task
    context = multiprocessing.get_context("fork")
    try:
        if count > jobs:
            with ProcessPoolExecutor(jobs, mp_context=context) as pool:
                return list(pool.map(_run, range(count)))
        # No more tasks than processes: this process takes the first one itself instead of
        # waiting, and its result is never pickled.
        with ProcessPoolExecutor(count - 1, mp_context=context) as pool:
            rest = pool.map(_run, range(1, count))
            first = task(0)
            return [first, *rest]
    finally:
        _task = None


def map_in_chunks(
    work: Callable[[range], list[T]], count: int, min_chunk: int, jobs: int | None = None
) -> list[T]:
    """``work`` over ``count`` items split into contiguous ranges, one per process (up to
    ``jobs``, default one per CPU), each of at least ``min_chunk`` items (fewer items: one
    range, in this process); the ranges' results concatenated in item order."""
    chunks = max(1, min(jobs or available_cpus(), count // min_chunk))
    size = -(-count // chunks)
    parts = fork_map(lambda k: work(range(k * size, min(count, (k + 1) * size))), chunks, chunks)
    return [result for part in parts for result in part]


def _run(index: int):
    return _task(index)

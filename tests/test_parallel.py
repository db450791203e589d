"""fork_map: forked workers give what a loop gives, in order, and never nest."""

from __future__ import annotations

import os

from r2rec_bench.parallel import fork_map


def test_results_come_back_in_task_order_from_several_processes():
    squares = fork_map(lambda k: (k * k, os.getpid()), 7, jobs=2)
    assert [value for value, _ in squares] == [k * k for k in range(7)]
    assert os.getpid() not in {pid for _, pid in squares}  # more tasks than jobs: all in workers


def test_the_calling_process_takes_the_first_task_when_tasks_do_not_outnumber_jobs():
    pids = fork_map(lambda k: os.getpid(), 2, jobs=2)
    assert pids[0] == os.getpid() != pids[1]


def test_a_fork_map_inside_a_task_runs_in_that_process():
    def outer(k: int) -> list[int]:
        here = os.getpid()
        return [pid == here for pid in fork_map(lambda j: os.getpid(), 3, jobs=2)]

    assert fork_map(outer, 2, jobs=2) == [[True] * 3, [True] * 3]


def test_one_job_runs_in_this_process():
    assert fork_map(lambda k: os.getpid(), 3, jobs=1) == [os.getpid()] * 3

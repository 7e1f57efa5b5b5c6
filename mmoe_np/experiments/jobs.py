"""The one job runner: independent jobs on one core, on joblib processes, or on a Dask cluster.

Every job runs with the same thread settings -- one BLAS thread and one numba thread --
whatever the executor and whatever the calling process had. Summation order inside a matrix
product depends on the number of threads, so a job that inherited the caller's two BLAS
threads gave results 1 ulp away from the same job on a one-thread worker (issue 11). With
fixed threads, serial, joblib and Dask runs of the same jobs give bit-identical numbers on a
machine, and parallelism comes from running jobs side by side.

    results = run_jobs(fn, [dict(a=1), dict(a=2)], executor="joblib", n_jobs=2)

returns ``[fn(a=1), fn(a=2)]`` in job order.
"""
from __future__ import annotations

import contextlib
import functools

from .. import _checks
from ..progress import bar as progress_bar

EXECUTORS = ("serial", "joblib", "dask")


@contextlib.contextmanager
def one_thread():
    """Run the block with one BLAS thread and one numba thread, then restore both."""
    from threadpoolctl import threadpool_limits
    numba_threads = None
    try:
        import numba
        numba_threads = numba.get_num_threads()
        numba.set_num_threads(1)
    except (ImportError, ValueError):     # pragma: no cover - numba is a dependency
        pass
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if numba_threads is not None:
            import numba
            numba.set_num_threads(numba_threads)


def _in_one_thread(fn, job):
    with one_thread():
        return fn(**job)


def run_jobs(fn, jobs, executor="serial", n_jobs=None, scheduler=None, progress=False, desc="jobs"):
    """``[fn(**job) for job in jobs]``, each job with fixed threads (see :func:`one_thread`).

    ``executor``: 'serial' (this process), 'joblib' (``n_jobs`` processes; -1 or None: one per
    core) or 'dask' (``scheduler``: an address such as ``tcp://host:8786`` or a
    ``distributed.Client``). For backward compatibility ``executor`` may be omitted and
    ``n_jobs`` > 1 given: that means joblib. Results come back in job order.
    """
    jobs = list(jobs)
    if executor == "serial" and n_jobs not in (None, 1) and scheduler is None:
        executor = "joblib"
    _checks.choice("executor", executor, EXECUTORS)
    task = functools.partial(_in_one_thread, fn)
    bar = progress_bar(total=len(jobs), show=progress, desc=desc, unit="job")
    results = [None] * len(jobs)
    try:
        if executor == "serial":
            for i, job in enumerate(jobs):
                results[i] = task(job)
                bar.update(1)
        elif executor == "joblib":
            from joblib import Parallel, delayed
            parallel = Parallel(n_jobs=n_jobs or -1, return_as="generator_unordered", batch_size=1)
            for i, result in parallel(delayed(_numbered)(task, i, job) for i, job in enumerate(jobs)):
                results[i] = result
                bar.update(1)
        else:
            from distributed import Client, as_completed
            client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
            try:
                futures = {client.submit(task, job, pure=False): i for i, job in enumerate(jobs)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
            finally:
                if not isinstance(scheduler, Client):
                    client.close()
    finally:
        bar.close()
    return results


def _numbered(task, i, job):
    return i, task(job)

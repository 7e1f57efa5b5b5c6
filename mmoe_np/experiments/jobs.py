"""The one job runner: independent jobs on one core, on joblib processes, or on a Dask cluster.

Every job runs with the same thread settings -- one BLAS thread and one numba thread --
whatever the executor and whatever the calling process had. Summation order inside a matrix
product depends on the number of threads, so a job that inherited the caller's two BLAS
threads gave results 1 ulp away from the same job on a one-thread worker (issue 11). With
fixed threads, serial, joblib and Dask runs of the same jobs give bit-identical numbers on a
machine, and parallelism comes from running jobs side by side.

    results = run_jobs(fn, [dict(a=1), dict(a=2)], executor="joblib", n_jobs=2)

returns ``[fn(a=1), fn(a=2)]`` in job order.

Nothing keeps running after its parent is gone. A joblib worker process watches the process
that started the jobs (:func:`watch_parent`) and exits within a second when it ends, however
it ends (SIGKILL included); when the parent is interrupted (Ctrl-C, or SIGTERM/SIGHUP turned
into an interruption by the CLI), joblib's abort terminates the workers at once. On Dask, a
cluster that cannot be reached, or that has had no workers for ``dask_timeout`` seconds
(default :data:`DASK_TIMEOUT`), ends the run with a one-line :class:`ClusterError`.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
import time

from .. import _checks
from ..progress import bar as progress_bar

EXECUTORS = ("serial", "joblib", "dask")
DASK_TIMEOUT = 60.0        # seconds without a reachable scheduler or without any worker before giving up
WATCH_INTERVAL = 0.5       # seconds between a worker's checks that its parent is alive


class ClusterError(ValueError):
    """The Dask cluster cannot run the jobs (unreachable, no workers, a job that kills its workers)."""


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


_watched = None            # the parent pid this worker process watches (one watchdog per process)


def watch_parent(parent_pid, interval=WATCH_INTERVAL):
    """In a worker process: exit at once when process ``parent_pid`` (the one that started the jobs) is
    gone -- killed, crashed or ended -- instead of finishing work nobody will read. A daemon thread
    checks every ``interval`` seconds whether the worker was re-parented or ``parent_pid`` no longer
    exists. Does nothing in the parent itself; starts one thread per process."""
    global _watched
    if os.getpid() == parent_pid or _watched == parent_pid:
        return
    _watched = parent_pid
    first_parent = os.getppid()

    def alive():
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:            # pragma: no cover - exists, owned by another user
            return True
        return os.getppid() == first_parent

    def watch():
        while alive():
            time.sleep(interval)
        os._exit(70)                      # no clean-up to do: the results had nowhere to go

    threading.Thread(target=watch, name="mmoe-np-parent-watchdog", daemon=True).start()


def _in_worker(fn, parent_pid, job):
    watch_parent(parent_pid)
    return _in_one_thread(fn, job)


def run_jobs(fn, jobs, executor="serial", n_jobs=None, scheduler=None, progress=False, desc="jobs",
             on_result=None, dask_timeout=DASK_TIMEOUT):
    """``[fn(**job) for job in jobs]``, each job with fixed threads (see :func:`one_thread`).

    ``executor``: 'serial' (this process), 'joblib' (``n_jobs`` processes; -1 or None: one per
    core) or 'dask' (``scheduler``: an address such as ``tcp://host:8786`` or a
    ``distributed.Client``). For backward compatibility ``executor`` may be omitted and
    ``n_jobs`` > 1 given: that means joblib. Results come back in job order.

    ``on_result(i, result)``, if given, is called in this process as soon as job ``i`` finishes (in
    the order jobs finish), e.g. to save each result before the next one arrives.
    ``dask_timeout``: seconds to wait for the scheduler to answer, and for a worker to join when the
    cluster has none, before a :class:`ClusterError`.
    """
    jobs = list(jobs)
    if executor == "serial" and n_jobs not in (None, 1) and scheduler is None:
        executor = "joblib"
    _checks.choice("executor", executor, EXECUTORS)
    bar = progress_bar(total=len(jobs), show=progress, desc=desc, unit="job")
    results = [None] * len(jobs)

    def done(i, result):
        results[i] = result
        if on_result is not None:
            on_result(i, result)
        bar.update(1)

    try:
        if executor == "serial":
            for i, job in enumerate(jobs):
                done(i, _in_one_thread(fn, job))
        elif executor == "joblib":
            from joblib import Parallel, delayed
            task = functools.partial(_in_worker, fn, os.getpid())
            parallel = Parallel(n_jobs=n_jobs or -1, return_as="generator_unordered", batch_size=1)
            for i, result in parallel(delayed(_numbered)(task, i, job) for i, job in enumerate(jobs)):
                done(i, result)
        else:
            _run_on_dask(functools.partial(_in_one_thread, fn), jobs, scheduler, dask_timeout, done)
    finally:
        bar.close()
    return results


def _numbered(task, i, job):
    return i, task(job)


def _run_on_dask(task, jobs, scheduler, timeout, done, poll=1.0):
    """Every job on a Dask cluster; ``done(i, result)`` as each finishes. One-line errors for an unreachable
    scheduler, a cluster without workers for ``timeout`` seconds, and a job that kills its workers."""
    from distributed import Client, KilledWorker, wait
    timeout = _checks.real("dask_timeout", timeout, low=0.0, low_open=True)
    if isinstance(scheduler, Client):
        client, address = scheduler, getattr(scheduler.scheduler, "address", "the scheduler")
    else:
        address = scheduler
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                               f"({type(err).__name__}); check the address and that the scheduler runs") from None
    try:
        futures = {client.submit(task, job, pure=False): i for i, job in enumerate(jobs)}
        pending, no_workers_since = set(futures), None
        while pending:
            try:
                finished, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
            except TimeoutError:
                finished = set()
            for future in finished:
                try:
                    result = future.result()
                except KilledWorker as err:
                    raise ClusterError(f"a job killed every Dask worker it ran on ({err}); the cluster at {address} "
                                       "cannot run it") from None
                done(futures[future], result)
            if finished:
                no_workers_since = None
                continue
            workers = _count_workers(client)
            if workers:
                no_workers_since = None
            elif no_workers_since is None:
                no_workers_since = time.monotonic()
            elif time.monotonic() - no_workers_since > timeout:
                state = "no workers" if workers == 0 else "not answered"
                raise ClusterError(f"the Dask cluster at {address} has had {state} for {timeout:g} s, with "
                                   f"{len(pending)} of {len(jobs)} jobs unfinished; start workers "
                                   "(dask worker ADDRESS) and run the same command again")
    finally:
        if not isinstance(scheduler, Client):
            client.close(timeout=timeout)


def _count_workers(client):
    """The number of workers the scheduler knows (None: the scheduler did not answer)."""
    try:
        return len(client.nthreads())
    except Exception:               # the scheduler is gone or unreachable: as bad as no workers
        return None

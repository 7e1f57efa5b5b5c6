"""Sweeps that survive being killed, and nothing left running after they are: real signals on small runs."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mmoe_np.__main__ import main

REPO = Path(__file__).resolve().parent.parent
SMALL = ["reproduce", "fig4", "--runs", "4", "--pilot-runs", "0", "--lrs", "1e-2", "--steps", "40", "--eval-every",
         "20", "--chunk-runs", "1", "--backend", "numpy", "--no-progress"]
LONG = ["reproduce", "fig4", "--runs", "4", "--pilot-runs", "0", "--lrs", "1e-2", "--steps", "1000000", "--chunk-runs",
        "1", "--jobs", "2", "--backend", "numpy", "--no-progress"]


def default_signals():
    """In the child: SIGINT as in a terminal (a test run in the background inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "mmoe_np", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)


def children(pid):
    """Pids of the processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def running(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def loky_workers(pid):
    def is_worker(child):
        try:
            return b"popen_loky" in (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            return False
    return [c for c in children(pid) if is_worker(c)]


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")


@needs_proc
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stopped_sweep_ends_its_workers_keeps_its_chunks_and_says_how_to_continue(tmp_path, signum):
    """SIGTERM once exited 143 with no message and left two loky workers at full CPU; SIGHUP is a closed terminal."""
    out = tmp_path / "out"
    proc = start([*LONG, "--out", str(out), "--figures", str(tmp_path / "figures")], tmp_path)
    try:
        wait_for(lambda: len(loky_workers(proc.pid)) == 2, 120, "two workers")
        workers = loky_workers(proc.pid)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err
    line = err.strip().splitlines()[-1]
    assert line.startswith(("interrupted:", f"stopped by {signal.Signals(signum).name}:")), err
    assert f"chunks of runs are saved in {out}; the same command continues from there: python -m mmoe_np " in line
    assert (out / "chunks" / "manifest.json").exists()
    wait_for(lambda: not any(running(w) for w in workers), 15, "the workers to end")


@needs_proc
def test_workers_end_when_their_parent_is_killed_while_they_work(tmp_path):
    """A SIGKILL gives the parent no chance to clean up: each worker watches its parent and exits."""
    script = textwrap.dedent(f"""
        import os, time
        from mmoe_np.experiments.jobs import run_jobs

        def busy(i):
            open(os.path.join({str(tmp_path)!r}, f"started-{{i}}-{{os.getpid()}}"), "w").close()
            while True:
                sum(range(10_000))

        run_jobs(busy, [dict(i=0), dict(i=1)], executor="joblib", n_jobs=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list(tmp_path.glob("started-*"))) == 2, 120, "both jobs to start")
        workers = [int(p.name.split("-")[-1]) for p in tmp_path.glob("started-*")]
        assert all(running(w) for w in workers)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    wait_for(lambda: not any(running(w) for w in workers), 15, "the busy workers to end after their parent's SIGKILL")


def test_a_sweep_killed_with_sigkill_continues_and_ends_bit_identical(tmp_path):
    """Each finished chunk is on disk; the same sweep trains only the rest; a resumed sweep equals an
    uninterrupted one to the bit. (The CLI runs the same run_sweep; its resuming is tested above and below.)"""
    killed = tmp_path / "killed"
    script = textwrap.dedent(f"""
        from mmoe_np.experiments.sweep import run_sweep
        from tests_config import CONFIG
        run_sweep(CONFIG, out={str(killed)!r}, progress=False)
    """)
    (tmp_path / "tests_config.py").write_text(CONFIG_SOURCE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list((killed / "chunks").glob("runs-*.npz"))) >= 1, 300, "a finished chunk")
        proc.kill()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    kept = sorted(p.name for p in (killed / "chunks").glob("runs-*.npz"))
    assert 1 <= len(kept) < 3, (kept, proc.stderr.read()[-2000:])
    namespace = {}
    exec(CONFIG_SOURCE, namespace)
    from mmoe_np.experiments.sweep import run_sweep
    resumed = run_sweep(namespace["CONFIG"], out=killed, progress=False)        # no lock left behind by the kill
    whole = run_sweep(namespace["CONFIG"], progress=False)
    for key in ("curves_by_lr", "train_curves_by_lr", "val_final", "diverged", "curves", "chosen_lr_index"):
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)


CONFIG_SOURCE = """
from mmoe_np.experiments.sweep import SweepConfig
CONFIG = SweepConfig(correlations=(0.5, 1.0), runs=3, lrs=(1e-2,), steps=300, eval_every=100, n_train=256, n_val=64,
                     n_test=64, d=12, backend="numpy", runs_per_job=1)
"""


def test_other_settings_are_refused_in_one_line_and_a_finished_study_is_not_redone(tmp_path, capsys):
    out = tmp_path / "out"
    args = [*SMALL, "--figures", str(tmp_path / "figures"), "--jobs", "1", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    stamp = (out / "sweep.npz").stat().st_mtime_ns
    assert main(args) == 0
    assert "fig4: finished before with these settings; read from" in capsys.readouterr().out
    assert (out / "sweep.npz").stat().st_mtime_ns == stamp
    for change, words in ((["--seed", "9"], "seed 0 there, 9 here"), (["--steps", "60"], "steps 40 there, 60 here"),
                          (["--lrs", "1e-2", "1e-3"], "lrs [0.01] there, [0.01, 0.001] here")):
        assert main([*args, *change]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--out {out}: holds another study (" in err and words in err, err


def test_an_unfinished_sweep_with_other_settings_is_refused(tmp_path, capsys):
    from mmoe_np.experiments.store import ChunkStore
    folder = tmp_path / "out"
    ChunkStore(folder, {"steps": 40, "seed": 0}, runs=4, chunk_runs=1)
    with pytest.raises(ValueError, match=r"holds an unfinished sweep with other settings \(seed 0 there, 1 here\)"):
        ChunkStore(folder, {"steps": 40, "seed": 1}, runs=4, chunk_runs=1)
    assert ChunkStore(folder, {"steps": 40, "seed": 0}, runs=4, chunk_runs=2).chunk_runs == 1    # its own chunks


def test_two_runs_never_write_into_one_folder_at_once(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from mmoe_np.experiments import store
        with store.lock({str(tmp_path / 'out')!r}):
            print("locked", flush=True)
            time.sleep(120)
    """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = main([*SMALL, "--jobs", "1", "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "f")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1
        assert f"--out {tmp_path / 'out'}: another run is writing into this folder (pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "out" / "sweep.npz").exists()


def test_an_unreachable_dask_scheduler_is_one_line_within_the_timeout(tmp_path, capsys):
    """Once a 20-frame traceback after 32 s."""
    pytest.importorskip("distributed")
    start_time = time.monotonic()
    code = main([*SMALL, "--out", str(tmp_path / "out"), "--figures", str(tmp_path / "figures"), "--scheduler",
                 "tcp://127.0.0.1:1", "--dask-timeout", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 2 s" in err
    assert time.monotonic() - start_time < 60


def test_losing_every_dask_worker_ends_with_one_line(tmp_path):
    """Losing the only worker once made the client wait forever."""
    distributed = pytest.importorskip("distributed")
    import functools

    from mmoe_np.experiments.jobs import ClusterError, run_jobs
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--no-nanny", "--nthreads", "1", "--no-dashboard"], cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=120)
            threading_timer = __import__("threading").Timer(3, worker.kill)
            threading_timer.start()
            with pytest.raises(ClusterError, match=r"has had no workers for 2 s, with 2 of 2 jobs unfinished"):
                run_jobs(functools.partial(time.sleep, 600), [{}, {}], executor="dask", scheduler=client,
                         dask_timeout=2)
        finally:
            worker.kill()
            worker.wait()

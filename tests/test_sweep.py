"""The sweep engine: shapes, learning-rate selection, and the same numbers on every executor and chunking."""
import numpy as np
import pytest

from mmoe_np.experiments.jobs import one_thread, run_jobs
from mmoe_np.experiments.sweep import SweepConfig, run_sweep

SMALL = SweepConfig(correlations=(0.5, 1.0), runs=3, lrs=(1e-2, 1e-3), steps=30, eval_every=10, n_train=256,
                    n_val=64, n_test=64, d=12, backend="numba")


def test_sweep_shapes_and_lr_selection():
    result = run_sweep(SMALL, progress=False)
    assert result["curves_by_lr"].shape == (2, 3, 3, 2, 3)       # C, R, M, L, evals
    assert result["curves"].shape == (2, 3, 3, 3)
    assert result["chosen_lr_index"].shape == (2, 3)
    assert np.isfinite(result["curves"]).all() and np.isfinite(result["train_curves"]).all()
    score = result["val_final"].mean(axis=1)                       # (C, M, L)
    np.testing.assert_array_equal(result["chosen_lr_index"], score.argmin(axis=-1))


def test_serial_joblib_dask_and_any_chunking_give_identical_results():
    """Each job fixes its own threads (1 BLAS, 1 numba): bit-identical on any machine (issue 11)."""
    distributed = pytest.importorskip("distributed")
    config = SweepConfig(**{**SMALL.__dict__, "runs_per_job": 1})
    serial = run_sweep(config, executor="serial", progress=False)
    others = [run_sweep(SweepConfig(**{**SMALL.__dict__, "runs_per_job": 2}), executor="joblib", n_jobs=2,
                        progress=False),
              run_sweep(SweepConfig(**{**SMALL.__dict__, "runs_per_job": 3}), executor="serial", progress=False)]
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        others.append(run_sweep(config, executor="dask", scheduler=client, progress=False))
    again = run_sweep(config, executor="serial", progress=False)
    for other in others + [again]:
        for key in ("curves_by_lr", "train_curves_by_lr", "val_final"):
            np.testing.assert_array_equal(other[key], serial[key], err_msg=key)


def test_streamed_float32_and_single_task_baselines():
    config = SweepConfig(correlations=(0.5, 1.0), runs=2, lrs=(1e-2,), steps=20, eval_every=10, n_train=None,
                         n_val=32, n_test=32, d=10, models=("single_task", "shared_bottom", "mmoe"), dtype="float32")
    result = run_sweep(config, progress=False)
    assert result["curves"].shape == (2, 2, 3, 2) and np.isfinite(result["curves"]).all()
    assert result["curves"][..., -1].mean() < result["curves"][..., 0].mean() * 2


def test_chosen_learning_rates_per_model_and_correlation():
    config = SweepConfig(correlations=(0.5, 1.0), runs=2, lrs=(1e-3,), chosen_lrs={"mmoe": [1e-2, 1e-3]},
                         models=("shared_bottom", "mmoe"), steps=10, eval_every=10, n_train=100, n_val=20,
                         n_test=20, d=8)
    result = run_sweep(config, progress=False)
    np.testing.assert_array_equal(result["lr_table"][:, 1, 0], [1e-2, 1e-3])
    np.testing.assert_array_equal(result["lr_table"][:, 0, 0], [1e-3, 1e-3])


def test_the_job_runner_fixes_threads_and_keeps_job_order():
    import numba
    from threadpoolctl import threadpool_info

    def probe(i):
        return i, numba.get_num_threads(), max(p["num_threads"] for p in threadpool_info())
    before = numba.get_num_threads()
    assert run_jobs(probe, [dict(i=i) for i in range(3)]) == [(i, 1, 1) for i in range(3)]
    assert numba.get_num_threads() == before
    with one_thread():
        assert numba.get_num_threads() == 1
    with pytest.raises(ValueError, match="executor must be one of"):
        run_jobs(probe, [], executor="threads")


def test_bad_sweep_settings_are_clear_errors():
    with pytest.raises(ValueError, match="runs must be a positive integer"):
        run_sweep(SweepConfig(runs=0), progress=False)
    with pytest.raises(ValueError, match="chosen_lrs\\['mmoe'\\] needs one rate per correlation"):
        run_sweep(SweepConfig(chosen_lrs={"mmoe": [1e-3]}), progress=False)
    with pytest.raises(ValueError, match="models must be one of"):
        run_sweep(SweepConfig(models=("transformer",)), progress=False)


def test_annealed_sweep_differs_only_at_the_end_and_is_recorded_only_when_used():
    from mmoe_np.experiments.sweep import config_dict
    base = SweepConfig(correlations=(1.0,), runs=2, lrs=(1e-2,), steps=20, eval_every=5, n_train=256,
                       models=("mmoe",))
    annealed = SweepConfig(**{**base.__dict__, "anneal": 0.5})
    a, b = run_sweep(base, progress=False), run_sweep(annealed, progress=False)
    np.testing.assert_array_equal(a["curves"][..., :2], b["curves"][..., :2])   # steps 5, 10
    assert not np.array_equal(a["curves"][..., 2:], b["curves"][..., 2:])
    assert "anneal" not in config_dict(base) and config_dict(annealed)["anneal"] == 0.5
    with pytest.raises(ValueError, match="anneal"):
        run_sweep(SweepConfig(**{**base.__dict__, "anneal": 1.5}), progress=False)

"""The synthetic reproduction sweep: end to end, and the same numbers on every executor."""
import json

import numpy as np
import pytest

from mmoe_np.__main__ import main
from mmoe_np.experiments.sweep import SweepConfig, run_sweep

SMALL = SweepConfig(correlations=(0.5, 1.0), runs=2, lrs=(1e-2, 1e-3), steps=30, eval_every=10, n_train=256,
                    n_val=64, n_test=64, backend="numpy")


def test_sweep_shapes_and_lr_selection():
    result = run_sweep(SMALL, progress=False)
    assert result["curves_by_lr"].shape == (2, 2, 3, 2, 3)       # C, R, M, L, evals
    assert result["curves"].shape == (2, 2, 3, 3)
    assert result["chosen_lr_index"].shape == (2, 3)
    assert np.isfinite(result["curves"]).all()
    score = result["val_final"].mean(axis=1)                       # (C, M, L)
    np.testing.assert_array_equal(result["chosen_lr_index"], score.argmin(axis=-1))


def test_serial_joblib_and_dask_give_identical_results():
    distributed = pytest.importorskip("distributed")
    serial = run_sweep(SMALL, executor="serial", progress=False)
    parallel = run_sweep(SMALL, executor="joblib", n_jobs=2, progress=False)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        dask = run_sweep(SMALL, executor="dask", scheduler=client, progress=False)
    for other in (parallel, dask):
        np.testing.assert_array_equal(other["curves_by_lr"], serial["curves_by_lr"])
        np.testing.assert_array_equal(other["val_final"], serial["val_final"])


def test_reproduce_cli_writes_raw_results_summary_and_figures(tmp_path, capsys):
    out, figures = tmp_path / "out", tmp_path / "figures"
    code = main(["reproduce", "all", "--runs", "3", "--steps", "20", "--n-train", "200", "--correlations", "0.5",
                 "1.0", "--jobs", "1", "--backend", "numpy", "--no-progress", "--out", str(out),
                 "--figures", str(figures)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "| MMoE | 0.5 |" in text and "95% CI" in text
    assert "Paired by run" in text and "| MMoE vs Shared-Bottom | 0.5 |" in text
    for name in ("sweep.npz", "per_run.csv", "summary.csv", "config.json"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "config.json").read_text())["runs"] == 3
    with np.load(out / "sweep.npz", allow_pickle=False) as f:
        assert f["curves"].shape[:3] == (2, 3, 3)
    for fig in ("reproduce_fig2.png", "reproduce_fig3.png", "reproduce_fig4.png", "reproduce_fig5.png"):
        assert (figures / fig).stat().st_size > 5000
    rows = (out / "per_run.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 3 * 3


def test_reproduce_bad_option_is_one_line(capsys):
    assert main(["reproduce", "fig4", "--runs", "0", "--no-progress"]) == 2
    assert "runs must be a positive integer" in capsys.readouterr().err

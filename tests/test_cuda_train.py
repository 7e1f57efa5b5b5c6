"""Training stays on the GPU (mmoe_np/kernels/cuda_train.py), under the simulator or on a GPU.

A recording shim counts what crosses between host and device: a steady step uploads nothing,
allocates nothing and copies back one small array, its losses, for every model, with one run
and with a run axis -- and gives the NumPy oracle's numbers (float64 within 1e-10), as do
``fit``, the divergence guard, the host copy read mid-training, and a sweep. Shapes are tiny
and steps few: the simulator runs every CUDA thread as a Python thread (each step is some
20-60 launches), so these tests are sized to add seconds, not minutes, to the suite.
"""
import copy
import pickle
import re

import numpy as np
import pytest

import mmoe_np as mn
from mmoe_np import train
from mmoe_np.kernels.cuda_rows import SyntheticStream
from mmoe_np.kernels.cuda_traffic import record_traffic

pytestmark = pytest.mark.cuda

D = 3
SIZES = {mn.MMoE: dict(n_experts=2, expert_units=2), mn.OMoE: dict(n_experts=2, expert_units=2),
         mn.SharedBottom: dict(bottom_units=3), mn.SingleTask: dict(hidden_units=3),
         mn.CGC: dict(n_task_experts=1, n_shared_experts=2, expert_units=2),
         mn.PLE: dict(n_task_experts=1, n_shared_experts=1, expert_units=2, n_levels=2)}
ISSUE_MODELS = [mn.MMoE, mn.OMoE, mn.SharedBottom, mn.CGC, mn.PLE]


def build(cls, seed, backend="cuda", dtype=np.float64):
    return cls(n_features=D, tower_units=2, seed=seed, backend=backend, dtype=dtype, **SIZES[cls])


def data(n, tasks=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    Y = np.stack([np.sin(X[:, 0]) + X[:, 1], X[:, 1] * X[:, 2]], axis=-1)[:, :tasks]
    return X, Y


def close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=what)


def _same(out, label):
    """``out[backend] = (model, optimizer, history or None)``: the device's numbers are the oracle's."""
    (a, opt_a, h_a), (b, opt_b, h_b) = out["numpy"], out["cuda"]
    for name, value in a.params.items():
        close(b.params[name], value, f"{label}: {name}")
    if h_a is not None:
        for what, x, y in zip(("step", "train loss", "validation loss"), h_a.as_arrays(), h_b.as_arrays()):
            close(y, x, f"{label}: {what}")
    close(opt_b.m.flat, opt_a.m.flat, f"{label}: Adam's first moment")
    close(opt_b.v.flat, opt_a.v.flat, f"{label}: Adam's second moment")
    assert opt_a.t == opt_b.t


# ---------------------------------------------------------------------------------- traffic
@pytest.mark.parametrize("seed", [0, [0, 1]], ids=["one run", "a run axis"])
@pytest.mark.parametrize("cls", ISSUE_MODELS, ids=lambda c: c.__name__)
def test_a_steady_step_uploads_nothing_allocates_nothing_copies_back_its_losses_and_equals_numpy(cls, seed):
    """Two steps on batches drawn on the device (the first makes the buffers), the second recorded, at half
    the rate (``lr_scale``, as an annealing schedule sets it); the NumPy oracle takes the same batches (same
    generator) and must agree on losses, parameters, moments."""
    X, Y = data(12)
    targets = [Y[:, :1], Y[:, 1:]]
    trainers = {backend: mn.Trainer(build(cls, seed, backend), mn.Adam(lr=1e-2)) for backend in ("numpy", "cuda")}
    device = trainers["cuda"]
    assert device.resident is not None, "the cuda backend trains these models on the device"
    assert trainers["numpy"].resident is None
    sources = {"numpy": train.ArrayBatches(X, targets, 4, np.random.default_rng(0)),
               "cuda": device.resident.batches(X, targets, 4, np.random.default_rng(0))}
    for step in range(2):
        for trainer in trainers.values():
            trainer.optimizer.lr_scale = 1.0 if step == 0 else 0.5        # a schedule's scale (no upload)
        want = trainers["numpy"].step(*sources["numpy"].next_batch())
        with record_traffic() as traffic:
            got = device.step(*sources["cuda"].next_batch())
        close(got, want, f"step {step + 1}'s losses")
    model = device.model
    assert traffic.h2d == 0, f"{traffic}: {traffic.events}"
    assert traffic.allocations == 0, f"{traffic}: {traffic.events}"
    assert traffic.d2h == 1 and traffic.d2h_bytes == model.n_runs * model.n_tasks * 8, traffic.events
    assert traffic.launches > 0
    for trainer in trainers.values():
        trainer.finish()
    assert model.__dict__.get("_borrower") is None, "finish gives the parameters back"
    _same({b: (t.model, t.optimizer, None) for b, t in trainers.items()}, cls.__name__)


# --------------------------------------------------------------------------- fit
def test_fit_on_the_device_equals_the_numpy_oracle_and_moves_only_what_it_reports():
    """``fit`` with its own data per run (R, n, D), BCE on the second task, task weights, a validation set read
    every step, an epoch boundary at step 2, and a batch of 16 rows in 2 x 2 tiles: the weight gradients are split over
    the batch and summed in a fixed order. Step 2 allocates nothing, uploads the new epoch's
    order and copies back two small arrays: its losses and the validation losses that fit records."""
    from mmoe_np.kernels import cuda as cuda_kernels
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 20, D))
    Y = np.stack([X[..., 0] - X[..., 2], (X[..., 1] > 0).astype(float)], axis=-1)
    out, seen = {}, []
    for backend in ("numpy", "cuda"):
        model, opt = build(mn.MMoE, [1, 2], backend), mn.Adam(lr=1e-2)
        with cuda_kernels.launch_sizes(tile=2, threads=32), record_traffic() as traffic, \
                cuda_kernels.record_launches() as launches:
            history = mn.fit(model, X, Y, optimizer=opt, steps=2, batch_size=16, loss=["mse", "bce_with_logits"],
                             task_weights=[1.0, 0.5], eval_every=1, X_val=X[:, :5], Y_val=Y[:, :5], seed=[7, 8],
                             progress=False, on_eval=lambda *_: seen.append(traffic.row()[:3]) and False)
        out[backend] = (model, opt, history)
        assert model.__dict__.get("_borrower") is None, "fit gives the parameters back when it ends"
    _same(out, "fit")
    assert "sum_splits" in {launch.kernel for launch in launches}, "the test needs a weight gradient split"
    h2d, d2h, allocations = np.subtract(seen[-1], seen[-2])          # step 2 (a new epoch), on the device
    assert (h2d, d2h, allocations) == (1, 2, 0), f"the epoch's order up, the losses down: {seen}"


def test_float32_on_the_device_stays_close_to_float32_numpy():
    X, Y = data(12)
    got = {}
    for backend in ("numpy", "cuda"):
        model = build(mn.MMoE, 0, backend, dtype=np.float32)
        mn.fit(model, X, Y, steps=2, batch_size=4, optimizer=mn.Adam(lr=1e-2), progress=False)
        got[backend] = model.params.flat
    assert got["cuda"].dtype == np.float32
    np.testing.assert_allclose(got["cuda"], got["numpy"], rtol=2e-4, atol=2e-5)


def test_training_continues_where_the_last_fit_left_off():
    """One optimizer, two fits: the moments come back to the host at the end and go up again."""
    X, Y = data(12)
    out = {}
    for backend in ("numpy", "cuda"):
        model, opt = build(mn.SharedBottom, 0, backend), mn.Adam(lr=1e-2)
        for seed in (1, 2):
            history = mn.fit(model, X, Y, optimizer=opt, steps=1, batch_size=4, seed=seed, progress=False)
        out[backend] = (model, opt, history)
    _same(out, "second fit")


# ------------------------------------------------------------------------------ the guard
def test_a_diverging_run_is_restored_and_frozen_on_the_device_as_on_the_host():
    """Run 0 explodes at step 2: restored to its snapshot and frozen there, while run 1 trains on."""
    X, Y = data(12)
    out = {}
    for backend in ("numpy", "cuda"):
        model, opt = build(mn.MMoE, [0, 1], backend), mn.Adam(lr=np.array([30.0, 1e-2]))
        history = mn.fit(model, X, Y, optimizer=opt, steps=3, batch_size=4, eval_every=1, max_loss_ratio=1.5,
                         on_divergence="freeze", progress=False)
        out[backend] = (model, opt, history)
    diverged = out["numpy"][2].diverged
    assert diverged[0] > 0 and diverged[1] == 0, "the test needs run 0, and only run 0, to diverge"
    np.testing.assert_array_equal(out["cuda"][2].diverged, diverged)
    _same(out, "a frozen run")


def test_a_diverging_model_stops_with_the_hosts_message_and_parameters():
    X, Y = data(12)
    raised = {}
    for backend in ("numpy", "cuda"):
        model = build(mn.SharedBottom, 0, backend)
        with pytest.raises(mn.TrainingDiverged) as error:
            mn.fit(model, X, Y, optimizer=mn.Adam(lr=50.0), steps=6, batch_size=4, eval_every=2, max_loss_ratio=1.2,
                   progress=False)
        raised[backend] = (str(error.value), model.params.flat.copy())
        assert model.__dict__.get("_borrower") is None
    number = r"[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?"                      # the losses it names: to rounding
    (got, want) = (raised[b][0] for b in ("cuda", "numpy"))
    assert re.sub(number, "#", got) == re.sub(number, "#", want), (got, want)
    close(np.array(re.findall(number, got), float), np.array(re.findall(number, want), float), "the message's numbers")
    close(raised["cuda"][1], raised["numpy"][1], "the parameters kept")


# ------------------------------------------------------------------------------ the host copy
def test_reading_the_parameters_mid_training_brings_them_up_to_date_and_edits_reach_the_device():
    X, Y = data(12)
    batch = (X[:4], [Y[:4, :1], Y[:4, 1:]])                 # NumPy arrays: copied up at every step
    trainers = {backend: mn.Trainer(build(mn.SharedBottom, 0, backend), mn.Adam(lr=1e-2))
                for backend in ("numpy", "cuda")}
    for trainer in trainers.values():
        trainer.step(*batch)
    numpy_model, device_model = trainers["numpy"].model, trainers["cuda"].model
    close(device_model.params.flat, numpy_model.params.flat, "read after a step")
    for c in (copy.deepcopy(device_model), pickle.loads(pickle.dumps(device_model))):
        close(c.params.flat, numpy_model.params.flat, "a copy taken mid-training")
        assert c.__dict__.get("_borrower") is None
    for model in (numpy_model, device_model):
        model.params["output_bias"][...] += 0.5                 # an edit of the host copy
    for trainer in trainers.values():
        trainer.step(*batch)
        trainer.finish()
    close(device_model.params.flat, numpy_model.params.flat, "after an edit on the host")


# ------------------------------------------------------------------------------ sweeps
def _on_host(rows):
    """Device rows gathered with NumPy: what the device's gather kernel reads."""
    data, order = rows.data.copy_to_host(), rows.order.copy_to_host()
    return data[rows.sources[..., None], order[rows.order_rows][..., rows.start:rows.start + rows.rows]]


@pytest.mark.parametrize("n_train", [12, None], ids=["a fixed training set", "fresh samples"])
def test_a_synthetic_stream_on_the_device_draws_the_host_streams_batches_without_uploads_per_step(n_train):
    """12 training rows in batches of 4: an epoch every 3 steps, its order uploaded once; fresh samples: one
    block for all 7 steps, uploaded once."""
    make = lambda: mn.SyntheticRuns([4, 9], [0.5, 1.0], d=D, n_val=5, n_test=6, n_train=n_train)   # noqa: E731
    host, device = make(), SyntheticStream(make(), steps=7)
    for (X, Y), (dX, dY) in zip((host.validation, host.test), (device.validation, device.test)):
        close(_on_host(dX), X, "validation/test inputs")
        close(_on_host(dY[1]), Y[1], "validation/test targets")
    uploads = []
    for _ in range(7):
        with record_traffic() as traffic:
            X, Y = device.next_batch(4)
        uploads.append(traffic.h2d)
        want = host.next_batch(4)
        close(_on_host(X), want[0], "inputs")
        for y, w in zip(Y, want[1]):
            close(_on_host(y), w, "targets")
    assert uploads[1:] == ([0, 0, 1, 0, 0, 1] if n_train else [0] * 6)


def test_a_sweep_job_on_the_device_equals_the_numpy_oracle():
    """MMoE and the single-task nets (one more run axis: the task), the stream's data on the device."""
    from mmoe_np.experiments.sweep import SweepConfig, job
    sizes = {"mmoe": dict(n_experts=2, expert_units=2, tower_units=2),
             "single_task": dict(hidden_units=2, tower_units=2)}
    base = dict(runs=2, models=("mmoe", "single_task"), correlations=(0.5,), lrs=(1e-2,), n_train=8, batch_size=4,
                steps=1, eval_every=1, d=D, n_val=4, n_test=5, sizes=sizes)
    results = {backend: job(SweepConfig(**base, backend=backend), 0, [11, 12])[1] for backend in ("numpy", "cuda")}
    for key, want in results["numpy"].items():
        close(results["cuda"][key], want, key)

import numpy as np
import pytest

import mmoe_np as mn


def data_split():
    data = mn.make_synthetic(n=1200, d=10, p=0.9, seed=0)
    return data.split((0.75, 0.25))


def test_fit_reduces_loss_and_records_history():
    (X, Y), (Xv, Yv) = data_split()
    model = mn.MMoE(n_features=10, n_experts=4, expert_units=8, tower_units=4, seed=0)
    before = mn.evaluate(model, Xv, Yv)
    history = mn.fit(model, X, Y, X_val=Xv, Y_val=Yv, steps=300, batch_size=64, eval_every=100,
                     optimizer=mn.Adam(lr=1e-2), progress=False)
    steps, train, val = history.as_arrays()
    assert steps.tolist() == [100, 200, 300]
    assert train.shape == val.shape == (3, 2)
    assert np.all(val[-1] < before)
    np.testing.assert_allclose(val[-1], mn.evaluate(model, Xv, Yv))


def test_fit_is_reproducible():
    (X, Y), _ = data_split()
    runs = []
    for _ in range(2):
        model = mn.OMoE(n_features=10, n_experts=3, expert_units=4, seed=3)
        mn.fit(model, X, Y, steps=30, progress=False, seed=4)
        runs.append(model.params["expert_kernel"].copy())
    np.testing.assert_array_equal(*runs)


def test_task_weights_zero_freezes_a_tower():
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=3, expert_units=4, seed=0)
    before = model.params["output_kernel"][1].copy()
    mn.fit(model, X, Y, steps=10, task_weights=[1.0, 0.0], progress=False)
    np.testing.assert_array_equal(model.params["output_kernel"][1], before)


def test_divergence_names_the_step_and_keeps_good_parameters():
    (X, Y), _ = data_split()
    model = mn.SharedBottom(n_features=10, bottom_units=8, seed=0)
    with np.errstate(all="ignore"), pytest.raises(mn.TrainingDiverged, match=r"diverged at step \d+"):
        mn.fit(model, X, Y * 1e150, optimizer=mn.SGD(lr=1e10), steps=50, progress=False)
    assert all(np.isfinite(p).all() for p in model.params.values())


@pytest.mark.parametrize("cls", [mn.SharedBottom, mn.MMoE])
def test_an_exploding_loss_is_a_divergence_and_the_model_can_train_on(cls):
    """SGD at lr 100 once 'succeeded' with a loss of 1e270 and parameters of 1e150."""
    (X, Y), (Xv, Yv) = data_split()
    model = cls(n_features=10, seed=0)
    start = mn.evaluate(model, Xv, Yv).sum()
    with np.errstate(all="ignore"), pytest.raises(mn.TrainingDiverged) as err:
        mn.fit(model, X, Y, optimizer=mn.SGD(lr=100.0), steps=300, progress=False)
    assert "diverged at step" in str(err.value) and "times the first step's" in str(err.value)
    assert max(np.abs(p).max() for p in model.params.values()) < 100
    assert mn.evaluate(model, Xv, Yv).sum() < 10 * start
    mn.fit(model, X, Y, optimizer=mn.Adam(lr=1e-3), steps=100, progress=False)     # and training goes on


def test_fit_input_errors():
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3, seed=0)
    with pytest.raises(ValueError, match=r"Y must have shape \(900, 2\)"):
        mn.fit(model, X, Y[:10], progress=False)
    with pytest.raises(ValueError, match="Y must hold n_tasks=2 arrays"):
        mn.fit(model, X, [Y[:, :1]], progress=False)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        mn.fit(model, X, Y, steps=0, progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        mn.fit(model, X, Y, loss="l1", progress=False)
    with pytest.raises(ValueError, match=r"X must have shape"):
        mn.fit(model, X[:, :5], Y, progress=False)


def test_a_bad_gradient_at_the_last_step_is_caught():
    (X, Y), _ = data_split()
    model = mn.SharedBottom(n_features=10, bottom_units=8, seed=0)

    class PoisonLastStep(mn.SGD):
        calls = 0

        def step(self, params, grads):
            self.calls += 1
            if self.calls == 3:
                grads = {k: np.full_like(g, np.nan) for k, g in grads.items()}
            super().step(params, grads)

    with pytest.raises(mn.TrainingDiverged, match="last update made a parameter NaN"):
        mn.fit(model, X, Y, optimizer=PoisonLastStep(lr=0.01), steps=3, progress=False)
    assert all(np.isfinite(p).all() for p in model.params.values())


# ------------------------------------------------------------------ per-task inputs
def test_fit_with_per_task_inputs_and_per_task_losses():
    rng = np.random.default_rng(0)
    Xs = [rng.standard_normal((120, 6)), 2.0 * rng.standard_normal((80, 6))]
    Ys = [Xs[0][:, :1] ** 2, (Xs[1][:, 1] > 0).astype(float)]              # regression + classification
    model = mn.MMoE(n_features=6, n_tasks=2, n_experts=3, expert_units=4, tower_units=3, seed=0)
    before = mn.evaluate(model, Xs, Ys, loss=["mse", "bce_with_logits"])
    history = mn.fit(model, Xs, Ys, loss=["mse", "bce_with_logits"], steps=300, batch_size=32,
                     optimizer=mn.Adam(lr=1e-2), X_val=Xs, Y_val=Ys, eval_every=100, progress=False)
    after = mn.evaluate(model, Xs, Ys, loss=["mse", "bce_with_logits"])
    assert np.all(after < 0.7 * before)
    np.testing.assert_allclose(history.val_loss[-1], after)


def test_fit_per_task_task_weights_zero_freezes_a_tower():
    """Per-task inputs with task weights: weight 0 leaves that task's tower untouched."""
    data = mn.make_multitask(n=100, d=6, n_tasks=2, input_shift=0.5, seed=0)
    model = mn.SharedBottom(n_features=6, n_tasks=2, bottom_units=4, tower_units=3, seed=0)
    start = {k: v.copy() for k, v in model.params.items()}
    mn.fit(model, data.X, data.Y, steps=20, batch_size=16, task_weights=[1.0, 0.0], progress=False)
    # task 2's tower got no gradient (its weight is 0), task 1's did
    np.testing.assert_array_equal(model.params["tower_kernel"][1], start["tower_kernel"][1])
    assert not np.allclose(model.params["tower_kernel"][0], start["tower_kernel"][0])


def test_fit_per_task_errors():
    data = mn.make_multitask(n=50, d=6, n_tasks=2, input_shift=0.5, seed=0)
    model = mn.MMoE(n_features=6, n_tasks=2, n_experts=2, expert_units=3, seed=0)
    with pytest.raises(ValueError, match="Y must be a list of 2 target arrays too"):
        mn.fit(model, data.X, np.zeros((50, 2)), steps=1, progress=False)
    with pytest.raises(ValueError, match=r"Y\[1\] must have shape \(50, 1\)"):
        mn.fit(model, data.X, [data.Y[0], data.Y[1][:40]], steps=1, progress=False)
    with pytest.raises(ValueError, match="X_val must have the form of X"):
        mn.fit(model, data.X, data.Y, X_val=data.X[0], Y_val=np.zeros((50, 2)), steps=1, progress=False)
    with pytest.raises(ValueError, match="one loss per task"):
        mn.fit(model, data.X, data.Y, loss=["mse"], steps=1, progress=False)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(task_weights=[1.0, -0.5]), ValueError, "task_weights must be >= 0"),
    (dict(task_weights=[1.0, np.nan]), ValueError, "task_weights contains NaN"),
    (dict(task_weights=[1.0]), ValueError, "task_weights must have shape"),
    (dict(optimizer="adam"), TypeError, "optimizer must be an optimizer object"),
    (dict(optimizer=mn.Adam), TypeError, "got the class Adam itself"),
    (dict(seed=-1), ValueError, "seed must be a non-negative integer"),
    (dict(seed=1.5), TypeError, "seed must be a non-negative integer"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (dict(batch_size=2.5), TypeError, "batch_size must be a positive integer"),
    (dict(Y_val=np.zeros((10, 2))), ValueError, "Y_val is given without X_val"),
    (dict(X_val=np.zeros((10, 10))), ValueError, "X_val is given without Y_val"),
    (dict(loss=lambda p, y: 1.0), TypeError, "must return \\(loss, dpred\\)"),
    (dict(loss=lambda p, y: (1.0, p[:1])), ValueError, "dpred, a float array shaped like pred"),
    (dict(loss=lambda p, y: (np.ones(3), p)), ValueError, "one loss per run"),
    (dict(loss=3), TypeError, "loss must be one of"),
])
def test_fit_argument_errors_name_the_argument(kwargs, error, match):
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3, seed=0)
    with pytest.raises(error, match=match):
        mn.fit(model, X, Y, steps=2, progress=False, **kwargs)


def test_model_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -3"):
        mn.MMoE(n_features=4, seed=-3)
    with pytest.raises(TypeError, match="seed must be a non-negative integer"):
        mn.MMoE(n_features=4, seed="zero")
    with pytest.raises(TypeError, match="backend must be a string"):
        mn.MMoE(n_features=4, backend=None)
    with pytest.raises(TypeError, match="backend must be a string"):
        mn.SharedBottom(n_features=4, backend=["numba"])


def test_predict_and_evaluate_check_batch_size_and_zero_rows():
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3, seed=0)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            model.predict(X, batch_size=bad)
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            mn.evaluate(model, X, Y, batch_size=bad)
    with pytest.raises(TypeError, match="batch_size must be a positive integer"):
        model.predict(X, batch_size=1.5)
    empty = np.zeros((0, 10))
    assert [p.shape for p in model.predict(empty)] == [(0, 1), (0, 1)]      # documented: an empty result
    preds, _ = model.forward(empty)
    assert [p.shape for p in preds] == [(0, 1), (0, 1)]
    with pytest.raises(ValueError, match="X has no rows"):
        mn.evaluate(model, empty, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="X has no rows"):
        mn.fit(model, empty, np.zeros((0, 2)), steps=1, progress=False)
    with pytest.raises(ValueError, match=r"X\[1\] has no rows"):
        mn.fit(model, [X, empty], [Y[:, 0], np.zeros(0)], steps=1, progress=False)


def test_an_input_that_overflows_float32_is_reported_as_overflow():
    model = mn.MMoE(n_features=3, n_experts=2, expert_units=2, dtype=np.float32)
    with pytest.raises(ValueError, match=r"X overflows float32: 1e\+39 at index \(1, 2\)"):
        model.forward(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1e39]]))
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        model.forward(np.array([[0.0, 0.0, np.inf]]))


def test_fit_with_a_batch_source_streams_fresh_data():
    stream = mn.SyntheticRuns([3, 4], [0.5], d=6, n_val=40, n_test=40)
    model = mn.MMoE(n_features=6, n_experts=2, expert_units=3, seed=[[1], [2]])
    X_val, Y_val = stream.validation
    before = mn.evaluate(model, X_val, Y_val)
    history = mn.fit(model, stream, steps=200, batch_size=32, optimizer=mn.Adam(lr=1e-2), X_val=X_val, Y_val=Y_val,
                     eval_every=100, progress=False)
    assert np.asarray(history.val_loss).shape == (2, 2, 1, 2)            # (evaluations, runs..., tasks)
    assert np.all(mn.evaluate(model, X_val, Y_val) < before)


def test_targets_that_overflow_float32_and_bad_labels_fail_before_training():
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3, dtype=np.float32)
    start = model.params.flat.copy()
    big = Y.copy()
    big[5, 1] = 1e39
    with pytest.raises(ValueError, match=r"Y overflows float32: 1e\+39 at index \(5, 1\)"):
        mn.fit(model, X, big, steps=5, progress=False)
    labels = (Y > 0).astype(float)
    labels[-1, 0] = 2.0                                   # only the last row is bad: a late step would draw it
    with pytest.raises(ValueError, match=r"task 0 is trained with bce_with_logits.*got 2.0 at index \(899, 0\)"):
        mn.fit(model, X, labels, loss="bce_with_logits", steps=5, progress=False)
    np.testing.assert_array_equal(model.params.flat, start)


def test_a_batch_source_first_batch_is_checked_like_arrays():
    class Bad:
        def next_batch(self, batch_size):
            return np.full((batch_size, 10), np.nan), np.zeros((batch_size, 2))
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3)
    with pytest.raises(ValueError, match="the batch source's X contains NaN or inf"):
        mn.fit(model, Bad(), steps=3, progress=False)


@pytest.mark.parametrize("bad, error, match", [
    (lambda p, y: "0.5", TypeError, "must return \\(loss, dpred\\)"),
    (lambda p, y: ("high", p - y), TypeError, "loss as real numbers"),
    (lambda p, y: (np.zeros(3), p - y), ValueError, "one loss per run"),
    (lambda p, y: (0.0, (p - y)[:, 0]), ValueError, "dpred, a float array shaped like pred"),
])
def test_a_custom_loss_that_returns_the_wrong_thing_is_named(bad, error, match):
    (X, Y), _ = data_split()
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3)
    with pytest.raises(error, match=match):
        mn.fit(model, X, Y, loss=bad, steps=2, progress=False)
    with pytest.raises(error, match=match):
        mn.evaluate(model, X, Y, loss=bad)


def test_assigning_a_parameter_that_overflows_float32_is_an_error():
    model = mn.MMoE(n_features=3, n_experts=2, expert_units=2, dtype=np.float32)
    with pytest.raises(ValueError, match="overflows float32"):
        model.params["gate_bias"] = np.full(model.params["gate_bias"].shape, 1e40)


def test_data_seeds_are_checked_like_model_seeds():
    for make in (lambda s: mn.make_synthetic(n=10, d=3, seed=s), lambda s: mn.make_multitask(n=10, d=5, seed=s)):
        with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
            make(-1)
        with pytest.raises(TypeError, match="seed must be a non-negative integer"):
            make(0.5)


def test_a_run_whose_loss_turns_nan_is_frozen_with_its_gradients_and_moments_cleared():
    X = np.random.default_rng(0).standard_normal((64, 10))
    Y = np.random.default_rng(1).standard_normal((2, 64, 2))
    model = mn.MMoE(n_features=10, n_experts=2, expert_units=3, seed=[1, 2])
    opt = mn.Adam(lr=1e-2)
    trainer = mn.train.Trainer(model, opt, snapshot_every=2, on_divergence="freeze")
    targets = [Y[..., :1], Y[..., 1:]]
    for _ in range(3):
        trainer.step(X, targets)
    bad = [t.copy() for t in targets]
    bad[0][1, 0, 0] = np.nan                               # run 1's loss is NaN from here on
    trainer.step(X, bad)
    frozen = model.params.flat[1].copy()
    for _ in range(3):
        losses = trainer.step(X, bad)
    assert trainer.diverged[1] == 4 and trainer.diverged[0] == 0
    np.testing.assert_array_equal(model.params.flat[1], frozen)    # no update reaches a frozen run
    assert np.isfinite(model.params.flat).all() and np.isfinite(losses).all()

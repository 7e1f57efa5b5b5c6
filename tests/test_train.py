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

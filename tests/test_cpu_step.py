"""The fused training step (mmoe_np/kernels/cpu_step.py) against its oracle, the readable path
(model.forward, the losses, model.backward), and against central differences."""
import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mmoe_np as mn
from mmoe_np.gradcheck import compare, numerical_gradient
from mmoe_np.kernels import cpu_step
from mmoe_np.nn import losses

D = 7
MODELS = {
    "MMoE": lambda seed, dtype=np.float64: mn.MMoE(n_features=D, n_experts=3, expert_units=4, tower_units=3, seed=seed,
                                                   backend="numba", dtype=dtype),
    "OMoE": lambda seed, dtype=np.float64: mn.OMoE(n_features=D, n_tasks=3, n_experts=3, expert_units=4, tower_units=3,
                                                   out_units=2, seed=seed, backend="numba", dtype=dtype),
    "SharedBottom": lambda seed, dtype=np.float64: mn.SharedBottom(n_features=D, bottom_units=5, tower_units=3,
                                                                   seed=seed, backend="numba", dtype=dtype),
    "SingleTask": lambda seed, dtype=np.float64: mn.SingleTask(n_features=D, hidden_units=5, tower_units=3,
                                                               seed=seed, backend="numba", dtype=dtype),
}


def problem(model, B, lead=(), seed=0, bce=(), dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(lead + (B, D)).astype(dtype)
    Y = [rng.standard_normal(lead + (B, model.out_units)).astype(dtype) for _ in range(model.n_tasks)]
    for k in bce:
        Y[k] = (Y[k] > 0).astype(dtype)
    return X, Y


def readable(model, X, Y, loss_fns, weights=None):
    """The oracle: losses (*runs, K) and gradients from forward, the losses and backward."""
    preds, cache = model.forward(X)
    outs = [fn(p, y) for fn, p, y in zip(loss_fns, preds, Y)]
    w = np.ones(model.n_tasks) if weights is None else weights
    grads = model.backward(cache, [d * wk for (_, d), wk in zip(outs, w)])
    return np.stack([np.asarray(value) for value, _ in outs], axis=-1), grads


CASES = [(name, seed, B, lead) for name in MODELS
         for seed, lead in [(0, ()), ([3, 4, 5], ()), ([3, 4, 5], (3,)), ([[1, 2], [3, 4]], (2, 1))]
         for B in (1, 5, 64, 130)]


@pytest.mark.parametrize("name, seed, B, lead", CASES)
def test_fused_losses_and_gradients_equal_the_readable_path(name, seed, B, lead):
    model = MODELS[name](seed)
    bce = (1,) if model.n_tasks > 1 else ()
    fns = [losses.bce_with_logits if k in bce else losses.mse for k in range(model.n_tasks)]
    weights = np.linspace(0.5, 1.5, model.n_tasks)
    X, Y = problem(model, B, lead, bce=bce)
    step = cpu_step.fused_training(model, fns, weights)
    got = step.step(X, Y)
    want, grads = readable(model, X, Y, fns, weights)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    for key in model.params:
        np.testing.assert_allclose(step.grads[key], grads[key], rtol=1e-10, atol=1e-13, err_msg=key)


@pytest.mark.parametrize("name", list(MODELS))
def test_fused_gradients_pass_a_central_difference_check(name):
    model = MODELS[name]([2, 9])
    X, Y = problem(model, 11, (2,), seed=1)
    fns = [losses.mse] * model.n_tasks
    step = cpu_step.fused_training(model, fns)
    step.step(X, Y)
    analytic = step.grads.flat.copy()
    total = lambda: float(cpu_step.fused_training(model, fns).step(X, Y).sum())      # noqa: E731
    rng = np.random.default_rng(0)
    flat = model.params.flat
    indices = [tuple(int(i) for i in np.unravel_index(j, flat.shape)) for j in rng.choice(flat.size, 40, replace=False)]
    numeric = numerical_gradient(total, flat, indices=indices)
    picked = np.array([analytic[i] for i in indices])
    compare(f"{name} fused gradient", picked, np.array([numeric[i] for i in indices]), tol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_training_with_the_fused_step_equals_the_readable_path(name):
    """25 Adam steps of fit, one run and three stacked runs: the same parameters within 1e-10."""
    for seed in (0, [3, 4, 5]):
        runs = () if np.ndim(seed) == 0 else (3,)
        a, b = MODELS[name](seed), MODELS[name](seed)
        X, Y = problem(a, 200, runs, seed=2)
        Y = [y for y in Y] if a.out_units > 1 else np.concatenate(Y, axis=-1)
        for model, fused in ((a, True), (b, False)):
            mn.fit(model, X, Y, steps=25, batch_size=32, optimizer=mn.Adam(lr=1e-2), fused=fused, progress=False,
                   seed=7)
        np.testing.assert_allclose(a.params.flat, b.params.flat, rtol=1e-10, atol=1e-12)


def test_the_trainer_takes_the_fused_step_only_where_it_applies():
    def fused(model, **kw):
        return mn.Trainer(model, mn.Adam(), **kw).fused is not None
    assert fused(MODELS["MMoE"](0)) and fused(MODELS["SharedBottom"](0))
    assert fused(MODELS["MMoE"](0), loss="bce_with_logits")
    assert not fused(MODELS["MMoE"](0), fused=False)
    assert not fused(mn.MMoE(n_features=D, backend="numpy"))
    assert not fused(mn.CGC(n_features=D, backend="numba"))
    assert not fused(MODELS["MMoE"](0), loss=lambda p, y: losses.mse(p, y))


def test_the_fused_step_follows_new_parameters_and_batch_sizes(tmp_path):
    model = MODELS["MMoE"](0)
    fns = [losses.mse] * 2
    step = cpu_step.fused_training(model, fns)
    X, Y = problem(model, 9)
    step.step(X, Y)
    other = MODELS["MMoE"](5)
    model.load(other.save(tmp_path / "p"))                    # same buffer, new values
    for X, Y in (problem(model, 9), problem(model, 20, seed=4)):
        got = step.step(X, Y)
        want, grads = readable(model, X, Y, fns)
        np.testing.assert_allclose(got, want, rtol=1e-10)
        np.testing.assert_allclose(step.grads.flat, grads.flat, rtol=1e-10, atol=1e-13)


def test_nan_propagates_and_stops_training_as_in_the_readable_path():
    model = MODELS["MMoE"](0)
    X, Y = problem(model, 6)
    X[2, 3] = np.nan
    got = cpu_step.fused_training(model, [losses.mse] * 2).step(X, Y)
    assert np.isnan(got).all()
    trainer = mn.Trainer(model, mn.Adam())
    with pytest.raises(mn.TrainingDiverged, match="step 1"):
        trainer.step(X, Y)


def test_results_do_not_depend_on_the_number_of_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread on this machine")
    model = MODELS["MMoE"]([0, 1, 2, 3])
    X, Y = problem(model, 700, (4,))                           # 2,800 rows: the parallel pass
    step = cpu_step.fused_training(model, [losses.mse] * 2)
    results = []
    with threadpool_limits(1):
        for threads in (1, 2):
            numba.set_num_threads(threads)
            results.append((step.step(X, Y), step.grads.flat.copy()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("name", ["MMoE", "SharedBottom"])
def test_float32_fused_step_is_close_to_the_float64_oracle(name):
    """float32: the fused step computes in float32 (float32 products, float32 constants); its
    gradients are within 1e-4 (relative to the largest) of the float64 readable path's."""
    m32, m64 = MODELS[name](0, np.float32), MODELS[name](0, np.float64)
    X, Y = problem(m64, 300)
    step = cpu_step.fused_training(m32, [losses.mse] * 2)
    got = step.step(X.astype(np.float32), [y.astype(np.float32) for y in Y])
    want, grads = readable(m64, X, Y, [losses.mse] * 2)
    assert step.grads.flat.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.abs(step.grads.flat - grads.flat).max() / np.abs(grads.flat).max() < 1e-4


@pytest.mark.parametrize("name", ["MMoE", "OMoE", "SharedBottom"])
def test_the_fused_losses_equal_evaluate(name):
    """Trainer.evaluate (the fused pass's forward half, in parts of batch_size rows) equals evaluate()."""
    model = MODELS[name]([1, 2, 3])
    X, Y = problem(model, 1100, (3,), seed=5)
    trainer = mn.Trainer(model, mn.Adam(), loss=["mse"] + ["bce_with_logits"] * (model.n_tasks - 1))
    Y = [Y[0]] + [(y > 0).astype(float) for y in Y[1:]]
    assert trainer.fused is not None
    np.testing.assert_allclose(trainer.evaluate(X, Y, batch_size=512), mn.evaluate(model, X, Y, loss=trainer.loss_fns),
                               rtol=1e-10)

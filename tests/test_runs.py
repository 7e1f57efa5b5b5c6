"""The run axis: R runs trained as one model equal R separate fits with the same seeds."""
import numpy as np
import pytest

import mmoe_np as mn
from mmoe_np.gradcheck import check_model

D = 6
SIZES = {mn.MMoE: dict(n_experts=3, expert_units=4), mn.OMoE: dict(n_experts=3, expert_units=4),
         mn.SharedBottom: dict(bottom_units=5), mn.SingleTask: dict(hidden_units=5),
         mn.CGC: dict(n_task_experts=2, n_shared_experts=1, expert_units=3),
         mn.PLE: dict(n_task_experts=1, n_shared_experts=2, expert_units=3, n_levels=2)}
MODELS = list(SIZES)
BACKENDS = ["numpy", "numba", pytest.param("cuda", marks=pytest.mark.cuda)]


def build(cls, seed, backend="numpy", **kw):
    return cls(n_features=D, tower_units=3, seed=seed, backend=backend, **{**SIZES[cls], **kw})


def data(runs, n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((runs, n, D))
    Y = np.stack([np.sin(X[..., 0]) + X[..., 1], X[..., 2] * X[..., 3]], axis=-1)     # (runs, n, 2)
    return X, Y


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", MODELS)
def test_stacked_runs_equal_separate_fits(cls, backend):
    """Each run its own initialisation, data and minibatch order; float64 within 1e-10 after Adam steps.

    The simulated GPU is slow (a Python thread per CUDA thread): there, the stacked runs train on
    the CUDA backend and the separate fits they must equal run on the NumPy oracle (whose own
    stacked and separate fits are compared by the 'numpy' case), for two steps (the device's own
    tests, tests/test_cuda_train.py, compare it with the oracle step by step).
    """
    seeds, fit_seeds = [3, 11, 5], [7, 8, 9]
    X, Y = data(len(seeds))
    Y = Y[..., :1] if cls is mn.SingleTask else Y
    steps, batch = (2, 4) if backend == "cuda" else (25, 16)
    stacked = build(cls, seeds, backend)
    mn.fit(stacked, X, Y, steps=steps, batch_size=batch, optimizer=mn.Adam(lr=1e-2), seed=fit_seeds, progress=False)
    for r, s in enumerate(seeds):
        one = build(cls, s, "numpy" if backend == "cuda" else backend)
        mn.fit(one, X[r], Y[r], steps=steps, batch_size=batch, optimizer=mn.Adam(lr=1e-2), seed=fit_seeds[r],
               progress=False)
        for name, value in one.params.items():
            np.testing.assert_allclose(stacked.params[name][r], value, rtol=1e-10, atol=1e-12,
                                       err_msg=f"run {r}: {name}")
        if backend == "cuda" and r > 0:
            continue                                     # the simulated GPU: one run's predictions suffice
        run, rows = stacked.run(r), X[r, :batch]
        np.testing.assert_allclose(run.predict(rows)[0], one.predict(rows)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("cls", MODELS)
def test_gradient_checks_with_a_run_axis(cls, backend):
    model = build(cls, [4, 5], backend)
    X = np.random.default_rng(1).standard_normal((2, 5, D))
    errors = check_model(model, X, [np.zeros((2, 5, 1))] * model.n_tasks, max_entries=12)
    assert max(errors.values()) <= 1e-6


def test_two_run_axes_and_an_input_shared_by_every_run():
    """Runs (R, C): one input (B, D) is read by every run; predictions are per run."""
    seeds = np.arange(6).reshape(2, 3)
    model = build(mn.MMoE, seeds)
    X = np.random.default_rng(0).standard_normal((4, D))
    preds, _ = model.forward(X)
    assert preds[0].shape == (2, 3, 4, 1)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(preds[1][idx], build(mn.MMoE, int(seeds[idx])).forward(X)[0][1], rtol=1e-13)
    with pytest.raises(ValueError, match=r"leading \(run\) axes \(5,\), which do not fit this model's runs \(2, 3\)"):
        model.forward(np.zeros((5, 4, D)))


def test_learning_rates_per_run_and_frozen_runs():
    X, Y = data(3)
    model = build(mn.MMoE, [0, 0, 0])
    opt = mn.Adam(lr=np.array([1e-3, 1e-2, 1e-2]))
    opt.freeze(np.array([False, False, True]))
    start = model.params.flat.copy()
    mn.fit(model, X, Y, steps=10, batch_size=16, optimizer=opt, progress=False)
    moved = np.abs(model.params.flat - start).max(axis=-1)
    assert moved[1] > moved[0] > 0 and moved[2] == 0


def test_a_diverging_run_is_frozen_and_the_others_train_on():
    X, Y = data(2)
    Y = Y.copy()
    Y[1] *= 1e6                                             # run 1's targets make its loss explode
    model = build(mn.SharedBottom, [1, 2])
    history = mn.fit(model, X, Y, steps=40, batch_size=16, optimizer=mn.SGD(lr=np.array([0.01, 10.0])),
                     eval_every=10, on_divergence="freeze", progress=False)
    assert history.diverged[1] > 0 and history.diverged[0] == 0
    assert np.isfinite(model.params.flat).all()
    assert np.abs(model.params.flat[1]).max() < 1e3           # run 1 keeps parameters one can train on
    with pytest.raises(mn.TrainingDiverged, match=r"diverged at step \d+ in 1 run\(s\), first run \(1,\)"):
        mn.fit(build(mn.SharedBottom, [1, 2]), X, Y, steps=40, batch_size=16,
               optimizer=mn.SGD(lr=np.array([0.01, 10.0])), progress=False)


def test_run_seeds_are_checked():
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        build(mn.MMoE, [1, -1])
    with pytest.raises(TypeError, match="seed must be a non-negative integer"):
        build(mn.MMoE, [1.5, 2])
    with pytest.raises(ValueError, match="at least one seed"):
        build(mn.MMoE, [])


@pytest.mark.parametrize("index", [slice(0, 2), True, None, 1.0, "0", [0]])
def test_run_takes_integers_and_index_tuples_only(index):
    """run(slice(0, 2)), run(True) and run(None) once returned a 'one-run' model holding two runs."""
    model = build(mn.MMoE, [1, 2])
    with pytest.raises(TypeError, match="index must be an integer or a tuple of integers naming one run of "
                                        r"run_shape \(2,\)"):
        model.run(index)


def test_run_out_of_range_and_negative_indices():
    model = build(mn.MMoE, [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match=r"index \(5, 0\) is out of range for run_shape \(2, 3\)"):
        model.run((5, 0))
    with pytest.raises(ValueError, match=r"index 5 is out of range for run_shape \(2,\)"):
        build(mn.MMoE, [1, 2]).run(5)
    with pytest.raises(ValueError, match=r"index \(0, 3\) is out of range for run_shape \(2, 3\)"):
        model.run((0, 3))
    with pytest.raises(ValueError, match=r"with 2 integer\(s\), got 1"):
        model.run(1)
    np.testing.assert_array_equal(model.run((-1, -1)).params.flat, model.run((1, np.int64(2))).params.flat)
    assert model.run((1, 2)).run_shape == ()


def test_a_wrong_number_of_seeds_names_both_shapes():
    model = build(mn.MMoE, [1, 2, 3])
    X, Y = data(3)
    with pytest.raises(ValueError, match=r"seed has shape \(2,\), which does not fit the model's runs \(3,\): give "
                                         r"one seed, or one per run \(an array of shape \(3,\)\)"):
        mn.fit(model, X, Y, steps=1, seed=[1, 2], progress=False)


def test_data_with_fewer_run_axes_than_the_model_is_refused_not_broadcast():
    """Seeds [[0, 1], [2, 3]] with data (2, n, D): run (1, 0) once trained on X[0]."""
    model = build(mn.MMoE, [[0, 1], [2, 3]])
    X, Y = data(2)
    with pytest.raises(ValueError, match=r"X has leading \(run\) axes \(2,\), which do not fit this model's runs "
                                         r"\(2, 2\): pass \(B, 6\) for one array read by every run, or \(2, 2, B, 6\)"):
        mn.fit(model, X, Y, steps=1, progress=False)
    with pytest.raises(ValueError, match=r"Y has leading \(run\) axes \(2,\)"):
        mn.fit(model, X[0], Y, steps=1, progress=False)
    mn.fit(model, X[:, None], Y[:, None], steps=1, progress=False)          # (2, 1, n, D): shared along axis 1
    mn.fit(model, X[0], Y[0], steps=1, progress=False)                      # (n, D): read by every run

"""Whole-model gradient checks on every backend, and the models' contract."""
import numpy as np
import pytest

import mmoe_np as mn
from mmoe_np.gradcheck import check_model

BACKENDS = ["numpy", "numba", pytest.param("cuda", marks=pytest.mark.cuda)]
D = 6


def small(cls, backend="numpy", seed=0, **kw):
    """Tiny versions of each model (gradient checks perturb every parameter)."""
    sizes = {mn.MMoE: dict(n_tasks=2, n_experts=3, expert_units=4),
             mn.OMoE: dict(n_tasks=2, n_experts=3, expert_units=4),
             mn.SharedBottom: dict(n_tasks=2, bottom_units=5),
             mn.SingleTask: dict(hidden_units=5)}[cls]
    return cls(n_features=D, tower_units=3, seed=seed, backend=backend, **{**sizes, **kw})


def batch(n=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, D))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [mn.MMoE, mn.OMoE, mn.SharedBottom, mn.SingleTask])
def test_whole_model_gradients(cls, backend):
    model = small(cls, backend)
    X = batch(5 if backend == "cuda" else 7)
    # the simulated GPU is slow: 4 random entries of each parameter (every parameter checked)
    max_entries = 4 if backend == "cuda" else None
    errors = check_model(model, X, [np.zeros((len(X), 1))] * model.n_tasks, max_entries=max_entries)
    assert set(errors) == set(model.params)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cls", [mn.MMoE, mn.SharedBottom])
def test_gradients_with_mse_and_two_outputs(cls):
    model = small(cls, out_units=2)
    X = batch()
    Y = [np.random.default_rng(k).standard_normal((len(X), 2)) for k in range(2)]
    errors = check_model(model, X, Y, loss=mn.losses.mse)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cls", [mn.MMoE, mn.OMoE, mn.SharedBottom, mn.SingleTask])
def test_backward_twice_gives_the_same_gradients(cls):
    model = small(cls)
    preds, cache = model.forward(batch())
    dpreds = [np.ones_like(p) for p in preds]
    g1 = model.backward(cache, dpreds)
    g2 = model.backward(cache, dpreds)
    assert list(g1) == list(model.params)
    for name in g1:
        assert g1[name].shape == model.params[name].shape
        np.testing.assert_array_equal(g1[name], g2[name])
        assert g1[name] is not g2[name]


def test_omoe_equals_mmoe_with_tied_gates():
    omoe = small(mn.OMoE, seed=1)
    mmoe = small(mn.MMoE, seed=2)
    for name, value in omoe.params.items():
        mmoe.params[name][...] = value          # broadcasts the one gate to every task
    X = batch()
    p_o, c_o = omoe.forward(X)
    p_m, c_m = mmoe.forward(X)
    for a, b in zip(p_o, p_m):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    dpreds = [np.random.default_rng(k).standard_normal(p.shape) for k, p in enumerate(p_o)]
    g_o, g_m = omoe.backward(c_o, dpreds), mmoe.backward(c_m, dpreds)
    for name in g_o:
        want = g_o[name]
        got = g_m[name].sum(axis=0, keepdims=True) if name.startswith("gate") else g_m[name]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_paper_sizes_and_parameter_counts():
    mmoe = mn.MMoE(n_features=100, n_tasks=2, n_experts=8, expert_units=16, tower_units=8)
    sb = mn.SharedBottom(n_features=100, n_tasks=2, bottom_units=113, tower_units=8)
    assert mmoe.params["expert_kernel"].shape == (100, 16, 8)
    assert mmoe.params["gate_kernel"].shape == (2, 100, 8)
    assert mmoe.n_params == 100 * 16 * 8 + 16 * 8 + 2 * (100 * 8 + 8) + 2 * (16 * 8 + 8 + 8 + 1)
    assert abs(sb.n_params - mmoe.n_params) / mmoe.n_params < 0.15


def test_initialisation_makes_experts_and_outputs_differ():
    model = mn.MMoE(n_features=100, seed=0)
    W = model.params["expert_kernel"]
    assert not np.allclose(W[:, :, 0], W[:, :, 1])
    preds, _ = model.forward(np.random.default_rng(0).standard_normal((50, 100)))
    assert np.std(preds[0]) > 1e-3 and not np.allclose(preds[0], preds[1])
    same = mn.MMoE(n_features=100, seed=0)
    other = mn.MMoE(n_features=100, seed=1)
    np.testing.assert_array_equal(same.params["expert_kernel"], W)
    assert not np.allclose(other.params["expert_kernel"], W)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    model = small(mn.MMoE, dtype=dtype)
    preds, cache = model.forward(batch())
    grads = model.backward(cache, [np.ones_like(p) for p in preds])
    assert all(p.dtype == dtype for p in preds)
    assert all(g.dtype == dtype for g in grads.values())


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("cls", [mn.MMoE, mn.SharedBottom])
def test_backends_agree_after_20_adam_steps(cls, backend):
    data = mn.make_synthetic(n=64, d=D, p=0.5, seed=0)
    models = {b: small(cls, b) for b in ("numpy", backend)}
    for model in models.values():
        mn.fit(model, data.X, data.Y, steps=20, batch_size=8 if backend == "cuda" else 16,
               optimizer=mn.Adam(lr=1e-2), progress=False, seed=0)
    for name, value in models["numpy"].params.items():
        np.testing.assert_allclose(models[backend].params[name], value, rtol=1e-8, atol=1e-12,
                                   err_msg=f"{name} differs after 20 Adam steps")


def test_save_and_load_round_trip(tmp_path):
    a, b = small(mn.MMoE, seed=0), small(mn.MMoE, seed=5)
    a.save(tmp_path / "model.npz")
    b.load(tmp_path / "model.npz")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    with pytest.raises(ValueError, match="parameter names differ"):
        small(mn.SharedBottom).load(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="has shape"):
        small(mn.MMoE, n_experts=4).load(tmp_path / "model.npz")


@pytest.mark.parametrize("make, match", [
    (lambda: mn.MMoE(n_features=0), "n_features must be a positive integer"),
    (lambda: mn.MMoE(n_features=5, n_experts=-2), "n_experts must be a positive integer"),
    (lambda: mn.MMoE(n_features=5, expert_units=2.5), "expert_units must be a positive integer"),
    (lambda: mn.SharedBottom(n_features=5, bottom_units=0), "bottom_units must be a positive integer"),
    (lambda: mn.SingleTask(n_features=5, hidden_units=0), "bottom_units must be a positive integer"),
    (lambda: mn.MMoE(n_features=5, backend="gpu"), "backend must be one of"),
    (lambda: mn.MMoE(n_features=5, dtype=np.int32), "dtype must be np.float32 or np.float64"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_forward_and_backward_inputs():
    model = small(mn.MMoE)
    with pytest.raises(ValueError, match=r"X must have shape \('\*', 6\).*got \(4, 5\)"):
        model.forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        model.forward(np.zeros(6))
    X = batch()
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf .*index \(2, 3\)"):
        model.forward(X)
    preds, cache = model.forward(batch())
    with pytest.raises(ValueError, match="dpreds must be a list of n_tasks=2"):
        model.backward(cache, [np.ones((7, 1))])
    with pytest.raises(ValueError, match=r"dpreds\[1\] must have shape \(7, 1\)"):
        model.backward(cache, [np.ones((7, 1)), np.ones((6, 1))])

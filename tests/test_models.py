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
             mn.SingleTask: dict(hidden_units=5),
             mn.CGC: dict(n_tasks=2, n_task_experts=2, n_shared_experts=2, expert_units=3),
             mn.PLE: dict(n_tasks=3, n_task_experts=1, n_shared_experts=2, expert_units=3, n_levels=3)}[cls]
    return cls(n_features=D, tower_units=3, seed=seed, backend=backend, **{**sizes, **kw})


def batch(n=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, D))


ALL_MODELS = [mn.MMoE, mn.OMoE, mn.SharedBottom, mn.SingleTask, mn.CGC, mn.PLE]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", ALL_MODELS)
def test_whole_model_gradients(cls, backend):
    # the simulated GPU runs each CUDA thread as a Python thread, too slow for two forward passes
    # per entry: its loss is shown equal to the NumPy model's (1e-10), and its gradients are
    # checked, every entry, against central differences of that NumPy forward
    model = small(cls, backend)
    X = batch()
    oracle = small(cls, "numpy") if backend == "cuda" else None
    errors = check_model(model, X, [np.zeros((len(X), 1))] * model.n_tasks, differences_on=oracle)
    assert set(errors) == set(model.params)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cls", [mn.MMoE, mn.SharedBottom])
def test_gradients_with_mse_and_two_outputs(cls):
    model = small(cls, out_units=2)
    X = batch()
    Y = [np.random.default_rng(k).standard_normal((len(X), 2)) for k in range(2)]
    errors = check_model(model, X, Y, loss=mn.losses.mse)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cls", ALL_MODELS)
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
@pytest.mark.parametrize("cls", [mn.MMoE, mn.SharedBottom, mn.PLE])
def test_backends_agree_after_20_adam_steps(cls, backend):
    steps = 8 if backend == "cuda" else 20          # the simulated GPU: a Python thread per CUDA thread
    data = mn.make_synthetic(n=64, d=D, p=0.5, seed=0)
    models = {b: small(cls, b, n_tasks=2) for b in ("numpy", backend)}
    for model in models.values():
        mn.fit(model, data.X, data.Y, steps=steps, batch_size=4 if backend == "cuda" else 16,
               optimizer=mn.Adam(lr=1e-2), progress=False, seed=0)
    for name, value in models["numpy"].params.items():
        np.testing.assert_allclose(models[backend].params[name], value, rtol=1e-8, atol=1e-12,
                                   err_msg=f"{name} differs after {steps} Adam steps")


def test_save_and_load_round_trip(tmp_path):
    a, b = small(mn.MMoE, seed=0), small(mn.MMoE, seed=5)
    written = a.save(tmp_path / "ckpt")                       # NumPy adds .npz; load finds it either way
    assert written == tmp_path / "ckpt.npz"
    b.load(tmp_path / "ckpt")
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    b.load(written)
    with pytest.raises(ValueError, match="parameter names differ"):
        small(mn.SharedBottom).load(written)
    with pytest.raises(ValueError, match="has shape"):
        small(mn.MMoE, n_experts=4).load(written)


def _unchanged_after(model, path, match):
    before = model.params.flat.copy()
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        model.load(path)
    np.testing.assert_array_equal(model.params.flat, before)


def test_loading_is_all_or_nothing(tmp_path):
    model = small(mn.MMoE, seed=0)
    good = {k: v + 1 for k, v in model.params.items()}
    for name, bad, match in [("output_bias", np.full((2, 1), np.nan), "'output_bias' holds NaN or inf"),
                             ("output_bias", np.ones((2, 1), dtype=complex), "'output_bias' has dtype complex128"),
                             ("output_bias", np.array([["a"], ["b"]]), "'output_bias' has dtype <U1"),
                             ("output_bias", np.array([["2020-01-01"], ["2020-01-02"]], dtype="datetime64[D]"),
                              "has dtype datetime64"),
                             ("output_bias", np.ones((1, 2)), r"'output_bias' has shape \(1, 2\)")]:
        np.savez(tmp_path / "bad.npz", **{**good, name: bad})       # every other array is fine
        _unchanged_after(model, tmp_path / "bad.npz", match)
    f32 = small(mn.MMoE, seed=0, dtype=np.float32)
    np.savez(tmp_path / "f64.npz", **good)
    _unchanged_after(f32, tmp_path / "f64.npz", "cannot take without loss")


def test_unreadable_files_are_clear_errors(tmp_path):
    model = small(mn.MMoE)
    path = model.save(tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    _unchanged_after(model, tmp_path / "truncated.npz", "truncated.npz is not a readable .npz file.*end is missing")
    (tmp_path / "text.npz").write_text("hello")
    _unchanged_after(model, tmp_path / "text.npz", "text.npz is not a readable .npz file.*not a zip archive")
    np.save(tmp_path / "one.npy", np.ones(3))
    _unchanged_after(model, tmp_path / "one.npy", "one.npy is not a readable .npz file")
    np.savez(tmp_path / "pickled.npz", **{**model.params, "expert_bias": np.array([{"a": 1}], dtype=object)})
    _unchanged_after(model, tmp_path / "pickled.npz", "pickled objects, which are never loaded")
    _unchanged_after(model, tmp_path / "missing", "no such file")


@pytest.mark.parametrize("make, match", [
    (lambda: mn.MMoE(n_features=0), "n_features must be a positive integer"),
    (lambda: mn.MMoE(n_features=5, n_experts=-2), "n_experts must be a positive integer"),
    (lambda: mn.MMoE(n_features=5, expert_units=2.5), "expert_units must be a positive integer"),
    (lambda: mn.SharedBottom(n_features=5, bottom_units=0), "bottom_units must be a positive integer"),
    (lambda: mn.SingleTask(n_features=5, hidden_units=0), "hidden_units must be a positive integer"),
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
    with pytest.raises(ValueError, match="X must have at least 2 dimensions"):
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


# ------------------------------------------------------------------ per-task inputs
def task_batches(sizes=(5, 3), seed=0):
    return [batch(n, seed + k) for k, n in enumerate(sizes)]


@pytest.mark.parametrize("cls, backend", [(cls, b) for cls in (mn.MMoE, mn.SharedBottom, mn.PLE)
                                          for b in ("numpy", "numba")]
                         + [pytest.param(mn.MMoE, "cuda", marks=pytest.mark.cuda)])
def test_gradients_with_per_task_inputs(cls, backend):
    # per-task inputs are one mechanism in the base class, the same for every model and backend
    model = small(cls, backend, n_tasks=2)
    Xs = task_batches((5, 3))
    oracle = small(cls, "numpy", n_tasks=2) if backend == "cuda" else None     # see test_whole_model_gradients
    errors = check_model(model, Xs, [np.zeros((len(x), 1)) for x in Xs], differences_on=oracle)
    assert max(errors.values()) <= 1e-6


@pytest.mark.parametrize("cls", ALL_MODELS)
def test_per_task_inputs_give_each_task_its_own_rows(cls):
    model = small(cls)
    Xs = task_batches(tuple(range(3, 3 + model.n_tasks)))
    preds, cache = model.forward(Xs)
    for k, x in enumerate(Xs):
        assert preds[k].shape == (len(x), 1)
        np.testing.assert_allclose(preds[k], model.forward(x)[0][k], rtol=1e-13)
        np.testing.assert_allclose(model.predict(Xs)[k], preds[k], rtol=1e-13)
    # per-task inputs that are all the same batch give the shared-input gradients
    X = batch()
    shared_preds, shared_cache = model.forward(X)
    dpreds = [np.random.default_rng(k).standard_normal(p.shape) for k, p in enumerate(shared_preds)]
    g_shared = model.backward(shared_cache, dpreds)
    g_list = model.backward(model.forward([X] * model.n_tasks)[1], dpreds)
    for name in g_shared:
        np.testing.assert_allclose(g_list[name], g_shared[name], rtol=1e-10, atol=1e-14)


def test_bad_per_task_inputs():
    model = small(mn.MMoE)
    with pytest.raises(ValueError, match="needs n_tasks=2 arrays, got 3"):
        model.forward(task_batches((2, 2, 2)))
    with pytest.raises(ValueError, match=r"X\[1\] must have shape"):
        model.forward([batch(3), np.zeros((3, 4))])
    preds, cache = model.forward(task_batches((5, 3)))
    with pytest.raises(ValueError, match=r"dpreds\[1\] must have shape \(3, 1\)"):
        model.backward(cache, [np.ones((5, 1)), np.ones((5, 1))])


# ----------------------------------------------------------------------- CGC / PLE
def test_cgc_task_reads_only_its_own_and_the_shared_experts():
    model = small(mn.CGC)
    X = batch()
    before, _ = model.forward(X)
    model.params["l1_task_expert_kernel"][1] += 1.0     # task 2's own experts
    after, _ = model.forward(X)
    np.testing.assert_array_equal(after[0], before[0])  # task 1 cannot see them
    assert not np.allclose(after[1], before[1])
    model.params["l1_shared_expert_kernel"] += 1.0      # the shared experts reach both
    again, _ = model.forward(X)
    assert not np.allclose(again[0], after[0])


def test_cgc_equals_a_hand_written_forward():
    model = small(mn.CGC)
    rng = np.random.default_rng(3)
    for p in model.params.values():
        p += 0.1 * rng.standard_normal(p.shape)
    X, p = batch(), model.params
    relu = lambda z: np.maximum(z, 0)
    shared = relu(np.einsum("bd,dum->bum", X, p["l1_shared_expert_kernel"]) + p["l1_shared_expert_bias"])
    for k, pred in enumerate(model.forward(X)[0]):
        own = relu(np.einsum("bd,dum->bum", X, p["l1_task_expert_kernel"][k]) + p["l1_task_expert_bias"][k])
        experts = np.concatenate([own, shared], axis=2)                     # (B, U, m_t + m_s)
        g = mn.layers.softmax(X @ p["l1_task_gate_kernel"][k] + p["l1_task_gate_bias"][k])
        f = np.einsum("be,bue->bu", g, experts)
        want = relu(f @ p["tower_kernel"][k] + p["tower_bias"][k]) @ p["output_kernel"][k] + p["output_bias"][k]
        np.testing.assert_allclose(pred, want, rtol=1e-12)


def test_ple_parameter_shapes_and_gates():
    model = mn.PLE(n_features=10, n_tasks=3, n_task_experts=2, n_shared_experts=4, expert_units=5, n_levels=2)
    p = model.params
    assert p["l1_task_expert_kernel"].shape == (3, 10, 5, 2)
    assert p["l2_task_expert_kernel"].shape == (3, 5, 5, 2)
    assert p["l1_shared_gate_kernel"].shape == (1, 10, 3 * 2 + 4)
    assert "l2_shared_gate_kernel" not in p                  # the top level has no shared gate
    gates = model.gates(np.random.default_rng(0).standard_normal((6, 10)))
    assert gates[0]["task"].shape == (3, 6, 6) and gates[0]["shared"].shape == (1, 6, 10)
    assert gates[1]["shared"] is None
    np.testing.assert_allclose(gates[0]["task"].sum(-1), 1.0)
    with pytest.raises(ValueError, match="n_shared_experts must be a positive integer"):
        mn.CGC(n_features=4, n_shared_experts=0)

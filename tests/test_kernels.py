"""Every backend's kernels against the NumPy oracle, the oracle against numerical gradients, and
the contract's checks: the same errors on every backend, NaN propagated as NumPy does."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import kernel_problems, tolerance

from mmoe_np.gradcheck import compare, numerical_gradient_array, rel_error
from mmoe_np.kernels import get_backend
from mmoe_np.kernels import reference as ref
from mmoe_np.nn import layers
from mmoe_np.params import Layout, Params, dense_block

FAST = ["numba", pytest.param("cuda", marks=pytest.mark.cuda)]


def _agree(name, got, want, dtype):
    got = np.asarray(got)
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype}, expected {want.dtype}"
    err = rel_error(got, want)
    assert err <= tolerance(dtype), f"{name}: relative error {err:.2e} against the NumPy oracle"


def _check_backend(kern, p):
    X, W, b, G, dF, dH, dtype = p["X"], p["W"], p["b"], p["G"], p["dF"], p["dH"], p["dtype"]
    H_ref = ref.experts_forward(X, W, b)
    _agree("experts_forward", kern.to_host(kern.experts_forward(X, W, b)), H_ref, dtype)
    for name, got, want in zip(["dX", "dW", "db"], kern.experts_backward(X, W, H_ref, dH),
                               ref.experts_backward(X, W, H_ref, dH)):
        _agree(f"experts_backward {name}", got, want, dtype)
    dX, _, _ = kern.experts_backward(X, W, H_ref, dH, need_dX=False)
    assert dX is None
    _agree("gate_mix_forward", kern.gate_mix_forward(H_ref, G), ref.gate_mix_forward(H_ref, G), dtype)
    for name, got, want in zip(["dH", "dG"], kern.gate_mix_backward(H_ref, G, dF), ref.gate_mix_backward(H_ref, G, dF)):
        _agree(f"gate_mix_backward {name}", kern.to_host(got), want, dtype)


@given(p=kernel_problems())
def test_numba_matches_oracle(p):
    _check_backend(get_backend("numba"), p)


@pytest.mark.cuda
@settings(max_examples=6)
@given(p=kernel_problems(max_batch=12, max_dim=5))
def test_cuda_matches_oracle(p):
    """Small shapes: under the simulator every CUDA thread is a Python thread."""
    _check_backend(get_backend("cuda"), p)


# ------------------------------------------------------------------------------ fused steps
def moe_params(lead, D, U, E, K, dtype, seed, as_block=True):
    """MMoE's four first-layer arrays, either as the model stores them (one dense block) or apart."""
    rng = np.random.default_rng(seed)
    shapes = {"expert_kernel": (D, U, E), "expert_bias": (U, E), "gate_kernel": (K, D, E), "gate_bias": (K, E)}
    values = {n: rng.standard_normal(lead + s).astype(dtype) for n, s in shapes.items()}
    if not as_block:
        return values
    layout = Layout([dense_block(D, [("expert_kernel", (D, U, E), 0, "expert_bias", (U, E)),
                                     ("gate_kernel", (K, D, E), 1, "gate_bias", (K, E))])])
    p = Params.zeros(layout, lead, dtype)
    p.update(values)
    return p


@pytest.mark.parametrize("backend", FAST)
@settings(max_examples=15)
@given(p=kernel_problems(max_batch=16, max_dim=5), as_block=st.booleans())
def test_fused_experts_and_gates_match_their_numpy_version(backend, p, as_block):
    kern = get_backend(backend)
    B, D, U, E, K = p["shape"]
    dtype, lead = p["dtype"], p["lead"]
    params = moe_params(lead, D, U, E, K, dtype, seed=B, as_block=as_block)
    args = (p["X"], params["expert_kernel"], params["expert_bias"], params["gate_kernel"], params["gate_bias"])
    H, G, cache = kern.experts_and_gates_forward(*args)
    H0, G0, cache0 = ref.experts_and_gates_forward(*args)
    _agree("H", kern.to_host(H), H0, dtype)
    _agree("G", G, G0, dtype)
    dH, dG = p["dH"], np.random.default_rng(1).standard_normal(G0.shape).astype(dtype)
    out = moe_params(lead, D, U, E, K, dtype, seed=0, as_block=as_block)        # a gradient buffer to fill
    names = ("expert_kernel", "expert_bias", "gate_kernel", "gate_bias")
    got = kern.experts_and_gates_backward(cache, dH, dG, out=tuple(out[n] for n in names))
    want = ref.experts_and_gates_backward(cache0, dH, dG)
    for name, g, w, o in zip(names, got, want, (out[n] for n in names)):
        _agree(name, g, w, dtype)
        assert g is o or np.shares_memory(g, o), f"{name} was not written into the buffer given as out"


@pytest.mark.parametrize("backend", FAST)
@settings(max_examples=10)
@given(p=kernel_problems(max_batch=16, max_dim=5))
def test_fused_dense_relu_and_gates_match_their_numpy_versions(backend, p):
    kern = get_backend(backend)
    X, W, b, dtype = p["X"], p["W"][..., 0], p["b"][..., 0], p["dtype"]
    A, cache = kern.dense_relu_forward(X, W, b)
    A0, cache0 = ref.dense_relu_forward(X, W, b)
    _agree("A", A, A0, dtype)
    dA = p["dH"][..., 0]
    for name, g, w in zip(("dW", "db"), kern.dense_relu_backward(cache, dA), ref.dense_relu_backward(cache0, dA)):
        _agree(name, g, w, dtype)
    Wg = np.random.default_rng(3).standard_normal(p["lead"] + (2, X.shape[-1], 3)).astype(dtype)
    bg = np.random.default_rng(4).standard_normal(p["lead"] + (2, 3)).astype(dtype)
    G, gcache = kern.softmax_gate_forward(X, Wg, bg)
    G0, gcache0 = ref.softmax_gate_forward(X, Wg, bg)
    _agree("G", G, G0, dtype)
    dG = np.random.default_rng(5).standard_normal(G0.shape).astype(dtype)
    dX, grads = kern.softmax_gate_backward(dG, gcache, need_dX=True)
    dX0, grads0 = ref.softmax_gate_backward(dG, gcache0, need_dX=True)
    _agree("dX", dX, dX0, dtype)
    for name, g, w in zip(("dgate_kernel", "dgate_bias"), grads, grads0):
        _agree(name, g, w, dtype)


def test_reference_kernels_gradcheck():
    """The oracle itself against central differences (float64)."""
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((6, 4)), rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2))
    dH = rng.standard_normal((6, 3, 2))
    f = lambda: ref.experts_forward(X, W, b)
    H = f()
    assert np.all(np.abs(np.einsum("bd,due->bue", X, W) + b) > 1e-4), "too close to the ReLU kink"
    dX, dW, db = ref.experts_backward(X, W, H, dH)
    compare("dX", dX, numerical_gradient_array(f, X, dH))
    compare("dW", dW, numerical_gradient_array(f, W, dH))
    compare("db", db, numerical_gradient_array(f, b, dH))

    G, dF = rng.random((2, 6, 2)), rng.standard_normal((2, 6, 3))
    g = lambda: ref.gate_mix_forward(H, G)
    dHm, dG = ref.gate_mix_backward(H, G, dF)
    compare("dH", dHm, numerical_gradient_array(g, H, dF))
    compare("dG", dG, numerical_gradient_array(g, G, dF))


def test_reference_kernels_gradcheck_with_a_run_axis_and_a_shared_input():
    rng = np.random.default_rng(1)
    X, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4, 2, 3)), rng.standard_normal((3, 2, 3))
    f = lambda: ref.experts_forward(X, W, b)                        # one input read by 3 runs
    H = f()
    dH = rng.standard_normal(H.shape)
    dX, dW, db = ref.experts_backward(X, W, H, dH)
    assert dX.shape == X.shape                                      # summed over the runs that share X
    compare("dX", dX, numerical_gradient_array(f, X, dH))
    compare("dW", dW, numerical_gradient_array(f, W, dH))
    compare("db", db, numerical_gradient_array(f, b, dH))


# ------------------------------------------------------------------- the contract's checks
BAD_CALLS = {
    "G with another batch": ("gate_mix_forward", lambda: (np.ones((5, 4, 3)), np.ones((2, 6, 3)))),
    "G with other experts": ("gate_mix_forward", lambda: (np.ones((5, 4, 3)), np.ones((2, 5, 4)))),
    "G 2-D": ("gate_mix_forward", lambda: (np.ones((5, 4, 3)), np.ones((5, 3)))),
    "backward G with another batch": ("gate_mix_backward", lambda: (np.ones((5, 4, 3)), np.ones((2, 6, 3)),
                                                                    np.ones((2, 5, 4)))),
    "dF with another batch": ("gate_mix_backward", lambda: (np.ones((5, 4, 3)), np.ones((2, 5, 3)),
                                                            np.ones((2, 6, 4)))),
    "dF with other tasks": ("gate_mix_backward", lambda: (np.ones((5, 4, 3)), np.ones((2, 5, 3)),
                                                          np.ones((3, 5, 4)))),
    "dF with other units": ("gate_mix_backward", lambda: (np.ones((5, 4, 3)), np.ones((2, 5, 3)),
                                                          np.ones((2, 5, 5)))),
    "transposed bias (E, U)": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3)), np.ones((3, 4)))),
    "bias of one expert's size": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3)), np.ones(4))),
    "W with another input width": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((3, 4, 3)), np.ones((4, 3)))),
    "complex X": ("experts_forward", lambda: (np.ones((5, 2), complex), np.ones((2, 4, 3)), np.ones((4, 3)))),
    "complex W": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3), complex), np.ones((4, 3)))),
    "string X": ("experts_forward", lambda: ("X", np.ones((2, 4, 3)), np.ones((4, 3)))),
    "None b": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3)), None)),
    "1-D X": ("experts_forward", lambda: (np.ones(2), np.ones((2, 4, 3)), np.ones((4, 3)))),
    "H with another batch": ("experts_backward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3)), np.ones((6, 4, 3)),
                                                          np.ones((6, 4, 3)))),
    "dH of another shape": ("experts_backward", lambda: (np.ones((5, 2)), np.ones((2, 4, 3)), np.ones((5, 4, 3)),
                                                         np.ones((5, 3, 4)))),
    "run axes that do not broadcast": ("gate_mix_forward", lambda: (np.ones((3, 5, 4, 3)), np.ones((2, 2, 5, 3)))),
    "no experts": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 4, 0)), np.ones((4, 0)))),
    "no units": ("experts_forward", lambda: (np.ones((5, 2)), np.ones((2, 0, 3)), np.ones((0, 3)))),
    "no features": ("experts_forward", lambda: (np.ones((5, 0)), np.ones((0, 4, 3)), np.ones((4, 3)))),
    "no gates": ("gate_mix_forward", lambda: (np.ones((5, 4, 3)), np.ones((0, 5, 3)))),
    "an empty run axis": ("gate_mix_forward", lambda: (np.ones((0, 5, 4, 3)), np.ones((2, 5, 3)))),
}


@pytest.mark.parametrize("backend", ["numpy", "numba", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_zero_rows_give_empty_outputs(backend):
    k = get_backend(backend)
    X, W, b, G = np.ones((0, 2)), np.ones((2, 4, 3)), np.ones((4, 3)), np.ones((2, 0, 3))
    H = k.experts_forward(X, W, b)
    assert np.shape(k.to_host(H) if hasattr(k, "to_host") else H) == (0, 4, 3)
    assert np.shape(k.gate_mix_forward(np.zeros((0, 4, 3)), G)) == (2, 0, 4)


def test_fused_backward_rejects_a_gradient_of_the_wrong_shape():
    for backend in ("numpy", "numba"):
        k = get_backend(backend)
        X = np.ones((5, 2))
        H, G, cache = k.experts_and_gates_forward(X, np.ones((2, 4, 3)), np.ones((4, 3)), np.ones((2, 2, 3)),
                                                  np.ones((2, 3)))
        with pytest.raises(ValueError, match="dG must have the shape"):
            k.experts_and_gates_backward(cache, np.ones((5, 4, 3)), np.ones((1, 5, 3)))
        A, cache = k.dense_relu_forward(X, np.ones((2, 6)), np.ones(6))
        with pytest.raises(ValueError, match="dA must have the shape"):
            k.dense_relu_backward(cache, np.ones((5, 5)))


def test_experts_forward_keeps_run_axes_only_the_bias_has():
    X, W, b = np.ones((5, 2)), np.ones((2, 4, 3)), np.arange(2 * 12.0).reshape(2, 4, 3)
    want = ref.experts_forward(X, W, b)
    assert want.shape == (2, 5, 4, 3)
    np.testing.assert_allclose(get_backend("numba").experts_forward(X, W, b), want)


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_every_backend_rejects_bad_arguments_like_the_oracle(backend, case):
    """A jitted loop never reads out of bounds: its wrapper raises the oracle's error first."""
    kernel, make = BAD_CALLS[case]
    with pytest.raises((ValueError, TypeError)) as expected:
        getattr(ref, kernel)(*make())
    with pytest.raises(expected.type) as got:
        getattr(get_backend(backend), kernel)(*make())
    assert str(got.value) == str(expected.value)
    assert kernel in str(got.value)


def test_integer_inputs_are_converted_like_the_oracle():
    X, W, b = np.arange(6).reshape(3, 2), np.ones((2, 4, 3), dtype=np.int64), np.zeros((4, 3), dtype=bool)
    want = ref.experts_forward(X, W, b)
    assert want.dtype == np.float64
    np.testing.assert_array_equal(get_backend("numba").experts_forward(X, W, b), want)


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_propagate_as_in_numpy(backend, bad):
    """NumPy's maximum keeps NaN (relu(NaN) = NaN) and maps -inf to 0; every backend must too."""
    kern = get_backend(backend)
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2, 2)), rng.standard_normal((2, 2))
    W[1, 0, 1] = bad
    b[1, 0] = bad
    H0, H = ref.experts_forward(X, W, b), kern.to_host(kern.experts_forward(X, W, b))
    np.testing.assert_array_equal(np.isnan(H), np.isnan(H0))
    np.testing.assert_allclose(H[np.isfinite(H0)], H0[np.isfinite(H0)], rtol=1e-12, atol=1e-14)
    G = rng.random((2, 4, 2))
    G[0, 1, 1] = bad
    dF = rng.standard_normal((2, 4, 2))
    F0 = ref.gate_mix_forward(np.nan_to_num(H0), G)
    np.testing.assert_array_equal(np.isnan(kern.gate_mix_forward(np.nan_to_num(H0), G)), np.isnan(F0))
    H1 = np.nan_to_num(H0)
    for got, want in zip(kern.gate_mix_backward(H1, G, dF), ref.gate_mix_backward(H1, G, dF)):
        np.testing.assert_array_equal(np.isnan(kern.to_host(got)), np.isnan(want))
    dH = rng.standard_normal(H0.shape)
    dH[0, 0, 0] = bad
    W1 = np.nan_to_num(W)
    for got, want in zip(kern.experts_backward(X, W1, H0, dH), ref.experts_backward(X, W1, H0, dH)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


def test_nan_weight_gives_nan_predictions_on_every_backend():
    import mmoe_np as mn
    X = np.random.default_rng(0).standard_normal((4, 5))
    for backend in ("numpy", "numba"):
        model = mn.MMoE(n_features=5, n_experts=2, expert_units=3, backend=backend)
        model.params["expert_kernel"][0, 0, 0] = np.nan
        preds, _ = model.forward(X)
        assert np.isnan(preds[0]).any(), backend


def test_numba_softmax_keeps_numpy_semantics_for_infinite_logits():
    """Three gates whose logits hold +inf, -inf and NaN: NaN rows where NumPy has them, the rest equal."""
    bias = np.array([[np.inf, 0.0, -1.0], [-np.inf, 0.0, 1.0], [np.nan, 0.0, 0.0]])       # (K=3, E=3)
    X, Wg = np.ones((2, 4)), np.zeros((3, 4, 3))
    G0, _ = ref.softmax_gate_forward(X, Wg, bias)
    with np.errstate(invalid="ignore"):
        G, _ = get_backend("numba").softmax_gate_forward(X, Wg, bias)
    np.testing.assert_array_equal(np.isnan(G), np.isnan(G0))
    np.testing.assert_allclose(G[np.isfinite(G0)], G0[np.isfinite(G0)], rtol=1e-15)
    assert np.allclose(layers.softmax(np.array([[1e4, 0.0, -1e4]])), [[1.0, 0.0, 0.0]])


def test_unknown_or_misspelled_backends_are_clear_errors():
    with pytest.raises(ValueError, match="backend must be one of"):
        get_backend("tpu")
    with pytest.raises(TypeError, match="backend must be a string"):
        get_backend(3)
    with pytest.raises(TypeError, match="backend must be a string"):
        get_backend(None)


def test_cuda_without_gpu_or_simulator_is_a_clear_error(monkeypatch):
    from mmoe_np.kernels import cuda as cuda_kernels
    monkeypatch.setattr(cuda_kernels.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="NUMBA_ENABLE_CUDASIM=1"):
        get_backend("cuda")


@pytest.mark.cuda
def test_cuda_keeps_H_and_dH_on_the_device():
    kern = get_backend("cuda")
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4, 2)), rng.standard_normal((4, 2))
    G, dF = rng.random((2, 5, 2)), rng.standard_normal((2, 5, 4))
    H = kern.experts_forward(X, W, b)
    assert not isinstance(H, np.ndarray)
    dH, dG = kern.gate_mix_backward(H, G, dF)
    assert not isinstance(dH, np.ndarray) and isinstance(dG, np.ndarray)
    np.testing.assert_allclose(kern.to_host(H), ref.experts_forward(X, W, b), rtol=1e-12)
    dH_ref = ref.gate_mix_backward(ref.experts_forward(X, W, b), G, dF)[0]
    np.testing.assert_allclose(kern.to_host(dH), dH_ref, rtol=1e-12)


@pytest.mark.cuda
def test_cuda_run_axis_is_a_grid_dimension():
    """Three runs in one launch give each run's own answer."""
    kern = get_backend("cuda")
    rng = np.random.default_rng(2)
    X, W, b = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 4, 2, 3)), rng.standard_normal((3, 2, 3))
    H = kern.to_host(kern.experts_forward(X, W, b))
    for r in range(3):
        np.testing.assert_allclose(H[r], ref.experts_forward(X[r], W[r], b[r]), rtol=1e-12)

"""Every backend's kernels against the NumPy oracle, and the oracle against numerical gradients."""
import numpy as np
import pytest
from hypothesis import given, settings
from strategies import kernel_problems, tolerance

from mmoe_np.gradcheck import compare, numerical_gradient_array, rel_error
from mmoe_np.kernels import get_kernels
from mmoe_np.kernels import reference as ref

FAST_BACKENDS = ["numba"]


def _agree(name, got, want, dtype):
    got = np.asarray(got)
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype}, expected {want.dtype}"
    err = rel_error(got, want)
    assert err <= tolerance(dtype), f"{name}: relative error {err:.2e} against the NumPy oracle"


def _check_backend(kern, p):
    X, W, b, G, dF, dH, dtype = p["X"], p["W"], p["b"], p["G"], p["dF"], p["dH"], p["dtype"]
    H_ref = ref.experts_forward(X, W, b)
    _agree("experts_forward", kern.experts_forward(X, W, b), H_ref, dtype)
    for name, got, want in zip(["dX", "dW", "db"], kern.experts_backward(X, W, H_ref, dH),
                               ref.experts_backward(X, W, H_ref, dH)):
        _agree(f"experts_backward {name}", got, want, dtype)
    dX, _, _ = kern.experts_backward(X, W, H_ref, dH, need_dX=False)
    assert dX is None
    _agree("gate_mix_forward", kern.gate_mix_forward(H_ref, G), ref.gate_mix_forward(H_ref, G), dtype)
    for name, got, want in zip(["dH", "dG"], kern.gate_mix_backward(H_ref, G, dF),
                               ref.gate_mix_backward(H_ref, G, dF)):
        _agree(f"gate_mix_backward {name}", got, want, dtype)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@given(p=kernel_problems())
def test_backend_matches_oracle(backend, p):
    _check_backend(get_kernels(backend), p)


@pytest.mark.cuda
@settings(max_examples=6)
@given(p=kernel_problems(max_batch=20, max_dim=6))
def test_cuda_matches_oracle(p):
    """Small shapes: under the simulator every CUDA thread is a Python thread."""
    _check_backend(get_kernels("cuda"), p)


@pytest.mark.cuda
def test_cuda_keeps_H_and_dH_on_the_device():
    kern = get_kernels("cuda")
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4, 2)), rng.standard_normal((4, 2))
    G, dF = rng.random((2, 5, 2)), rng.standard_normal((2, 5, 4))
    H = kern.experts_forward(kern.to_kernel_array(X), W, b)
    assert not isinstance(H, np.ndarray)
    dH, dG = kern.gate_mix_backward(H, G, dF)
    assert not isinstance(dH, np.ndarray) and isinstance(dG, np.ndarray)
    np.testing.assert_allclose(kern.to_numpy(H), ref.experts_forward(X, W, b), rtol=1e-12)
    dH_ref = ref.gate_mix_backward(ref.experts_forward(X, W, b), G, dF)[0]
    np.testing.assert_allclose(kern.to_numpy(dH), dH_ref, rtol=1e-12)


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


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="backend must be one of"):
        get_kernels("tpu")


def test_cuda_without_gpu_or_simulator_is_a_clear_error(monkeypatch):
    from mmoe_np.kernels import cuda as cuda_kernels
    monkeypatch.setattr(cuda_kernels.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="NUMBA_ENABLE_CUDASIM=1"):
        get_kernels("cuda")

"""The CUDA backend's own machinery, under the simulator (or on a GPU): the GPU's tile and block sizes
on small shapes, the split-K weight gradient, launches and their argument types, zero-row
launches, and Adam on the device against the NumPy Adam."""
import numpy as np
import pytest
from hypothesis import given, settings
from strategies import kernel_problems, tolerance

import mmoe_np as mn
from mmoe_np.kernels import get_backend
from mmoe_np.kernels import reference as ref

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def cuda_kernels():
    return get_backend("cuda").module


def _agree(name, got, want, dtype):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, f"{name}: {got.shape} {got.dtype}"
    err = mn.gradcheck.rel_error(got, want)
    assert err <= tolerance(dtype), f"{name}: relative error {err:.2e} against the NumPy oracle"


def _every_kernel(kern, p):
    """Each contract function against the oracle on problem ``p``; returns nothing, asserts."""
    X, W, b, G, dF, dH, dtype = p["X"], p["W"], p["b"], p["G"], p["dF"], p["dH"], p["dtype"]
    H = ref.experts_forward(X, W, b)
    _agree("experts_forward", kern.to_host(kern.experts_forward(X, W, b)), H, dtype)
    grads, want = kern.experts_backward(X, W, H, dH), ref.experts_backward(X, W, H, dH)
    for name, got, w in zip(("dX", "dW", "db"), grads, want):
        _agree(name, got, w, dtype)
    _agree("gate_mix_forward", kern.gate_mix_forward(H, G), ref.gate_mix_forward(H, G), dtype)
    for name, got, want in zip(("dH", "dG"), kern.gate_mix_backward(H, G, dF), ref.gate_mix_backward(H, G, dF)):
        _agree(name, kern.to_host(got), want, dtype)


# ------------------------------------------------------------------ the GPU's own sizes
@settings(max_examples=4)
@given(p=kernel_problems(max_batch=18, max_dim=4, runs=False))
def test_gpu_tile_and_block_sizes_match_the_oracle_on_small_shapes(cuda_kernels, p):
    """16 x 16 tiles and 256-thread blocks, as on a GPU: partial tiles in every direction, up to two
    row tiles. (Run axes at these sizes: the split-K test; at the simulator's: test_kernels.py.)"""
    with cuda_kernels.launch_sizes() as sizes:
        assert sizes == cuda_kernels.GPU_SIZES == (16, 256)
        _every_kernel(cuda_kernels, p)


@pytest.mark.parametrize("dtype, gpu_sizes, B, R", [(np.float64, True, 130, 1), (np.float32, False, 45, 2)])
def test_split_k_weight_gradient_matches_the_oracle_and_repeats_bit_for_bit(cuda_kernels, dtype, gpu_sizes, B, R):
    """A batch long enough to be split: [dW; db] from partial sums added in a fixed order."""
    rng = np.random.default_rng(0)
    D, U, E = 3, 2, 2
    X, W, b = (rng.standard_normal(s).astype(dtype) for s in ((R, B, D), (R, D, U, E), (R, U, E)))
    H, dH = ref.experts_forward(X, W, b), rng.standard_normal((R, B, U, E)).astype(dtype)
    sizes = cuda_kernels.launch_sizes(*(cuda_kernels.GPU_SIZES if gpu_sizes else cuda_kernels.SIMULATOR_SIZES))
    with sizes as (tile, _), cuda_kernels.record_launches() as launches:
        splits, chunk = cuda_kernels.cuda_device.batch_splits(R, D + 1, U * E, B, tile)
        first = cuda_kernels.experts_backward(X, W, H, dH, need_dX=False)
        second = cuda_kernels.experts_backward(X, W, H, dH, need_dX=False)
    assert splits > 1, "the test needs a split batch"
    assert [launch.kernel for launch in launches] == ["grads", "sum_splits"] * 2
    assert launches[0].grid[2] == R * splits                       # z: (run, split)
    for name, got, again, want in zip(("dW", "db"), first[1:], second[1:], ref.experts_backward(X, W, H, dH)[1:]):
        _agree(name, got, want, dtype)
        np.testing.assert_array_equal(got, again, err_msg=f"{name} changed between two calls")


def test_batch_splits_cover_the_batch_in_whole_tiles(cuda_kernels):
    batch_splits = cuda_kernels.cuda_device.batch_splits
    for runs, rows, cols, batch, tile in [(1, 101, 128, 8192, 16), (200, 101, 128, 1024, 16), (1, 4, 4, 150, 16),
                                          (1, 4, 4, 10, 16), (3, 101, 128, 0, 16), (1, 2, 2, 1_000_000, 4)]:
        splits, chunk = batch_splits(runs, rows, cols, batch, tile)
        assert chunk % tile == 0 and splits >= 1
        assert splits * chunk >= batch and (splits - 1) * chunk < max(batch, 1), (batch, splits, chunk)
        assert splits == 1 or chunk >= cuda_kernels.cuda_device.SPLIT_MIN_TILES * tile
    assert batch_splits(1, 101, 128, 8192, 16)[0] > 1          # the paper's sizes at batch 8192: split
    assert batch_splits(200, 101, 128, 1024, 16)[0] == 1       # 200 runs fill the GPU without a split


# --------------------------------------------------------------------------- launches
def _launch_everything(kern, dtype, B=5):
    rng = np.random.default_rng(1)
    X, W, b = (rng.standard_normal(s).astype(dtype) for s in ((2, B, 3), (2, 3, 2, 2), (2, 2, 2)))
    G, dF = rng.standard_normal((2, 2, B, 2)).astype(dtype), rng.standard_normal((2, 2, B, 2)).astype(dtype)
    H = kern.experts_forward(X, W, b)
    kern.experts_backward(X, W, H, kern.gate_mix_backward(H, G, dF)[0])
    kern.gate_mix_forward(H, G)
    p = np.ones((2, 7), dtype)
    kern.adam_update(p, p.copy(), p.copy(), p.copy(), np.ones(2), 0.9, 0.999, 1e-8, 0.1, 0.001)


def _train_on_the_device(dtype, B=40):
    """A resident step of MMoE (BCE on one task) and of PLE, a restored and a frozen run: every kernel of
    kernels/cuda_train_device.py and the linear products (B = 40 splits their weight gradients). Launched
    under ``record_launches(run=False)``: only what is launched counts here (tests/test_cuda_train.py checks
    what it computes), so the resident step's own methods are called, without the Trainer's guard."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((B, 3)).astype(dtype)
    Y = [rng.standard_normal((B, 1)).astype(dtype), (rng.random((B, 1)) > 0.5).astype(dtype)]
    for model in (mn.MMoE(3, n_experts=2, expert_units=2, tower_units=2, seed=[0, 1], backend="cuda", dtype=dtype),
                  mn.PLE(3, n_task_experts=1, n_shared_experts=1, expert_units=2, tower_units=2, seed=[0, 1],
                         backend="cuda", dtype=dtype)):
        trainer = mn.Trainer(model, mn.Adam(lr=1e-2), loss=["mse", "bce_with_logits"])
        trainer.resident.step(*trainer.resident.batches(X, Y, B, np.random.default_rng(0)).next_batch())
        trainer.resident.snapshot()
        trainer.resident.restore(np.array([True, False]))
        trainer.resident.freeze(np.array([False, True]))
        trainer.resident.update(np.array([False, True]))
        trainer.release()


def test_every_launch_uses_the_argument_types_the_compile_test_compiles(cuda_kernels):
    """tests/test_cuda_compile.py compiles cuda_device.signatures(): these must be what the wrappers launch."""
    seen = set()
    for dtype in (np.float32, np.float64):
        with cuda_kernels.launch_sizes(*cuda_kernels.SIMULATOR_SIZES):
            with cuda_kernels.record_launches() as launches:
                _launch_everything(cuda_kernels, dtype, B=40)         # with 4 x 4 tiles, long enough to split dW
            with cuda_kernels.record_launches(run=False) as more:
                _train_on_the_device(dtype)
        launches = launches + more
        signatures = cuda_kernels.cuda_device.signatures(dtype)
        for launch in launches:
            assert launch.types == signatures[launch.kernel], (
                f"{launch.kernel} ({np.dtype(dtype)}) launched with {launch.types}, compiled for "
                f"{signatures[launch.kernel]}")
            assert all(n >= 1 for n in launch.grid + launch.block)
            assert np.prod(launch.block) <= 256
            seen.add(launch.kernel)
    assert seen == set(cuda_kernels.cuda_device.KERNEL_NAMES), f"never launched: {set(signatures) - seen}"


def test_zero_rows_launch_nothing_that_cuda_would_reject(cuda_kernels):
    """A batch of zero rows: no launch with an empty grid (CUDA rejects it; the simulator would loop zero times)."""
    X, W, b = np.ones((0, 3)), np.ones((3, 2, 2)), np.ones((2, 2))
    with cuda_kernels.record_launches() as launches:
        H = cuda_kernels.experts_forward(X, W, b)
        dX, dW, db = cuda_kernels.experts_backward(X, W, H, np.ones((0, 2, 2)))
        F = cuda_kernels.gate_mix_forward(H, np.ones((2, 0, 2)))
        dH, dG = cuda_kernels.gate_mix_backward(H, np.ones((2, 0, 2)), np.ones((2, 0, 2)))
    assert [launch.kernel for launch in launches] == ["grads"]     # dW and db are zeros: a real launch
    assert dX.shape == (0, 3) and F.shape == (2, 0, 2) and dG.shape == (2, 0, 2)
    np.testing.assert_array_equal(dW, 0)
    np.testing.assert_array_equal(db, 0)


def test_device_inputs_must_be_contiguous_and_of_the_right_dtype(cuda_kernels):
    from numba import cuda
    X = cuda.to_device(np.ones((4, 6)))
    with pytest.raises(ValueError, match="device array X must be C-contiguous"):
        cuda_kernels.experts_forward(X[:, ::2], np.ones((3, 2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="device array X has dtype float32; the other inputs need float64"):
        cuda_kernels.experts_forward(cuda.to_device(np.ones((4, 6), np.float32)), np.ones((6, 2, 2)), np.ones((2, 2)))


def test_launch_sizes_are_checked_and_restored(cuda_kernels):
    before = cuda_kernels._sizes
    with pytest.raises(ValueError, match="tile and threads must be positive"):
        with cuda_kernels.launch_sizes(tile=0):
            pass
    with cuda_kernels.launch_sizes(tile=8, threads=64) as sizes:
        assert sizes == (8, 64)
    assert cuda_kernels._sizes == before


# ------------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_device_adam_equals_the_numpy_adam_with_a_learning_rate_per_run(cuda_kernels, dtype):
    """Three steps of the Adam kernel on a model's flat (R, P) buffers, one of them frozen (lr 0)."""
    from numba import cuda
    model = mn.MMoE(n_features=4, n_experts=2, expert_units=3, tower_units=2, seed=[0, 1, 2], dtype=dtype)
    lr = np.array([1e-2, 3e-2, 1e-3])
    numpy_adam = mn.Adam(lr=lr, fused=False)
    numpy_adam.freeze(np.array([False, False, True]))
    params = model.params.copy()
    P = params.layout.size
    rng = np.random.default_rng(0)
    on_device = {name: cuda.to_device(np.ascontiguousarray(a.reshape(-1, P))) for name, a in
                 (("p", model.params.flat), ("m", np.zeros_like(model.params.flat)),
                  ("v", np.zeros_like(model.params.flat)))}
    lr_device = cuda.to_device(np.where([False, False, True], 0.0, lr).astype(dtype))
    for t in range(1, 4):
        grads = params.zeros_like()
        grads.flat[...] = rng.standard_normal(grads.flat.shape)
        numpy_adam.step(params, grads)
        g = cuda.to_device(np.ascontiguousarray(grads.flat.reshape(-1, P)))
        with cuda_kernels.record_launches() as launches:
            cuda_kernels.adam_update(on_device["p"], g, on_device["m"], on_device["v"], lr_device, 0.9, 0.999, 1e-8,
                                     1 - 0.9 ** t, 1 - 0.999 ** t)
        assert [launch.kernel for launch in launches] == ["adam"]
    got = on_device["p"].copy_to_host()
    _agree("parameters after 3 Adam steps", got, params.flat.reshape(-1, P), dtype)
    np.testing.assert_array_equal(got[2], model.params.flat.reshape(-1, P)[2])     # the frozen run did not move
    _agree("first moment", on_device["m"].copy_to_host(), numpy_adam.m.flat.reshape(-1, P), dtype)


def test_device_adam_updates_host_arrays_in_place_like_the_cpu_kernel(cuda_kernels):
    from mmoe_np.kernels import cpu
    rng = np.random.default_rng(3)
    p, g = rng.standard_normal((2, 9)), rng.standard_normal((2, 9))
    m, v = 0.1 * rng.standard_normal((2, 9)), rng.random((2, 9))
    want = [a.copy() for a in (p, g, m, v)]
    cpu.adam_update(*want, np.array([1e-3, 1e-2]), 0.9, 0.999, 1e-8, 0.19, 0.002)
    cuda_kernels.adam_update(p, g, m, v, np.array([1e-3, 1e-2]), 0.9, 0.999, 1e-8, 0.19, 0.002)
    for name, got, w in zip("pgmv", (p, g, m, v), want):
        np.testing.assert_allclose(got, w, rtol=1e-13, err_msg=name)


def test_device_adam_rejects_mismatched_buffers(cuda_kernels):
    p = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"adam_update: m must have p's shape \(2, 5\) and dtype float64"):
        cuda_kernels.adam_update(p, p.copy(), np.zeros((2, 4)), p.copy(), np.ones(2), 0.9, 0.999, 1e-8, 0.1, 0.1)
    with pytest.raises(ValueError, match=r"lr must hold one learning rate per run, shape \(2,\), got \(3,\)"):
        cuda_kernels.adam_update(p, p.copy(), p.copy(), p.copy(), np.ones(3), 0.9, 0.999, 1e-8, 0.1, 0.1)
    with pytest.raises(TypeError, match="g must be a NumPy or device array"):
        cuda_kernels.adam_update(p, [[0.0] * 5] * 2, p.copy(), p.copy(), np.ones(2), 0.9, 0.999, 1e-8, 0.1, 0.1)


def test_a_grid_beyond_cudas_limits_is_a_clear_error(cuda_kernels):
    """Rows go on the grid's x axis (2^31 - 1 blocks); runs on z, which CUDA caps at 65535 blocks."""
    from numba import cuda
    C = cuda.device_array((70_000, 1, 1))
    with pytest.raises(ValueError, match=r"forward: 70000 runs .* at most 65535 blocks in y and z"):
        cuda_kernels.launch_product("forward", np.float64, C, C, C, C, K=1)

"""The flat parameter buffer: views that share memory, dense blocks, runs, safe assignment."""
import copy
import pickle

import numpy as np
import pytest

import mmoe_np as mn
from mmoe_np.params import Layout, Params, dense_block, find_dense_block

D, U, E, K = 5, 3, 4, 2
LAYOUT = Layout([dense_block(D, [("expert_kernel", (D, U, E), 0, "expert_bias", (U, E)),
                                 ("gate_kernel", (K, D, E), 1, "gate_bias", (K, E))]),
                 ("tower_kernel", (K, U, 2)), ("tower_bias", (K, 2))])


@pytest.mark.parametrize("run_shape", [(), (3,), (2, 3)])
def test_views_share_the_flat_buffer_and_have_the_documented_shapes(run_shape):
    p = Params.zeros(LAYOUT, run_shape)
    assert p["gate_kernel"].shape == run_shape + (K, D, E)
    assert p["expert_bias"].shape == run_shape + (U, E)
    for name, view in p.items():
        view[...] = np.random.default_rng(0).standard_normal(view.shape)
        assert np.shares_memory(view, p.flat), name
    assert p.flat.shape == run_shape + (LAYOUT.size,)
    assert LAYOUT.size == (D + 1) * (U * E + K * E) + K * U * 2 + K * 2


def test_the_dense_block_is_the_kernels_side_by_side_and_the_biases_below():
    p = Params.zeros(LAYOUT)
    for view in p.values():
        view[...] = np.random.default_rng(1).standard_normal(view.shape)
    kernels = [p["expert_kernel"].reshape(D, U * E), np.swapaxes(p["gate_kernel"], 0, 1).reshape(D, K * E)]
    biases = [p["expert_bias"].reshape(U * E), p["gate_bias"].reshape(K * E)]
    block = find_dense_block(kernels, biases)
    assert block is not None and np.shares_memory(block, p.flat)
    want = np.vstack([np.hstack(kernels), np.hstack(biases)])
    np.testing.assert_array_equal(block, want)
    assert find_dense_block([k.copy() for k in kernels], biases) is None        # not laid out as one: no view


def test_assignment_copies_into_the_buffer_and_names_are_fixed():
    model = mn.MMoE(n_features=4, n_experts=2, expert_units=3, seed=0)
    before = model.params.flat.copy()
    model.params["gate_bias"] = np.ones((2, 2))
    assert np.shares_memory(model.params["gate_bias"], model.params.flat)
    assert model.params.flat.sum() != before.sum()
    with pytest.raises(ValueError, match=r"must keep its shape \(2, 2\)"):
        model.params["gate_bias"] = np.ones(3)
    with pytest.raises(KeyError, match="not a parameter"):
        model.params["new"] = np.ones(1)
    with pytest.raises(TypeError, match="parameters are fixed"):
        del model.params["gate_bias"]


def test_pickle_and_copy_keep_the_views_linked():
    model = mn.SharedBottom(n_features=4, bottom_units=3, seed=[1, 2])
    for params in (pickle.loads(pickle.dumps(model.params)), copy.deepcopy(model.params), model.params.copy()):
        for name in params:
            np.testing.assert_array_equal(params[name], model.params[name])
            assert np.shares_memory(params[name], params.flat)
        assert not np.shares_memory(params.flat, model.params.flat)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(np.ones((2, 4)))[0], model.predict(np.ones((2, 4)))[0])

"""Gradient checks for every layer and loss (float64, central differences)."""
import numpy as np
import pytest

import mmoe_np as mn
from mmoe_np.gradcheck import compare, numerical_gradient, numerical_gradient_array
from mmoe_np.nn import layers

rng = np.random.default_rng(0)


def _check_dense(x, W, b):
    out, cache = layers.dense_forward(x, W, b)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = layers.dense_backward(dout, cache)
    f = lambda: layers.dense_forward(x, W, b)[0]
    compare("dx", dx, numerical_gradient_array(f, x, dout))
    compare("dW", dW, numerical_gradient_array(f, W, dout))
    compare("db", db, numerical_gradient_array(f, b, dout))
    return out


def test_dense_forward_backward():
    x, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    np.testing.assert_allclose(_check_dense(x, W, b), x @ W + b)


def test_dense_broadcast_over_tasks():
    # one (1, B, I) input read by K = 3 towers
    _check_dense(rng.standard_normal((1, 5, 4)), rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 2)))


def test_dense_one_input_many_weights():
    x = rng.standard_normal((5, 4))        # 2-D input read by K = 3 gates
    W, b = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 2))
    out = _check_dense(x, W, b)
    np.testing.assert_allclose(out, np.stack([x @ W[k] + b[k] for k in range(3)]), rtol=1e-13)


def test_relu():
    z = rng.standard_normal((6, 5))
    z[np.abs(z) < 1e-3] = 0.5             # keep away from the kink
    out, cache = layers.relu_forward(z)
    dout = rng.standard_normal(z.shape)
    compare("dz", layers.relu_backward(dout, cache),
            numerical_gradient_array(lambda: layers.relu_forward(z)[0], z, dout))


def test_softmax_gate():
    X, Wg, bg = rng.standard_normal((6, 4)), rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 3))
    G, cache = layers.softmax_gate_forward(X, Wg, bg)
    np.testing.assert_allclose(G.sum(-1), 1.0)
    dG = rng.standard_normal(G.shape)
    dX, dWg, dbg = layers.softmax_gate_backward(dG, cache, need_dX=True)
    f = lambda: layers.softmax_gate_forward(X, Wg, bg)[0]
    compare("dX", dX, numerical_gradient_array(f, X, dG))
    compare("dgate_kernel", dWg, numerical_gradient_array(f, Wg, dG))
    compare("dgate_bias", dbg, numerical_gradient_array(f, bg, dG))


def test_softmax_is_stable_for_huge_logits():
    G = layers.softmax(np.array([[1e4, 0.0, -1e4]]))
    np.testing.assert_allclose(G, [[1.0, 0.0, 0.0]])


def test_towers():
    K, B, U, T, O = 2, 5, 4, 3, 2
    F = rng.standard_normal((K, B, U))
    p = [rng.standard_normal(s) for s in [(K, U, T), (K, T), (K, T, O), (K, O)]]
    out, cache = layers.towers_forward(F, *p)
    dout = rng.standard_normal(out.shape)
    dF, grads = layers.towers_backward(dout, cache)
    f = lambda: layers.towers_forward(F, *p)[0]
    compare("dF", dF, numerical_gradient_array(f, F, dout))
    for name, grad, value in zip(["tower_kernel", "tower_bias", "output_kernel", "output_bias"], grads, p):
        compare(name, grad, numerical_gradient_array(f, value, dout))


@pytest.mark.parametrize("loss", [mn.losses.mse, mn.losses.bce_with_logits])
def test_losses(loss):
    pred = rng.standard_normal((7, 2))
    y = rng.uniform(size=(7, 2)) if loss is mn.losses.bce_with_logits else rng.standard_normal((7, 2))
    value, dpred = loss(pred, y)
    compare("dpred", dpred, numerical_gradient(lambda: loss(pred, y)[0], pred))


def test_mse_value():
    assert mn.losses.mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))[0] == pytest.approx(2.5)


def test_bce_matches_the_textbook_formula_and_is_stable():
    z, y = np.array([[0.3], [-1.2]]), np.array([[1.0], [0.0]])
    s = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert mn.losses.bce_with_logits(z, y)[0] == pytest.approx(expected)
    z = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, d = mn.losses.bce_with_logits(z, y)
    assert value == pytest.approx((0 + 0 + 1e4 + 1e4) / 4)
    np.testing.assert_allclose(d.ravel(), [0, 0, 0.25, -0.25])


def test_loss_errors():
    with pytest.raises(ValueError, match="y must have the shape of pred"):
        mn.losses.mse(np.zeros((3, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="loss must be one of"):
        mn.losses.get("hinge")


@pytest.mark.parametrize("loss", [mn.losses.mse, mn.losses.bce_with_logits])
def test_losses_with_runs_are_each_runs_own_mean(loss):
    pred = rng.standard_normal((3, 7, 2))
    y = rng.uniform(size=(3, 7, 2))
    value, d = loss(pred, y)
    assert value.shape == (3,)
    for r in range(3):
        one, d_one = loss(pred[r], y[r])
        assert value[r] == pytest.approx(one)
        np.testing.assert_allclose(d[r], d_one)


def test_bce_rejects_labels_outside_0_1():
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 1\] for bce_with_logits, got 2.0"):
        mn.losses.bce_with_logits(np.zeros((2, 1)), np.array([[1.0], [2.0]]))
    with pytest.raises(ValueError, match="labels in"):
        mn.losses.bce_with_logits(np.zeros((2, 1)), np.array([[np.nan], [0.0]]))


def test_towers_and_gates_with_a_run_axis():
    F = rng.standard_normal((3, 2, 5, 4))                   # 3 runs, K = 2 towers
    p = [rng.standard_normal((3,) + s) for s in [(2, 4, 3), (2, 3), (2, 3, 1), (2, 1)]]
    out, cache = layers.towers_forward(F, *p)
    dout = rng.standard_normal(out.shape)
    dF, grads = layers.towers_backward(dout, cache)
    f = lambda: layers.towers_forward(F, *p)[0]
    compare("dF", dF, numerical_gradient_array(f, F, dout))
    for grad, value in zip(grads, p):
        compare("tower", grad, numerical_gradient_array(f, value, dout))
    X, Wg, bg = rng.standard_normal((5, 4)), rng.standard_normal((3, 2, 4, 3)), rng.standard_normal((3, 2, 3))
    G, gcache = layers.softmax_gate_forward(X, Wg, bg)      # one input read by 3 runs of 2 gates
    dG = rng.standard_normal(G.shape)
    dX, dW, db = layers.softmax_gate_backward(dG, gcache, need_dX=True)
    g = lambda: layers.softmax_gate_forward(X, Wg, bg)[0]
    compare("dX", dX, numerical_gradient_array(g, X, dG))
    compare("dW", dW, numerical_gradient_array(g, Wg, dG))
    compare("db", db, numerical_gradient_array(g, bg, dG))


def test_losses_broadcast_only_the_leading_run_axes():
    with pytest.raises(ValueError, match="y must have the shape of pred"):
        mn.losses.mse(np.zeros((3, 2)), np.zeros((3, 1)))          # one target column for two outputs
    with pytest.raises(ValueError, match="y must have the shape of pred"):
        mn.losses.mse(np.zeros((3, 1)), np.zeros((1, 1)))          # one row for a batch of three
    value, _ = mn.losses.mse(np.zeros((2, 3, 1)), np.ones((3, 1)))  # one target set for two runs: fine
    np.testing.assert_allclose(value, [1.0, 1.0])

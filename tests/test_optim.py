import numpy as np
import pytest

import mmoe_np as mn


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p = {"w": np.array([1.0, -2.0])}
    g1, g2 = np.array([0.5, -1.0]), np.array([-0.25, 2.0])
    opt = mn.Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)
    opt.step(p, {"w": g1})
    # step 1: m = 0.1 g1, v = 0.001 g1^2, m_hat = g1, v_hat = g1^2 -> w -= lr * sign(g1) (almost)
    expected1 = np.array([1.0, -2.0]) - lr * g1 / (np.abs(g1) + eps)
    np.testing.assert_allclose(p["w"], expected1, rtol=1e-14)
    opt.step(p, {"w": g2})
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    np.testing.assert_allclose(p["w"], expected1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)
    assert opt.t == 2


def test_sgd_and_momentum():
    p = {"w": np.array([1.0])}
    mn.SGD(lr=0.5).step(p, {"w": np.array([2.0])})
    assert p["w"][0] == pytest.approx(0.0)
    p = {"w": np.array([0.0])}
    opt = mn.SGD(lr=1.0, momentum=0.5)
    opt.step(p, {"w": np.array([1.0])})
    opt.step(p, {"w": np.array([1.0])})
    assert p["w"][0] == pytest.approx(-(1.0 + 1.5))


def test_optimizer_errors():
    with pytest.raises(ValueError, match="lr must be in"):
        mn.Adam(lr=0.0)
    with pytest.raises(ValueError, match="beta1 and beta2 must be < 1"):
        mn.Adam(beta1=1.0)
    with pytest.raises(ValueError, match="grads must have the keys of params"):
        mn.Adam().step({"w": np.zeros(2)}, {"v": np.zeros(2)})
    with pytest.raises(ValueError, match=r"grads\['w'\] must have shape"):
        mn.SGD().step({"w": np.zeros(2)}, {"w": np.zeros(3)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_adam_equals_numpy_adam(dtype):
    rng = np.random.default_rng(0)
    shapes = {"a": (3, 4, 2), "b": (5,)}
    params = [{k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}]
    params.append({k: v.copy() for k, v in params[0].items()})
    opts = [mn.Adam(lr=0.01, fused=True), mn.Adam(lr=0.01, fused=False)]
    for _ in range(5):
        grads = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
        for p, opt in zip(params, opts):
            opt.step(p, grads)
    for k in shapes:
        np.testing.assert_allclose(params[0][k], params[1][k], rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_an_optimizer_refuses_parameters_it_was_not_made_for():
    """Reusing one Adam on a larger model once wrote past its moment arrays (a segfault)."""
    small = mn.MMoE(n_features=4, n_experts=2, expert_units=3)
    large = mn.MMoE(n_features=4, n_experts=3, expert_units=3)
    opt = mn.Adam()
    opt.step(small.params, small.params.zeros_like())
    with pytest.raises(ValueError, match=r"'expert_kernel' has shape \(4, 3, 3\), its state has shape \(4, 3, 2\)"):
        opt.step(large.params, large.params.zeros_like())
    other = mn.SharedBottom(n_features=4, bottom_units=3)
    with pytest.raises(ValueError, match="'bottom_kernel' is new"):
        opt.step(other.params, other.params.zeros_like())
    sgd = mn.SGD(momentum=0.9)
    sgd.step({"w": np.zeros(3)}, {"w": np.ones(3)})
    with pytest.raises(ValueError, match=r"'w' has shape \(4,\), its state has shape \(3,\)"):
        sgd.step({"w": np.zeros(4)}, {"w": np.ones(4)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_flat_fused_update_equals_the_per_parameter_one(dtype):
    models = [mn.MMoE(n_features=5, n_experts=3, expert_units=2, seed=[1, 2], dtype=dtype) for _ in range(2)]
    opts = [mn.Adam(lr=np.array([1e-2, 3e-3]), fused=True), mn.Adam(lr=np.array([1e-2, 3e-3]), fused=False)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        grads = models[0].params.zeros_like()
        grads.flat[...] = rng.standard_normal(grads.flat.shape)
        for model, opt in zip(models, opts):
            opt.step(model.params, grads)
    np.testing.assert_allclose(models[0].params.flat, models[1].params.flat,
                               rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_optimizer_arguments_are_checked():
    with pytest.raises(ValueError, match="lr must hold positive learning rates"):
        mn.Adam(lr=np.array([1e-3, 0.0]))
    with pytest.raises(TypeError, match="lr must be a real number"):
        mn.Adam(lr="fast")
    with pytest.raises(ValueError, match=r"lr has shape \(3,\), which does not fit the parameters' runs \(2,\)"):
        model = mn.SharedBottom(n_features=3, bottom_units=2, seed=[0, 1])
        mn.Adam(lr=np.ones(3) * 1e-3).step(model.params, model.params.zeros_like())
    with pytest.raises(TypeError, match="step\\(params, grads\\) takes two dicts"):
        mn.Adam().step([np.zeros(2)], [np.zeros(2)])


def test_linear_anneal_and_lr_scale():
    from mmoe_np.optim import linear_anneal
    scales = [linear_anneal(s, 8, 0.5) for s in range(1, 9)]
    assert scales == [1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    assert [linear_anneal(s, 8, 0.0) for s in (1, 8)] == [1.0, 1.0]
    # lr_scale s is the same step as the rate lr * s, for Adam (fused and NumPy) and SGD
    rng = np.random.default_rng(0)
    p0, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    for make in (lambda lr: mn.Adam(lr=lr, fused=False), lambda lr: mn.SGD(lr=lr, momentum=0.5)):
        a, b = make(0.01), make(0.004)
        a.lr_scale = 0.4
        pa, pb = {"w": p0.copy()}, {"w": p0.copy()}
        for _ in range(3):
            a.step(pa, {"w": g})
            b.step(pb, {"w": g})
        np.testing.assert_allclose(pa["w"], pb["w"], rtol=1e-12, atol=1e-15)

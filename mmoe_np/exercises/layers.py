"""Exercises on single layers, losses and Adam (lessons 02, 03, 05), with their typical mistakes."""
from __future__ import annotations

import numpy as np

from ..kernels import reference
from ..nn import layers, losses
from .judging import Call, Count, Exercise, Mistake, batch_count, exercise, rng


@exercise("ex02_dense_backward")
def dense_backward():
    calls = []
    for seed, (B, I, O) in enumerate([(5, 4, 3), (1, 3, 2)]):
        r = rng(seed)
        x, W = r.standard_normal((B, I)), r.standard_normal((I, O))
        dout = r.standard_normal((B, O))
        dx, dW, db = layers.dense_backward(dout, layers.DenseCache(x, W))
        calls.append(Call("dense_backward", (dout, (x, W)), (dx, dW, db), ("dx", "dW", "db"), counts=(batch_count(B),)))
    return Exercise(("dense_backward",), calls, "dx, dW, db match the analytic (gradient-checked) answer")


def _entries(B, O):
    return Count("N", B * O, f"the loss is a mean over all N = B*O = {B}*{O} entries; its gradient carries 1/N once",
                 f"the loss is the mean over all N = B*O = {B}*{O} entries, so its gradient carries a factor 1/N")


@exercise("ex03_mse")
def mse():
    calls = []
    for seed, (B, O) in enumerate([(6, 1), (3, 2)]):
        r = rng(40 + seed)
        pred, y = r.standard_normal((B, O)), r.standard_normal((B, O))
        loss, d = losses.mse(pred, y)
        calls.append(Call("mse", (pred, y), (np.asarray(loss), d), ("loss", "dpred"), counts=(_entries(B, O),)))
    mistakes = [
        Mistake("the loss is the mean of the squares over all N = B*O entries, not their sum",
                lambda c: (np.sum((c.args[0] - c.args[1]) ** 2), None)),
        Mistake("you divided by the batch size B only; the mean runs over all N = B*O entries (here O > 1)",
                lambda c: (np.sum((c.args[0] - c.args[1]) ** 2) / len(c.args[0]),
                           2 * (c.args[0] - c.args[1]) / len(c.args[0]))),
        Mistake("the gradient of (pred - y)^2 is +2 (pred - y): the sign follows pred",
                lambda c: (None, 2 * (c.args[1] - c.args[0]) / c.args[0].size)),
    ]
    return Exercise(("mse",), calls, "the mean squared error and its gradient match", mistakes)


@exercise("ex03_bce_with_logits")
def bce_with_logits():
    calls = []
    for seed, (B, scale) in enumerate([(7, 1.0), (4, 1e4)]):
        r = rng(30 + seed)
        z = scale * r.standard_normal((B, 2))
        y = r.integers(0, 2, (B, 2)).astype(float) if scale > 1 else r.random((B, 2))
        loss, dz = losses.bce_with_logits(z, y)
        label = "logits of +-1e4" if scale > 1 else "ordinary logits"
        calls.append(Call("bce_with_logits", (z, y), (np.asarray(loss), dz), ("loss", "dlogits"), stage=label,
                          counts=(_entries(B, 2),)))

    def sigmoid(z):
        return 0.5 * (1 + np.tanh(z / 2))               # stable, for the mistakes below

    mistakes = [
        Mistake("dL/dz = (s(z) - y) / N: the sign follows s(z), the prediction",
                lambda c: (None, (c.args[1] - sigmoid(c.args[0])) / c.args[0].size)),
        Mistake("you divided by the batch size B only; the mean runs over all N = B*O entries",
                lambda c: (None, (sigmoid(c.args[0]) - c.args[1]) / len(c.args[0]))),
    ]

    def hint(call, name, got):
        if call.stage.startswith("logits of"):
            return ("not numerically stable: for |z| = 1e4, exp(z) overflows or 1 - s(z) rounds to 0; find a form "
                    "of each term that only needs exp(-|z|) (part 1 of the exercise)")
        return ""
    return Exercise(("bce_with_logits",), calls, "the loss and its gradient match, also for logits of +-1e4", mistakes,
                    hint, stages=True)


def _adam(param, grad, m, v, t, lr, beta1, beta2, eps, *, eps_inside=False, correct=True, shift=0, squared=True,
          hats=False):
    """One Adam step, right (the defaults) or with one typical mistake."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * (grad**2 if squared else grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat = m / (1 - beta1 ** (t + shift)) if correct else m
        v_hat = v / (1 - beta2 ** (t + shift)) if correct else v
        step = m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps)
    return param - lr * step, (m_hat if hats else m), (v_hat if hats else v)


@exercise("ex03_adam_step")
def adam_step():
    r = rng(3)
    param, m, v = r.standard_normal(6), np.zeros(6), np.zeros(6)
    calls = []
    for t in range(1, 4):
        grad = r.standard_normal(6)
        args = (param.copy(), grad, m.copy(), v.copy(), t, 0.01, 0.9, 0.999, 1e-8)
        new = _adam(*args)
        calls.append(Call("adam_step", args, new, ("param", "m", "v"), stage=f"step {t}", tol=1e-9))
        param, m, v = new
    # gradients of 1e-7: sqrt(v_hat) is then far below 1, and where eps sits matters
    args = (1e-3 * r.standard_normal(6), 1e-7 * r.standard_normal(6), np.zeros(6), np.zeros(6), 1, 0.001, 0.9, 0.999,
            1e-8)
    calls.append(Call("adam_step", args, _adam(*args), ("param", "m", "v"), stage="tiny gradients", tol=1e-9))

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: _adam(*c.args, **kw))
    mistakes = [
        mistake("eps goes outside the square root: sqrt(v_hat) + eps (inside, it adds eps to v_hat, which "
                "matters when the gradients are tiny)", eps_inside=True),
        mistake("remember the bias correction: the moments start at 0, so early m and v are too small until "
                "divided by (1 - beta^t)", correct=False),
        mistake("t already counts from 1 (the first step has t = 1): use beta^t as given, not beta^(t+1)", shift=1),
        mistake("t already counts from 1: 1 - beta^(t-1) is 0 at the first step", shift=-1),
        mistake("v is the moving average of the *squared* gradient", squared=False),
        mistake("return the moments m and v themselves; the bias-corrected m_hat and v_hat serve only this step's "
                "update", hats=True),
    ]
    return Exercise(("adam_step",), calls, "three Adam steps and a step with tiny gradients match mmoe_np.Adam "
                    "(param, m and v)", mistakes, stages=True)


@exercise("ex05_softmax_backward")
def softmax_backward():
    calls = []
    for seed, shape in enumerate([(6, 4), (1, 3)]):
        r = rng(10 + seed)
        G = layers.softmax(r.standard_normal(shape))
        dG = r.standard_normal(shape)
        calls.append(Call("softmax_backward", (dG, G), layers.softmax_backward(dG, G), "dlogits"))
    mistakes = [
        Mistake("this is only the Jacobian's diagonal, g_j (1 - g_j) dg_j: every g_i depends on every logit "
                "l_j (through the normalising sum), so the terms i != j count too",
                lambda c: c.args[1] * (1 - c.args[1]) * c.args[0]),
        Mistake("the sum over i runs along one row (the experts, axis=-1), not down the batch",
                lambda c: c.args[1] * (c.args[0] - (c.args[0] * c.args[1]).sum(axis=0, keepdims=True))),
        Mistake("the Jacobian of softmax is diag(g) - g g^T: its diagonal part needs the g_j dg_j term too",
                lambda c: -c.args[1] * (c.args[0] * c.args[1]).sum(axis=-1, keepdims=True)),
    ]
    return Exercise(("softmax_backward",), calls, "dlogits matches softmax's Jacobian product", mistakes)


@exercise("ex05_gate_mix_backward")
def gate_mix_backward():
    r = rng(2)
    H, G, dF = r.standard_normal((5, 4, 3)), r.random((2, 5, 3)), r.standard_normal((2, 5, 4))
    dH, dG = reference.gate_mix_backward(H, G, dF)
    mistakes = [
        Mistake("dH must collect every task's gradient: each task's mixture reads the same experts, so sum over k",
                lambda c: (np.einsum("bu,be->bue", c.args[2][0], c.args[1][0]), None)),
        Mistake("dH must collect every task's gradient: each task's mixture reads the same experts, so sum over k",
                lambda c: (np.einsum("bu,be->bue", c.args[2][-1], c.args[1][-1]), None)),
        Mistake("dH averages the tasks instead of summing them: the loss adds the tasks, so their gradients add",
                lambda c: (reference.gate_mix_backward(*c.args)[0] / len(c.args[1]), None)),
    ]
    return Exercise(("gate_mix_backward",), [Call("gate_mix_backward", (H, G, dF), (dH, dG), ("dH", "dG"))],
                    "dH and dG match the gate-weighted sum's gradients", mistakes)


@exercise("ex05_experts_backward")
def experts_backward():
    calls = []
    for seed, (B, D, U, E) in enumerate([(6, 5, 4, 3), (1, 2, 3, 2)]):
        r = rng(20 + seed)
        X, W, b = r.standard_normal((B, D)), r.standard_normal((D, U, E)), r.standard_normal((U, E))
        H = reference.experts_forward(X, W, b)
        dH = r.standard_normal(H.shape)
        calls.append(Call("experts_backward", (X, W, H, dH), reference.experts_backward(X, W, H, dH),
                          ("dX", "dW", "db"), counts=(batch_count(B),)))
    no_mask = "this is the gradient without ReLU's mask: a unit that was off (H = 0) passes no gradient back"
    mistakes = [
        Mistake(no_mask, lambda c: reference.experts_backward(*c.args[:2], np.ones_like(c.args[2]), c.args[3])),
        Mistake("the mask is [H > 0], where the unit was on, not [H < 0] or [H == 0]",
                lambda c: reference.experts_backward(*c.args[:2], (c.args[2] == 0).astype(float), c.args[3])),
    ]
    return Exercise(("experts_backward",), calls, "dX, dW, db of the experts match (ReLU mask included)", mistakes)

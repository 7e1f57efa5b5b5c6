"""Exercises on whole models (lessons 04, 06, 13): forward passes stage by stage, backward passes."""
from __future__ import annotations

import numpy as np

from ..gradcheck import numerical_gradient
from ..kernels import reference
from ..nn import layers
from .judging import Call, Count, Exercise, Mistake, batch_count, exercise, rng


def _relu(z):
    return np.maximum(z, 0)


def _nonzero_biases(model):
    r = rng(6)
    for p in model.params.values():            # non-zero biases too, so forgotten ones show
        p += 0.1 * r.standard_normal(p.shape)
    return model


def _small_mmoe():
    from ..models import MMoE
    model = _nonzero_biases(MMoE(n_features=6, n_tasks=2, n_experts=3, expert_units=4, tower_units=3, seed=5))
    return model, rng(7).standard_normal((8, 6))


@exercise("ex06_mmoe_forward")
def mmoe_forward():
    model, X = _small_mmoe()
    p = {k: v.copy() for k, v in model.params.items()}
    H = reference.experts_forward(X, p["expert_kernel"], p["expert_bias"])
    G, _ = layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])
    F = reference.gate_mix_forward(H, G)
    out, _ = layers.towers_forward(F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])
    preds = tuple(out)
    gate_logits = np.einsum("bd,kde->kbe", X, p["gate_kernel"]) + p["gate_bias"][:, None, :]
    calls = [Call("experts", (X, p), H, "H", stage="H (experts)", tol=1e-10, mistakes=[
                 Mistake("the experts end with a ReLU: H = relu(...), never negative",
                         lambda c: np.einsum("bd,due->bue", X, p["expert_kernel"]) + p["expert_bias"]),
                 Mistake("the expert bias is missing",
                         lambda c: _relu(np.einsum("bd,due->bue", X, p["expert_kernel"])))]),
             Call("gates", (X, p), G, "G", stage="G (gates)", tol=1e-10, mistakes=[
                 Mistake("softmax runs over the experts (the last axis): each row of G[k] sums to 1",
                         lambda c: np.exp(gate_logits) / np.exp(gate_logits).sum(axis=1, keepdims=True)),
                 Mistake("the gate bias is missing",
                         lambda c: layers.softmax(gate_logits - p["gate_bias"][:, None, :]))]),
             Call("mix", (H, G), F, "F", stage="F (mixtures)", tol=1e-10),
             Call("towers", (F, p), preds, ("task 1", "task 2"), stage="towers", tol=1e-10),
             Call("mmoe_forward", (X, p), preds, ("task 1", "task 2"), stage="whole forward", tol=1e-10)]
    return Exercise(("experts", "gates", "mix", "towers", "mmoe_forward"), calls,
                    "the MMoE forward pass matches mmoe_np.MMoE", stages=True)


ORDER = ("output_kernel", "output_bias", "tower_kernel", "tower_bias", "gate_kernel", "gate_bias", "expert_kernel",
         "expert_bias")                          # backprop order: from the loss back


def mmoe_backward_with(X, p, dpreds, *, tower_mask=True, expert_mask=True, tasks="sum", softmax="full", gates="own"):
    """MMoE's backward pass from the library's layers and kernels, right (the defaults) or with one
    typical mistake."""
    H = reference.experts_forward(X, p["expert_kernel"], p["expert_bias"])
    G, _ = layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])
    F = reference.gate_mix_forward(H, G)
    return _towers_back(F, p, dpreds, tower_mask, lambda dF: _mixtures_back(X, p, H, G, dF, expert_mask, tasks,
                                                                             softmax, gates))


def _towers_back(F, p, dpreds, tower_mask, below):
    """The towers' gradients (output and hidden layer), then ``below(dF)`` for the rest."""
    z, hidden = layers.dense_forward(F, p["tower_kernel"], p["tower_bias"])
    A, _ = layers.relu_forward(z)
    dA, dWo, dbo = layers.dense_backward(np.stack(dpreds), layers.DenseCache(A, p["output_kernel"]))
    dz = layers.relu_backward(dA, A) if tower_mask else dA
    dF, dWt, dbt = layers.dense_backward(dz, hidden)
    return {"output_kernel": dWo, "output_bias": dbo, "tower_kernel": dWt, "tower_bias": dbt, **below(dF)}


def _mixtures_back(X, p, H, G, dF, expert_mask, tasks, softmax, gates):
    dH, dG = reference.gate_mix_backward(H, G, dF)
    if tasks == "first":
        dH = reference.gate_mix_backward(H, G[:1], dF[:1])[0]
    if gates == "summed":
        dG = reference.gate_mix_backward(H, G, np.broadcast_to(dF.sum(axis=0), dF.shape))[1]
    dlogits = layers.softmax_backward(dG, G) if softmax == "full" else G * (1 - G) * dG
    _, dWg, dbg = layers.dense_backward(dlogits, layers.DenseCache(X[None], p["gate_kernel"]))
    mask = H if expert_mask else np.ones_like(H)
    _, dWe, dbe = reference.experts_backward(X, p["expert_kernel"], mask, dH)
    return {"gate_kernel": dWg, "gate_bias": dbg, "expert_kernel": dWe, "expert_bias": dbe}


@exercise("ex06_mmoe_backward")
def mmoe_backward():
    model, X = _small_mmoe()
    r = rng(9)
    preds, _ = model.forward(X)
    dpreds = [r.standard_normal(p.shape) for p in preds]

    def objective():                                     # sum_k <preds_k, dpreds_k>: its gradient is backward's
        return float(sum(np.sum(p * d) for p, d in zip(model.forward(X)[0], dpreds)))
    numeric = {name: numerical_gradient(objective, model.params[name]) for name in ORDER}
    params = {k: v.copy() for k, v in model.params.items()}
    call = Call("mmoe_backward", (X, params, [d.copy() for d in dpreds]), numeric, ORDER, tol=1e-6,
                counts=(batch_count(len(X)), Count("K", len(dpreds), "the tasks' gradients add up, they do not average",
                                                   "each parameter gets each task's gradient once")))

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: mmoe_backward_with(*c.args, **kw))
    mistakes = [
        mistake("the towers: ReLU's mask [A > 0] between a tower's two dense layers is missing (everything below "
                "the towers inherits the error)", tower_mask=False),
        mistake("the mixtures: dH must add every task's dF[k] G[k] -- all tasks read the same experts, so this is "
                "where their gradients meet", tasks="first"),
        mistake("the gates: each gate k gets only its own task's dF[k] (task j's loss does not depend on gate k)",
                gates="summed"),
        mistake("the gates: softmax's backward keeps only the Jacobian's diagonal (see ex05_softmax_backward)",
                softmax="diagonal"),
        mistake("the experts: ReLU's mask [H > 0] is missing", expert_mask=False),
    ]

    def hint(call, name, got):                           # the part of the network a wrong parameter belongs to
        part = {"output": "the towers' output layer", "tower": "the towers' hidden layer", "gate": "the gates",
                "expert": "the experts"}[name.split("_")[0]]
        return f"look at {part}"
    return Exercise(("mmoe_backward",), [call], "every parameter's gradient matches central differences "
                    "(as mmoe_np.gradcheck.check_model checks a model)", mistakes, hint, uses=("mmoe_forward",))


@exercise("ex13_cgc_forward")
def cgc_forward():
    from ..models import CGC
    model = _nonzero_biases(CGC(n_features=6, n_tasks=3, n_task_experts=2, n_shared_experts=3, expert_units=4,
                                tower_units=3, seed=5))
    X = rng(7).standard_normal((8, 6))
    preds, _ = model.forward(X)
    p = {k: v.copy() for k, v in model.params.items()}
    return Exercise(("cgc_forward",), [Call("cgc_forward", (X, p), tuple(preds), ("task 1", "task 2", "task 3"),
                                            tol=1e-10)], "all 3 tasks' predictions match mmoe_np.CGC")


SHARED_BOTTOM_ORDER = ("output_kernel", "output_bias", "tower_kernel", "tower_bias", "bottom_kernel", "bottom_bias")


def shared_bottom_backward_with(X, p, dpreds, *, tower_mask=True, bottom_mask=True, tasks="sum"):
    """Shared-Bottom's backward pass from the library's layers, right (the defaults) or with one typical mistake."""
    z, bottom = layers.dense_forward(X, p["bottom_kernel"], p["bottom_bias"])
    s, _ = layers.relu_forward(z)

    def below(dF):                                        # dF (K, B, S): each tower's gradient of s
        ds = {"sum": dF.sum(axis=0), "mean": dF.mean(axis=0), "last": dF[-1]}[tasks]
        _, dW, db = layers.dense_backward(layers.relu_backward(ds, s) if bottom_mask else ds, bottom)
        return {"bottom_kernel": dW, "bottom_bias": db}
    grads = _towers_back(np.broadcast_to(s, (len(dpreds),) + s.shape), p, dpreds, tower_mask, below)
    return {k: grads[k] for k in SHARED_BOTTOM_ORDER}


@exercise("ex04_shared_bottom_backward")
def shared_bottom_backward():
    from ..models import SharedBottom
    model = _nonzero_biases(SharedBottom(n_features=5, n_tasks=3, bottom_units=4, tower_units=3, seed=4))
    X = rng(41).standard_normal((7, 5))
    preds, cache = model.forward(X)
    dpreds = [rng(42 + k).standard_normal(p.shape) for k, p in enumerate(preds)]
    grads = model.backward(cache, dpreds)
    params = {k: v.copy() for k, v in model.params.items()}
    call = Call("shared_bottom_backward", (X, params, [d.copy() for d in dpreds]),
                {k: grads[k].copy() for k in SHARED_BOTTOM_ORDER}, SHARED_BOTTOM_ORDER, tol=1e-9,
                counts=(batch_count(len(X)), Count("K", 3, "the tasks' gradients add up in the bottom, they do "
                                                             "not average", "each task's gradient reaches the bottom "
                                                                            "once")))

    def mistake(hint, **kw):
        return Mistake(hint, lambda c: shared_bottom_backward_with(*c.args, **kw))
    mistakes = [
        mistake("the towers: ReLU's mask [A > 0] between a tower's two dense layers is missing", tower_mask=False),
        mistake("only the last task reaches the bottom: every tower reads the same s, so the bottom's gradient is "
                "the sum of the towers' ds_k (this is where the tasks meet)", tasks="last"),
        mistake("the bottom's gradient averages the towers' ds_k; the loss adds the tasks, so their gradients add",
                tasks="mean"),
        mistake("the bottom: ReLU's mask [s > 0] is missing", bottom_mask=False),
    ]
    return Exercise(("shared_bottom_backward",), [call], "every parameter's gradient matches mmoe_np.SharedBottom "
                    "(gradient-checked)", mistakes, uses=("dense_backward",))

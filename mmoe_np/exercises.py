"""The checked exercises: for each, the calls to make, the expected answers, and how to judge.

Everything here runs in the checker's own process (:mod:`mmoe_np.check`); the student's
functions run in another. An exercise is a function returning an :class:`Exercise`: the
functions the file must define, the calls (arguments and expected outputs, computed from the
library's reference code, which the test suite gradient-checks), and a judge that turns the
student's outputs into a verdict with hints.

To add an exercise: write the solution in ``lessons/exercises/solutions/exNN_name.py`` with
``EXERCISE = "name"`` and the blank between ``# ---- TODO`` fences, add a function here and
register it in ``EXERCISES``, then run ``python lessons/exercises/make_templates.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gradcheck import numerical_gradient, rel_error
from .kernels import reference
from .nn import layers, losses


class Wrong(Exception):
    """The student's answer is wrong (the message says where, by how much, and maybe why)."""


@dataclass
class Bad:
    """A returned value that is not an array of real numbers (None, complex, ragged, ...)."""

    why: str


@dataclass
class Call:
    function: str
    args: tuple
    expected: object                 # an array, or a tuple/dict of arrays
    names: object                    # the output's name(s), matching ``expected``
    stage: str = ""                  # for exercises checked stage by stage
    tol: float = 1e-6
    batch: int | None = None         # the batch size, for the "1/B" hint


@dataclass
class Exercise:
    functions: tuple
    calls: list
    summary: str                     # what a pass means
    hint: object = None              # optional extra hint: hint(call, got) -> str
    stages: bool = False             # judge every stage and report each

    def judge(self, outcomes):
        if not self.stages:
            worst = 0.0
            for call, (kind, value) in zip(self.calls, outcomes):
                worst = max(worst, self._one(call, kind, value))
            return f"{self.summary} (worst relative error {worst:.1e})"
        report, failed = [], []
        for call, (kind, value) in zip(self.calls, outcomes):
            try:
                self._one(call, kind, value)
                report.append(f"{call.stage} ok")
            except Wrong as err:
                report.append(f"{call.stage} WRONG")
                failed.append(f"{call.stage}: {err}")
        if failed:
            raise Wrong("stages " + ", ".join(report) + ". " + " | ".join(failed))
        return f"{self.summary}; every stage right ({', '.join(c.stage for c in self.calls)})"

    def _one(self, call, kind, value):
        if kind == "error":
            raise Wrong(f"your {call.function}() raised {value}")
        return compare_outputs(call, value, self.hint)


# ------------------------------------------------------------------------------- comparing
def compare_outputs(call, got, extra_hint=None):
    """Compare ``got`` with ``call.expected`` (same structure); returns the worst relative error."""
    want, names = call.expected, call.names
    if isinstance(want, dict):
        if isinstance(got, Bad) or not isinstance(got, dict):
            raise Wrong(f"{call.function}() must return a dict with keys {sorted(want)}, got "
                        f"{got.why if isinstance(got, Bad) else type(got).__name__}")
        missing, extra = set(want) - set(got), set(got) - set(want)
        if missing or extra:
            raise Wrong(f"{call.function}() returned keys {sorted(got)}; missing {sorted(missing)}, unexpected "
                        f"{sorted(extra)}")
        return max(same(k, got[k], want[k], call, extra_hint) for k in want)
    if isinstance(want, tuple):
        if isinstance(got, Bad) or not isinstance(got, tuple) or len(got) != len(want):
            what = (got.why if isinstance(got, Bad)
                    else f"{len(got)} values" if isinstance(got, tuple) else "one value")
            raise Wrong(f"{call.function}() must return {len(want)} values ({', '.join(names)}), got {what}")
        for n, g in zip(names, got):              # an unusable value first: it explains the rest
            if isinstance(g, Bad):
                raise Wrong(f"{n}: your function returned {g.why}")
        return max(same(n, g, w, call, extra_hint) for n, g, w in zip(names, got, want))
    return same(names, got, want, call, extra_hint)


def same(name, got, want, call, extra_hint=None):
    """One output against its expected value; Wrong with the index, both numbers and a hint."""
    if isinstance(got, Bad):
        raise Wrong(f"{name}: your function returned {got.why}")
    if isinstance(got, tuple):
        raise Wrong(f"{name}: expected one array, got {len(got)} values")
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise Wrong(f"{name} has shape {got.shape}, expected {want.shape}{shape_hint(got.shape, want.shape)}")
    if not np.isfinite(got).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0]) if got.ndim else ()
        hint = f" {extra_hint(call, name, got)}" if extra_hint else ""
        raise Wrong(f"{name} contains NaN or inf (first at index {bad}){hint}")
    err = rel_error(got, want)
    if err <= call.tol:
        return err
    worst = np.unravel_index(np.argmax(np.abs(got - want)), want.shape) if want.ndim else ()
    worst = tuple(int(i) for i in worst)
    hint = factor_hint(got, want, call.batch) or (extra_hint(call, name, got) if extra_hint else "")
    raise Wrong(f"{name}: relative error {err:.2e} > {call.tol:.0e}; worst at index {worst}: yours "
                f"{got[worst]:.10g}, expected {want[worst]:.10g}" + (f" -- {hint}" if hint else ""))


def shape_hint(got, want):
    if len(got) == 2 and got == tuple(reversed(want)):
        return " -- the transpose of the expected shape: did you swap the operands of a product, or forget a .T?"
    if len(got) == len(want) - 1 and got in [want[:i] + want[i + 1:] for i in range(len(want))]:
        return " -- one axis is missing: did you sum over an axis you should keep (keepdims=True)?"
    if int(np.prod(got)) == int(np.prod(want)):
        return " -- the same number of entries: a reshape or transpose in the wrong order?"
    return ""


def factor_hint(got, want, batch=None):
    """A hint when ``got`` is ``want`` times a telling constant (1/B, -1, 2, ...) or all zeros."""
    if not np.any(got):
        return "your result is all zeros"
    if want.size < 2:                              # a factor between two numbers says nothing
        return ""
    scale = float(np.vdot(got, want))
    norm = float(np.vdot(want, want))
    if norm == 0:
        return ""
    c = scale / norm
    if rel_error(got, c * want) > 1e-6:
        return ""
    for value, text in [(-1.0, "the sign is flipped"), (2.0, "twice the expected value (a factor 2 too many?)"),
                        (0.5, "half the expected value (the derivative of a square has a factor 2)")]:
        if np.isclose(c, value, rtol=1e-6):
            return text
    if batch and np.isclose(c, 1.0 / batch, rtol=1e-6):
        return f"a factor 1/B = 1/{batch} too small: did you average over the batch? (the loss already did)"
    if batch and np.isclose(c, float(batch), rtol=1e-6):
        return f"a factor B = {batch} too large: did you sum where the loss averages over the batch?"
    return f"off by a constant factor {c:.4g}"


def _rng(seed):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------- exercises
def dense_backward():
    calls = []
    for seed, (B, I, O) in enumerate([(5, 4, 3), (1, 3, 2)]):
        rng = _rng(seed)
        x, W = rng.standard_normal((B, I)), rng.standard_normal((I, O))
        dout = rng.standard_normal((B, O))
        dx, dW, db = layers.dense_backward(dout, layers.DenseCache(x, W))
        calls.append(Call("dense_backward", (dout, (x, W)), (dx, dW, db), ("dx", "dW", "db"), batch=B))
    return Exercise(("dense_backward",), calls, "dx, dW, db match the analytic (gradient-checked) answer")


def softmax_backward():
    calls = []
    for seed, shape in enumerate([(6, 4), (1, 3)]):
        rng = _rng(10 + seed)
        G = layers.softmax(rng.standard_normal(shape))
        dG = rng.standard_normal(shape)
        calls.append(Call("softmax_backward", (dG, G), layers.softmax_backward(dG, G), "dlogits"))
    return Exercise(("softmax_backward",), calls, "dlogits matches softmax's Jacobian product")


def gate_mix_backward():
    rng = _rng(2)
    H, G, dF = rng.standard_normal((5, 4, 3)), rng.random((2, 5, 3)), rng.standard_normal((2, 5, 4))
    dH, dG = reference.gate_mix_backward(H, G, dF)
    return Exercise(("gate_mix_backward",), [Call("gate_mix_backward", (H, G, dF), (dH, dG), ("dH", "dG"))],
                    "dH and dG match the gate-weighted sum's gradients")


def adam_step():
    from .optim import Adam
    rng = _rng(3)
    params, opt = {"w": rng.standard_normal(6)}, Adam(lr=0.01, fused=False)
    calls, m, v = [], np.zeros(6), np.zeros(6)
    for t in range(1, 4):
        g, before = rng.standard_normal(6), params["w"].copy()
        opt.step(params, {"w": g})
        calls.append(Call("adam_step", (before, g, m.copy(), v.copy(), t, 0.01, 0.9, 0.999, 1e-8),
                          (params["w"].copy(), opt.m["w"].copy(), opt.v["w"].copy()), ("param", "m", "v"),
                          stage=f"step {t}", tol=1e-12))
        m, v = opt.m["w"].copy(), opt.v["w"].copy()

    def hint(call, name, got):
        return "remember the bias correction: m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)"
    return Exercise(("adam_step",), calls, "three Adam steps match mmoe_np.Adam (param, m and v)", hint)


def _small_mmoe():
    from .models import MMoE
    model = MMoE(n_features=6, n_tasks=2, n_experts=3, expert_units=4, tower_units=3, seed=5)
    rng = _rng(6)
    for p in model.params.values():            # non-zero biases too, so forgotten ones show
        p += 0.1 * rng.standard_normal(p.shape)
    return model, _rng(7).standard_normal((8, 6))


def mmoe_forward():
    model, X = _small_mmoe()
    p = {k: v.copy() for k, v in model.params.items()}
    H = reference.experts_forward(X, p["expert_kernel"], p["expert_bias"])
    G, _ = layers.softmax_gate_forward(X, p["gate_kernel"], p["gate_bias"])
    F = reference.gate_mix_forward(H, G)
    out, _ = layers.towers_forward(F, p["tower_kernel"], p["tower_bias"], p["output_kernel"], p["output_bias"])
    preds = tuple(out)
    calls = [Call("experts", (X, p), H, "H", stage="H (experts)", tol=1e-10),
             Call("gates", (X, p), G, "G", stage="G (gates)", tol=1e-10),
             Call("mix", (H, G), F, "F", stage="F (mixtures)", tol=1e-10),
             Call("towers", (F, p), preds, ("task 1", "task 2"), stage="towers", tol=1e-10),
             Call("mmoe_forward", (X, p), preds, ("task 1", "task 2"), stage="whole forward", tol=1e-10)]
    return Exercise(("experts", "gates", "mix", "towers", "mmoe_forward"), calls,
                    "the MMoE forward pass matches mmoe_np.MMoE", stages=True)


def covariance_similarity():
    from .relatedness import covariance_similarity as score
    rng = _rng(8)
    X1 = rng.standard_normal((40, 6)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    X2 = rng.standard_normal((30, 6)) @ rng.standard_normal((6, 6))
    cases = [("two different inputs", X1, X2, 0.99), ("identical inputs", X1, X1, 0.99),
             ("keep=0.5", X1, X2, 0.5), ("keep=1.0", X1, X2, 1.0)]
    calls = [Call("covariance_similarity", (a, b, keep), np.asarray(score(a, b, keep)), f"score ({label})",
                  tol=1e-8) for label, a, b, keep in cases]
    return Exercise(("covariance_similarity",), calls,
                    "the score matches mmoe_np.relatedness.covariance_similarity on 4 cases (keep 0.5, 0.99, 1.0)")


def cgc_forward():
    from .models import CGC
    model = CGC(n_features=6, n_tasks=3, n_task_experts=2, n_shared_experts=3, expert_units=4, tower_units=3, seed=5)
    rng = _rng(6)
    for p in model.params.values():
        p += 0.1 * rng.standard_normal(p.shape)
    X = _rng(7).standard_normal((8, 6))
    preds, _ = model.forward(X)
    p = {k: v.copy() for k, v in model.params.items()}
    return Exercise(("cgc_forward",), [Call("cgc_forward", (X, p), tuple(preds), ("task 1", "task 2", "task 3"),
                                            tol=1e-10)], "all 3 tasks' predictions match mmoe_np.CGC")


def experts_backward():
    calls = []
    for seed, (B, D, U, E) in enumerate([(6, 5, 4, 3), (1, 2, 3, 2)]):
        rng = _rng(20 + seed)
        X, W, b = rng.standard_normal((B, D)), rng.standard_normal((D, U, E)), rng.standard_normal((U, E))
        H = reference.experts_forward(X, W, b)
        dH = rng.standard_normal(H.shape)
        dX, dW, db = reference.experts_backward(X, W, H, dH)
        calls.append(Call("experts_backward", (X, W, H, dH), (dX, dW, db), ("dX", "dW", "db"), batch=B))

    def hint(call, name, got):
        X, W, H, dH = call.args
        unmasked = dict(zip(("dX", "dW", "db"), reference.experts_backward(X, W, np.ones_like(H), dH)))
        if name in unmasked and np.asarray(got).shape == unmasked[name].shape and rel_error(got, unmasked[name]) < 1e-6:
            return "this is the gradient without ReLU's mask: multiply dH by [H > 0] first"
        return ""
    return Exercise(("experts_backward",), calls, "dX, dW, db of the experts match (ReLU mask included)", hint)


def mmoe_backward():
    model, X = _small_mmoe()
    rng = _rng(9)
    preds, _ = model.forward(X)
    dpreds = [rng.standard_normal(p.shape) for p in preds]

    def objective():                                     # sum_k <preds_k, dpreds_k>: its gradient is backward's
        return float(sum(np.sum(p * d) for p, d in zip(model.forward(X)[0], dpreds)))
    numeric = {name: numerical_gradient(objective, p) for name, p in model.params.items()}
    params = {k: v.copy() for k, v in model.params.items()}
    call = Call("mmoe_backward", (X, params, [d.copy() for d in dpreds]), numeric, tuple(numeric), tol=1e-6,
                batch=len(X))

    def hint(call, name, got):
        if name.startswith("gate"):
            return "the gates: dG[k,b,e] = sum_u dF[k,b,u] H[b,u,e], then softmax's Jacobian product"
        if name.startswith("expert"):
            return "the experts: dH sums every task's dF[k] G[k] (the tasks meet here), then ReLU's mask"
        return ""
    return Exercise(("mmoe_backward",), [call], "every parameter's gradient matches central differences "
                    "(as mmoe_np.gradcheck.check_model checks a model)", hint)


def bce_with_logits():
    calls = []
    for seed, (B, scale) in enumerate([(7, 1.0), (4, 1e4)]):
        rng = _rng(30 + seed)
        z = scale * rng.standard_normal((B, 2))
        y = rng.integers(0, 2, (B, 2)).astype(float) if scale > 1 else rng.random((B, 2))
        loss, dz = losses.bce_with_logits(z, y)
        label = "logits of +-1e4" if scale > 1 else "ordinary logits"
        calls.append(Call("bce_with_logits", (z, y), (np.asarray(loss), dz), ("loss", "dlogits"),
                          stage=label, batch=B * 2))

    def hint(call, name, got):
        if call.stage.startswith("logits of"):
            return ("not numerically stable: exp(z) overflows for large z; use max(z, 0) - z y + log1p(exp(-|z|)) and "
                    "a sigmoid computed from exp(-|z|)")
        return ""
    return Exercise(("bce_with_logits",), calls, "the loss and its gradient match, also for logits of +-1e4", hint,
                    stages=True)


def mse():
    calls = []
    for seed, (B, O) in enumerate([(6, 1), (3, 2)]):
        rng = _rng(40 + seed)
        pred, y = rng.standard_normal((B, O)), rng.standard_normal((B, O))
        loss, d = losses.mse(pred, y)
        calls.append(Call("mse", (pred, y), (np.asarray(loss), d), ("loss", "dpred"), batch=B * O))
    return Exercise(("mse",), calls, "the mean squared error and its gradient match")


def paired_ratio():
    from .stats import paired_ratio as reference_ratio
    calls = []
    for seed, R in enumerate([200, 12]):
        rng = _rng(50 + seed)
        b = np.exp(rng.normal(-3.0, 1.0, R))
        a = b * np.exp(rng.normal(-0.2, 0.3, R))               # a is about 18% lower, paired with b
        r = reference_ratio(a, b).ratio
        calls.append(Call("paired_ratio", (a, b), (np.asarray(r.estimate), np.asarray(r.low), np.asarray(r.high)),
                          ("ratio", "low", "high"), stage=f"{R} runs", tol=2e-3))

    def hint(call, name, got):
        return "pair the runs: the log of each run's ratio a[r] / b[r], not the ratio of the means"
    return Exercise(("paired_ratio",), calls, "the paired ratio and its 95% t interval match (200 and 12 runs)", hint,
                    stages=True)


EXERCISES = {
    "dense_backward": dense_backward,
    "mse": mse,
    "adam_step": adam_step,
    "softmax_backward": softmax_backward,
    "gate_mix_backward": gate_mix_backward,
    "experts_backward": experts_backward,
    "mmoe_forward": mmoe_forward,
    "mmoe_backward": mmoe_backward,
    "bce_with_logits": bce_with_logits,
    "covariance_similarity": covariance_similarity,
    "cgc_forward": cgc_forward,
    "paired_ratio": paired_ratio,
}

r"""Optimizers: SGD (with momentum) and Adam, each keeping per-parameter state by name.

``opt.step(params, grads)``: ``grads`` has the keys and shapes of ``params``; parameters are
updated in place. An optimizer belongs to one model: the first step records the parameters'
names and shapes, and every later step checks that it is given the same (a clear error names
the parameter and both shapes) -- its moment arrays never meet parameters they were not made for.

With runs (parameters with leading run axes), ``lr`` may be an array with one learning rate
per run, and :meth:`freeze` stops chosen runs (e.g. runs that diverged) while the others train.
When ``params`` and ``grads`` are a model's :class:`~mmoe_np.params.Params`, Adam updates the
whole model in one compiled pass over its flat buffer; otherwise it loops over the names.
"""
from __future__ import annotations

import numpy as np

from . import _checks
from .params import Params


def _learning_rate(lr):
    """A positive float, or an array of positive floats (one per run)."""
    if np.ndim(lr) == 0:
        return _checks.real("lr", lr, low=0.0, low_open=True)
    lr = _checks.finite_array("lr", lr, dtype=np.float64)
    if lr.size == 0 or np.any(lr <= 0):
        raise ValueError(f"lr must hold positive learning rates (one per run), got {lr.tolist()}")
    return lr


def _check_grads(params, grads):
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError(f"step(params, grads) takes two dicts of arrays, got {type(params).__name__} and "
                        f"{type(grads).__name__}")
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params; missing {sorted(set(params) - set(grads))}, "
                         f"unexpected {sorted(set(grads) - set(params))}")
    for name, p in params.items():
        if np.shape(grads[name]) != p.shape:
            raise ValueError(f"grads[{name!r}] must have shape {p.shape}, got {np.shape(grads[name])}")


class Optimizer:
    """What SGD and Adam share: the learning rate(s), the state check, frozen runs.

    ``lr_scale`` multiplies every run's rate at the next step (1.0: the rates as given). A schedule
    sets it before each step, e.g. :func:`linear_anneal`; the rates themselves never change."""

    def __init__(self, lr):
        self.lr = _learning_rate(lr)
        self.lr_scale = 1.0
        self._shapes = None            # {name: shape} of the parameters of the first step
        self._frozen = None            # bool array over the runs, or None
        self._checked = None           # (params, grads) last checked: Params cannot change names or shapes
        self._lr_cache = None          # what the last fused Adam step was given (see Adam.step)

    def _check_state(self, params, grads):
        """Check the arguments, and that they are the parameters this optimizer was first used with.

        Training calls ``step`` thousands of times with the same two :class:`Params` objects, whose
        names and shapes cannot change: those are checked once."""
        if self._checked is not None and self._checked[0] is params and self._checked[1] is grads:
            return
        self._check_once(params, grads)
        if isinstance(params, Params) and isinstance(grads, Params):
            self._checked = (params, grads)

    def _check_once(self, params, grads):
        _check_grads(params, grads)
        if self._shapes is None:
            self._shapes = {name: p.shape for name, p in params.items()}
            return
        for name, p in params.items():
            if name not in self._shapes:
                raise ValueError(f"this optimizer was made for other parameters: {name!r} is new (it knows "
                                 f"{sorted(self._shapes)}); use one optimizer per model")
            if p.shape != self._shapes[name]:
                raise ValueError(f"this optimizer was made for other parameters: {name!r} has shape {p.shape}, "
                                 f"its state has shape {self._shapes[name]}; use one optimizer per model")
        if len(params) != len(self._shapes):
            raise ValueError(f"this optimizer was made for other parameters: missing "
                             f"{sorted(set(self._shapes) - set(params))}; use one optimizer per model")

    def _run_lr(self, run_shape):
        """The learning rate of each run, (*run_shape), zero for frozen runs."""
        lr = np.asarray(self.lr, dtype=np.float64)
        try:
            lr = np.broadcast_to(lr, run_shape)
        except ValueError:
            raise ValueError(f"lr has shape {lr.shape}, which does not fit the parameters' runs "
                             f"{tuple(run_shape)}") from None
        if self._frozen is not None:
            lr = np.where(self._frozen, 0.0, lr)
        return lr

    def freeze(self, runs):
        """Stop updating the runs where ``runs`` (a bool array over the run axes) is True, and clear their
        state (moments, velocity), so that nothing a diverged run computed can move it again."""
        runs = np.asarray(runs, dtype=bool)
        self._lr_cache = None
        if self._frozen is not None and runs.shape != self._frozen.shape:
            raise ValueError(f"runs must be a bool array of the run shape {self._frozen.shape}, got {runs.shape}")
        self._frozen = runs if self._frozen is None else (self._frozen | runs)
        for state in self._states():
            for array in state.values():
                if array.shape[:runs.ndim] != runs.shape:
                    raise ValueError(f"runs must be a bool array of the run shape {array.shape[:runs.ndim]}, got "
                                     f"{runs.shape}")
                array[runs] = 0.0

    def _states(self):
        """The optimizer's per-parameter state dicts."""
        return []

    @staticmethod
    def _run_shape(params):
        if isinstance(params, Params):
            return params.run_shape
        return ()


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum.

    .. math:: v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\, v
    """

    def __init__(self, lr=1e-2, momentum=0.0):
        super().__init__(lr)
        self.momentum = _checks.real("momentum", momentum, low=0.0, high=1.0)
        self.velocity: dict[str, np.ndarray] = {}

    def _states(self):
        return [self.velocity]

    def step(self, params, grads):
        self._check_state(params, grads)
        lr = self._run_lr(self._run_shape(params))
        for name, p in params.items():
            g = grads[name]
            if self.momentum:
                v = self.velocity.setdefault(name, np.zeros_like(p))
                v *= self.momentum
                v += g
                g = v
            p -= (self.lr_scale * _per_run(lr, p)) * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015) with bias correction.

    At step :math:`t = 1, 2, \dots`, for each parameter :math:`\theta` with gradient :math:`g`:

    .. math::

        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad
        v  \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \hat m &= m / (1-\beta_1^t), \qquad \hat v = v / (1-\beta_2^t) \\
        \theta &\leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)

    ``m`` and ``v`` are kept per parameter name, so one Adam serves one model.

    ``fused=True`` applies the three lines above in one compiled pass over the model's whole
    flat parameter buffer (:func:`mmoe_np.kernels.cpu.adam_update`, numba code compiled on first
    use); ``fused=False`` does the same with NumPy array operations (about 13 of them per
    parameter, each a pass over memory). Both compute the same update, equal up to rounding.
    ``fused=None`` (default) follows the model's backend: :func:`mmoe_np.fit` and
    :class:`mmoe_np.Trainer` call :meth:`use_backend`, which picks the compiled pass for the
    'numba' and 'cuda' backends and NumPy for 'numpy' (which never needs numba); used directly,
    without a trainer, it is NumPy.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, fused=None):
        super().__init__(lr)
        self.beta1 = _checks.real("beta1", beta1, low=0.0, high=1.0)
        self.beta2 = _checks.real("beta2", beta2, low=0.0, high=1.0)
        if self.beta1 == 1.0 or self.beta2 == 1.0:
            raise ValueError(f"beta1 and beta2 must be < 1, got beta1={beta1}, beta2={beta2}")
        self.eps = _checks.real("eps", eps, low=0.0, low_open=True)
        self.fused = None if fused is None else bool(fused)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def _states(self):
        return [self.m, self.v]

    def use_backend(self, backend: str):
        """Resolve ``fused=None`` for a model on ``backend``: compiled for 'numba'/'cuda', NumPy for 'numpy'."""
        if self.fused is None:
            self.fused = backend != "numpy"
        return self

    def step(self, params, grads):
        self._check_state(params, grads)
        if not self.m:
            make = params.zeros_like if isinstance(params, Params) else (
                lambda: {name: np.zeros_like(p) for name, p in params.items()})
            self.m, self.v = make(), make()
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # the schedule's scale folded into the bias correction: lr * s * m / c1 = lr * m / (c1 / s)
        correction1 = (1.0 - b1 ** self.t) / self.lr_scale
        correction2 = 1.0 - b2 ** self.t
        run_shape = self._run_shape(params)
        rates = (id(self.lr), self.lr if np.ndim(self.lr) == 0 else None)
        fast = self._lr_cache                      # (params, grads, rates, update, buffers) of the last fused step
        if not (self.fused and fast is not None and fast[0] is params and fast[1] is grads and fast[2] == rates):
            fast = None
            if self.fused and _one_buffer(params, grads, self.m):
                from .kernels.cpu import adam_update  # numba is imported on first use only
                P = params.layout.size
                fast = self._lr_cache = (params, grads, rates, adam_update, (
                    params.flat.reshape(-1, P), grads.flat.reshape(-1, P), self.m.flat.reshape(-1, P),
                    self.v.flat.reshape(-1, P), np.ascontiguousarray(self._run_lr(run_shape).reshape(-1))))
        if fast is not None:                       # one fused pass over the flat buffers
            fast[3](*fast[4], b1, b2, self.eps, correction1, correction2)
            return
        lr = self._run_lr(run_shape)
        for name, p in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            # theta -= lr * m_hat / (sqrt(v_hat) + eps), written with few temporaries
            denom = np.sqrt(v / correction2)
            denom += self.eps
            p -= (_per_run(lr, p) / correction1) * m / denom

    def state_dict(self):
        """Arrays and step count, e.g. to save beside the parameters."""
        return {"t": self.t, "m": {k: np.array(a) for k, a in self.m.items()},
                "v": {k: np.array(a) for k, a in self.v.items()}}


def linear_anneal(step, steps, fraction):
    """The learning-rate scale of step ``step`` (1, ..., ``steps``) when the rate falls linearly over the
    last ``fraction`` of the steps: 1 before them, then ``(steps - step + 1) / n`` for the last
    ``n = round(fraction * steps)`` steps (1 at their first, ``1/n`` at the last: never 0)."""
    n = int(round(fraction * steps))
    first = steps - n + 1
    return 1.0 if n <= 0 or step < first else (steps - step + 1) / n


def _per_run(lr, p):
    """The learning rate(s) shaped to multiply ``p`` (a run's rate on each of its entries)."""
    if lr.ndim == 0:
        return float(lr)
    return lr.reshape(lr.shape + (1,) * (p.ndim - lr.ndim))


def _one_buffer(params, grads, state):
    """True when params, grads and the optimizer state are flat buffers of one layout and dtype."""
    return (isinstance(params, Params) and isinstance(grads, Params) and isinstance(state, Params)
            and (grads.layout is params.layout or grads.layout == params.layout)
            and grads.flat.shape == params.flat.shape == state.flat.shape
            and grads.flat.dtype == params.flat.dtype == state.flat.dtype)

r"""Optimizers with per-parameter state, updating a ``params`` dict in place.

``opt.step(params, grads)``: ``grads`` has the keys and shapes of ``params``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import _checks


@njit(cache=True)
def adam_update(p, g, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """One Adam step on flat arrays, one pass over memory (see :class:`Adam` for the math).

    ``m_hat / (sqrt(v_hat) + eps)`` is computed as ``(m / c1) / (sqrt(v) / sqrt(c2) + eps)``
    with ``lr / c1`` and ``1 / sqrt(c2)`` taken out of the loop: the same number, two
    fewer divisions per entry.
    """
    step = lr / correction1
    inv_sqrt_c2 = 1.0 / np.sqrt(correction2)
    for i in range(p.size):
        gi = g[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= step * mi / (np.sqrt(vi) * inv_sqrt_c2 + eps)


def _check_grads(params, grads):
    if set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params; missing {sorted(set(params) - set(grads))}, "
                         f"unexpected {sorted(set(grads) - set(params))}")
    for name, p in params.items():
        if np.shape(grads[name]) != p.shape:
            raise ValueError(f"grads[{name!r}] must have shape {p.shape}, got {np.shape(grads[name])}")


class SGD:
    r"""Stochastic gradient descent, optionally with momentum.

    .. math:: v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\, v
    """

    def __init__(self, lr=1e-2, momentum=0.0):
        self.lr = _checks.real("lr", lr, low=0.0, low_open=True)
        self.momentum = _checks.real("momentum", momentum, low=0.0, high=1.0)
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, params, grads):
        _check_grads(params, grads)
        for name, p in params.items():
            g = grads[name]
            if self.momentum:
                v = self.velocity.setdefault(name, np.zeros_like(p))
                v *= self.momentum
                v += g
                g = v
            p -= self.lr * g


class Adam:
    r"""Adam (Kingma & Ba, 2015) with bias correction.

    At step :math:`t = 1, 2, \dots`, for each parameter :math:`\theta` with gradient :math:`g`:

    .. math::

        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad
        v  \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \hat m &= m / (1-\beta_1^t), \qquad \hat v = v / (1-\beta_2^t) \\
        \theta &\leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)

    ``m`` and ``v`` are kept per parameter name, so one Adam serves one model.

    ``fused=True`` (default) applies the three lines above in one compiled pass over each
    parameter (:func:`adam_update`); ``fused=False`` does the same with NumPy array
    operations (about 13 of them per parameter, each a pass over memory). Both give the
    same numbers; the fused one is several times faster for small models.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, fused=True):
        self.lr = _checks.real("lr", lr, low=0.0, low_open=True)
        self.beta1 = _checks.real("beta1", beta1, low=0.0, high=1.0)
        self.beta2 = _checks.real("beta2", beta2, low=0.0, high=1.0)
        if self.beta1 == 1.0 or self.beta2 == 1.0:
            raise ValueError(f"beta1 and beta2 must be < 1, got beta1={beta1}, beta2={beta2}")
        self.eps = _checks.real("eps", eps, low=0.0, low_open=True)
        self.fused = bool(fused)
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params, grads):
        _check_grads(params, grads)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        correction1 = 1.0 - b1 ** self.t
        correction2 = 1.0 - b2 ** self.t
        for name, p in params.items():
            g = grads[name]
            if name not in self.m:
                self.m[name] = np.zeros_like(p)
                self.v[name] = np.zeros_like(p)
            m, v = self.m[name], self.v[name]
            if self.fused and p.flags.c_contiguous and g.dtype == p.dtype:
                adam_update(p.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1),
                            v.reshape(-1), self.lr, b1, b2, self.eps, correction1, correction2)
                continue
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            # theta -= lr * m_hat / (sqrt(v_hat) + eps), written with few temporaries
            denom = np.sqrt(v / correction2)
            denom += self.eps
            p -= (self.lr / correction1) * m / denom

    def state_dict(self):
        """Arrays and step count, e.g. to save beside the parameters."""
        return {"t": self.t, "m": {k: a.copy() for k, a in self.m.items()},
                "v": {k: a.copy() for k, a in self.v.items()}}

"""Hypothesis strategies shared by the tests: kernel problem sizes and arrays."""
import numpy as np
from hypothesis import strategies as st


@st.composite
def kernel_problems(draw, max_batch=40, max_dim=9, dtypes=(np.float64, np.float32), runs=True):
    """A random (X, W, b, G, dF, dH) set for the kernel contract, with size-1 edges allowed.

    Shapes: X (B, D), W (D, U, E), b (U, E), G (K, B, E), dF (K, B, U), dH (B, U, E), each with
    leading run axes ``lead`` when ``runs`` (X may be shared by every run: no leading axes).
    ``noncontiguous`` asks for X, G as strided views instead of fresh arrays.
    """
    B = draw(st.integers(1, max_batch))
    D, U, E = (draw(st.integers(1, max_dim)) for _ in range(3))
    K = draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(), (), (2,), (3,), (2, 2)])) if runs else ()
    shared_X = bool(lead) and draw(st.booleans())
    dtype = draw(st.sampled_from(dtypes))
    noncontiguous = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    def arr(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x_lead = () if shared_X else lead
    if noncontiguous:   # every other column of a wider array: a strided view
        X = arr(*x_lead, B, 2 * D)[..., ::2]
        G = arr(*lead, K, B, 2 * E)[..., ::2]
    else:
        X, G = arr(*x_lead, B, D), arr(*lead, K, B, E)
    return dict(X=X, W=arr(*lead, D, U, E), b=arr(*lead, U, E), G=G, dF=arr(*lead, K, B, U),
                dH=arr(*lead, B, U, E), dtype=dtype, shape=(B, D, U, E, K), lead=lead)


def tolerance(dtype):
    """Relative tolerance for comparing a backend with the NumPy oracle."""
    return 1e-10 if dtype == np.float64 else 2e-4

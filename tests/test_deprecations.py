"""Ready for the next NumPy: no deprecated API in this project's modules, and the test run says so early."""
import warnings

import numpy as np
import pytest

from mmoe_np.params import view_as


def test_a_deprecation_warning_from_this_project_fails_the_tests():
    """pyproject.toml turns DeprecationWarnings attributed to mmoe_np's modules into errors (CI's normal run)."""
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("old API", DeprecationWarning, "params.py", 1, module="mmoe_np.params")


def test_view_as_never_copies_and_never_sets_shape():
    a = np.arange(12.0)
    v = view_as(a, (3, 4))
    assert np.shares_memory(v, a) and v.shape == (3, 4)
    with pytest.raises(ValueError):
        view_as(np.arange(12.0).reshape(3, 4)[:, :2], (6,))        # needs a copy: refused, not copied
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view_as(a, (2, 6))

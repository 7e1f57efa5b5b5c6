"""Test set-up: the CUDA simulator when there is no GPU, and a hypothesis 'ci' profile.

NUMBA_ENABLE_CUDASIM must be set before numba.cuda is first imported, so it is decided
here, before any test module imports mmoe_np.
"""
import os
import shutil

if "NUMBA_ENABLE_CUDASIM" not in os.environ and shutil.which("nvidia-smi") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    from mmoe_np.kernels import cuda as _cuda_kernels  # noqa: E402  (after the variable is set)

    _cuda_kernels.speed_up_simulator()

from hypothesis import HealthCheck, settings  # noqa: E402

# JIT compilation makes first calls slow: no deadline.
settings.register_profile("ci", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""A classroom install: the package read-only, HOME unwritable. The numba kernels still work (their cache
falls back to a writable folder, or is off with one line saying so), and the numpy backend never needs numba."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from mmoe_np.kernels import numba_cache

PACKAGE = Path(__file__).resolve().parent.parent / "mmoe_np"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _nobody_can_run_python():
    """As root, the lab runs as user 'nobody', who must be able to start this Python and import its packages."""
    if not AS_ROOT:
        return True
    try:
        out = subprocess.run([sys.executable, "-c", "import numpy, numba"], cwd="/", user=65534, capture_output=True,
                             timeout=300)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


@pytest.fixture
def lab(tmp_path_factory):
    """A read-only copy of the package, an unwritable HOME and a writable TMPDIR, in a folder that another
    user can read (as root, write permissions mean nothing, so the install runs as user 'nobody')."""
    if not _nobody_can_run_python():
        pytest.skip("run as root, this test installs the package for user 'nobody', who cannot read this Python "
                    "environment (e.g. a virtual environment under /root)")
    root = Path(tempfile.mkdtemp(prefix="mmoe-np-lab-"))
    try:
        shutil.copytree(PACKAGE, root / "site" / "mmoe_np", ignore=shutil.ignore_patterns("__pycache__"))
        (root / "home").mkdir()
        (root / "tmp").mkdir()
        os.chmod(root, 0o755)
        os.chmod(root / "tmp", 0o777)
        for path in [root / "site", root / "home", *sorted((root / "site").rglob("*"))]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        yield root
    finally:
        for path in [root / "site", root / "home", *(root / "site").rglob("*")]:
            if path.exists():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
        shutil.rmtree(root, ignore_errors=True)


def run_in_lab(lab, code, extra_path=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(HOME=str(lab / "home"), TMPDIR=str(lab / "tmp"),
               PYTHONPATH=os.pathsep.join([*map(str, extra_path), str(lab / "site")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=lab,
                          env=env, user=65534 if AS_ROOT else None)


TRAIN = """
import sys, numpy as np, mmoe_np as mn
assert mn.__file__.startswith({site!r}), mn.__file__
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((64, 6)), rng.standard_normal((64, 2))
model = mn.MMoE(n_features=6, n_experts=2, expert_units=3, tower_units=2, seed=0, backend={backend!r})
mn.fit(model, X, Y, steps=3, batch_size=16, progress=False)
mn.fit(model, X, Y, optimizer=mn.Adam(lr=1e-2), steps=3, batch_size=16, progress=False)
print("numba loaded:", "numba" in sys.modules)
if "numba" in sys.modules:
    import numba, os
    print("cache dir:", numba.config.CACHE_DIR)
"""


def test_numba_kernels_work_from_a_read_only_install_with_an_unwritable_home(lab):
    out = run_in_lab(lab, TRAIN.format(site=str(lab / "site"), backend="numba"))
    assert out.returncode == 0, out.stderr[-3000:]
    uid = 65534 if AS_ROOT else os.getuid()
    folder = lab / "tmp" / f"mmoe-np-numba-{uid}"
    assert f"cache dir: {folder}" in out.stdout
    assert list(folder.rglob("*.nbi")), "the compiled kernels were not cached in the fallback folder"
    assert "Warning" not in out.stderr, out.stderr


def test_the_numpy_backend_and_the_default_adam_never_need_numba(lab, tmp_path):
    blocked = lab / "blocked"
    (blocked / "numba").mkdir(parents=True)
    (blocked / "numba" / "__init__.py").write_text("raise ImportError('numba is blocked in this test')\n")
    os.chmod(blocked, 0o755)
    os.chmod(blocked / "numba", 0o755)
    os.chmod(blocked / "numba" / "__init__.py", 0o644)
    out = run_in_lab(lab, TRAIN.format(site=str(lab / "site"), backend="numpy"), extra_path=[blocked])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "numba loaded: False" in out.stdout


def test_no_writable_folder_means_no_cache_and_one_line(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if not AS_ROOT:                              # root writes anywhere: only the decision logic is checked
            assert numba_cache.choose("x.py", numba_places=[ro / "a"], fallbacks=[ro / "b"]) == (False, None)
        assert numba_cache.choose("x.py", numba_places=[None], fallbacks=[tmp_path / "ok"]) == (True,
                                                                                                 str(tmp_path / "ok"))
        assert numba_cache.choose("x.py", numba_places=[tmp_path / "numba"]) == (True, None)
    finally:
        os.chmod(ro, 0o755)
    monkeypatch.setattr(numba_cache, "_decision", None)
    monkeypatch.setattr(numba_cache, "choose", lambda source: (False, None))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert numba_cache.cache_enabled("x.py") is False
    (w,) = caught
    text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
    assert text.count("\n") == 1 and "NUMBA_CACHE_DIR" in text and "cache is off" in text

"""Progress bars: never tqdm's "IProgress not found" warning in a notebook without ipywidgets."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("ipywidgets") is not None, reason="ipywidgets is installed here")
def test_without_ipywidgets_the_text_bar_is_used_and_tqdm_auto_is_never_imported():
    # importing tqdm.auto is what warns (in a Jupyter kernel), so it must not be imported at all
    code = ("import sys; from mmoe_np.progress import bar; from tqdm.std import tqdm; "
            "b = bar(3, show=False); assert type(b) is tqdm, type(b); "
            "assert 'tqdm.auto' not in sys.modules and 'tqdm.autonotebook' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})

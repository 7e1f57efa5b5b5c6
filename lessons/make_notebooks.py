"""Make ``notebooks/NN_topic.ipynb`` from every ``lessons/NN_topic.py`` and execute it, full settings.

    python lessons/make_notebooks.py              # every lesson (about 10 minutes on 2 cores)
    python lessons/make_notebooks.py 04 07        # some lessons, by number

The lessons are the source: jupytext turns each percent-format script into a notebook (cells
and markdown as written), then nbclient runs it top to bottom in a fresh kernel, from the
``lessons/`` folder as the scripts run, so the outputs and figures show inline when GitHub
renders the notebook. The figures the lessons save to ``figures/`` are regenerated too (these
are the full runs that own them). ``tests/test_notebooks.py`` checks that every notebook's
cells are its script's.
"""
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"


def lessons(numbers=()):
    found = sorted(HERE.glob("[0-9][0-9]_*.py"))
    return [p for p in found if not numbers or p.name[:2] in numbers]


def make(path, timeout=1800):
    import jupytext
    from nbclient import NotebookClient
    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["jupytext"] = {"formats": "ipynb,py:percent", "text_representation": {"format_name": "percent"}}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}})
    client.execute()
    for cell in notebook.cells:                      # no execution timestamps: the file changes only with its content
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):       # a figure shows as its picture, not also as "<Figure size ...>"
            data = output.get("data", {})
            if "image/png" in data:
                data.pop("text/plain", None)
    target = NOTEBOOKS / f"{path.stem}.ipynb"
    jupytext.write(notebook, target, fmt="ipynb")
    return target


def main(argv):
    # the committed notebooks are full runs: a quick-mode or redirected-figures setting in the
    # caller's shell must not leak into the kernels
    for name in ("MMOE_QUICK", "MMOE_FIGURES"):
        if os.environ.pop(name, None) is not None:
            print(f"ignoring {name} (notebooks are always made with the full settings)")
    os.environ["MMOE_PROGRESS"] = "0"                # outputs hold results, not the traces of progress bars
    os.environ.pop("MPLBACKEND", None)              # the kernel shows figures inline (its default)
    NOTEBOOKS.mkdir(exist_ok=True)
    for path in lessons(tuple(argv)):
        start = time.perf_counter()
        target = make(path)
        print(f"{target.relative_to(HERE.parent)}  {time.perf_counter() - start:5.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

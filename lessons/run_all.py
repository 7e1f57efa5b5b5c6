"""Run every lesson in order, as a student would, and regenerate the figures.

    python lessons/run_all.py            # full lessons (each under a minute on 2 cores)
    MMOE_QUICK=1 python lessons/run_all.py   # the short versions the tests run

Each lesson runs in its own process (a clean state, as ``python lessons/NN_topic.py``);
its output goes to lessons/logs/NN_topic.log, and a progress bar shows where we are.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

HERE = Path(__file__).resolve().parent


def lessons():
    return sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))


def main():
    logs = HERE / "logs"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    failed = []
    bar = tqdm(lessons(), desc="lessons", unit="lesson")
    for path in bar:
        bar.set_postfix_str(path.stem)
        start = time.perf_counter()
        with open(logs / f"{path.stem}.log", "w") as log:
            code = subprocess.call([sys.executable, str(path)], cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
        tqdm.write(f"{path.stem:24s} {'ok' if code == 0 else 'FAILED'}  {time.perf_counter() - start:5.1f} s")
        if code:
            failed.append(path.stem)
    if failed:
        print(f"failed: {', '.join(failed)} (see lessons/logs/)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Summarise sensitivity sweeps (results/sensitivity/<variant>/sweep.npz) as one markdown table.

    for v in ...; do python -m mmoe_np reproduce fig4 --runs 20 <options> --out results/sensitivity/<v>; done
    python benchmarks/sensitivity_table.py results/sensitivity
"""
import json
import sys
from pathlib import Path

import numpy as np


def geo_ratio(a, b):
    """Geometric-mean ratio a/b over paired runs, with a normal 95% interval."""
    log_ratio = np.log(a / b)
    half = 1.96 * log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))
    m = log_ratio.mean()
    return f"{np.exp(m):.2f} [{np.exp(m - half):.2f}, {np.exp(m + half):.2f}]"


def main(folder):
    rows = ["| variant | runs | SB loss at 0.5 (geo. mean) | SB: loss(0.5)/loss(1.0) | MMoE/SB at 0.5 | "
            "MMoE/OMoE at 0.5 | MMoE/SB at 1.0 |", "|---|---|---|---|---|---|---|"]
    baseline = Path(folder).parent / "reproduce" / "sweep.npz"      # the 200-run sweep, if present
    for path in ([baseline] if baseline.exists() else []) + sorted(Path(folder).glob("*/sweep.npz")):
        with np.load(path, allow_pickle=False) as f:
            final = f["curves"][..., -1]                          # (C, R, M)
            models, corr = list(f["models"]), list(f["correlations"])
            config = json.loads(str(f["config"]))
        sb, om, mm = (models.index(n) for n in ("shared_bottom", "omoe", "mmoe"))
        lo, hi = corr.index(0.5), corr.index(1.0)
        changed = {k: v for k, v in config.items() if k in ("m", "c", "alpha_beta", "n_train", "lrs", "noise_std")}
        sb_geo = np.exp(np.log(final[lo, :, sb]).mean())
        cells = [geo_ratio(final[lo, :, sb], final[hi, :, sb]), geo_ratio(final[lo, :, mm], final[lo, :, sb]),
                 geo_ratio(final[lo, :, mm], final[lo, :, om]), geo_ratio(final[hi, :, mm], final[hi, :, sb])]
        label = "baseline" if path == baseline else path.parent.name
        rows.append(f"| {label} ({changed}) | {final.shape[1]} | {sb_geo:.4f} | " + " | ".join(cells) + " |")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/sensitivity")

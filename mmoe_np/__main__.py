"""Command line: ``python -m mmoe_np <command> [options]`` (also installed as ``mmoe-np``).

Commands:
  compare             Shared-Bottom vs OMoE vs MMoE at task correlations 0.5, 0.9, 1.0 (table + figure)
  reproduce census    the paper's census-income tables (--group 1 or 2)
  reproduce fig2|fig3|fig4|fig5|all   the paper's synthetic experiments (the 200-run protocol by default)
  reproduce sensitivity   the study's verdicts under other data sizes, steps, learning rates, c, m, alpha/beta
  reproduce report    the verdict and sensitivity tables, from the committed raw results
"""
from __future__ import annotations

import argparse
import sys


def _backend_arguments(parser):
    parser.add_argument("--backend", choices=["numpy", "numba", "cuda"], default="numba",
                        help="kernel backend (default numba)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_parser():
    from .experiments import census, compare, report, reproduce, sensitivity

    parser = argparse.ArgumentParser(prog="python -m mmoe_np", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("compare", help="Shared-Bottom vs OMoE vs MMoE (paper Fig. 4, a quick look)")
    compare.add_arguments(p)
    _backend_arguments(p)
    p.set_defaults(run=compare.main)

    p = commands.add_parser("reproduce", help="the paper's experiments")
    targets = p.add_subparsers(dest="target", required=True)
    t = targets.add_parser("census", help="UCI census-income, paper Tables 1 and 2")
    census.add_arguments(t)
    _backend_arguments(t)
    t.set_defaults(run=census.main)
    for target in reproduce.TARGETS:
        t = targets.add_parser(target, help=f"paper {target}" if target != "all" else "figures 2 to 5 and the verdicts")
        reproduce.add_arguments(t)
        _backend_arguments(t)
        t.set_defaults(run=reproduce.main, target=target)
    t = targets.add_parser("sensitivity", help="which undocumented choices move which verdict")
    sensitivity.add_arguments(t)
    _backend_arguments(t)
    t.set_defaults(run=sensitivity.main)
    t = targets.add_parser("report", help="verdict and sensitivity tables from the committed raw results")
    report.add_arguments(t)
    t.set_defaults(run=report.main)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as err:   # bad options, paths or data: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

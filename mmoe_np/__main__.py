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
import contextlib
import shlex
import signal
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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal), handled like Ctrl-C: workers stopped, finished chunks kept."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (as Ctrl-C raises KeyboardInterrupt),
    so that every way of stopping the CLI runs the same clean-up: joblib terminates its workers, and a
    sweep keeps its finished chunks. Outside the main thread (no signal handlers there) it does nothing."""
    def handler(signum, frame):
        raise Terminated(signum)

    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {}
    try:
        for name in names:
            previous[name] = signal.signal(getattr(signal, name), handler)
    except ValueError:                  # not the main thread
        pass
    try:
        yield
    finally:
        for name, old in previous.items():
            signal.signal(getattr(signal, name), old)


def interrupted_message(err, args, argv):
    """One line: what stopped the run, what was kept, and the command that continues it."""
    cause = getattr(err, "cause", None) or err
    how = f"stopped by {cause}" if isinstance(cause, Terminated) else "interrupted"
    folder = getattr(err, "folder", None)
    if folder is None:
        return f"{how}"
    words = list(sys.argv[1:] if argv is None else argv)
    study = getattr(args, "resume_folder", None) or folder
    if "--out" not in words and not any(w.startswith("--out=") for w in words):
        words += ["--out", str(study)]
    return (f"{how}: {err.finished} of {err.total} chunks of runs are saved in {folder}; the same command "
            f"continues from there: python -m mmoe_np {shlex.join(words)}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with terminate_as_interrupt():
            args.run(args)
    except (ValueError, TypeError, FileNotFoundError) as err:   # bad options, paths or data: one line
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(interrupted_message(err, args, argv), file=sys.stderr)
        return 128 + getattr(err, "signum", signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())

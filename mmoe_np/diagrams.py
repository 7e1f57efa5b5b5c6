"""The four architectures side by side, drawn by code: Shared-Bottom, OMoE, MMoE and CGC.

    from mmoe_np.diagrams import draw_architectures
    fig = draw_architectures()          # a matplotlib figure; lesson 04 and the README show it

Every box is a layer a model of this project has, named as in the code (``experts``, ``gate``,
``towers``); arrows show what reads what. The same colours mean the same parts in every panel:
the input, shared parts, per-task parts, gates.
"""
from __future__ import annotations

COLORS = {"input": "#d9d9d9", "shared": "#9ecae1", "task": "#fdd0a2", "gate": "#c7e9c0", "tower": "#fcbba1"}


def _box(ax, x, y, w, h, text, kind, fontsize=8):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.05",
                                facecolor=COLORS[kind], edgecolor="0.3", linewidth=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, color="0.35", style="-|>", bend=0.0):
    from matplotlib.patches import FancyArrowPatch
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=8, color=color, linewidth=0.8,
                                 shrinkA=2, shrinkB=2, connectionstyle=f"arc3,rad={bend}"))


def _gate_input(ax, x):
    """x read by a gate at the panel's edge: an arrow bent around the experts."""
    start = (1.0, 0.3) if x < 1.5 else (2.0, 0.3)
    _arrow(ax, start, (x, 2.15), color="#41ab5d", bend=-0.45 if x < 1.5 else 0.45)


def _towers(ax, xs, y_from, labels=("tower A", "tower B")):
    for x, label in zip(xs, labels):
        _box(ax, x, 3.2, 0.9, 0.45, label, "tower")
        _box(ax, x, 4.05, 0.7, 0.35, r"$\hat y_" + label[-1] + "$", "input")
        _arrow(ax, (x, 3.45), (x, 3.85))


def _shared_bottom(ax):
    _box(ax, 1.5, 0.3, 1.0, 0.4, "input x", "input")
    _box(ax, 1.5, 1.5, 2.2, 0.55, "shared bottom\nReLU(W_s x + b_s)", "shared")
    _arrow(ax, (1.5, 0.5), (1.5, 1.2))
    _towers(ax, (0.8, 2.2), 1.8)
    for x in (0.8, 2.2):
        _arrow(ax, (1.5, 1.78), (x, 2.95))


def _experts(ax, n=3, y=1.5, kind="shared", x0=0.55, dx=0.95, label="expert"):
    xs = [x0 + i * dx for i in range(n)]
    for i, x in enumerate(xs):
        _box(ax, x, y, 0.8, 0.5, f"{label} {i + 1}", kind, fontsize=7)
    return xs


def _moe(ax, gates):
    _box(ax, 1.5, 0.3, 1.0, 0.4, "input x", "input")
    xs = _experts(ax)
    for x in xs:
        _arrow(ax, (1.5, 0.5), (x, 1.25))
    gate_x = (0.15,) if gates == 1 else (0.05, 2.95)
    for g, x in enumerate(gate_x):
        _box(ax, x, 2.35, 0.55, 0.4, "gate" if gates == 1 else f"gate {'AB'[g]}", "gate", fontsize=7)
        _gate_input(ax, x)
    _towers(ax, (0.8, 2.2), 2.5)
    for tower_x in (0.8, 2.2):
        for x in xs:
            _arrow(ax, (x, 1.75), (tower_x, 2.95), color="0.6")
    for g, x in enumerate(gate_x):
        targets = (0.8, 2.2) if gates == 1 else ((0.8,) if g == 0 else (2.2,))
        for tower_x in targets:
            _arrow(ax, (x, 2.55), (tower_x - 0.25 if x < tower_x else tower_x + 0.25, 3.0), color="#41ab5d",
                   style="-|>")


def _cgc(ax):
    _box(ax, 1.5, 0.3, 1.0, 0.4, "input x", "input")
    task_a = _experts(ax, 1, x0=0.55, kind="task", label="A's expert")
    shared = _experts(ax, 1, x0=1.5, kind="shared", label="shared")
    task_b = _experts(ax, 1, x0=2.45, kind="task", label="B's expert")
    for x in task_a + shared + task_b:
        _arrow(ax, (1.5, 0.5), (x, 1.25))
    for g, x in enumerate((0.05, 2.95)):
        _box(ax, x, 2.35, 0.55, 0.4, f"gate {'AB'[g]}", "gate", fontsize=7)
        _gate_input(ax, x)
    _towers(ax, (0.8, 2.2), 2.5)
    for tower_x, own in ((0.8, task_a[0]), (2.2, task_b[0])):
        for x in (own, shared[0]):
            _arrow(ax, (x, 1.75), (tower_x, 2.95), color="0.6")
    _arrow(ax, (0.05, 2.55), (0.55, 3.0), color="#41ab5d")
    _arrow(ax, (2.95, 2.55), (2.45, 3.0), color="#41ab5d")


def draw_architectures():
    """A figure with four panels: Shared-Bottom, OMoE, MMoE, CGC (two tasks, A and B)."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(14, 4.2))
    panels = [("Shared-Bottom", _shared_bottom), ("One-gate MoE (OMoE)", lambda ax: _moe(ax, 1)),
              ("Multi-gate MoE (MMoE)", lambda ax: _moe(ax, 2)), ("CGC (a PLE level)", _cgc)]
    for ax, (title, draw) in zip(axes, panels):
        ax.set_xlim(-0.45, 3.45)
        ax.set_ylim(-0.1, 4.4)
        ax.axis("off")
        ax.set_title(title, fontsize=11)
        draw(ax)
    notes = ["every tower reads\nthe same bottom", "one gate mixes the\nexperts for both towers",
             "each task's gate mixes\nthe shared experts its way",
             "each task: own experts +\nshared ones, its own gate"]
    for ax, note in zip(axes, notes):
        ax.text(1.5, -0.05, note, ha="center", va="top", fontsize=8, style="italic", color="0.3")
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(facecolor=COLORS[k], edgecolor="0.3", label=label) for k, label in
                        (("shared", "shared by the tasks"), ("task", "one task's own"), ("gate", "gate (softmax)"),
                         ("tower", "task tower"))], loc="lower center", ncol=4, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig

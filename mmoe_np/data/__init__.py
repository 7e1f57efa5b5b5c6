"""Data sets: the paper's synthetic tasks (one draw, or many runs streaming fresh samples),
K related tasks with per-task inputs, UCI census-income."""
from .multitask import MultiTaskData, make_multitask
from .stream import SyntheticRuns
from .synthetic import SyntheticData, make_synthetic, split_rows

__all__ = ["MultiTaskData", "SyntheticData", "SyntheticRuns", "make_multitask", "make_synthetic", "split_rows"]

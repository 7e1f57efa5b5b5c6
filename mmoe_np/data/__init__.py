"""Data sets: the paper's synthetic tasks, K related tasks with per-task inputs, UCI census-income."""
from .multitask import MultiTaskData, make_multitask
from .synthetic import SyntheticData, make_synthetic

__all__ = ["MultiTaskData", "SyntheticData", "make_multitask", "make_synthetic"]

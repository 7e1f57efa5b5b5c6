"""Data sets: the paper's synthetic tasks (and, later, UCI census-income)."""
from .synthetic import SyntheticData, make_synthetic

__all__ = ["SyntheticData", "make_synthetic"]

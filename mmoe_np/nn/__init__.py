"""Layers (forward/backward pairs) and losses, all NumPy."""
from . import layers, losses

__all__ = ["layers", "losses"]

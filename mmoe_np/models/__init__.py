"""The models: SingleTask, SharedBottom, OMoE, MMoE. Same interface for all four."""
from .moe import MMoE, OMoE
from .shared_bottom import SharedBottom, SingleTask

MODELS = {"single_task": SingleTask, "shared_bottom": SharedBottom, "omoe": OMoE, "mmoe": MMoE}

__all__ = ["MODELS", "MMoE", "OMoE", "SharedBottom", "SingleTask"]

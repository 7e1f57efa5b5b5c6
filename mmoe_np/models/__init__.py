"""The models: SingleTask, SharedBottom, OMoE, MMoE, CGC, PLE. Same interface for all six."""
from .moe import MMoE, OMoE
from .ple import CGC, PLE
from .shared_bottom import SharedBottom, SingleTask

MODELS = {"single_task": SingleTask, "shared_bottom": SharedBottom, "omoe": OMoE, "mmoe": MMoE,
          "cgc": CGC, "ple": PLE}

__all__ = ["CGC", "MODELS", "MMoE", "OMoE", "PLE", "SharedBottom", "SingleTask"]

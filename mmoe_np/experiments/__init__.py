"""Experiments behind the CLI (``python -m mmoe_np ...``)."""

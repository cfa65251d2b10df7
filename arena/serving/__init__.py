"""Serving processes the arena starts itself (the local Triton server)."""

"""Datasets that join the stage tables, the per-video containers and the transforms (layer 5)."""

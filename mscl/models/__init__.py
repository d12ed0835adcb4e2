"""Modules that own parameters and buffers: R3D-18, the flow encoder, the pyramid neck, projection
heads, momentum (key) copies and key queues. No losses and no I/O here."""

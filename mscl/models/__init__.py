"""Modules that own parameters and buffers: the R3D-18 and R(2+1)D-18 backbones, the flow encoder,
the pyramid neck, projection heads, momentum (key) copies and key queues. No losses and no I/O here."""

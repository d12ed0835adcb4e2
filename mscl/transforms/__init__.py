"""Per-clip tensor augmentations (pure functions, RNG passed in): crop/flip, colour, flow rotation."""

"""Choosing which clips to train on (layer 3): clip index arithmetic and Motion Differential
Sampling. Everything here is plain numpy on flow-index units (method doc sections 2.1, 2.2, 4)."""

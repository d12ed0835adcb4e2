"""Choosing which clips to train on (layer 3): clip index arithmetic and Motion Differential
Sampling. Everything here is plain numpy on flow-index units (docs/mscl.md §2.1, §2.2, §4)."""

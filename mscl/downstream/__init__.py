"""Downstream evaluation of the pretrained RGB encoder: fine-tuning, linear probe, retrieval (layer 8)."""

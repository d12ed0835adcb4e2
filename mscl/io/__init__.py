"""Bytes <-> arrays: video decoding, per-video frame and flow containers, tables, dataset layouts."""

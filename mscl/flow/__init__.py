"""Optical flow between stored frames (TV-L1, OpenCV and batched PyTorch backends) and motion maps."""

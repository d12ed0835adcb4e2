import numpy as np
import pandas as pd
import torch
from matplotlib.image import imread

from mscl.downstream.pictures import HIT, MISS, middle_frame, plot_confusion, plot_neighbours
from mscl.io.frames import write_frames


def _has_colour(png: np.ndarray, hex_colour: str) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return bool((np.abs(png[..., :3] - rgb).max(axis=-1) < 0.02).any())


def _videos(tmp_path, labels, prefix):
    rows = []
    for i, y in enumerate(labels):
        frames = np.zeros((5, 16, 20, 3), np.uint8)
        frames[2] = 200  # the middle frame is bright, the others black
        write_frames(tmp_path / f"{prefix}{i}.zip", frames, quality=95, meta={})
        rows.append({"frames": str(tmp_path / f"{prefix}{i}.zip"), "label": y})
    return pd.DataFrame(rows)


def test_middle_frame_is_the_middle_one(tmp_path):
    table = _videos(tmp_path, [0], "v")
    assert abs(int(middle_frame(table["frames"][0]).mean()) - 200) <= 2


def test_neighbours_picture_frames_hits_green_and_misses_red(tmp_path):
    queries, gallery = _videos(tmp_path, [0, 1], "q"), _videos(tmp_path, [0, 1, 1], "g")
    classes = ["left", "right"]
    all_hits = torch.tensor([[0, 0], [1, 2]])
    plot_neighbours(queries, gallery, all_hits, classes, tmp_path / "hits.png", count=2)
    png = imread(tmp_path / "hits.png")
    assert _has_colour(png, HIT) and not _has_colour(png, MISS)
    plot_neighbours(queries, gallery, torch.tensor([[1, 0], [1, 0]]), classes, tmp_path / "mixed.png", count=2)
    png = imread(tmp_path / "mixed.png")
    assert _has_colour(png, HIT) and _has_colour(png, MISS)
    plot_neighbours(queries, gallery, all_hits, classes, tmp_path / "none.png", count=0)
    assert (tmp_path / "none.png").stat().st_size > 0


def test_confusion_picture_is_written(tmp_path):
    matrix = torch.tensor([[3, 1], [0, 4]])
    plot_confusion(matrix, ["left", "right"], tmp_path / "c.png")
    png = imread(tmp_path / "c.png")
    assert png.ndim == 3 and min(png.shape[:2]) > 100
    assert not list(tmp_path.glob(".*tmp-*"))  # written atomically, no temporary left

import numpy as np
import pandas as pd

from mscl.flow.pictures import flow_picture, render_flow_pictures, wheel_legend
from mscl.io.flow_files import write_flow
from mscl.io.frames import write_frames


def test_legend_centre_white_and_rim_saturated():
    wheel = wheel_legend(33)
    assert wheel.shape == (33, 33, 3)
    assert (wheel[16, 16] == 255).all()  # zero flow is white
    assert tuple(wheel[16, 32]) == (255, 0, 0)  # full-length rightward flow is pure red on the wheel
    assert (wheel[0, 0] == 255).all()  # outside the disc


def test_flow_picture_layout():
    a = np.zeros((20, 30, 3), np.uint8)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0] = 3.0
    row = flow_picture(a, a, flow)
    assert row.shape == (20, 30 * 3 + 20, 3)
    assert tuple(row[10, 75]) == (255, 0, 0)


def test_render_writes_one_png_per_picked_video(tmp_path):
    rows = []
    for k in range(3):
        write_frames(tmp_path / f"c/v{k}.zip", np.full((6, 8, 10, 3), 40 * k, np.uint8), quality=90, meta={})
        write_flow(tmp_path / f"f/c/v{k}.zip", np.ones((2, 8, 10, 2), np.float32), bound=20.0, meta={"offset": 2, "step": 2})
        rows.append({"video_id": f"c/v{k}", "flow": f"c/v{k}.zip", "frames": f"c/v{k}.zip", "status": "ok"})
    rows.append({"video_id": "bad", "flow": "", "frames": "", "status": "no_frames"})
    paths = render_flow_pictures(pd.DataFrame(rows), tmp_path, tmp_path / "f", tmp_path / "pics", count=2, step=2)
    assert sorted(p.name for p in paths) == ["c__v0.png", "c__v2.png"]
    assert all(p.stat().st_size > 0 for p in paths)

"""The virtual camera over a photograph moves its views by their exact flow."""
import numpy as np

from mscl.camera import camera_flow, camera_pan, camera_views, looping_poses, sample_photo


def test_camera_pan_moves_the_photo_by_its_true_flow():
    frames, flow = camera_pan(sample_photo(), T=3, H=48, W=64, step=(2.0, 1.0), zoom=1.0)
    assert frames.shape == (3, 48, 64, 3) and flow.shape == (2, 48, 64, 2)
    np.testing.assert_allclose(flow, np.broadcast_to([-2.0, -1.0], flow.shape), atol=1e-9)  # the camera pans right and down
    f0, f1 = frames[0].astype(float), frames[1].astype(float)
    moved = np.abs(f1[4:-6, 4:-6] - f0[5:-5, 6:-4]).mean()  # frame-0 pixel (x, y) sits at (x - 2, y - 1) in frame 1
    still = np.abs(f1[4:-6, 4:-6] - f0[4:-6, 4:-6]).mean()
    assert moved < 0.2 * still


def test_camera_flow_between_any_two_poses_moves_points_onto_their_match():
    photo = sample_photo()
    poses = looping_poses(photo.shape, 12, 48, 64)
    frames = camera_views(photo, poses, 48, 64)
    flow = camera_flow(poses[0], poses[8], 48, 64)  # 8 frames apart, as MSCL pairs them
    assert 3 < np.abs(flow).max() < 30
    ys, xs = np.mgrid[8:40, 8:56]
    x1, y1 = np.rint(xs + flow[ys, xs, 0]).astype(int), np.rint(ys + flow[ys, xs, 1]).astype(int)
    inside = (x1 >= 0) & (x1 < 64) & (y1 >= 0) & (y1 < 48)
    matched = np.abs(frames[8][y1[inside], x1[inside]].astype(float) - frames[0][ys[inside], xs[inside]]).mean()
    unmoved = np.abs(frames[8][ys, xs].astype(float) - frames[0][ys, xs]).mean()
    assert matched < 0.5 * unmoved

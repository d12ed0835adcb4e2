import hashlib

import numpy as np
import pytest

from mscl.io.video import VideoError, decode_video, encode_video, resized_shape

from helpers import moving_video


def test_round_trip_frame_count_shape_dtype(tmp_path):
    frames = np.zeros((12, 32, 48, 3), np.uint8)
    frames[:, :, :24] = 200  # two flat halves survive lossy coding nearly unchanged
    encode_video(tmp_path / "v.mp4", frames, fps=10)
    out = decode_video(tmp_path / "v.mp4")
    assert out.frames.shape == (12, 32, 48, 3) and out.frames.dtype == np.uint8
    assert out.fps == 10 and out.error == ""
    assert np.abs(out.frames.astype(int) - frames).mean() < 3


def test_resize_short_side_keeps_aspect(tmp_path):
    moving_video(tmp_path / "v.mp4", height=48, width=64, frames=5)
    assert decode_video(tmp_path / "v.mp4", short_side=24).frames.shape == (5, 24, 32, 3)
    assert resized_shape(480, 640, 256) == (256, 341)
    assert resized_shape(640, 480, 0) == (640, 480)


def test_fps_resampling_and_max_frames(tmp_path):
    moving_video(tmp_path / "v.mp4", frames=25)  # 1 s at 25 fps
    out = decode_video(tmp_path / "v.mp4", fps=5)
    assert len(out.frames) == 5 and out.fps == 5
    assert len(decode_video(tmp_path / "v.mp4", max_frames=7).frames) == 7


@pytest.mark.parametrize(
    "make, status",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not a video\n"), "unreadable"),
        (lambda p: None, "missing"),
        (lambda p: p.mkdir(), "unreadable"),
    ],
)
def test_bad_inputs_raise_video_error(tmp_path, make, status):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(VideoError) as e:
        decode_video(path)
    assert e.value.status == status and e.value.reason


def test_truncated_mp4_is_unreadable(tmp_path):
    good = moving_video(tmp_path / "v.mp4", frames=20)
    data = good.read_bytes()
    (tmp_path / "t.mp4").write_bytes(data[: len(data) // 2])  # mp4 index (moov) is at the end
    with pytest.raises(VideoError, match="unreadable"):
        decode_video(tmp_path / "t.mp4")


def test_truncated_stream_keeps_decoded_frames(tmp_path):
    good = moving_video(tmp_path / "v.mkv", frames=40)  # matroska streams can be cut anywhere
    data = good.read_bytes()
    (tmp_path / "t.mkv").write_bytes(data[: int(len(data) * 0.6)])
    out = decode_video(tmp_path / "t.mkv")
    assert 0 < len(out.frames) < 40


def test_same_frames_encode_to_same_bytes(tmp_path):
    # a moving background at 2 px/frame: with libx264's macroblock tree on, 2 to 5 distinct files
    # came out of 8 encodes of such a video; regenerated data must match its DVC hashes
    from mscl.synthetic import render_video, video_scene

    for n in range(3):
        frames = render_video(*video_scene(0, 2, n, height=128, width=160, num_frames=32, speed=2.0, family="layers"))
        digests = set()
        for i in range(6):
            encode_video(tmp_path / f"{n}_{i}.mp4", frames)
            digests.add(hashlib.md5((tmp_path / f"{n}_{i}.mp4").read_bytes()).hexdigest())
        assert len(digests) == 1, f"video {n}: {len(digests)} different encodings of the same frames"

"""The embedded synthetic motion dataset: classes defined only by motion.

Each video shows one textured object over a static textured background. The class is the
object's motion (translation in four directions, rotation clockwise / counter-clockwise, zoom
in / out); everything a single frame shows (textures, colours, shape, size, position) is drawn
independently of the class, with the same marginal distribution over frames for every class,
so a representation that ignores motion scores chance. The motion is known exactly:
:func:`true_flow` gives the forward flow of every object pixel.

Also here, for tests and benchmarks that need real image content: a virtual camera over a
photograph (:func:`camera_views`, :func:`camera_pan` with its exact flow).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mscl.io.tables import split_of
from mscl.io.video import encode_video

CLASSES = ("right", "left", "up", "down", "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out")
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}  # image coords, y down
SHAPES = ("circle", "square", "triangle")
WAVES = 6  # sinusoids per texture


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything drawn at random for one video; poses follow from it deterministically."""

    label: int
    height: int
    width: int
    num_frames: int
    shape: str
    start: tuple[float, float]  # object centre (x, y) at t = 0, pixels
    velocity: tuple[float, float]  # pixels per frame
    radius: float  # radius at t = 0, pixels
    growth: float  # radius change per frame (zoom), pixels
    theta0: float
    omega: float  # rotation per frame, radians; > 0 is clockwise on screen (y points down)
    object_texture: np.ndarray  # (WAVES, 6): kx, ky (cycles/px), phase, r, g, b amplitude
    object_base: np.ndarray  # (3,) mean colour
    background_texture: np.ndarray
    background_base: np.ndarray
    noise: float  # std of per-frame sensor noise, grey levels


def _texture(rng: np.random.Generator, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    freq = rng.uniform(0.02, 0.12, WAVES)
    angle = rng.uniform(0, np.pi, WAVES)
    waves = np.stack([freq * np.cos(angle), freq * np.sin(angle), rng.uniform(0, 2 * np.pi, WAVES)], 1)
    colours = rng.normal(0, contrast / np.sqrt(WAVES), (WAVES, 3))
    return np.concatenate([waves, colours], 1), rng.uniform(50, 205, 3)


def _evaluate(texture: np.ndarray, base: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Texture colour at coordinates ``x, y`` (any shape S) -> (*S, 3) float."""
    phase = 2 * np.pi * (texture[:, 0] * x[..., None] + texture[:, 1] * y[..., None]) + texture[:, 2]
    return base + np.cos(phase) @ texture[:, 3:]


def draw_scene(rng: np.random.Generator, label: int, *, height: int, width: int, num_frames: int, speed: float) -> Scene:
    """Draw one video's scene. Size and position have class-independent marginals over frames."""
    name, span = CLASSES[label], max(num_frames - 1, 1)
    short = min(height, width)
    r_lo, r_hi = 0.08 * short, 0.32 * short
    speed = speed * rng.uniform(0.8, 1.2)
    margin = 0.25 * short
    travel = np.minimum(speed * span, np.array([width, height]) - 2 * margin)  # (x, y) pixels
    # every coordinate is "start + travel * u" with u uniform: for moving classes u runs with time
    u = rng.uniform(0, 1, 2)
    pos = margin + rng.uniform(0, 1, 2) * (np.array([width, height]) - 2 * margin - travel)
    velocity = np.zeros(2)
    if name in DIRECTIONS:
        d = np.array(DIRECTIONS[name])
        axis = int(d[1] != 0)
        u[axis] = 0.0 if d[axis] > 0 else 1.0
        velocity[axis] = d[axis] * travel[axis] / span
    start = pos + travel * u
    zoom = min(0.5 * speed * span, 0.6 * (r_hi - r_lo))
    r0 = rng.uniform(r_lo, r_hi - zoom)
    growth, radius = 0.0, r0 + zoom * rng.uniform(0, 1)
    if name.startswith("zoom"):
        growth = zoom / span if name == "zoom_in" else -zoom / span
        radius = r0 if name == "zoom_in" else r0 + zoom
    omega = 0.0
    if name.startswith("rotate"):
        omega = min(speed / radius, 0.1) * (1 if name == "rotate_cw" else -1)
    obj, obj_base = _texture(rng, 90.0)
    bg, bg_base = _texture(rng, 45.0)
    return Scene(label, height, width, num_frames, str(rng.choice(SHAPES)), tuple(start), tuple(velocity), float(radius),
                 float(growth), float(rng.uniform(0, 2 * np.pi)), float(omega), obj, obj_base, bg, bg_base, float(rng.uniform(1, 3)))


def pose(scene: Scene, t: float) -> tuple[np.ndarray, float, float]:
    """Object centre (x, y), angle (rad) and radius (px) at time ``t`` (frames)."""
    centre = np.asarray(scene.start) + t * np.asarray(scene.velocity)
    return centre, scene.theta0 + scene.omega * t, scene.radius + scene.growth * t


def _object_coords(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Object-frame coordinates (qx, qy) of every pixel at time t, in units of the radius, and a
    soft mask (H, W) in [0, 1] of the object's shape (1 px anti-aliased edge)."""
    centre, theta, radius = pose(scene, t)
    y, x = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    dx, dy = x - centre[0], y - centre[1]
    c, s = np.cos(theta), np.sin(theta)
    qx, qy = (c * dx + s * dy) / radius, (-s * dx + c * dy) / radius  # rotate by -theta, then scale
    if scene.shape == "circle":
        dist = np.hypot(qx, qy)
    elif scene.shape == "square":
        dist = np.maximum(abs(qx), abs(qy))
    else:  # equilateral triangle with circumradius 1: three half-planes at inradius 1/2
        dist = 2 * np.maximum.reduce([qx * np.cos(a) + qy * np.sin(a) for a in (np.pi / 2, 7 * np.pi / 6, 11 * np.pi / 6)])
    mask = np.clip((1.0 - dist) * radius + 0.5, 0.0, 1.0)
    return qx, qy, mask


def render_frame(scene: Scene, t: float, rng: np.random.Generator, background: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t`` as ``(H, W, 3)`` uint8 RGB (``background``: precomputed (H, W, 3) float)."""
    if background is None:
        y, x = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
        background = _evaluate(scene.background_texture, scene.background_base, x, y)
    qx, qy, mask = _object_coords(scene, t)
    img = background.copy()
    on = mask > 0  # evaluate the object texture only where it shows
    # the texture lives in object coordinates scaled by a fixed 20 px, so it turns and zooms with the object
    obj = _evaluate(scene.object_texture, scene.object_base, 20 * qx[on], 20 * qy[on])
    img[on] += mask[on, None] * (obj - img[on])
    img += rng.normal(0, scene.noise, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_video(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """All frames ``(T, H, W, 3)`` uint8."""
    y, x = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    background = _evaluate(scene.background_texture, scene.background_base, x, y)
    return np.stack([render_frame(scene, t, rng, background) for t in range(scene.num_frames)])


def true_flow(scene: Scene, t: float, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact forward flow of object pixels from time t to t + dt.

    Returns:
        flow ``(H, W, 2)`` float (u, v) in pixels, zero off the object; mask ``(H, W)`` bool of the
        pixels that belong to the object at time t.
    """
    qx, qy, mask = _object_coords(scene, t)
    centre, theta, radius = pose(scene, t + dt)
    c, s = np.cos(theta), np.sin(theta)
    x1 = centre[0] + radius * (c * qx - s * qy)
    y1 = centre[1] + radius * (s * qx + c * qy)
    y0, x0 = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    inside = mask >= 1.0
    flow = np.stack([x1 - x0, y1 - y0], -1) * inside[..., None]
    return flow.astype(np.float32), inside


def video_scene(seed: int, label: int, n: int, *, height: int, width: int, num_frames: int,
                speed: float) -> tuple[Scene, np.random.Generator]:
    """The scene of video ``n`` of class ``label`` in the dataset drawn with ``seed``, and the
    generator its frames' noise continues from (:func:`generate` renders with it)."""
    rng = np.random.default_rng([seed, label, n])
    return draw_scene(rng, label, height=height, width=width, num_frames=num_frames, speed=speed), rng


def video_number(video_id: str) -> int:
    """``n`` of the video id ``<class>/<class>_<n>`` that :func:`generate` writes."""
    return int(video_id.rsplit("_", 1)[1])


def generate(out_dir: str | Path, *, videos_per_class: int, num_frames: int, height: int, width: int, fps: int,
             speed: float, test_fraction: float, val_fraction: float, seed: int) -> list[dict]:
    """Render and encode the dataset under ``out_dir/<class>/<class>_<n>.mp4``; returns video records
    (video n of a class goes to the split :func:`mscl.io.tables.split_of` gives it)."""
    records = []
    for label, name in enumerate(CLASSES):
        for n in range(videos_per_class):
            scene, rng = video_scene(seed, label, n, height=height, width=width, num_frames=num_frames, speed=speed)
            path = Path(out_dir) / name / f"{name}_{n:04d}.mp4"
            encode_video(path, render_video(scene, rng), fps=fps)
            records.append({"video_id": f"{name}/{path.stem}", "path": str(path), "label": label, "label_name": name,
                            "split": split_of(n, test_fraction, val_fraction)})
    return records


# --------------------------------------------------------------------------- a camera over a photograph


def sample_photo() -> np.ndarray:
    """A real photograph, ``(H, W, 3)`` uint8 RGB (matplotlib's sample image; no download)."""
    import matplotlib.cbook as cbook
    import matplotlib.image as mimage

    with cbook.get_sample_data("grace_hopper.jpg") as fh:
        return mimage.imread(fh, format="jpg")


def camera_views(photo: np.ndarray, poses: np.ndarray, H: int, W: int, *, cubic: bool = True) -> np.ndarray:
    """Views ``(T, H, W, 3)`` of ``photo`` by a camera at ``poses`` ``(T, 3)``: (s, x0, y0), frame
    pixel (x, y) seeing photo point (x0 + s x, y0 + s y)."""
    import cv2

    flags = (cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    return np.stack([cv2.warpAffine(photo, np.array([[s, 0, x0], [0, s, y0]]), (W, H), flags=flags) for s, x0, y0 in poses])


def looping_poses(photo_shape: tuple[int, ...], T: int, H: int, W: int, *, period: int = 40) -> np.ndarray:
    """``(T, 3)`` poses of a camera that circles a small region of the photo while zooming by 1 %
    steps, so any number of frames stays inside it (about 1.5 px of motion per frame)."""
    phase = 2 * np.pi * np.arange(T) / period
    s = 0.9 * min(photo_shape[0] / H, photo_shape[1] / W) / (1.01 ** (10 * np.sin(phase)))
    x0 = photo_shape[1] / 2 + 10 * np.cos(phase) - s * W / 2
    y0 = photo_shape[0] / 2 + 5 * np.sin(phase) - s * H / 2
    return np.stack([s, x0, y0], 1)


def camera_flow(a: np.ndarray, b: np.ndarray, H: int, W: int) -> np.ndarray:
    """Exact forward flow ``(H, W, 2)`` float32 from the view at pose ``a`` to the view at pose ``b``
    (each (s, x0, y0)): the photo point x0_a + s_a x is seen at (x0_a + s_a x - x0_b) / s_b."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    u = (a[1] + a[0] * xs - b[1]) / b[0] - xs
    v = (a[2] + a[0] * ys - b[2]) / b[0] - ys
    return np.stack((u, v), axis=-1).astype(np.float32)


def camera_pan(photo: np.ndarray, T: int, H: int, W: int, step=(1.4, 0.6), zoom: float = 1.015):
    """Views of ``photo`` by a camera moving ``step`` px and zooming in by ``zoom`` per frame.

    Returns:
        (frames ``(T, H, W, 3)`` uint8, true flow ``(T - 1, H, W, 2)`` float32 between consecutive frames).
    """
    import cv2

    f = 0.8 * min(photo.shape[0] / H, photo.shape[1] / W)  # shrink first: no aliasing in the warp
    photo = cv2.resize(photo, (round(photo.shape[1] / f), round(photo.shape[0] / f)), interpolation=cv2.INTER_AREA)
    cy, cx = photo.shape[0] / 2, photo.shape[1] / 2
    t = np.arange(T, dtype=np.float64)
    s = zoom**-t  # photo px per frame px; frame pixel x sees photo point c + s (x - centre + t step)
    poses = np.stack([s, cx - s * (W / 2 - step[0] * t), cy - s * (H / 2 - step[1] * t)], 1)
    flows = [camera_flow(poses[i], poses[i + 1], H, W) for i in range(T - 1)]
    return camera_views(photo, poses, H, W), np.stack(flows) if flows else np.zeros((0, H, W, 2), np.float32)

"""The embedded synthetic motion dataset: classes defined only by motion.

Each video shows one textured object over a textured background. The class is a motion, from
one of three families (``datasets.<name>.family``; docs/benchmarks.md says why each is built as it is):

* ``direction``: the object's content translates (right, left, up, down), rotates (clockwise,
  counter-clockwise) or zooms (in, out). Its outline stays where it was drawn (a rotating one
  turns in place): a translating or zooming texture is seen through the still outline, like a
  pattern through a window. A moving outline would tell the class by where the object is at a
  given frame (rightward objects start on the left), a zooming one by its size.
* ``relative``: the object moves in a straight line in a random direction, drawn the same way
  for every class; the class is what the background does meanwhile: it stays still, moves along
  with the object (a camera pan), against it, or across it. Rotating every flow vector,
  mirroring the flow picture, dividing each flow frame by its longest vector and pooling over
  time keep these classes apart, so MSCL's own augmentations do not merge them.
* ``layers``: the object's outline stays where it was drawn, as in ``direction``; the class is
  which of the two layers moves, each in its own random direction: nothing, the object's texture
  behind its outline, the background, or both. The same augmentations keep these apart too, and
  the benchmark's encoder learns them from RGB with labels (the relative classes it barely learns).

Everything a single frame shows (textures, colours, shape, size, position) is drawn
independently of the class: place and size are the same random variables for every class of a
family at every frame, and the object's texture is statistically the same at every zoom (its
waves are spread evenly over a band of scales far wider than the visible one). The motion is
known exactly: :func:`true_flow` gives the forward flow of every pixel.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mscl.io.tables import split_of
from mscl.io.video import encode_video

FAMILIES = {
    "direction": ("right", "left", "up", "down", "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out"),
    # what the background does while the object moves
    "relative": ("background_still", "background_along", "background_against", "background_across"),
    # which of the two layers moves, each in its own random direction
    "layers": ("nothing_moves", "object_moves", "background_moves", "both_move"),
}
CLASSES = FAMILIES["direction"]
DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}  # image coords, y down
SHAPES = ("circle", "square", "triangle")
WAVES = 6  # sinusoids per background texture
# The object's texture: waves whose frequencies (cycles per pixel at zoom 1) lie on a grid of
# half-octave steps over 11 octaves with a random offset, faded out above the cutoff. A zoom by a
# factor z only slides the grid by log z, so while the band reaches beyond 1/z of the lowest
# visible frequency (about 1 / 200 px) and z times the cutoff, every zoom shows the same mix of
# scales, about ten visible waves. The cutoff fades out the waves much shorter than the
# displacement a flow pair sees (up to 2 frames at 2.4 px), which would alias the motion.
OBJECT_WAVES, OBJECT_BAND, CUTOFF = 22, (1 / 1024, 2.0), 0.16


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything drawn at random for one video; poses follow from it deterministically."""

    family: str
    label: int
    height: int
    width: int
    num_frames: int
    shape: str
    start: tuple[float, float]  # centre of the outline (x, y) at t = 0, pixels
    velocity: tuple[float, float]  # of the outline, pixels per frame
    radius: float  # pixels
    theta0: float
    omega: float  # rotation per frame, radians; > 0 is clockwise on screen (y points down)
    drift: tuple[float, float]  # of the texture inside the outline, pixels per frame
    zoom: float  # log-scale of the texture per frame, about the centre; > 0 is zoom in
    background_velocity: tuple[float, float]  # pixels per frame
    object_texture: np.ndarray  # (OBJECT_WAVES, 6): kx, ky (cycles/px), phase, r, g, b amplitude
    object_base: np.ndarray  # (3,) mean colour
    background_texture: np.ndarray  # (WAVES, 6)
    background_base: np.ndarray
    noise: float  # std of per-frame sensor noise, grey levels


def _texture(rng: np.random.Generator, freq: np.ndarray, colours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Waves of frequencies ``freq`` (n,) cycles/px and RGB amplitudes ``colours`` (n, 3), in random
    directions and phases -> (texture (n, 6), mean colour (3,))."""
    angle = rng.uniform(0, np.pi, len(freq))
    waves = np.stack([freq * np.cos(angle), freq * np.sin(angle), rng.uniform(0, 2 * np.pi, len(freq))], 1)
    return np.concatenate([waves, colours], 1), rng.uniform(50, 205, 3)


def _evaluate(texture: np.ndarray, base: np.ndarray, x: np.ndarray, y: np.ndarray, gain: np.ndarray | None = None) -> np.ndarray:
    """Texture colour at coordinates ``x, y`` (any shape S) -> (*S, 3) float; ``gain`` (n,) scales each wave."""
    phase = 2 * np.pi * (texture[:, 0] * x[..., None] + texture[:, 1] * y[..., None]) + texture[:, 2]
    colours = texture[:, 3:] if gain is None else texture[:, 3:] * gain[:, None]
    return base + np.cos(phase) @ colours


def _direction_motion(name: str, speed: float, radius: float) -> dict:
    """Texture drift, rotation or zoom of a ``direction`` class: the outline does not move."""
    motion = {"drift": (0.0, 0.0), "omega": 0.0, "zoom": 0.0}
    if name in DIRECTIONS:
        motion["drift"] = tuple(speed * np.array(DIRECTIONS[name], dtype=float))
    elif name.startswith("rotate"):
        motion["omega"] = min(speed / radius, 0.1) * (1 if name == "rotate_cw" else -1)
    else:  # the rim moves at 0.3 speed (0.6 px per frame at the benchmark's speed)
        motion["zoom"] = 0.3 * speed / radius * (1 if name == "zoom_in" else -1)
    return motion


def _relative_motion(rng: np.random.Generator, name: str, speed: float, box: np.ndarray, span: int) -> dict:
    """A straight path of the outline in a random direction inside ``box`` (x0, y0, x1, y1), drawn the
    same way for every class, and the background's velocity relative to it (the class)."""
    d = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    size = box[2:] - box[:2]
    travel = d * min(speed * span, *(size[abs(d) > 1e-9] / abs(d[abs(d) > 1e-9])))  # (x, y) pixels
    start = box[:2] - np.minimum(travel, 0) + rng.uniform(0, 1, 2) * (size - abs(travel))
    velocity = travel / span
    turn = {"background_still": 0.0, "background_along": 1.0, "background_against": -1.0,
            "background_across": 1j * rng.choice([-1, 1])}[name]
    b = complex(*velocity) * turn  # the velocity rotated (x + iy times i: a quarter turn)
    return {"start": tuple(start), "velocity": tuple(velocity), "background_velocity": (b.real, b.imag)}


def _layers_motion(rng: np.random.Generator, name: str, speed: float) -> dict:
    """The object's texture drifts behind its still outline, the background drifts, both or neither;
    each layer that moves does so in its own uniformly random direction. Where both move, their
    directions differ by 60-300 degrees, so no clip looks like one layer (a pan of the whole picture)."""
    a = rng.uniform(0, 2 * np.pi)
    b = a + rng.uniform(np.pi / 3, 5 * np.pi / 3)
    obj = speed * np.array([np.cos(a), np.sin(a)]) if name in ("object_moves", "both_move") else np.zeros(2)
    bg = speed * np.array([np.cos(b), np.sin(b)]) if name in ("background_moves", "both_move") else np.zeros(2)
    return {"drift": tuple(obj), "background_velocity": tuple(bg)}


def draw_scene(rng: np.random.Generator, label: int, *, height: int, width: int, num_frames: int, speed: float,
               family: str = "direction") -> Scene:
    """Draw one video's scene of class ``label`` of ``family``."""
    name, span, short = FAMILIES[family][label], max(num_frames - 1, 1), min(height, width)
    margin = 0.25 * short
    box = np.array([margin, margin, width - margin, height - margin])
    radius = rng.uniform(0.08 * short, 0.32 * short)
    speed = speed * rng.uniform(0.8, 1.2)
    scene = {"start": tuple(box[:2] + rng.uniform(0, 1, 2) * (box[2:] - box[:2])), "velocity": (0.0, 0.0),
             "drift": (0.0, 0.0), "omega": 0.0, "zoom": 0.0, "background_velocity": (0.0, 0.0)}
    if family == "direction":
        scene |= _direction_motion(name, speed, radius)
    elif family == "layers":
        scene |= _layers_motion(rng, name, speed)
    else:
        scene |= _relative_motion(rng, name, speed, box, span)
    lo, hi = np.log(OBJECT_BAND)
    freq = np.exp(lo + (np.arange(OBJECT_WAVES) + rng.uniform()) * (hi - lo) / OBJECT_WAVES)
    # every wave of the object changes its brightness, not only its hue: TV-L1 reads grey levels, and
    # a texture seen through a still outline has no moving edge to fall back on
    colours = 28.0 * (rng.choice([-1.0, 1.0], (OBJECT_WAVES, 1)) + 0.6 * rng.normal(0, 1, (OBJECT_WAVES, 3)))
    obj, obj_base = _texture(rng, freq, colours)
    bg, bg_base = _texture(rng, rng.uniform(0.02, 0.12, WAVES), rng.normal(0, 45.0 / np.sqrt(WAVES), (WAVES, 3)))
    return Scene(family, label, height, width, num_frames, str(rng.choice(SHAPES)), radius=float(radius),
                 theta0=float(rng.uniform(0, 2 * np.pi)), object_texture=obj, object_base=obj_base,
                 background_texture=bg, background_base=bg_base, noise=float(rng.uniform(1, 3)), **scene)


def pose(scene: Scene, t: float) -> tuple[np.ndarray, float, float]:
    """Centre (x, y), angle (rad) and radius (px) of the object's outline at time ``t`` (frames)."""
    return np.asarray(scene.start) + t * np.asarray(scene.velocity), scene.theta0 + scene.omega * t, scene.radius


def _texture_scale(scene: Scene, t: float) -> float:
    """Texture units per pixel at time ``t``: 1 halfway through the video."""
    return float(np.exp(-scene.zoom * (t - (scene.num_frames - 1) / 2)))


def _object_coords(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texture coordinates (tx, ty) of every pixel at time t and a soft mask (H, W) in [0, 1] of
    the outline (1 px anti-aliased edge)."""
    centre, theta, radius = pose(scene, t)
    y, x = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    dx, dy = x - centre[0], y - centre[1]
    c, s = np.cos(theta), np.sin(theta)
    qx, qy = (c * dx + s * dy) / radius, (-s * dx + c * dy) / radius  # rotate by -theta, then scale
    if scene.shape == "circle":
        dist = np.hypot(qx, qy)
    elif scene.shape == "square":
        dist = np.maximum(abs(qx), abs(qy))
    else:  # equilateral triangle with circumradius 1.4 (an area near the others'): half-planes at inradius 0.7
        dist = np.maximum.reduce([qx * np.cos(a) + qy * np.sin(a) for a in (np.pi / 2, 7 * np.pi / 6, 11 * np.pi / 6)]) / 0.7
    mask = np.clip((1.0 - dist) * radius + 0.5, 0.0, 1.0)
    ex, ey = dx - scene.drift[0] * t, dy - scene.drift[1] * t  # the texture drifts behind the outline ...
    k = _texture_scale(scene, t)  # ... and zooms about its centre
    return k * (c * ex + s * ey), k * (-s * ex + c * ey), mask


def _background(scene: Scene, t: float) -> np.ndarray:
    """The background at time ``t``, (H, W, 3) float."""
    y, x = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    b = scene.background_velocity
    return _evaluate(scene.background_texture, scene.background_base, x - b[0] * t, y - b[1] * t)


def render_frame(scene: Scene, t: float, rng: np.random.Generator, background: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t`` as ``(H, W, 3)`` uint8 RGB (``background``: precomputed (H, W, 3) float)."""
    img = _background(scene, t) if background is None else background.copy()
    tx, ty, mask = _object_coords(scene, t)
    on = mask > 0  # evaluate the object texture only where it shows
    # each wave fades out as its frequency on screen passes the cutoff: no aliasing at any zoom
    freq = np.hypot(*scene.object_texture[:, :2].T) / _texture_scale(scene, t)
    obj = _evaluate(scene.object_texture, scene.object_base, tx[on], ty[on], np.exp(-((freq / CUTOFF) ** 2)))
    img[on] += mask[on, None] * (obj - img[on])
    img += rng.normal(0, scene.noise, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_video(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """All frames ``(T, H, W, 3)`` uint8."""
    still = _background(scene, 0) if scene.background_velocity == (0.0, 0.0) else None
    return np.stack([render_frame(scene, t, rng, still) for t in range(scene.num_frames)])


def true_flow(scene: Scene, t: float, dt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact forward flow of every pixel from time t to t + dt.

    Returns:
        flow ``(H, W, 2)`` float (u, v) in pixels: the object's texture where it shows, the
        background's elsewhere; mask ``(H, W)`` bool of the pixels that belong to the object at time t.
    """
    tx, ty, mask = _object_coords(scene, t)
    centre, theta, _ = pose(scene, t + dt)
    c, s = np.cos(theta), np.sin(theta)
    k = _texture_scale(scene, t + dt)  # where the same texture point is at t + dt
    x1 = centre[0] + scene.drift[0] * (t + dt) + (c * tx - s * ty) / k
    y1 = centre[1] + scene.drift[1] * (t + dt) + (s * tx + c * ty) / k
    y0, x0 = np.mgrid[0 : scene.height, 0 : scene.width].astype(np.float64)
    inside = mask >= 1.0
    background = np.broadcast_to(np.asarray(scene.background_velocity) * dt, (*inside.shape, 2))
    flow = np.where(inside[..., None], np.stack([x1 - x0, y1 - y0], -1), background)
    return flow.astype(np.float32), inside


def video_scene(seed: int, label: int, n: int, *, height: int, width: int, num_frames: int,
                speed: float, family: str = "direction") -> tuple[Scene, np.random.Generator]:
    """The scene of video ``n`` of class ``label`` in the dataset drawn with ``seed``, and the
    generator its frames' noise continues from (:func:`generate` renders with it)."""
    rng = np.random.default_rng([seed, label, n])
    return draw_scene(rng, label, height=height, width=width, num_frames=num_frames, speed=speed, family=family), rng


def video_number(video_id: str) -> int:
    """``n`` of the video id ``<class>/<class>_<n>`` that :func:`generate` writes."""
    return int(video_id.rsplit("_", 1)[1])


def generate(out_dir: str | Path, *, videos_per_class: int, num_frames: int, height: int, width: int, fps: int,
             speed: float, test_fraction: float, val_fraction: float, seed: int,
             family: str = "direction") -> list[dict]:
    """Render and encode the dataset of ``family`` under ``out_dir/<class>/<class>_<n>.mp4``; returns
    video records (video n of a class goes to the split :func:`mscl.io.tables.split_of` gives it)."""
    records = []
    for label, name in enumerate(FAMILIES[family]):
        for n in range(videos_per_class):
            scene, rng = video_scene(seed, label, n, height=height, width=width, num_frames=num_frames, speed=speed,
                                     family=family)
            path = Path(out_dir) / name / f"{name}_{n:04d}.mp4"
            encode_video(path, render_video(scene, rng), fps=fps)
            records.append({"video_id": f"{name}/{path.stem}", "path": str(path), "label": label, "label_name": name,
                            "split": split_of(n, test_fraction, val_fraction)})
    return records

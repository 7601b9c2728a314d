"""Synthetic "shapes and textures" dataset for the kit's offline model.

Every image is generated from a seed, so the same ``(seed, index)`` always gives the same
picture, label and ground-truth object mask. Ten classes: seven *shapes* filled with a random
solid colour and three *textures* (stripes, checkerboard, polka dots) cut out in a random shape,
all drawn on a cluttered background (colour gradient, random lines and blobs, pixel noise).

Example:
    >>> images, labels, masks = make_shapes(8, seed=0)
    >>> images.shape, images.dtype, labels.shape, masks.shape
    ((8, 64, 64, 3), dtype('uint8'), (8,), (8, 64, 64))
"""

from __future__ import annotations

import numpy as np

CLASS_NAMES: tuple[str, ...] = (
    "disk",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "crescent",
    "stripes",
    "checkerboard",
    "polka dots",
)
IMAGE_SIZE = 64
_SUPERSAMPLE = 2


def _polygon_mask(x: np.ndarray, y: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Inside test for a convex or star-shaped polygon (even-odd rule)."""
    inside = np.zeros(x.shape, dtype=bool)
    n = len(vertices)
    for i in range(n):
        x1, y1 = vertices[i]
        x2, y2 = vertices[(i + 1) % n]
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (x2 - x1) * (y - y1) / (y2 - y1 + 1e-12) + x1
        inside ^= crosses & (x < x_at)
    return inside


def _shape_mask(kind: str, x: np.ndarray, y: np.ndarray, r: float, angle: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of one shape centred at (0, 0) with outer radius ``r`` (coordinates in pixels)."""
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * x + s * y, -s * x + c * y  # rotated coordinates
    rho = np.hypot(x, y)
    if kind == "disk":
        return rho <= r
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= r * 0.75
    if kind == "triangle":
        t = angle + np.arange(3) * 2 * np.pi / 3
        return _polygon_mask(x, y, np.stack([r * np.cos(t), r * np.sin(t)], 1))
    if kind == "star":
        t = angle + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
        return _polygon_mask(x, y, np.stack([radii * np.cos(t), radii * np.sin(t)], 1))
    if kind == "cross":
        w = r * 0.3
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    if kind == "ring":
        return (rho <= r) & (rho >= r * rng.uniform(0.5, 0.65))
    if kind == "crescent":
        shift = r * rng.uniform(0.45, 0.6)
        return (rho <= r) & (np.hypot(u - shift, v) > r * 0.85)
    raise ValueError(f"unknown shape {kind!r}")


def _texture(kind: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean pattern (True = first colour) for one texture class."""
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * x + np.sin(angle) * y
    v = -np.sin(angle) * x + np.cos(angle) * y
    period = rng.uniform(6.0, 9.0) * _SUPERSAMPLE
    if kind == "stripes":
        return np.mod(u, period) < period / 2
    if kind == "checkerboard":
        return (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    if kind == "polka dots":
        du = np.mod(u, period) - period / 2
        dv = np.mod(v, period) - period / 2
        return np.hypot(du, dv) < period * 0.3
    raise ValueError(f"unknown texture {kind!r}")


def _distinct_colour(rng: np.random.Generator, avoid: np.ndarray, min_dist: float = 0.45) -> np.ndarray:
    for _ in range(100):
        col = rng.uniform(0, 1, 3)
        if np.linalg.norm(col - avoid) >= min_dist:
            return col
    return 1.0 - avoid


def _background(n: int, rng: np.random.Generator) -> np.ndarray:
    """Cluttered background: a colour gradient, thin lines and soft blobs (size n x n x 3)."""
    yy, xx = np.mgrid[0:n, 0:n] / n
    c0, c1 = rng.uniform(0.15, 0.85, 3), rng.uniform(0.15, 0.85, 3)
    t = np.clip(rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy + 0.5, 0, 1)[..., None]
    img = (1 - t) * c0 + t * c1
    for _ in range(rng.integers(3, 7)):  # lines
        a = rng.uniform(0, np.pi)
        d = np.cos(a) * (xx - rng.uniform()) + np.sin(a) * (yy - rng.uniform())
        line = np.abs(d) < rng.uniform(0.004, 0.012)
        img[line] = rng.uniform(0, 1, 3)
    for _ in range(rng.integers(2, 5)):  # blobs
        cx, cy, rad = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.03, 0.08)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad**2))[..., None]
        img = img * (1 - 0.7 * blob) + 0.7 * blob * rng.uniform(0, 1, 3)
    return img


def make_shape(label: int, rng: np.random.Generator, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One image of class ``label``: returns ``(image uint8 HxWx3, mask bool HxW)``."""
    n = size * _SUPERSAMPLE
    img = _background(n, rng)
    kind = CLASS_NAMES[label]
    r = rng.uniform(0.22, 0.36) * n
    cx, cy = rng.uniform(r, n - r), rng.uniform(r, n - r)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    x, y = xx - cx, yy - cy
    angle = rng.uniform(0, 2 * np.pi)
    mean_bg = img[int(cy), int(cx)]
    if label < 7:
        mask = _shape_mask(kind, x, y, r, angle, rng)
        img[mask] = _distinct_colour(rng, mean_bg)
    else:
        outline = ("disk", "square")[rng.integers(2)]
        mask = _shape_mask(outline, x, y, r * 1.1, angle, rng)
        col_a = _distinct_colour(rng, mean_bg)
        col_b = _distinct_colour(rng, col_a, 0.6)
        pattern = _texture(kind, x, y, rng)
        img[mask & pattern] = col_a
        img[mask & ~pattern] = col_b
    img = img + rng.normal(0, 0.03, img.shape)
    # average-pool the supersampled picture: anti-aliased edges
    img = img.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE, 3).mean((1, 3))
    mask_small = mask.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean((1, 3)) >= 0.5
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), mask_small


def make_shapes(
    n: int, seed: int = 0, size: int = IMAGE_SIZE, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` images deterministically.

    Args:
        n: number of images.
        seed: the dataset seed; image ``i`` depends only on ``(seed, i)``.
        size: side length in pixels.
        labels: optional class per image; by default the classes cycle 0, 1, …, 9, 0, …

    Returns:
        ``(images uint8 [n, size, size, 3], labels int64 [n], masks bool [n, size, size])``.
    """
    if labels is None:
        labels = np.arange(n) % len(CLASS_NAMES)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= len(CLASS_NAMES):
        raise ValueError(f"labels must be {n} integers in [0, {len(CLASS_NAMES) - 1}]")
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=bool)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        images[i], masks[i] = make_shape(int(labels[i]), rng, size)
    return images, labels, masks

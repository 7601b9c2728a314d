"""Synthetic "shapes and textures" dataset for the kit's offline model.

Every image is generated from a seed, so the same ``(seed, index)`` always gives the same
picture, label and ground-truth object mask. Ten classes: seven *shapes* filled with a random
solid colour and three *textures* (stripes, checkerboard, polka dots) cut out in a random shape,
all drawn on a cluttered background (colour gradient, random lines and blobs, pixel noise).

Example:
    >>> images, labels, masks = make_shapes(8, seed=0)
    >>> images.shape, images.dtype, labels.shape, masks.shape
    ((8, 64, 64, 3), dtype('uint8'), (8,), (8, 64, 64))

The generator also knows every concept it drew — the object's class, the colour it painted at each
pixel (named in a vocabulary of eleven colours) and the background clutter — and returns them, for
the same images, with ``concepts=True`` (the ground truth of Network Dissection):

    >>> images, labels, masks, concepts = make_shapes(8, seed=0, concepts=True)
    >>> concepts.mask("red").shape
    (8, 64, 64)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, overload

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

#: The colour vocabulary: Berlin & Kay's eleven basic colour terms (as Broden's colour concepts).
COLOUR_NAMES: tuple[str, ...] = ("black", "grey", "white", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
#: sRGB prototypes (0–255) of the colour names; a colour gets the name of the nearest prototype in CIELAB.
#: Blue has a second, light prototype: without it cyan, which no basic term names, would be called white.
COLOUR_PROTOTYPES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (0, 0, 0)),
    ("grey", (128, 128, 128)),
    ("white", (255, 255, 255)),
    ("red", (200, 30, 30)),
    ("orange", (240, 130, 20)),
    ("yellow", (240, 220, 30)),
    ("green", (40, 160, 50)),
    ("blue", (30, 70, 200)),
    ("blue", (60, 200, 220)),
    ("purple", (120, 40, 150)),
    ("pink", (240, 130, 180)),
    ("brown", (120, 75, 30)),
)
BACKGROUND_NAMES: tuple[str, ...] = ("line", "blob", "gradient")
#: Every concept of :class:`Concepts`: the ten classes, the colour names, the background elements.
CONCEPT_NAMES: tuple[str, ...] = CLASS_NAMES + COLOUR_NAMES + BACKGROUND_NAMES
#: The category of each concept (Bau et al. 2017 report detectors per category).
CONCEPT_CATEGORIES: tuple[str, ...] = (
    ("shape",) * 7 + ("texture",) * 3 + ("colour",) * len(COLOUR_NAMES) + ("background",) * len(BACKGROUND_NAMES)
)
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_D65 = np.array([0.95047, 1.0, 1.08883])


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


def _background(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluttered background: a colour gradient, thin lines and soft blobs (size n x n x 3).

    Returns ``(image, line pixels, blob pixels)``; a blob pixel is one where a blob's Gaussian is at
    least half its peak (so the blob's colour makes up at least 35 % of the pixel).
    """
    yy, xx = np.mgrid[0:n, 0:n] / n
    c0, c1 = rng.uniform(0.15, 0.85, 3), rng.uniform(0.15, 0.85, 3)
    t = np.clip(rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy + 0.5, 0, 1)[..., None]
    img = (1 - t) * c0 + t * c1
    lines = np.zeros((n, n), dtype=bool)
    for _ in range(rng.integers(3, 7)):  # lines
        a = rng.uniform(0, np.pi)
        d = np.cos(a) * (xx - rng.uniform()) + np.sin(a) * (yy - rng.uniform())
        line = np.abs(d) < rng.uniform(0.004, 0.012)
        img[line] = rng.uniform(0, 1, 3)
        lines |= line
    blobs = np.zeros((n, n), dtype=bool)
    for _ in range(rng.integers(2, 5)):  # blobs
        cx, cy, rad = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.03, 0.08)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad**2))[..., None]
        img = img * (1 - 0.7 * blob) + 0.7 * blob * rng.uniform(0, 1, 3)
        blobs |= blob[..., 0] >= 0.5
    return img, lines, blobs


def _pool(a: np.ndarray, size: int) -> np.ndarray:
    """Average-pool a supersampled ``[size*S, size*S, ...]`` array to ``[size, size, ...]``."""
    return a.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE, *a.shape[2:]).mean((1, 3))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65 white) of sRGB colours in [0, 1] (``[..., 3]``): the space the colour names are matched in."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _SRGB_TO_XYZ.T / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_PROTOTYPES_LAB = srgb_to_lab(np.array([rgb for _, rgb in COLOUR_PROTOTYPES]) / 255)
_PROTOTYPE_NAMES = np.array([COLOUR_NAMES.index(name) for name, _ in COLOUR_PROTOTYPES])


def colour_names(rgb: np.ndarray) -> np.ndarray:
    """Index into :data:`COLOUR_NAMES` of each sRGB colour in [0, 1] (``[..., 3]`` → ``[...]``).

    The name of the nearest prototype of :data:`COLOUR_PROTOTYPES` in CIELAB (Euclidean distance,
    i.e. the CIE76 colour difference ΔE*ab).
    """
    lab = srgb_to_lab(np.asarray(rgb, dtype=np.float64))
    # |lab - p|^2 = |lab|^2 - 2 lab.p + |p|^2, and |lab|^2 is the same for every prototype
    return _PROTOTYPE_NAMES[np.argmin((_PROTOTYPES_LAB**2).sum(1) - 2 * lab @ _PROTOTYPES_LAB.T, -1)]


def _concept_labels(
    size: int, label: int, object_mask: np.ndarray, clean: np.ndarray, lines: np.ndarray, blobs: np.ndarray
) -> np.ndarray:
    """The three concept planes of one image (``int8 [3, size, size]``, indices into :data:`CONCEPT_NAMES`)."""
    planes = np.full((3, size, size), -1, dtype=np.int8)
    planes[0][object_mask] = label
    planes[1] = len(CLASS_NAMES) + colour_names(_pool(clean, size))
    background = (
        len(CLASS_NAMES) + len(COLOUR_NAMES) + np.where(_pool(blobs, size) >= 0.5, 1, np.where(_pool(lines, size) >= 0.5, 0, 2))
    )
    planes[2] = np.where(object_mask, -1, background)
    return planes


def _draw(label: int, rng: np.random.Generator, size: int, concepts: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One image of class ``label``: ``(image, object mask, concept planes or None)``."""
    n = size * _SUPERSAMPLE
    img, lines, blobs = _background(n, rng)
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
    clean = img
    img = img + rng.normal(0, 0.03, img.shape)
    # average-pool the supersampled picture: anti-aliased edges
    mask_small = _pool(mask, size) >= 0.5
    planes = _concept_labels(size, label, mask_small, clean, lines, blobs) if concepts else None
    return (np.clip(_pool(img, size), 0, 1) * 255).round().astype(np.uint8), mask_small, planes


def make_shape(label: int, rng: np.random.Generator, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One image of class ``label``: returns ``(image uint8 HxWx3, mask bool HxW)``."""
    image, mask, _ = _draw(label, rng, size, concepts=False)
    return image, mask


@dataclass(frozen=True)
class Concepts:
    """Per-pixel labels of every concept the generator drew, for Network Dissection (Bau et al. 2017).

    The concepts are :data:`CONCEPT_NAMES`, each in one category of :data:`CONCEPT_CATEGORIES`:

    - ``"shape"`` / ``"texture"``: the object, labelled with its class (the object mask);
    - ``"colour"``: the colour the generator painted at each pixel (before the pixel noise), named by
      :func:`colour_names` — every pixel has exactly one colour;
    - ``"background"``: the clutter visible around the object — ``"line"``, ``"blob"`` (where a blob
      is at least half its peak) and ``"gradient"`` (the plain gradient between them); none on the object.

    Lines and blobs, like the object mask, cover a pixel when at least half of its 2x2 supersamples do;
    a pixel's colour is the name of the average of its supersamples' painted colours.

    Attributes:
        labels: ``int8 [N, 3, H, W]``: per pixel, the index into :data:`CONCEPT_NAMES` of its object
            concept (-1 off the object), its colour and its background element (-1 on the object).
    """

    labels: np.ndarray

    names: ClassVar[tuple[str, ...]] = CONCEPT_NAMES
    categories: ClassVar[tuple[str, ...]] = CONCEPT_CATEGORIES

    def mask(self, concept: str | int) -> np.ndarray:
        """``bool [N, H, W]``: the pixels of one concept (a name of :data:`CONCEPT_NAMES` or its index)."""
        k = concept_index(concept)
        return (self.labels == k).any(1)

    def masks(self) -> np.ndarray:
        """``bool [N, K, H, W]``: every concept's mask (K = ``len(CONCEPT_NAMES)``; 24 bytes per pixel)."""
        return np.stack([self.mask(k) for k in range(len(CONCEPT_NAMES))], 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: slice | np.ndarray) -> Concepts:
        """The concepts of some of the images (``concepts[:100]``), as NumPy indexing selects them."""
        return Concepts(self.labels[index])


def concept_index(concept: str | int) -> int:
    """Index of a concept in :data:`CONCEPT_NAMES` from its name or index (with a clear error)."""
    if isinstance(concept, str):
        if concept not in CONCEPT_NAMES:
            raise KeyError(f"unknown concept {concept!r}; the concepts are {', '.join(CONCEPT_NAMES)}")
        return CONCEPT_NAMES.index(concept)
    if not 0 <= concept < len(CONCEPT_NAMES):
        raise IndexError(f"concept index must be in 0..{len(CONCEPT_NAMES) - 1}, got {concept}")
    return int(concept)


@overload
def make_shapes(
    n: int, seed: int = ..., size: int = ..., labels: np.ndarray | None = ..., concepts: Literal[False] = ...
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
@overload
def make_shapes(
    n: int, seed: int = ..., size: int = ..., labels: np.ndarray | None = ..., *, concepts: Literal[True]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Concepts]: ...
def make_shapes(
    n: int, seed: int = 0, size: int = IMAGE_SIZE, labels: np.ndarray | None = None, concepts: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray, Concepts]:
    """Generate ``n`` images deterministically.

    Args:
        n: number of images.
        seed: the dataset seed; image ``i`` depends only on ``(seed, i)``.
        size: side length in pixels.
        labels: optional class per image; by default the classes cycle 0, 1, …, 9, 0, …
        concepts: also return the :class:`Concepts` drawn in each image (the images, labels and
            masks are the same either way: the random numbers are drawn in the same order).

    Returns:
        ``(images uint8 [n, size, size, 3], labels int64 [n], masks bool [n, size, size])``, and
        with ``concepts=True`` a fourth element, the :class:`Concepts`.
    """
    if labels is None:
        labels = np.arange(n) % len(CLASS_NAMES)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (n,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= len(CLASS_NAMES):
        raise ValueError(f"labels must be {n} integers in [0, {len(CLASS_NAMES) - 1}]")
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=bool)
    planes = np.empty((n, 3, size, size), dtype=np.int8)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        images[i], masks[i], p = _draw(int(labels[i]), rng, size, concepts)
        if p is not None:
            planes[i] = p
    return (images, labels, masks, Concepts(planes)) if concepts else (images, labels, masks)

"""Images in and out: loading (any mode → RGB), pre/post-processing, jitter and blur in torch.

Example:
    >>> img = load_image("chelsea", size=224)           # a sample photo shipped in data/
    >>> x = preprocess(img, mean=IMAGENET_MEAN, std=IMAGENET_STD, size=224)   # [1, 3, 224, 224]
    >>> deprocess(x, IMAGENET_MEAN, IMAGENET_STD).shape
    (224, 224, 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Union, cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError


def _shipped_data_dir() -> Path:
    """The data the kit ships (sample images, ShapesNet and fast-style weights, model cards), read-only.

    In a wheel the build copies the repository's top-level ``data/`` into the package as
    ``cnnviz_helpers/data`` (see ``setup.py``); in a checkout (editable install, ``PYTHONPATH``) it is
    ``data/`` itself.
    """
    packaged = Path(str(resources.files("cnnviz_helpers"))) / "data"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "data"


DATA_DIR = _shipped_data_dir()
IMAGES_DIR = DATA_DIR / "images"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: File types the kit reads as images (what PIL opens, as the file pickers and folder loaders filter).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

ImageLike = Union[str, Path, Image.Image, np.ndarray, torch.Tensor]


def sample_names() -> list[str]:
    """Names of the photos and textures shipped in ``data/images`` (see ``data/CREDITS.md``)."""
    return sorted(p.stem for p in IMAGES_DIR.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def sample_path(name: str) -> Path:
    """Path of the shipped sample ``name`` (e.g. ``"chelsea"``)."""
    for p in IMAGES_DIR.glob(f"{name}.*"):
        return p
    raise FileNotFoundError(f"no sample image {name!r}; available: {', '.join(sample_names())}")


def to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any PIL mode to RGB.

    Transparent modes (RGBA, LA, P with transparency) are composited over ``background``; 16- and
    32-bit greyscale (``I;16``, ``I``, ``F``) are rescaled to 0–255 rather than clipped; CMYK, L, 1,
    YCbCr, HSV … use PIL's conversion.
    """
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if img.mode.startswith("I") or img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if img.mode.startswith("I;16") else (float(arr.min()), float(arr.max()))
        arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
        return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    return img.convert("RGB")


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # CHW → HWC
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"cannot read an image from an array of shape {arr.shape}; expected HxW, HxWx3 or HxWx4")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError("float images must lie in [0, 1]; use deprocess() for normalised tensors")
        arr = (arr * 255).round().astype(np.uint8)
    elif arr.dtype == np.uint16:
        return to_rgb(Image.fromarray(arr) if arr.ndim == 2 else Image.fromarray((arr // 257).astype(np.uint8)))
    elif arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def load_image(src: ImageLike, size: int | tuple[int, int] | None = None) -> Image.Image:
    """Load an RGB PIL image from a path, a sample name, a PIL image, an array or a ``[0, 1]`` tensor.

    Args:
        src: file path, name from :func:`sample_names`, PIL image (any mode), ``HxW[x3|4]`` array
            (uint8, uint16 or float in [0, 1]) or a ``[3, H, W]`` / ``[1, 3, H, W]`` tensor in [0, 1].
        size: optional; an int resizes the shorter side to ``size`` and centre-crops a square,
            a ``(height, width)`` pair resizes exactly.
    """
    if isinstance(src, (str, Path)):
        path = Path(src)
        if not path.exists():
            if isinstance(src, str) and "/" not in src and "." not in src:
                path = sample_path(src)
            else:
                raise FileNotFoundError(f"{src} does not exist")
        try:
            with Image.open(path) as im:
                im.load()
                img = to_rgb(im)
        except (UnidentifiedImageError, OSError) as err:  # not an image, or a truncated / damaged one
            raise ValueError(
                f"{path} is not an image the kit can read ({type(err).__name__}: {err}); "
                f"images load from {', '.join(sorted(IMAGE_SUFFIXES))} files"
            ) from err
    elif isinstance(src, Image.Image):
        img = to_rgb(src)
    elif isinstance(src, torch.Tensor):
        t = src.detach().cpu().float()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        img = _array_to_pil(t.numpy())
        img = to_rgb(img)
    elif isinstance(src, np.ndarray):
        img = to_rgb(_array_to_pil(src))
    else:
        raise TypeError(f"cannot load an image from {type(src).__name__}")
    return resize(img, size) if size is not None else img


def resize(img: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Shorter side to ``size`` then centre crop (int), or exact ``(height, width)``."""
    if isinstance(size, tuple):
        return img.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def as_pair(v: int | Sequence[int]) -> tuple[int, int]:
    """``(v, v)`` for one number, ``(v[0], v[1])`` for a pair: sizes, windows, strides, kernels."""
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def channel_view(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    """Per-channel statistics as a ``[1, C, 1, 1]`` tensor with ``like``'s dtype and device."""
    return torch.as_tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


def to_pixels(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Normalised ``[N, 3, H, W]`` tensor → pixel values (``x * std + mean``, in [0, 1] for real images)."""
    return x * channel_view(std, x) + channel_view(mean, x)


def from_pixels(p: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Pixel values ``[N, 3, H, W]`` → the model's normalised input (``(p - mean) / std``)."""
    return (p - channel_view(mean, p)).div_(channel_view(std, p))  # one new tensor, not two (batches can be large)


def preprocess(
    img: ImageLike | Sequence[ImageLike],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    size: int | tuple[int, int] | None = 224,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Image(s) → normalised float tensor ``[N, 3, H, W]`` (``(x/255 - mean) / std``)."""
    imgs: list[ImageLike] = list(img) if isinstance(img, (list, tuple)) else [cast(ImageLike, img)]
    arrs = [np.asarray(load_image(i, size)) for i in imgs]  # uint8: a quarter of the memory of float32
    if len({a.shape for a in arrs}) > 1:
        raise ValueError("images have different sizes; pass size= to resize them to one")
    pixels = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).float().div_(255.0)  # channels-last, as convolutions prefer
    x = from_pixels(pixels, mean, std)
    return x.to(device) if device is not None else x


def deprocess(
    x: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD, rescale: bool = False
) -> np.ndarray:
    """Normalised tensor ``[3, H, W]`` or ``[N, 3, H, W]`` → float array ``HxWx3`` (or ``NxHxWx3``) in [0, 1].

    ``rescale=True`` min-max stretches each image instead of clipping (useful for synthesized images
    that leave the natural range).
    """
    t = x.detach().float()
    single = t.ndim == 3
    t = t.unsqueeze(0) if single else t
    t = to_pixels(t, mean, std)
    if rescale:
        lo = t.amin(dim=(1, 2, 3), keepdim=True)
        hi = t.amax(dim=(1, 2, 3), keepdim=True)
        t = (t - lo) / (hi - lo).clamp_min(1e-12)
    out = t.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return out[0] if single else out


def conv_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the memory layout convolutions run fastest in: channels-last on a CPU (oneDNN, up to ~2x
    faster forward and backward, same values), unchanged elsewhere."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" and x.ndim == 4 else x


def jitter(x: torch.Tensor, ox: int, oy: int) -> torch.Tensor:
    """Roll ``x`` by ``ox`` pixels right and ``oy`` down (wrapping); ``jitter(x, -ox, -oy)`` undoes it."""
    return torch.roll(x, shifts=(oy, ox), dims=(-2, -1))


def gaussian_kernel1d(sigma: float, truncate: float = 4.0, device=None, dtype=torch.float32) -> torch.Tensor:
    """Normalised 1-D Gaussian of standard deviation ``sigma`` (radius ``ceil(truncate * sigma)``)."""
    radius = max(1, int(math.ceil(truncate * sigma)))
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an ``[N, C, H, W]`` tensor with reflect padding (= ``scipy.ndimage`` ``mode="mirror"``).

    ``sigma <= 0`` returns ``x`` unchanged.
    """
    if sigma <= 0:
        return x
    k = gaussian_kernel1d(sigma, device=x.device, dtype=x.dtype)
    c, r = x.shape[1], (len(k) - 1) // 2
    r_h, r_w = min(r, x.shape[-2] - 1), min(r, x.shape[-1] - 1)
    kh = k[r - r_h : r + r_h + 1] if r_h < r else k
    kw = k[r - r_w : r + r_w + 1] if r_w < r else k
    y = F.pad(x, (r_w, r_w, 0, 0), mode="reflect")
    y = F.conv2d(y, (kw / kw.sum()).view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, r_h, r_h), mode="reflect")
    return F.conv2d(y, (kh / kh.sum()).view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def to_numpy_image(x: Any) -> np.ndarray:
    """PIL image, ``HxW``/``HxWxC`` array or ``CxHxW`` / ``1xCxHxW`` tensor → numpy array for ``imshow``."""
    if isinstance(x, torch.Tensor):
        t = x.detach().float().cpu()
        if t.ndim == 4:
            t = t[0]
        if t.ndim == 3 and t.shape[0] in (1, 3):
            t = t.permute(1, 2, 0)
        a = t.numpy()
        return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a
    return np.asarray(x)


def attribution_heatmap(maps: torch.Tensor) -> torch.Tensor:
    """Attribution maps ``[N, 3, H, W]`` (or already ``[N, H, W]``) → ``[N, H, W]`` heatmaps: ``|map|``, max over colour channels."""
    a = maps.detach().abs()
    return a.amax(1) if a.ndim == 4 else a


def normalize(a: np.ndarray | torch.Tensor, eps: float = 1e-12) -> np.ndarray:
    """Min–max stretch to [0, 1] (a constant array becomes zeros)."""
    a = to_numpy_image(a).astype(np.float64)
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi - lo > eps else np.zeros_like(a)


def image_grid(
    images: np.ndarray | torch.Tensor,
    ncols: int | None = None,
    pad: int = 1,
    per_image_norm: bool = True,
    fill: float = 1.0,
) -> np.ndarray:
    """Tile ``[N, H, W]`` or ``[N, H, W, C]`` (or ``[N, C, H, W]`` tensor) into one array, each tile min–max normalised.

    Used for first-layer filters and activation maps. ``fill`` is the value of the borders and empty
    slots: ``np.nan`` lets ``imshow`` show them as background instead of the colormap's maximum.
    """
    if isinstance(images, torch.Tensor):
        t = images.detach().float().cpu()
        images = t.permute(0, 2, 3, 1).numpy() if t.ndim == 4 else t.numpy()
    a = np.asarray(images, dtype=np.float64)
    n = a.shape[0]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    h, w = a.shape[1:3]
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad) + a.shape[3:], fill)
    tiles = [normalize(t) for t in a] if per_image_norm else list(normalize(a))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = tile
    return grid

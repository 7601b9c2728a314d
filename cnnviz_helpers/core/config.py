"""Kit-wide settings read from the environment: device choice, fast mode, seeding.

``CNNVIZ_DEVICE``  force a device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
``CNNVIZ_FAST=1``  shrink iterations and image sizes (set by ``make test`` for nbval).
``CNNVIZ_OFFLINE=1`` never try to download ImageNet weights (see :func:`cnnviz_helpers.load_model`).
``CNNVIZ_DATA``    the kit's data cache: what it downloads (Imagenette, paintings); see :func:`data_cache_dir`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def fast_mode() -> bool:
    """True when ``CNNVIZ_FAST`` is set: notebooks and helpers then do the least work that still shows the idea."""
    return _env_flag("CNNVIZ_FAST")


def offline_mode() -> bool:
    """True when ``CNNVIZ_OFFLINE`` is set: never try to download weights."""
    return _env_flag("CNNVIZ_OFFLINE")


def data_cache_dir() -> Path:
    """Folder for the data the kit downloads (Imagenette, public-domain paintings), apart from the data it ships.

    ``$CNNVIZ_DATA`` if set, else ``$XDG_CACHE_HOME/cnnviz``, else ``~/.cache/cnnviz``. For a class, point
    ``CNNVIZ_DATA`` at one shared folder filled once with ``make download``: the kit only reads it (it may be
    read-only for the students). The folder is not created here; downloads create it.
    """
    forced = os.environ.get("CNNVIZ_DATA", "").strip()
    if forced:
        return Path(forced).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "cnnviz"


def budget(full: T, fast: T) -> T:
    """``full`` normally, ``fast`` in fast mode — the one switch every heavy loop goes through.

    Example:
        >>> steps = budget(200, fast=5)   # 200 iterations for students, 5 under `make test`
    """
    return fast if fast_mode() else full


def default_device() -> torch.device:
    """``CNNVIZ_DEVICE`` if set, else CUDA, else Apple MPS, else CPU."""
    forced = os.environ.get("CNNVIZ_DEVICE", "").strip()
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seeded_generator(seed: int | None) -> torch.Generator:
    """A CPU random generator: seeded with ``seed`` (repeatable), or freshly seeded when ``None``.

    The kit's methods draw their start images and jitter offsets from it on the CPU, so a seed
    gives the same numbers on any device.
    """
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def announce(message: str) -> None:
    """The kit's one deliberate ``print``: a single visible line the user must see (which model is used).

    Warnings would show as two lines with a file path in a notebook; this stays one line of output.
    """
    print(f"cnnviz: {message}")

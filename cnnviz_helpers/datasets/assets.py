"""Optional data assets the notebooks use when present (public-domain paintings, …), and where they live.

Fetched by ``python -m cnnviz_helpers.training.download`` (``make download``) into the kit's data cache
(:func:`~cnnviz_helpers.core.config.data_cache_dir`, ``$CNNVIZ_DATA``), apart from the read-only data the
kit ships; never required: each has an offline stand-in.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.config import data_cache_dir


@dataclass(frozen=True)
class Asset:
    """A file the notebooks can use when it is present (never required: each has an offline stand-in)."""

    name: str  # file name under downloads_dir()
    url: str
    sha256: str | None  # None: no checksum known yet — the file is used unverified (a note says so)
    credit: str


def _commons(file: str, width: int = 1024) -> str:
    """A Wikimedia Commons file, rendered ``width`` px wide (stable URL by file name)."""
    return f"https://commons.wikimedia.org/wiki/Special:FilePath/{file}?width={width}"


# Later sections append their optional assets here (e.g. public-domain paintings for style transfer).
ASSETS: list[Asset] = []

# Style transfer (lecture section 11): the public-domain paintings of the CS231n / Gatys examples.
# Their checksums could not be computed where the kit was written (no network): sha256=None.
ASSETS += [
    Asset(
        "starry_night.jpg",
        _commons("Van_Gogh_-_Starry_Night_-_Google_Art_Project.jpg"),
        None,
        "Vincent van Gogh, The Starry Night (1889), MoMA; public domain (Wikimedia Commons)",
    ),
    Asset(
        "great_wave.jpg",
        _commons("Tsunami_by_hokusai_19th_century.jpg"),
        None,
        "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831); public domain (Wikimedia Commons)",
    ),
    Asset(
        "the_scream.jpg",
        _commons(
            "Edvard_Munch,_1893,_The_Scream,_oil,_tempera_and_pastel_on_cardboard,_91_x_73_cm,_National_Gallery_of_Norway.jpg"
        ),
        None,
        "Edvard Munch, The Scream (1893), National Gallery of Norway; public domain (Wikimedia Commons)",
    ),
    Asset(
        "composition_vii.jpg",
        _commons("Vassily_Kandinsky,_1913_-_Composition_7.jpg"),
        None,
        "Wassily Kandinsky, Composition VII (1913), Tretyakov Gallery; public domain (Wikimedia Commons)",
    ),
]


def downloads_dir() -> Path:
    """Where downloaded assets live: ``<data cache>/downloads`` (``$CNNVIZ_DATA``, default ``~/.cache/cnnviz``)."""
    return data_cache_dir() / "downloads"


def asset_path(name: str) -> Path | None:
    """Path of a downloaded asset, or ``None`` when it has not been fetched."""
    p = downloads_dir() / name
    return p if p.exists() else None


def load_weights_file(path: str | Path, remedy: str) -> Any:
    """``torch.load(path, weights_only=True)`` of a shipped or saved weights file, on the CPU.

    A missing or damaged file (truncated copy, a Git LFS pointer instead of the file, a bad checkout)
    raises an error that names the file and says what to do (``remedy``), not an unpickling error.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing. {remedy}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:100]
        raise RuntimeError(f"{path} is damaged and cannot be loaded ({reason}). {remedy}") from err

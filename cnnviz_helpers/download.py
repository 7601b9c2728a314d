"""Pre-fetch everything the notebooks can download, e.g. before a class on a shared network.

    python -m cnnviz_helpers.download                 # every model's ImageNet weights + data assets
    python -m cnnviz_helpers.download squeezenet1_1   # just one model

Weights land in torchvision's cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``);
point ``TORCH_HOME`` at a shared folder to fetch once for a whole classroom. Data assets (listed in
:data:`ASSETS`) land in ``data/downloads`` and are checked against their SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .images import DATA_DIR
from .models import IMAGENET_MODELS, _build_imagenet

DOWNLOADS_DIR = DATA_DIR / "downloads"


@dataclass(frozen=True)
class Asset:
    """A file the notebooks can use when it is present (never required: each has an offline stand-in)."""

    name: str  # file name under data/downloads
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
    Asset("starry_night.jpg", _commons("Van_Gogh_-_Starry_Night_-_Google_Art_Project.jpg"), None,
          "Vincent van Gogh, The Starry Night (1889), MoMA; public domain (Wikimedia Commons)"),
    Asset("great_wave.jpg", _commons("Tsunami_by_hokusai_19th_century.jpg"), None,
          "Katsushika Hokusai, The Great Wave off Kanagawa (c. 1831); public domain (Wikimedia Commons)"),
    Asset("the_scream.jpg",
          _commons("Edvard_Munch,_1893,_The_Scream,_oil,_tempera_and_pastel_on_cardboard,_91_x_73_cm,"
                   "_National_Gallery_of_Norway.jpg"),
          None, "Edvard Munch, The Scream (1893), National Gallery of Norway; public domain (Wikimedia Commons)"),
    Asset("composition_vii.jpg", _commons("Vassily_Kandinsky,_1913_-_Composition_7.jpg"), None,
          "Wassily Kandinsky, Composition VII (1913), Tretyakov Gallery; public domain (Wikimedia Commons)"),
]


def asset_path(name: str) -> Path | None:
    """Path of a downloaded asset, or ``None`` when it has not been fetched."""
    p = DOWNLOADS_DIR / name
    return p if p.exists() else None


def fetch_asset(asset: Asset) -> Path:
    """Download ``asset`` (with a progress bar) unless already present; verify its checksum when it has one."""
    dest = DOWNLOADS_DIR / asset.name
    if dest.exists() and asset.sha256 in (None, hashlib.sha256(dest.read_bytes()).hexdigest()):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    req = urllib.request.Request(asset.url, headers={"User-Agent": "cnnviz-course-kit"})
    with urllib.request.urlopen(req, timeout=30) as resp, open(tmp, "wb") as f:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=asset.name) as bar:
            while chunk := resp.read(1 << 16):
                f.write(chunk)
                bar.update(len(chunk))
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    if asset.sha256 is None:
        print(f"  {asset.name}: no checksum on record, not verified (sha256 {digest})")
    elif digest != asset.sha256:
        tmp.unlink()
        raise OSError(f"{asset.name}: checksum mismatch (got {digest[:12]}…, expected {asset.sha256[:12]}…)")
    tmp.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnviz_helpers.download", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(IMAGENET_MODELS), help=f"default: {' '.join(IMAGENET_MODELS)}")
    parser.add_argument("--no-assets", action="store_true", help="only model weights")
    args = parser.parse_args(argv)
    failed = []
    for name in args.models:
        print(f"weights: {name}")
        try:
            _build_imagenet(name, pretrained=True, progress=True)
        except Exception as err:
            failed.append(name)
            print(f"  failed: {type(err).__name__}: {err}", file=sys.stderr)
    for asset in [] if args.no_assets else ASSETS:
        print(f"asset: {asset.name}")
        try:
            fetch_asset(asset)
        except Exception as err:
            failed.append(asset.name)
            print(f"  failed: {type(err).__name__}: {err}", file=sys.stderr)
    if failed:
        print(f"could not fetch: {', '.join(failed)} — the notebooks will use the kit's offline stand-ins.", file=sys.stderr)
        return 1
    print("all done: the notebooks will now run without a network.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pre-fetch everything the notebooks can download, e.g. before a class on a shared network.

    python -m cnnviz_helpers.training.download                 # every model's weights, Imagenette, paintings
    python -m cnnviz_helpers.training.download squeezenet1_1   # just one model (plus the data)
    python -m cnnviz_helpers.training.download --imagenette    # just Imagenette

Weights land in torchvision's cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``).
Imagenette (≈ 94 MB, torchvision's MD5 check) and the data assets (listed in :data:`ASSETS`, checked
against their SHA-256 when one is on record, and rejected unless they decode as images) land in the
kit's data cache (``$CNNVIZ_DATA``, default ``~/.cache/cnnviz``). Point both variables at shared folders
to fetch once for a whole classroom.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ..datasets.assets import ASSETS, Asset, downloads_dir
from ..datasets.imagenette import download_imagenette
from ..models.loading import IMAGENET_MODELS, _build_imagenet


def fetch_asset(asset: Asset) -> Path:
    """Download ``asset`` (with a progress bar) unless already present; verify its checksum when it has one.

    Raises:
        OSError: checksum mismatch, or the file does not decode as an image (an error page, a truncated
            transfer); the download is deleted.
    """
    dest = downloads_dir() / asset.name
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
    try:
        with Image.open(tmp) as im:
            im.load()
    except Exception as err:  # PIL raises several types for non-images and truncated files
        tmp.unlink()
        raise OSError(f"{asset.name}: the download is not an image ({type(err).__name__}); deleted") from None
    if asset.sha256 is None:
        print(f"  {asset.name}: no checksum on record, not verified (sha256 {digest})")
    elif digest != asset.sha256:
        tmp.unlink()
        raise OSError(f"{asset.name}: checksum mismatch (got {digest[:12]}…, expected {asset.sha256[:12]}…)")
    tmp.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnviz_helpers.training.download", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=list(IMAGENET_MODELS), help=f"default: {' '.join(IMAGENET_MODELS)}")
    parser.add_argument("--no-assets", action="store_true", help="only model weights (no Imagenette, no paintings)")
    parser.add_argument("--imagenette", action="store_true", help="only Imagenette")
    args = parser.parse_args(argv)
    failed = []
    for name in [] if args.imagenette else args.models:
        print(f"weights: {name}")
        try:
            _build_imagenet(name, pretrained=True, progress=True)
        except Exception as err:
            failed.append(name)
            print(f"  failed: {type(err).__name__}: {err}", file=sys.stderr)
    if not args.no_assets:
        print("data: Imagenette (160 px, 10 ImageNet classes)")
        try:
            print(f"  in {download_imagenette()}")
        except Exception as err:
            failed.append("imagenette")
            print(f"  failed: {type(err).__name__}: {err}", file=sys.stderr)
    for asset in [] if args.no_assets or args.imagenette else ASSETS:
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

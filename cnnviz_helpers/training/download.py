"""Pre-fetch everything the notebooks can download, e.g. before a class on a shared network.

    python -m cnnviz_helpers.training.download                 # every model's ImageNet weights + data assets
    python -m cnnviz_helpers.training.download squeezenet1_1   # just one model

Weights land in torchvision's cache (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch``);
point ``TORCH_HOME`` at a shared folder to fetch once for a whole classroom. Data assets (listed in
:data:`ASSETS`) land in ``data/downloads`` and are checked against their SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..core.models import IMAGENET_MODELS, _build_imagenet
from ..datasets import assets
from ..datasets.assets import ASSETS, Asset


def fetch_asset(asset: Asset) -> Path:
    """Download ``asset`` (with a progress bar) unless already present; verify its checksum when it has one."""
    dest = assets.DOWNLOADS_DIR / asset.name
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
    parser = argparse.ArgumentParser(prog="python -m cnnviz_helpers.training.download", description=__doc__.split("\n")[0])
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

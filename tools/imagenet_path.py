"""Run a command on the kit's ImageNet code path without internet (used by `make nbval-imagenet`).

    python tools/imagenet_path.py CMD [ARGS ...]

Fills a torch cache with weight files under torchvision's real file names — random weights: the
same shapes, loading code, memory and speed as the pretrained ones, not their pictures — points
TORCH_HOME at it, sets CNNVIZ_OFFLINE=0 and runs CMD. Models: $CNNVIZ_FAKE_MODELS (default
squeezenet1_1, the kit's default model). Cache: $CNNVIZ_FAKE_TORCH_HOME (default: a folder in the
system's temp directory).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path


def fill_cache(home: Path, models: list[str]) -> None:
    """Write random weights for ``models`` under ``home/hub/checkpoints`` with torchvision's file names."""
    import torch
    from torchvision.models import get_model, get_model_weights

    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    for name in models:
        weights = get_model_weights(name).DEFAULT
        path = checkpoints / os.path.basename(weights.url)
        if path.exists():
            continue
        # torchvision's GoogLeNet / Inception files hold the auxiliary heads too
        extra = {"aux_logits": True, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = get_model(name, weights=None, num_classes=len(weights.meta["categories"]), **extra)
        torch.save(model.state_dict(), path)
        print(f"imagenet_path: random weights for {name} as {path.name}", file=sys.stderr)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    home = Path(os.environ.get("CNNVIZ_FAKE_TORCH_HOME", Path(tempfile.gettempdir()) / "cnnviz-imagenet-path"))
    fill_cache(home, os.environ.get("CNNVIZ_FAKE_MODELS", "squeezenet1_1").split())
    env = os.environ | {"TORCH_HOME": str(home), "CNNVIZ_OFFLINE": "0"}
    return subprocess.run(sys.argv[1:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())

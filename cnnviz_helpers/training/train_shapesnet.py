"""Train the offline ShapesNet reproducibly and write its weights and model card to ``data/``.

python -m cnnviz_helpers.training.train_shapesnet              # ~10 min on a 2-core laptop CPU
python -m cnnviz_helpers.training.train_shapesnet --device cuda
python -m cnnviz_helpers.training.train_shapesnet --evaluate   # held-out accuracy of the shipped weights
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import time
from pathlib import Path

import torch
from torch import nn

from ..datasets.shapes import CLASS_NAMES, make_shapes
from ..datasets.shapesnet import (
    MEAN,
    STD,
    TEST_SEED,
    TRAIN_SEED,
    VAL_SEED,
    WEIGHTS_PATH,
    ShapesNet,
    accuracy,
    load_shapesnet,
    to_tensor,
)


def train(
    n_train: int = 8000,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    out: Path = WEIGHTS_PATH,
) -> dict[str, float]:
    """Train ShapesNet reproducibly and write the weights and the model card.

    The training set is ``make_shapes(n_train, seed=1)`` with random horizontal flips; Adam with a
    one-cycle schedule. Returns the final metrics.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    images, labels, _ = make_shapes(n_train, seed=TRAIN_SEED)
    x_all, y_all = to_tensor(images), torch.from_numpy(labels)
    model = ShapesNet().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (n_train // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n_train, generator=gen)
        total = 0.0
        for b in range(n_train // batch_size):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            x, y = x_all[idx], y_all[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5
            x[flip] = x[flip].flip(-1)
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        val = accuracy(model, 1000, VAL_SEED)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / (n_train // batch_size):.4f}, val acc {val:.4f}", flush=True)
    model = model.cpu().eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    metrics = {
        "val_accuracy": accuracy(model, 1000, VAL_SEED),
        "test_accuracy": accuracy(model, 2000, TEST_SEED),
        "train_seconds": time.time() - t0,
    }
    _write_card(out, metrics, n_train=n_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
    return metrics


def _write_card(weights: Path, metrics: dict[str, float], **hparams: object) -> None:
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    n_params = sum(p.numel() for p in ShapesNet().parameters())
    args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in hparams.items())
    card = f"""# Model card: ShapesNet (the kit's offline model)

**Not an ImageNet model.** A {n_params:,}-parameter VGG-style CNN (with batch norm) trained by the kit itself on
synthetic 64×64 images (`cnnviz_helpers.shapes`). `load_model()` uses it when ImageNet weights
cannot be loaded, and says so.

| | |
|---|---|
| classes ({len(CLASS_NAMES)}) | {", ".join(CLASS_NAMES)} |
| input | 64×64 RGB, normalised with mean {MEAN}, std {STD} |
| layers | `features.0` conv5x5 (32 filters) … `features.12` last conv (+BN, ReLU `features.14`), `classifier.3` 128-d penultimate ReLU, `classifier.5` logits |
| training data | `make_shapes({hparams["n_train"]}, seed={TRAIN_SEED})`, random horizontal flips |
| validation accuracy | {metrics["val_accuracy"]:.2%} on 1,000 images, seed {VAL_SEED} |
| **held-out test accuracy** | **{metrics["test_accuracy"]:.2%}** on 2,000 fresh images, seed {TEST_SEED} |
| training time | {metrics["train_seconds"]:.0f} s on `{hparams["device"]}` |
| weights | `data/{weights.name}`, {weights.stat().st_size / 1e6:.1f} MB, sha256 {sha}… |

Reproduce: `python -m cnnviz_helpers.training.train_shapesnet {args}`

Limits: shapes and textures only; it has never seen a photo, so results on the kit's photos are
not meaningful. What it is good for: every method of the lecture runs on it in seconds, and each
generated image comes with a ground-truth object mask to check attributions against.
"""
    (weights.parent / (weights.stem + ".md")).write_text(card)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cnnviz_helpers.training.train_shapesnet", description=__doc__.split("\n")[0])
    parser.add_argument("--evaluate", action="store_true", help="only report the held-out accuracy of the shipped weights")
    for name, param in inspect.signature(train).parameters.items():  # one set of defaults: train()'s
        kind = Path if name == "out" else type(param.default)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=param.default)
    args = vars(parser.parse_args(argv))
    if args.pop("evaluate"):
        print(f"held-out accuracy: {accuracy(load_shapesnet(args['out']), 2000):.4f}")
        return
    print({k: round(v, 4) for k, v in train(**args).items()})


if __name__ == "__main__":
    main()

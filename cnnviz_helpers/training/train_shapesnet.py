"""Train the offline ShapesNet reproducibly and write its weights and model card to ``data/``.

python -m cnnviz_helpers.training.train_shapesnet              # ~10 min on a 2-core laptop CPU
python -m cnnviz_helpers.training.train_shapesnet --device cuda
python -m cnnviz_helpers.training.train_shapesnet --evaluate   # held-out accuracy of the shipped weights

Adversarial training (Madry et al. 2018): with ``--adv-eps`` > 0 every batch is replaced by its PGD
attack (``--adv-steps`` steps in the L∞ ball of radius ``adv_eps``, random start) before the
gradient step — the robust model of notebook 07b::

    python -m cnnviz_helpers.training.train_shapesnet --adv-eps 0.03137 --adv-steps 2 --epochs 6 \
        --n-train 6000 --out data/shapesnet_robust.pt

A shortcut ("Clever Hans") model for the capstone notebook 14: with ``--shortcut-seed N`` the training
images are :func:`~cnnviz_helpers.datasets.shortcut.make_shortcut`'s ``"train"`` split of seed ``N`` (a
spurious mark on 95 % of one class's images; no flips, so the mark stays in its corner), and the card
reports the clean-test and shortcut-test accuracies without naming the cue (``make shortcut-model SEED=N``)::

    python -m cnnviz_helpers.training.train_shapesnet --shortcut-seed 0 --n-train 4000 --epochs 5
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import time
from pathlib import Path

import torch
from torch import nn

from ..adversarial import pgd
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
    accuracy_on,
    load_shapesnet,
    to_tensor,
)
from ..datasets.shortcut import make_shortcut, shortcut_accuracies, shortcut_weights_path
from ..models.loading import KitModel


def train(
    n_train: int = 8000,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    out: Path | None = None,
    adv_eps: float = 0.0,
    adv_steps: int = 2,
    init: str = "",
    shortcut_seed: int = -1,
) -> dict[str, float]:
    """Train ShapesNet reproducibly and write the weights and the model card.

    The training set is ``make_shapes(n_train, seed=1)`` with random horizontal flips; Adam with a
    one-cycle schedule. With ``adv_eps > 0`` the model is trained adversarially: each batch is
    replaced by :func:`~cnnviz_helpers.adversarial.pgd` (``adv_steps`` steps of size
    ``1.25 * adv_eps``, random start, radius ``adv_eps`` in pixel units on the [0, 1] scale) of the
    current model before the gradient step, and the card also reports PGD accuracy. Returns the
    final metrics. ``init``: a weights file to start from instead of random weights (e.g. the
    standard ShapesNet, for adversarial fine-tuning). ``shortcut_seed`` ≥ 0: train on the shortcut data of
    that seed instead (:mod:`~cnnviz_helpers.datasets.shortcut`, no flips), validate on its ``"val"`` split and
    write the shortcut card. ``out`` defaults to ``data/shapesnet.pt``, or for a shortcut model to
    :func:`~cnnviz_helpers.datasets.shortcut.shortcut_weights_path`.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    t0, cpu0 = time.time(), time.process_time()
    shortcut = shortcut_seed >= 0
    if shortcut:
        images, labels, _, _ = make_shortcut(n_train, "train", seed=shortcut_seed)
        val_images, val_labels, _, _ = make_shortcut(1000, "val", seed=shortcut_seed)
    else:
        images, labels, _ = make_shapes(n_train, seed=TRAIN_SEED)
        val_images, val_labels, _ = make_shapes(1000, seed=VAL_SEED)
    x_all, y_all = to_tensor(images), torch.from_numpy(labels)
    model = (load_shapesnet(init).train() if init else ShapesNet()).to(device)
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
            if not shortcut:
                x[flip] = x[flip].flip(-1)
            x, y = x.to(device), y.to(device)
            if adv_eps > 0:
                x = _attack(model, x, y, adv_eps, adv_steps, seed=epoch * 100_000 + b)
            loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        val = accuracy_on(model, val_images, val_labels)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / (n_train // batch_size):.4f}, val acc {val:.4f}", flush=True)
    model = model.cpu().eval()
    out = Path(out) if out else shortcut_weights_path(shortcut_seed) if shortcut else WEIGHTS_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    if shortcut:
        metrics = shortcut_accuracies(model, shortcut_seed, n=2000)
        metrics |= {"train_seconds": time.time() - t0, "cpu_seconds": time.process_time() - cpu0}
        _write_shortcut_card(
            out,
            metrics,
            n_train=n_train,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            shortcut_seed=shortcut_seed,
        )
        return metrics
    metrics = {
        "val_accuracy": accuracy(model, 1000, VAL_SEED),
        "test_accuracy": accuracy(model, 2000, TEST_SEED),
        "train_seconds": time.time() - t0,
    }
    hparams = dict(n_train=n_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
    hparams |= {"init": init} if init else {}
    if adv_eps > 0:
        metrics |= robust_metrics(model, adv_eps)
        _write_robust_card(out, metrics, adv_eps=adv_eps, adv_steps=adv_steps, **hparams)
    else:
        _write_card(out, metrics, **hparams)
    return metrics


def _kit(model: nn.Module) -> KitModel:
    """ShapesNet with its normalisation, for the kit's methods (a plain module would mean ImageNet's)."""
    return KitModel.wrap(model, MEAN, STD, name="shapesnet", input_size=64)


def _attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, seed: int) -> torch.Tensor:
    """The training-time PGD batch (``pgd`` puts the model in eval mode and restores train mode after)."""
    return pgd(_kit(model), x, y, eps=eps, steps=steps, step_size=1.25 * eps, seed=seed, progress=False)


#: the evaluation attack of the model cards: stronger than the training attack
EVAL_STEPS = 20


def pgd_accuracy(
    model: nn.Module, eps: float, n: int = 1000, seed: int = TEST_SEED, steps: int = EVAL_STEPS, batch_size: int = 250
) -> float:
    """Top-1 accuracy on ``n`` fresh images (seed ``seed``) after an untargeted PGD attack of radius ``eps``.

    The attack uses the true labels, ``steps`` steps of the default size ``2.5 * eps / steps`` and a
    random start (Madry et al. 2018); ``eps`` is in pixel units on the [0, 1] scale.
    """
    images, labels, _ = make_shapes(n, seed=seed)
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, n, batch_size):
        x = to_tensor(images[i : i + batch_size]).to(device)
        y = torch.from_numpy(labels[i : i + batch_size]).to(device)
        x_adv = pgd(_kit(model), x, y, eps=eps, steps=steps, seed=i, progress=False)
        with torch.inference_mode():
            correct += (model(x_adv).argmax(1) == y).sum().item()
    return correct / n


def robust_metrics(model: nn.Module, eps: float, n: int = 1000) -> dict[str, float]:
    """Clean and PGD accuracy of ``model`` and of the standard shipped ShapesNet, on the same test images."""
    standard = load_shapesnet(WEIGHTS_PATH)
    return {
        "eps": eps,
        "pgd_accuracy": pgd_accuracy(model, eps, n),
        "standard_test_accuracy": accuracy(standard, 2000, TEST_SEED),
        "standard_pgd_accuracy": pgd_accuracy(standard, eps, n),
    }


def _write_card(weights: Path, metrics: dict[str, float], **hparams: object) -> None:
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    n_params = sum(p.numel() for p in ShapesNet().parameters())
    args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in hparams.items())
    card = f"""# Model card: ShapesNet (the kit's offline model)

**Not an ImageNet model.** A {n_params:,}-parameter VGG-style CNN (with batch norm) trained by the kit itself on
synthetic 64×64 images (`cnnviz_helpers.datasets.shapes`). `load_model()` uses it when ImageNet weights
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


def _write_robust_card(weights: Path, metrics: dict[str, float], **hparams: object) -> None:
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in hparams.items())
    eps = metrics["eps"]
    start = f"fine-tuned from `{hparams['init']}`" if hparams.get("init") else "trained from random weights"
    card = f"""# Model card: robust ShapesNet (adversarially trained)

**Not an ImageNet model.** The kit's ShapesNet architecture (`data/shapesnet.md`), {start}
with PGD adversarial training (Madry et al. 2018): every training batch is replaced by a
{hparams["adv_steps"]}-step PGD attack of radius ε = {eps:.4f} = {255 * eps:.0f}/255 (L∞, pixel units on the
[0, 1] scale, step 1.25 ε, random start) before the gradient step. `load_model("shapesnet_robust")`.

| | standard `shapesnet` | **robust `shapesnet_robust`** |
|---|---|---|
| clean held-out accuracy (2,000 images, seed {TEST_SEED}) | {metrics["standard_test_accuracy"]:.2%} | **{metrics["test_accuracy"]:.2%}** |
| PGD accuracy at ε = {255 * eps:.0f}/255 (1,000 images, seed {TEST_SEED}, {EVAL_STEPS} steps, random start) | {metrics["standard_pgd_accuracy"]:.2%} | **{metrics["pgd_accuracy"]:.2%}** |

| | |
|---|---|
| training data | `make_shapes({hparams["n_train"]}, seed={TRAIN_SEED})`, random horizontal flips, {hparams["epochs"]} epochs |
| validation accuracy (clean) | {metrics["val_accuracy"]:.2%} on 1,000 images, seed {VAL_SEED} |
| training time | {metrics["train_seconds"]:.0f} s on `{hparams["device"]}` (2-core CPU, shared with other jobs) |
| weights | `data/{weights.name}`, {weights.stat().st_size / 1e6:.1f} MB, sha256 {sha}… |

Reproduce: `python -m cnnviz_helpers.training.train_shapesnet {args} --out data/{weights.name}`

The PGD figures are an *empirical* robustness against this one attack, not a certificate: a
stronger attack (more steps, restarts) can only lower them. The price of robustness is the lower
clean accuracy (Tsipras et al. 2019); notebook 07b compares the two models' saliency maps and class
visualizations (robust gradients tend to look like the object: Tsipras et al. 2019; Santurkar et al. 2019).
"""
    (weights.parent / (weights.stem + ".md")).write_text(card)


def _write_shortcut_card(weights: Path, metrics: dict[str, float], **hparams: object) -> None:
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    args = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in hparams.items())
    card = f"""# Model card: shortcut ShapesNet (the capstone's model)

**Not an ImageNet model.** The kit's ShapesNet architecture (`data/shapesnet.md`), trained from random
weights on shapes data drawn for the capstone notebook 14 (`cnnviz_helpers.datasets.shortcut`, shortcut
seed {hparams["shortcut_seed"]}). `load_model("shapesnet_shortcut")`. What it learned is the assignment: the data
it was trained on and what it relies on are described in the instructor notes (README, "Grading with
nbgrader"), not here.

| | |
|---|---|
| accuracy on fresh images drawn as in training (2,000 images, split `"val"`) | **{metrics["val"]:.2%}** |
| accuracy on the clean test set (2,000 images, split `"test"`) | {metrics["test"]:.2%} |
| accuracy on the shortcut test set (the same 2,000 images, split `"shortcut"`) | {metrics["shortcut"]:.2%} |
| training data | `make_shortcut({hparams["n_train"]}, "train", seed={hparams["shortcut_seed"]})`, no flips, {hparams["epochs"]} epochs |
| training time | {metrics["train_seconds"]:.0f} s on `{hparams["device"]}` (wall clock, a 2-core CPU shared with other jobs; {metrics["cpu_seconds"]:.0f} s of CPU time), data generation and evaluation included |
| weights | `data/{weights.name}`, {weights.stat().st_size / 1e6:.1f} MB |
| sha256 | `{sha}` |

Reproduce: `python -m cnnviz_helpers.training.train_shapesnet {args}` (`make shortcut-model SEED={hparams["shortcut_seed"]}`)

Limits: a teaching model, deliberately flawed; do not use it as a shapes classifier.
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
        print(f"held-out accuracy: {accuracy(load_shapesnet(args['out'] or WEIGHTS_PATH), 2000):.4f}")
        return
    print({k: round(v, 4) for k, v in train(**args).items()})


if __name__ == "__main__":
    main()

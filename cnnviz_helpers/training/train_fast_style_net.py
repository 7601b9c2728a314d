"""Train the kit's shipped multi-style fast style transfer network; write its weights and model card to ``data/``.

    python -m cnnviz_helpers.training.train_fast_style_net                    # the shipped net: ShapesNet loss, about 4 min on an unshared 2-core CPU
    python -m cnnviz_helpers.training.train_fast_style_net --loss-model vgg16 --device cuda --steps 4000 \\
        --crop 256 --channels 32 64 128 --out my_styles.pt       # Johnson's setting, with ImageNet weights

The defaults reproduce ``data/fast_style_cin.pt`` (seeded: the same machine and thread count give the same
weights; another CPU or thread count gives a network of the same quality, not bit-identical weights).
See ``data/fast_style.md`` for what the shipped network is and is not.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import torch

from ..fast_style import CARD_PATH, CONTENT_IMAGES, WEIGHTS_PATH, perceptual_layers, save_fast_style, train_fast_style
from ..models.loading import KitModel, load_model

SHIPPED_STYLES = ("brick", "gravel", "hubble_deep_field", "flower")


def _mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cnnviz_helpers.training.train_fast_style_net", description=__doc__.split("\n")[0])
    p.add_argument("--styles", nargs="+", default=list(SHIPPED_STYLES), help="style images (sample names or paths)")
    p.add_argument("--content", nargs="+", default=list(CONTENT_IMAGES), help="training photos (sample names or paths)")
    p.add_argument(
        "--loss-model", default="shapesnet", help="loss network for load_model (vgg16 with ImageNet weights in the paper)"
    )
    p.add_argument("--steps", type=int, default=720)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--content-weight", type=float, default=5.0)
    p.add_argument("--style-weight", type=float, default=1.0)
    p.add_argument("--tv-weight", type=float, default=10.0)
    p.add_argument("--channels", type=int, nargs=3, default=[16, 32, 64])
    p.add_argument("--n-residual", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    km = load_model(args.loss_model, device=args.device)
    t0 = time.time()
    net, history = train_fast_style(
        km,
        args.styles,
        content=args.content,
        steps=args.steps,
        batch_size=args.batch_size,
        crop=args.crop,
        lr=args.lr,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        tv_weight=args.tv_weight,
        channels=args.channels,
        n_residual=args.n_residual,
        seed=args.seed,
    )
    seconds = time.time() - t0
    n = len(args.styles)
    window = min(len(history["total"]) // 2, 10 * n)  # whole cycles through the styles
    losses = {k: (_mean(v[:window]), _mean(v[-window:])) for k, v in history.items()}
    out = save_fast_style(
        net.cpu(),
        args.out,
        loss_network=km.name,
        steps=args.steps,
        crop=args.crop,
        seconds=round(seconds),
        final_loss=round(losses["total"][1], 4),
    )
    command = "python -m cnnviz_helpers.training.train_fast_style_net" + ("" if argv is None else " " + " ".join(argv))
    if out.resolve() == WEIGHTS_PATH.resolve():
        _write_card(out, km, args, losses, seconds, window, command)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) in {seconds:.0f} s; "
        f"perceptual loss {losses['total'][0]:.4g} → {losses['total'][1]:.4g}"
    )


def _write_card(
    weights: Path,
    km: KitModel,
    args: argparse.Namespace,
    losses: dict[str, tuple[float, float]],
    seconds: float,
    window: int,
    command: str,
) -> None:
    content_layer, style_layers = perceptual_layers(km)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    n_params = sum(t.numel() for t in torch.load(weights, weights_only=True)["state_dict"].values())
    rows = "\n".join(f"| {k} | {a:.4g} | {b:.4g} |" for k, (a, b) in losses.items())
    honest = (
        "**The loss network is the kit's ShapesNet, not VGG-16.** No ImageNet weights can be downloaded where "
        "the kit is built, so the perceptual losses were measured by ShapesNet — a small CNN trained on synthetic "
        "shapes and textures (`data/shapesnet.md`). Its Gram matrices capture colours, edges, stripes and dots, "
        "not the rich textures of VGG-16: expect the results to look like coloured, textured filters, far from "
        "Johnson et al.'s figures. With ImageNet weights, retrain with `--loss-model vgg16` (ideally on a GPU)."
        if km.name == "shapesnet"
        else f"Loss network: {km.description}."
    )
    card = f"""# Model card: the kit's fast style transfer network (conditional instance norm)

A slim TransformerNet (Johnson et al. 2016, with instance norm — Ulyanov et al. 2016 — made conditional:
one γ/β table row per style, Dumoulin et al. 2017) that stylizes a photo in **{len(args.styles)} styles** —
and any convex blend of them — in one forward pass. `load_fast_style()` loads it; notebook
`12_fast_style_transfer` uses it to stylize instantly before students train their own.

{honest}

| | |
|---|---|
| styles (index: name) | {", ".join(f"{i}: `{s}`" for i, s in enumerate(args.styles))} (images in `data/images`) |
| architecture | channels {tuple(args.channels)}, {args.n_residual} residual blocks, reflection padding, nearest upsample + conv, sigmoid output; {n_params:,} parameters |
| loss network | `{km.name}`; content layer `{content_layer}`, style layers {", ".join(f"`{n}`" for n in style_layers)} (`perceptual_layers()`), Gram errors relative to the targets' norms |
| training data | random {args.crop}-px crops (random flips) of {", ".join(args.content)}, each resized to {2 * args.crop} px |
| optimisation | {args.steps} Adam steps (lr {args.lr}), batch {args.batch_size}, one style per step in turn; weights content {args.content_weight}, style {args.style_weight}, TV {args.tv_weight}; seed {args.seed} |
| training time | {seconds:.0f} s wall time on `{args.device}` (torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)) |
| weights | `data/{weights.name}`, {weights.stat().st_size / 1e6:.2f} MB, sha256 {sha}… |

Perceptual loss (mean of the first and of the last {window} steps, i.e. whole cycles through the styles):

| term | start | end |
|---|---|---|
{rows}

Reproduce: `{command}`

Limits: trained for minutes on six photos, not hours on COCO; textures are learned at the
scale of {args.crop}-px crops of {2 * args.crop}-px photos, so stylize at about {2 * args.crop}–{4 * args.crop} px. Not a
model of artistic style: for that, use VGG-16 as the loss network and real paintings as styles.
"""
    CARD_PATH.write_text(card)


if __name__ == "__main__":
    main()

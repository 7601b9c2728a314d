"""Fast (feed-forward) style transfer — Johnson et al. (2016), instance norm, conditional instance norm.

Gatys-style transfer optimises every image from scratch. Johnson et al. instead train a
:class:`TransformerNet` once, with the same *perceptual* losses (content + Gram-matrix style + total
variation, measured by a frozen loss network), and then stylize any photo in one forward pass.
Ulyanov et al. showed that replacing batch norm by **instance norm** makes the results much better;
Dumoulin et al. made one network learn **N styles** by giving each style its own instance-norm
scale and shift (:class:`ConditionalInstanceNorm2d`) — and mixing those γ/β blends the styles.

Example:
    >>> net = load_fast_style()                                   # shipped weights (data/fast_style_cin.pt)
    >>> out = stylize(net, "chelsea", style="brick", size=256)    # HxWx3 array in [0, 1], instantly
    >>> mix = stylize(net, "chelsea", style={"brick": 0.5, "gravel": 0.5})
    >>> net, history = train_fast_style(load_model(), styles=["grass"], steps=200)   # your own
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .core.config import default_device, seeded_generator
from .core.images import DATA_DIR, ImageLike, preprocess
from .core.layers import Hooks
from .core.options import OptionGroup, Schedule, split_options
from .core.regularizers import tv_loss
from .datasets.assets import load_weights_file
from .models.loading import KitModel
from .models.targets import ModelLike, as_kit_model, model_device
from .style import content_loss, layer_features, style_loss, style_targets

NormKind = Literal["instance", "batch", "conditional"]
StyleLike = Union[int, str, Sequence[float], Mapping[str, float], torch.Tensor, None]

WEIGHTS_PATH = DATA_DIR / "fast_style_cin.pt"
CARD_PATH = DATA_DIR / "fast_style.md"
# training photos: the kit's sample photos except "flower" (a style of the shipped network, and a photo it never saw)
CONTENT_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "grace_hopper", "china")
MIN_SIZE = 8


# --------------------------------------------------------------------------- normalisation layers


def style_weights(style: int | Sequence[float] | torch.Tensor, num_styles: int, batch_size: int = 1) -> torch.Tensor:
    """A style choice → convex weights ``[batch_size, num_styles]`` (rows ≥ 0, summing to 1).

    Args:
        style: a style index (→ one-hot), or ``num_styles`` non-negative blend weights (normalised to
            sum to 1, so ``[1, 1]`` is a 50/50 mix), or a ``[batch_size, num_styles]`` tensor (one
            blend per image).
        num_styles: how many styles the network knows.
        batch_size: rows to return when ``style`` describes one blend.

    Example:
        >>> style_weights(1, 3)          # tensor([[0., 1., 0.]])
        >>> style_weights([1, 3], 2)     # tensor([[0.25, 0.75]])
    """
    if isinstance(style, (int, np.integer)) and not isinstance(style, bool):
        if not -num_styles <= int(style) < num_styles:
            raise IndexError(f"this network knows {num_styles} styles: style index must be in 0..{num_styles - 1}, got {style}")
        w = F.one_hot(torch.tensor(int(style) % num_styles), num_styles).float()[None]
    else:
        w = torch.as_tensor(style, dtype=torch.float32)
        w = w[None] if w.ndim == 1 else w
        if w.ndim != 2 or w.shape[-1] != num_styles:
            raise ValueError(f"blend weights must have {num_styles} entries (one per style), got shape {tuple(w.shape)}")
        if (w < 0).any() or not torch.isfinite(w).all() or (w.sum(-1) <= 0).any():
            raise ValueError("blend weights must be finite, non-negative and not all zero (a convex combination of styles)")
        w = w / w.sum(-1, keepdim=True)
    if w.shape[0] == 1 and batch_size != 1:
        w = w.expand(batch_size, -1)
    if w.shape[0] != batch_size:
        raise ValueError(f"got {w.shape[0]} blends for a batch of {batch_size} images")
    return w


class ConditionalInstanceNorm2d(nn.Module):
    r"""Instance norm with one learned scale/shift per style (Dumoulin et al., 2017).

    .. math:: \mathrm{CIN}(x; s) = \gamma_s \, \frac{x - \mu(x)}{\sqrt{\sigma^2(x) + \epsilon}} + \beta_s

    where :math:`\mu, \sigma^2` are each image's per-channel mean and variance (as in
    ``nn.InstanceNorm2d``) and :math:`\gamma_s, \beta_s` are row :math:`s` of the tables ``weight`` and
    ``bias`` (``[num_styles, num_features]``). A style *vector* :math:`w` (convex weights) uses
    :math:`\gamma = \sum_s w_s \gamma_s`, :math:`\beta = \sum_s w_s \beta_s`: that is style blending.

    Example:
        >>> cin = ConditionalInstanceNorm2d(64, num_styles=4)
        >>> y = cin(torch.randn(2, 64, 32, 32), style=[0.5, 0.5, 0, 0])   # halfway between styles 0 and 1
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = 1e-5) -> None:
        super().__init__()
        if num_styles < 1:
            raise ValueError(f"num_styles must be at least 1, got {num_styles}")
        self.num_features, self.num_styles, self.eps = num_features, num_styles, eps
        self.weight = nn.Parameter(torch.ones(num_styles, num_features))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_features))

    def affine(self, style: int | Sequence[float] | torch.Tensor, batch_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """The blended ``(γ, β)``, each ``[batch_size, num_features]``, for a style index or blend weights."""
        w = style_weights(style, self.num_styles, batch_size).to(self.weight)
        return w @ self.weight, w @ self.bias

    def forward(self, x: torch.Tensor, style: int | Sequence[float] | torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style, x.shape[0])
        return F.instance_norm(x, eps=self.eps) * gamma[:, :, None, None] + beta[:, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_styles={self.num_styles}, eps={self.eps}"


def _norm(kind: NormKind, channels: int, num_styles: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "conditional":
        return ConditionalInstanceNorm2d(channels, num_styles)
    raise ValueError(f"norm must be 'instance', 'batch' or 'conditional', got {kind!r}")


class ConvLayer(nn.Module):
    """Reflection pad → conv (→ norm → ReLU). Reflection padding avoids dark borders in the output."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 1,
        norm: NormKind | None = "instance",
        num_styles: int = 1,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)
        self.norm = _norm(norm, c_out, num_styles) if norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        y = self.conv(self.pad(x))
        if isinstance(self.norm, ConditionalInstanceNorm2d):
            y = self.norm(y, style)
        elif self.norm is not None:
            y = self.norm(y)
        return F.relu(y) if self.relu else y


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))`` — two 3x3 convs, no ReLU after the sum (Gross & Wilber)."""

    def __init__(self, channels: int, norm: NormKind, num_styles: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, norm=norm, num_styles=num_styles)
        self.conv2 = ConvLayer(channels, channels, 3, norm=norm, num_styles=num_styles, relu=False)

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.conv2(self.conv1(x, style), style)


class TransformerNet(nn.Module):
    """Johnson et al.'s image transformation network as PyTorch's examples adapt it, in a configurable width.

    ``conv_in`` 9x9 (c0) → ``down1`` 3x3 stride 2 (c1) → ``down2`` 3x3 stride 2 (c2) → ``residual``
    blocks (c2) → ``up1`` nearest upsample + 3x3 conv (c1) → ``up2`` upsample + 3x3 conv (c0) →
    ``conv_out`` 9x9 (3) → sigmoid. Johnson et al. (supplementary Table 1) pad 40 px once at the input,
    use unpadded residual convolutions (centre-cropping the identity), fractionally strided convolutions,
    batch norm after every convolution and a scaled tanh output. Here, as in ``pytorch/examples``
    (fast_neural_style), every conv uses reflection padding, upsample-then-conv replaces the fractionally
    strided convolutions, which leave checkerboard artifacts (Odena et al., 2016), and the default
    normalisation is Ulyanov et al.'s instance norm; the sigmoid output (images in [0, 1]) is the kit's own.

    Input and output are RGB images in [0, 1] (``[N, 3, H, W]``), independent of the loss network.
    The output has exactly the input's size for every ``H, W >= 8``: each upsampling goes back to the
    size its encoder level had (so sizes need not be multiples of 4).

    Args:
        channels: widths ``(c0, c1, c2)``; Johnson uses ``(32, 64, 128)``; the shipped net ``(16, 32, 64)``.
        n_residual: number of residual blocks (Johnson: 5).
        norm: ``"instance"`` (Ulyanov et al.), ``"batch"`` (Johnson's original), or ``"conditional"``
            (one γ/β table row per style, Dumoulin et al.; then ``forward`` needs ``style``).
        num_styles: styles of a conditional network.
        style_names: optional names of the styles (``forward(x, style="brick")``).

    Example:
        >>> net = TransformerNet(norm="conditional", num_styles=3)
        >>> net(torch.rand(1, 3, 50, 75), style=2).shape
        torch.Size([1, 3, 50, 75])
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64),
        n_residual: int = 5,
        norm: NormKind = "instance",
        num_styles: int = 1,
        style_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"channels must be three widths (c0, c1, c2), got {channels}")
        if norm != "conditional" and num_styles != 1:
            raise ValueError(f"a {norm}-norm network learns one style; use norm='conditional' for {num_styles} styles")
        names = list(style_names) if style_names is not None else [f"style {i}" for i in range(num_styles)]
        if len(names) != num_styles:
            raise ValueError(f"got {len(names)} style names for {num_styles} styles")
        c0, c1, c2 = (int(c) for c in channels)
        self.config: dict[str, Any] = {
            "channels": [c0, c1, c2],
            "n_residual": n_residual,
            "norm": norm,
            "num_styles": num_styles,
            "style_names": names,
        }
        self.info: dict[str, Any] = {}  # provenance of loaded weights (see load_fast_style)
        kw: dict[str, Any] = {"norm": norm, "num_styles": num_styles}
        self.conv_in = ConvLayer(3, c0, 9, **kw)
        self.down1 = ConvLayer(c0, c1, 3, stride=2, **kw)
        self.down2 = ConvLayer(c1, c2, 3, stride=2, **kw)
        self.residual = nn.ModuleList(ResidualBlock(c2, **kw) for _ in range(n_residual))
        self.up1 = ConvLayer(c2, c1, 3, **kw)
        self.up2 = ConvLayer(c1, c0, 3, **kw)
        self.conv_out = ConvLayer(c0, 3, 9, norm=None, relu=False)

    @property
    def num_styles(self) -> int:
        return int(self.config["num_styles"])

    @property
    def style_names(self) -> list[str]:
        return list(self.config["style_names"])

    @property
    def conditional(self) -> bool:
        return self.config["norm"] == "conditional"

    def style_index(self, name: str) -> int:
        """Index of a style from its name."""
        if name not in self.style_names:
            raise KeyError(f"unknown style {name!r}; this network knows {', '.join(self.style_names)}")
        return self.style_names.index(name)

    def style_vector(self, style: StyleLike, batch_size: int = 1) -> torch.Tensor | None:
        """Convex style weights ``[batch_size, num_styles]`` from an index, a name, blend weights, or ``{name: weight}``.

        ``None`` for a one-style (instance / batch norm) network, which takes no ``style``.
        """
        if not self.conditional:
            if style is not None:
                raise ValueError(
                    f"this {self.config['norm']}-norm network knows one style; style= is only for norm='conditional'"
                )
            return None
        if style is None:
            raise ValueError(
                f"choose a style: an index 0..{self.num_styles - 1}, a name ({', '.join(self.style_names)}), "
                "blend weights, or {name: weight}"
            )
        if isinstance(style, str):
            style = self.style_index(style)
        elif isinstance(style, Mapping):
            vec = [0.0] * self.num_styles
            for name, w in style.items():
                vec[self.style_index(name)] += float(w)
            style = vec
        return style_weights(style, self.num_styles, batch_size)

    def forward(self, x: torch.Tensor, style: StyleLike = None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"TransformerNet takes RGB batches [N, 3, H, W] in [0, 1], got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"TransformerNet needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels, got {tuple(x.shape[-2:])}")
        s = self.style_vector(style, x.shape[0])
        s = s.to(x.device) if s is not None else None
        h0 = self.conv_in(x, s)
        h1 = self.down1(h0, s)
        h = self.down2(h1, s)
        for block in self.residual:
            h = block(h, s)
        h = self.up1(F.interpolate(h, size=h1.shape[-2:], mode="nearest"), s)
        h = self.up2(F.interpolate(h, size=h0.shape[-2:], mode="nearest"), s)
        return torch.sigmoid(self.conv_out(h))


# --------------------------------------------------------------------------- perceptual loss

_LOSS_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    # Johnson et al. (2016): style at relu1_2, relu2_2, relu3_3, relu4_3 of VGG-16, content at relu2_2.
    "vgg16": ("features.8", ("features.3", "features.8", "features.15", "features.22")),
    "vgg19": ("features.8", ("features.3", "features.8", "features.17", "features.26")),
    # ShapesNet: the ReLUs of its first three blocks. Its last block (features.14) detects whole
    # shapes; matching its Gram matrix paints dark disks and polka dots over the picture.
    "shapesnet": ("features.6", ("features.2", "features.6", "features.10")),
}


def perceptual_layers(km: KitModel) -> tuple[str, list[str]]:
    """``(content layer, style layers)`` for a loss network.

    VGG-16/19: Johnson et al.'s relu2_2 for content and relu1_2, relu2_2, relu3_3 (3_4), relu4_3 (4_4)
    for style. ShapesNet: its first three ReLU blocks for style, the second for content. Any other
    network (SqueezeNet, ResNet …): the first four of ``km.spec.layers`` for style, the second for content.
    """
    if km.name in _LOSS_LAYERS:
        content, style = _LOSS_LAYERS[km.name]
        return content, list(style)
    layers = list(km.spec.layers)
    return layers[min(1, len(layers) - 1)], layers[:4]


class PerceptualLoss:
    r"""Johnson et al.'s perceptual loss for fast style transfer, measured by a frozen loss network.

    .. math:: \mathcal{L}(y, x, s) = \frac{w_c}{|F|}\,\|F_c(y) - F_c(x)\|^2
              + \frac{1}{N}\sum_\ell w_\ell \frac{\|G_\ell(y) - A^s_\ell\|^2}{\|A^s_\ell\|^2}
              + \frac{w_{tv}}{|y|}\,\mathrm{TV}(y)

    for stylized images ``y`` (``[N, 3, H, W]`` in [0, 1]), content images ``x`` and style ``s``:
    :func:`~cnnviz_helpers.style.content_loss` as a mean squared feature error,
    :func:`~cnnviz_helpers.style.style_loss` on Gram matrices (``C·H·W``-normalised) per image, and the
    total variation per pixel, so the weights do not depend on the batch or crop size. Each style
    layer's error is taken relative to its target's squared norm :math:`\|A^s_\ell\|^2`: the Gram
    matrices of different styles and layers differ by orders of magnitude (a dark sky with bright
    dots lights up deep "polka dot" channels), and without this one style would dominate a
    multi-style network and each style would need its own weights. The loss network runs only up
    to its deepest requested layer and is left exactly as it was (the kit's
    :func:`~cnnviz_helpers.core.layers.capture`).

    Args:
        km: the loss network (VGG-16 with ImageNet weights in the paper; offline, the kit's ShapesNet).
        styles: one style image per style the network learns (paths, sample names, PIL …).
        style_size: side the style images are resized to (their texture scale in the result).
        content_layer, style_layers: default :func:`perceptual_layers`.
        content_weight, style_weight, tv_weight: the :math:`w`; ``style_weight`` is one number or one
            per style layer. The defaults were tuned with ShapesNet as the loss network (they give the
            shipped network); another loss network may want another content / style balance.

    Example:
        >>> loss = PerceptualLoss(km, ["gravel"])
        >>> terms = loss(net(x), x, style=0)        # {"content", "style", "tv", "total"}
        >>> terms["total"].backward()
    """

    def __init__(
        self,
        km: ModelLike,
        styles: Sequence[ImageLike],
        style_size: int = 256,
        content_layer: str | None = None,
        style_layers: Sequence[str] | None = None,
        content_weight: float = 5.0,
        style_weight: float | Sequence[float] = 1.0,
        tv_weight: float = 10.0,
    ) -> None:
        km = as_kit_model(km)
        if (content_layer is None or style_layers is None) and not km.spec.layers:
            raise ValueError(f"{km.name} is a plain nn.Module: pass content_layer= and style_layers= (layer names)")
        default_content, default_style = perceptual_layers(km) if km.spec.layers else ("", [])
        self.km = km
        self.content_layer = content_layer or default_content
        self.style_layers = list(style_layers or default_style)
        n = len(self.style_layers)
        self.style_weights = (
            [float(style_weight)] * n if isinstance(style_weight, (int, float)) else [float(w) for w in style_weight]
        )
        if len(self.style_weights) != n:
            raise ValueError(f"style_weight needs one number or {n} (one per style layer), got {len(self.style_weights)}")
        self.content_weight, self.tv_weight = float(content_weight), float(tv_weight)
        self._layers = list(dict.fromkeys([*self.style_layers, self.content_layer]))
        dev = model_device(km)
        self._mean = torch.tensor(km.mean, device=dev).view(1, -1, 1, 1)
        self._std = torch.tensor(km.std, device=dev).view(1, -1, 1, 1)
        style_list = [styles] if isinstance(styles, (str, Path)) else list(styles)
        if not style_list:
            raise ValueError("PerceptualLoss needs at least one style image")
        self.targets = [style_targets(km, km.preprocess(s, size=style_size), self.style_layers) for s in style_list]
        # w_l / ||A_l||^2: a relative Gram error, so one style_weight suits every style and layer
        self._layer_weights = [
            [w / a.pow(2).sum().clamp_min(1e-12).item() for w, a in zip(self.style_weights, t)] for t in self.targets
        ]

    @property
    def num_styles(self) -> int:
        return len(self.targets)

    def __call__(self, output: torch.Tensor, content: torch.Tensor, style: int = 0) -> dict[str, torch.Tensor]:
        """The loss terms ``{"content", "style", "tv", "total"}`` (scalars; ``total`` is their sum)."""
        if not 0 <= style < self.num_styles:
            raise IndexError(f"this loss knows {self.num_styles} styles: style must be in 0..{self.num_styles - 1}, got {style}")
        feats = dict(zip(self._layers, layer_features(self.km, (output - self._mean) / self._std, self._layers)))
        with torch.no_grad():
            (target,) = layer_features(self.km, (content - self._mean) / self._std, [self.content_layer], detach=True)
        n = output.shape[0]
        c = content_loss(feats[self.content_layer], target, self.content_weight / target.numel())
        s = style_loss(
            [feats[name] for name in self.style_layers], self.targets[style], [w / n for w in self._layer_weights[style]]
        )
        t = tv_loss(output) * (self.tv_weight / output.numel())
        return {"content": c, "style": s, "tv": t, "total": c + s + t}


# --------------------------------------------------------------------------- training


def _images01(images: Sequence[ImageLike], size: int, device: torch.device) -> list[torch.Tensor]:
    """Each image resized (shorter side ``size``, centre square) → ``[3, size, size]`` in [0, 1]."""
    return [preprocess(img, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), size=size, device=device)[0] for img in images]


def random_crops(images: Sequence[torch.Tensor], n: int, crop: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` random ``crop``-pixel squares from random ``images`` (``[3, H, W]``), each flipped with p = 1/2."""
    out = []
    for _ in range(n):
        img = images[int(torch.randint(len(images), (1,), generator=generator))]
        h, w = img.shape[-2:]
        if min(h, w) < crop:
            raise ValueError(f"crop {crop} is larger than a content image ({h}x{w})")
        top = int(torch.randint(h - crop + 1, (1,), generator=generator))
        left = int(torch.randint(w - crop + 1, (1,), generator=generator))
        patch = img[:, top : top + crop, left : left + crop]
        out.append(patch.flip(-1) if torch.rand(1, generator=generator) < 0.5 else patch)
    return torch.stack(out)


@dataclass(frozen=True)
class PerceptualSettings(OptionGroup):
    """The perceptual loss's layers and weights (see :class:`PerceptualLoss`; ``None`` layers: :func:`perceptual_layers`)."""

    content_layer: str | None = None
    style_layers: Sequence[str] | None = None
    content_weight: float = 5.0
    style_weight: float | Sequence[float] = 1.0
    tv_weight: float = 10.0


#: A training callback ``callback(step, net, losses) -> stop?`` (the network is what is being optimised here).
TrainingCallback = Callable[[int, "TransformerNet", dict[str, float]], Union[bool, None]]

FAST_STYLE_LR = 5e-3  # Adam learning rate for the transformer network
TRAINING = Schedule(steps=300, lr=FAST_STYLE_LR, seed=0, callback_every=25)  # the default training schedule


def train_fast_style(
    km: ModelLike,
    styles: ImageLike | Sequence[ImageLike],
    content: Sequence[ImageLike] = CONTENT_IMAGES,
    net: TransformerNet | None = None,
    norm: NormKind | None = None,
    *,
    batch_size: int = 4,
    crop: int = 64,
    content_size: int | None = None,
    style_size: int | None = None,
    channels: Sequence[int] = (16, 32, 64),
    n_residual: int = 5,
    loss: PerceptualSettings | None = None,
    schedule: Schedule | None = None,
    callback: TrainingCallback | None = None,
    **options: Any,
) -> tuple[TransformerNet, dict[str, list[float]]]:
    """Train a :class:`TransformerNet` with the perceptual loss on random crops of ``content`` photos.

    Each step takes ``batch_size`` random ``crop``-pixel crops (random flips) of the content photos
    (resized to ``content_size``-pixel squares), stylizes them, and takes one Adam step on
    :class:`PerceptualLoss`. With several styles the network is conditional (one γ/β row per style)
    and the steps cycle through the styles, one style per batch.
    COCO (Johnson et al.: 80k images, 2 epochs, a GPU) is out of reach of a laptop: a few hundred
    steps on the kit's photos already give recognisable textures.

    Args:
        km: the loss network, frozen and left exactly as it was (no hooks, same modes) — also on errors.
        styles: one style image (→ instance / batch norm) or several (→ conditional instance norm).
        content: training photos (default: the kit's sample photos).
        net: continue training this network (its number of styles must match); default a fresh one
            with ``channels``, ``n_residual`` and ``norm`` (seeded with ``seed``).
        norm: ``"instance"`` (default for one style), ``"batch"`` or ``"conditional"`` (default for several).
        batch_size, crop: crops per step and their side in pixels.
        content_size: side the content photos are resized to before cropping (default ``2 * crop``).
        style_size: side of the style images (default ``content_size``: the photos' scale).
        channels, n_residual: the size of a fresh network (:class:`TransformerNet`).
        loss: :class:`PerceptualSettings`; its fields may also be given as keywords: ``content_layer``,
            ``style_layers``, ``content_weight`` (5), ``style_weight`` (1), ``tv_weight`` (10).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule` (default :data:`TRAINING`); its fields
            may also be given as keywords: ``steps`` (300; use :func:`~cnnviz_helpers.budget` in
            notebooks), ``lr`` (Adam, 5e-3), ``seed`` (initial weights and crops, so a run can be
            repeated), ``progress``, ``callback_every`` (25).
        callback: a training callback ``callback(step, net, losses) -> stop?`` every
            ``callback_every`` steps and after the last one (for intermediate results); the network
            is in train mode, so call :func:`stylize` (which switches to eval and back). Returning
            ``True`` stops training and keeps the network so far.

    Returns:
        ``(net, history)``: the trained network (eval mode, on ``km``'s device) and the per-step losses
        ``{"content": [...], "style": [...], "tv": [...], "total": [...]}``.

    Example:
        >>> net, history = train_fast_style(km, ["brick", "hubble_deep_field"], steps=budget(300, 5))
        >>> plt.plot(history["total"])
    """
    loss_kw, schedule_kw = split_options(options, PerceptualSettings, Schedule)
    weights = (loss or PerceptualSettings()).updated(**loss_kw)
    schedule = (schedule or TRAINING).updated(**schedule_kw)
    if schedule.callback is not None:
        raise TypeError("train_fast_style's callback is callback(step, net, losses): pass it as callback=, not in the schedule")
    steps, lr, seed = schedule.steps, FAST_STYLE_LR if schedule.lr is None else schedule.lr, schedule.seed
    style_list = [styles] if isinstance(styles, (str, Path)) or not isinstance(styles, Sequence) else list(styles)
    names = [Path(s).stem if isinstance(s, (str, Path)) else f"style {i}" for i, s in enumerate(style_list)]
    km = as_kit_model(km)
    device = model_device(km)
    if net is None:
        kind = norm or ("conditional" if len(style_list) > 1 else "instance")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            net = TransformerNet(channels, n_residual, kind, len(style_list) if kind == "conditional" else 1, names)
    elif net.num_styles != len(style_list):
        raise ValueError(f"the network knows {net.num_styles} styles but {len(style_list)} style images were given")
    net.to(device)
    content_size = content_size or 2 * crop
    loss_fn = PerceptualLoss(
        km,
        style_list,
        style_size or content_size,
        weights.content_layer,
        weights.style_layers,
        weights.content_weight,
        weights.style_weight,
        weights.tv_weight,
    )
    photos = _images01(list(content), content_size, device)
    gen = seeded_generator(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history: dict[str, list[float]] = {"content": [], "style": [], "tv": [], "total": []}
    net.train()
    bar = tqdm(range(steps), desc="fast style", disable=not schedule.progress, leave=False)
    for step in bar:
        s = step % len(style_list)
        x = random_crops(photos, batch_size, crop, gen).to(device)
        terms = loss_fn(net(x, style=s if net.conditional else None), x, style=s)
        opt.zero_grad(set_to_none=True)
        terms["total"].backward()
        opt.step()
        for k, v in terms.items():
            history[k].append(v.item())
        bar.set_postfix(loss=f"{history['total'][-1]:.3g}")
        if callback is not None and (step + 1 == steps or (step + 1) % max(schedule.callback_every, 1) == 0):
            if callback(step + 1, net, {k: v[-1] for k, v in history.items()}):
                break  # the callback asked to stop: keep the network trained so far
    return net.eval(), history


# --------------------------------------------------------------------------- using a trained network


def stylize(
    net: TransformerNet, image: ImageLike, style: StyleLike = None, size: int | tuple[int, int] | None = 256
) -> np.ndarray:
    """Stylize one image in a single forward pass.

    Args:
        net: a trained :class:`TransformerNet` (see :func:`load_fast_style`, :func:`train_fast_style`).
        image: path, sample name, PIL image, array or ``[0, 1]`` tensor.
        style: for a conditional network: a style index, a name, blend weights (one per style,
            normalised to sum to 1) or ``{name: weight}``; ``None`` for a one-style network.
        size: shorter side → centre square of this size, a ``(height, width)`` pair, or ``None``
            to keep the image's own size (any size of at least 8 px).

    Returns:
        The stylized ``HxWx3`` float image in [0, 1]. The network is run in eval mode (batch norm
        with its running statistics) and left in the mode it was in.

    Example:
        >>> show_images([stylize(net, "chelsea", s) for s in net.style_names], titles=net.style_names)
    """
    device = model_device(net)
    x = preprocess(image, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), size=size, device=device)
    with Hooks(net), torch.no_grad():
        y = net(x, style)
    return y[0].permute(1, 2, 0).cpu().numpy()


def save_fast_style(net: TransformerNet, path: str | Path = WEIGHTS_PATH, **info: Any) -> Path:
    """Write ``net``'s configuration, weights and provenance ``info`` (str / number values) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    torch.save({"config": net.config, "state_dict": state, "info": {**net.info, **info}}, path)
    return path


def load_fast_style(path: str | Path = WEIGHTS_PATH, device: torch.device | str | None = None) -> TransformerNet:
    """A :class:`TransformerNet` saved by :func:`save_fast_style` (``torch.load(weights_only=True)``), in eval mode.

    The default is the kit's shipped conditional network (``data/fast_style_cin.pt``, model card
    ``data/fast_style.md``); ``net.style_names`` lists its styles and ``net.info`` how it was trained.

    Example:
        >>> net = load_fast_style()
        >>> net.style_names
    """
    ckpt = load_weights_file(
        path,
        "Restore it (`git checkout -- data/fast_style_cin.pt` in a clone, or reinstall the kit) or retrain it with "
        "`python -m cnnviz_helpers.training.train_fast_style_net` (`make fast-style-model`), or train your own with train_fast_style().",
    )
    net = TransformerNet(**ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    net.info = dict(ckpt.get("info", {}))
    return net.to(device if device is not None else default_device()).eval()


# --------------------------------------------------------------------------- widgets

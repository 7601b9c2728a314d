"""Neural style transfer (lecture section 11): Gatys et al. (2016) content + style + smoothness.

The losses (also used by :mod:`.fast_style`, where a network learns to do the same thing in one
forward pass): :func:`content_loss`, :func:`style_loss` (on the Gram matrices of
:mod:`.texture_synthesis`) and :func:`~cnnviz_helpers.core.regularizers.tv_loss` — the CS231n /
EECS 498 definitions. The method: :func:`style_transfer`, optimising the pixels on the kit's shared
synthesis loop, with CS231n's three weight sets as :data:`PRESETS`.

Where a setting comes from: the preset gives every one; :class:`StyleSettings` — or the same names
as keywords, not both — overrides some of them.

Example:
    >>> km = load_model()
    >>> out = style_transfer(km, "chelsea", "gravel", preset="starry_night", steps=100)
    >>> show_images([out.picture])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch

from .core.images import ImageLike
from .core.options import OptionGroup, Schedule, split_options
from .core.regularizers import tv_loss
from .datasets.assets import ASSETS, asset_path
from .models.loading import KitModel
from .models.targets import ModelLike, as_kit_model
from .texture_synthesis import (
    Layer,
    Normalization,
    StyleResult,
    default_layers,
    gram_losses,
    layer_features,
    load_sized,
    noise_image,
    optimize_pixels,
    resolve_layer,
    style_targets,
)

__all__ = [
    "PRESETS",
    "StylePreset",
    "StyleSettings",
    "content_loss",
    "default_style",
    "preset_layers",
    "style_images",
    "style_loss",
    "style_transfer",
]


def content_loss(current: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    r"""Content loss :math:`w_c \sum_{c,i,j} (F_{cij} - P_{cij})^2` (CS231n; Gatys et al. use :math:`\tfrac12\sum`).

    Args:
        current: features of the image being optimised at the content layer, ``[N, C, H, W]``.
        target: features of the content image at the same layer (same shape, or broadcastable).
        weight: :math:`w_c` (CS231n's ``content_weight``).

    Returns:
        A scalar tensor (summed over the batch too).

    Example:
        >>> content_loss(feats, content_feats.detach(), weight=5e-2)
    """
    if current.shape[-3:] != target.shape[-3:]:
        raise ValueError(
            f"content features {tuple(current.shape)} and target {tuple(target.shape)} differ: "
            "use the same layer and the same image size for both"
        )
    return weight * (current - target).pow(2).sum()


def style_loss(
    features: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    weights: Sequence[float] | float = 1.0,
    normalize: Normalization = True,
) -> torch.Tensor:
    r"""Style loss :math:`\sum_\ell w_\ell \sum_{c,d} (G^\ell_{cd} - A^\ell_{cd})^2` (CS231n / EECS 498).

    :math:`G^\ell` is the Gram matrix (:func:`gram_matrix`) of the image being optimised at style
    layer :math:`\ell` and :math:`A^\ell` that of the style image (see :func:`style_targets`).

    Args:
        features: the activations at the style layers, one ``[N, C, H, W]`` tensor per layer.
        targets: the target Gram matrices, same order (``[C, C]``, ``[1, C, C]`` or ``[N, C, C]``:
            one target broadcasts over a batch, as in fast style transfer).
        weights: :math:`w_\ell`, one per layer (or one number for all).
        normalize: Gram normalisation, as in :func:`gram_matrix` (must match the targets').

    Returns:
        A scalar tensor (summed over the batch too).

    Example:
        >>> feats = layer_features(km.model, img, ["features.1", "features.4"])
        >>> style_loss(feats, targets, weights=[20000, 500])
    """
    return torch.stack(gram_losses(features, targets, weights, normalize)).sum()


# ---------------------------------------------------------------------------------------------
# Presets and images
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StylePreset:
    """A CS231n weight set (assignment 3, SqueezeNet 1.1 features, 200 Adam steps).

    Layers are indices into SqueezeNet's ``model.features`` (``3`` is ``"features.3"``); for other
    models :func:`preset_layers` maps them to the same depth. ``painting`` is the
    :data:`~cnnviz_helpers.datasets.assets.ASSETS` file used by CS231n (``python -m cnnviz_helpers.training.download``
    fetches it), ``stand_in`` the shipped texture used while it is not downloaded.
    """

    painting: str
    stand_in: str
    content_weight: float
    style_weights: tuple[float, ...]
    tv_weight: float
    style_size: int
    image_size: int = 192
    content_layer: int = 3
    style_layers: tuple[int, ...] = (1, 4, 6, 7)


#: The three CS231n settings (content image: Tübingen; here any photo), checked against the assignment.
PRESETS: dict[str, StylePreset] = {
    "composition_vii": StylePreset("composition_vii.jpg", "brick", 5e-2, (20000, 500, 12, 1), 5e-2, style_size=512),
    "scream": StylePreset("the_scream.jpg", "hubble_deep_field", 3e-2, (200000, 800, 12, 1), 2e-2, style_size=224),
    "starry_night": StylePreset("starry_night.jpg", "gravel", 6e-2, (300000, 1000, 15, 3), 2e-2, style_size=192),
}

# SqueezeNet 1.1 ``features`` index → the layer at the same place (same resolution block, same
# order inside it) in VGG: features.1 = conv1's ReLU; 3, 4 = the two Fire modules after pool 1;
# 6, 7 = the two after pool 2  ↔  VGG relu1_1; relu2_1, relu2_2; relu3_1, relu3_2.
_VGG_FROM_SQUEEZENET = {1: "features.1", 3: "features.6", 4: "features.8", 6: "features.11", 7: "features.13"}


def preset_layers(km: KitModel, preset: str | StylePreset) -> tuple[str, list[str]]:
    """The preset's (content layer, style layers) for ``km``'s architecture.

    - ``squeezenet1_1``: CS231n's own indices, ``features.3`` and ``features.1/4/6/7``.
    - ``vgg16`` / ``vgg19``: the same position block by block — content ``relu2_1`` (``features.6``),
      style ``relu1_1, relu2_2, relu3_1, relu3_2`` (``features.1, 8, 11, 13``).
    - any other model, ShapesNet included: the first four of ``km.spec.layers`` for style (shallow to
      deep, keeping the preset's per-layer weights in that order) and the second of them for content;
      a plain ``nn.Module`` uses the ends of its resolution stages instead
      (:func:`~cnnviz_helpers.texture_synthesis.default_layers`).
      ShapesNet has one ReLU per block, so this gives style ``features.2, 6, 10, 14`` and content
      ``features.6``. Its layers have other magnitudes than SqueezeNet's, so the weights are only a
      starting point there, and its features (learned on 10 synthetic shape classes) give much
      weaker styles than an ImageNet network's.

    Example:
        >>> preset_layers(km, "starry_night")
        ('features.3', ['features.1', 'features.4', 'features.6', 'features.7'])
    """
    p = _preset(preset)
    if km.name == "squeezenet1_1":
        return f"features.{p.content_layer}", [f"features.{i}" for i in p.style_layers]
    if km.name in ("vgg16", "vgg19"):
        return _VGG_FROM_SQUEEZENET[p.content_layer], [_VGG_FROM_SQUEEZENET[i] for i in p.style_layers]
    layers = default_layers(km)
    if len(layers) < len(p.style_layers):
        raise ValueError(f"{km.name} has only {len(layers)} default layers ({layers}): pass content_layer= and style_layers=")
    return layers[1], layers[: len(p.style_layers)]


def _preset(preset: str | StylePreset) -> StylePreset:
    if isinstance(preset, StylePreset):
        return preset
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[preset]


_SHIPPED_STYLES = ("brick", "grass", "gravel", "hubble_deep_field", "flower", "china")
_PAINTINGS = ("starry_night.jpg", "great_wave.jpg", "the_scream.jpg", "composition_vii.jpg")  # in datasets.assets.ASSETS


def style_images() -> dict[str, Any]:
    """Style images available here: the shipped textures/photos, plus the paintings once downloaded.

    Keys are names (``"gravel"``, ``"starry_night"`` …), values anything :func:`load_image` reads.
    ``python -m cnnviz_helpers.training.download`` fetches the public-domain paintings.

    Example:
        >>> styles = style_images()
        >>> style = styles.get("starry_night", styles["gravel"])
    """
    found: dict[str, Any] = {n: n for n in _SHIPPED_STYLES}
    for asset in ASSETS:
        path = asset_path(asset.name)
        if path is not None and asset.name in _PAINTINGS:
            found[asset.name.removesuffix(".jpg")] = path
    return found


def default_style(fallback: str = "gravel") -> str:
    """The style the notebooks start from: the first downloaded painting (The Starry Night, The Scream,
    Composition VII, The Great Wave), else ``fallback`` (a shipped image). A key of :func:`style_images`.

    Example:
        >>> styles = style_images()
        >>> out = style_transfer(km, "chelsea", styles[default_style()])
    """
    styles = style_images()
    paintings = ("starry_night", "the_scream", "composition_vii", "great_wave")
    return next((name for name in paintings if name in styles), fallback)


# ---------------------------------------------------------------------------------------------
# The method
# ---------------------------------------------------------------------------------------------


def _style_objective(
    km: KitModel,
    style_layers: list[str],
    targets: list[torch.Tensor],
    style_weights: Sequence[float],
    normalize: Normalization,
    tv_weight: float,
    content: tuple[str, torch.Tensor, float],
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """The Gatys objective as named terms: content, one style term per layer, TV."""
    layers = [content[0], *style_layers]

    def objective(x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = layer_features(km, x, layers)
        terms = {"content": content_loss(feats[0], content[1], content[2])}
        for name, term in zip(style_layers, gram_losses(feats[1:], targets, style_weights, normalize)):
            terms[f"style {name}"] = term
        if tv_weight:
            terms["tv"] = tv_weight * tv_loss(x)
        return terms

    return objective


def _init_image(km: KitModel, init: str | torch.Tensor, like: torch.Tensor, seed: int | None) -> torch.Tensor:
    """``"content"`` → a copy of ``like``; ``"noise"`` → uniform random pixels; a tensor → itself."""
    if isinstance(init, torch.Tensor):
        if init.shape != like.shape:
            raise ValueError(f"init has shape {tuple(init.shape)}, expected {tuple(like.shape)}")
        return init.to(like.device, like.dtype)
    if init == "content":
        return like.clone()
    if init == "noise":
        return noise_image(km, like, seed)
    raise ValueError(f"init must be 'content', 'noise' or a tensor, got {init!r}")


@dataclass(frozen=True)
class StyleSettings(OptionGroup):
    """What a :class:`StylePreset` sets, to override one by one (``None``: the preset's value).

    Attributes:
        content_layer, style_layers: layer names or ``features`` indices.
        content_weight, style_weights, tv_weight: :math:`w_c`, :math:`w_\\ell`, :math:`w_{tv}`.
        image_size: shorter side of the content image (and of the result).
        style_size: shorter side the style images are resized to — the *scale* of the style.
    """

    content_layer: Layer | None = None
    style_layers: Sequence[Layer] | None = None
    content_weight: float | None = None
    style_weights: Sequence[float] | None = None
    tv_weight: float | None = None
    image_size: int | None = None
    style_size: int | None = None


def style_transfer(
    model: ModelLike,
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike] | None = None,
    *,
    preset: str | StylePreset = "starry_night",
    blend: Sequence[float] | None = None,
    settings: StyleSettings | None = None,
    init: Literal["content", "noise"] | torch.Tensor = "content",
    optimizer: Literal["adam", "lbfgs"] = "adam",
    decay_lr_at: int | None = None,
    decayed_lr: float = 0.1,
    normalize: Normalization = True,
    schedule: Schedule | None = None,
    snapshot_every: int = 0,
    verbose: bool = True,
    **options: Any,
) -> StyleResult:
    r"""Gatys et al. (2016) neural style transfer: optimise an image's pixels for content + style + smoothness.

    .. math::
        \mathcal L(x) = w_c \lVert F^{c}(x) - F^{c}(p)\rVert^2
        + \sum_{\ell} w_\ell \lVert G^\ell(x) - A^\ell\rVert_F^2 + w_{tv}\,\mathrm{TV}(x)

    with :math:`F^c` the features at the content layer, :math:`G^\ell` Gram matrices
    (:func:`gram_matrix`, divided by C·H·W) and :math:`A^\ell` the style targets — blended over
    several style images with ``blend`` (:func:`style_targets`). The model runs only up to the
    deepest layer used (:func:`layer_features`) and the targets are computed once.

    Every setting not given comes from ``preset`` (:data:`PRESETS`: CS231n's three weight sets,
    mapped onto ``km``'s layers by :func:`preset_layers`). The per-layer loss table printed at the
    start (``verbose``) shows why the style weights span 1 to 300000.

    Args:
        model: a :class:`KitModel` (SqueezeNet in CS231n, VGG16/19 in the paper; ShapesNet offline —
            weaker styles) or a plain ``nn.Module`` (ImageNet normalisation, :meth:`KitModel.wrap`
            it for another; default layers from its resolution stages, see :func:`preset_layers`).
        content: the content photo (anything :func:`load_image` reads).
        styles: one style image or several (default: the preset's painting if downloaded, else
            its shipped stand-in texture, with a warning).
        preset: a name from :data:`PRESETS` or a :class:`StylePreset`.
        blend: weights of the style images (normalised to sum 1; ``(1, 0)`` = the first alone).
        settings: :class:`StyleSettings` overriding the preset, or its fields as keywords (not
            both: a ``TypeError``): ``content_layer``, ``style_layers``, ``content_weight``,
            ``style_weights``, ``tv_weight``, ``image_size``, ``style_size``. A field left ``None``
            comes from the preset.
        init: start from the content image, from uniform noise, or from a given tensor.
        optimizer: ``"adam"`` (CS231n: lr 3.0, then ``decayed_lr`` 0.1 from ``decay_lr_at``, 180 of
            200 by default) or ``"lbfgs"`` (Gatys et al.).
        normalize: Gram normalisation (:func:`gram_matrix`).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule`, or its fields as keywords (not
            both): ``steps`` (200), ``lr`` (default 3.0 for Adam, 1.0 for L-BFGS), ``seed`` (of the
            noise start), ``callback`` (``callback(step, image) -> stop?`` every ``callback_every``
            steps and after the last; ``True`` stops early), ``callback_every``, ``progress``.
        snapshot_every: keep the picture every this many steps in ``result.snapshots`` (0: none).
        verbose: print the loss table before and after.

    Returns:
        A :class:`StyleResult`; the model is left exactly as it was.

    Example:
        >>> out = style_transfer(km, "chelsea", ["gravel", "brick"], blend=[0.7, 0.3], preset="scream")
        >>> show_images([out.picture])
    """
    km = as_kit_model(model)
    setting_kw, schedule_kw = split_options(options, StyleSettings, Schedule)
    given = StyleSettings.resolve(settings, setting_kw)
    schedule = Schedule.resolve(schedule, schedule_kw, Schedule(steps=200))
    p = _preset(preset)
    net = km.model
    needs_defaults = given.content_layer is None or given.style_layers is None
    default_content, default_styles = preset_layers(km, p) if needs_defaults else ("", [])
    c_layer = resolve_layer(net, default_content if given.content_layer is None else given.content_layer)
    s_layers = [resolve_layer(net, layer) for layer in (default_styles if given.style_layers is None else given.style_layers)]
    s_weights = list(p.style_weights if given.style_weights is None else given.style_weights)
    if len(s_weights) != len(s_layers):
        raise ValueError(f"{len(s_layers)} style layers need {len(s_layers)} style weights, got {len(s_weights)}")
    if styles is None:
        path = asset_path(p.painting)
        styles = path if path is not None else p.stand_in
        if path is None:
            warnings.warn(
                f"{p.painting} is not downloaded (python -m cnnviz_helpers.training.download): "
                f"using the shipped {p.stand_in!r} as style",
                stacklevel=2,
            )
    style_list: list[ImageLike] = list(styles) if isinstance(styles, (list, tuple)) else [cast(ImageLike, styles)]
    c_weight = p.content_weight if given.content_weight is None else given.content_weight
    t_weight = p.tv_weight if given.tv_weight is None else given.tv_weight
    content_img = load_sized(km, content, given.image_size or p.image_size)
    style_imgs = [load_sized(km, s, given.style_size or p.style_size) for s in style_list]
    targets = style_targets(km, style_imgs, s_layers, blend=blend, normalize=normalize)
    content_target = layer_features(km, content_img, [c_layer], detach=True)[0]
    objective = _style_objective(km, s_layers, targets, s_weights, normalize, t_weight, (c_layer, content_target, c_weight))
    term_weights = {"content": c_weight} | {f"style {n}": float(w) for n, w in zip(s_layers, s_weights)} | {"tv": t_weight}
    x0 = _init_image(km, init, content_img, schedule.seed)
    return optimize_pixels(km, x0, objective, term_weights, schedule, optimizer=optimizer, decay_lr_at=decay_lr_at,
                           decayed_lr=decayed_lr, snapshot_every=snapshot_every, verbose=verbose)  # fmt: skip

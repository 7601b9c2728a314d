"""Occlusion: hide one part of the image at a time and watch the class score fall (Zeiler & Fergus 2014).

A grey (or mean-colour) square slides over the image; for every position the network scores the
occluded copy, and the drop of the target class score says how much the classifier relied on
what the square hid. The per-pixel map averages the drops of all windows that cover a pixel —
exactly what ``captum.attr.Occlusion`` returns.

Speed: the occluded copies go through the network in batches under ``torch.inference_mode``, and
:mod:`cnnviz_helpers.engines.occlusion_engine` recomputes only the part of each feature map an
occluder changes (and only the target class's output). The result equals the plain
one-window-at-a-time computation (up to float rounding); this module is the readable reference.

The lecture also occludes to see what drives *one intermediate unit*: with a
:class:`~cnnviz_helpers.models.targets.Unit` target the watched score is that unit's activation
instead of a class score — the network is then cut after the unit's layer (:func:`unit_model`, a
``torch.fx`` graph ending there), so nothing deeper is computed.

Example:
    >>> x = km.preprocess(km.examples[0].image)
    >>> occ = occlusion_map(km.model, x, target=km.examples[0].label, window=16, stride=8)
    >>> unit = occlusion_map(km, x, Unit("features.6", 3), window=8, stride=4)
    >>> show_images([km.deprocess(x[0]), overlay(km.deprocess(x[0]), occ.heatmap)])
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx, nn
from tqdm.auto import tqdm

from .core.images import as_pair
from .core.layers import Hooks, capture, get_layer
from .engines.occlusion_engine import Occluder
from .engines.receptive_field import trace_model
from .engines.scores import unit_activation
from .models.targets import ModelLike, Target, Unit, model_device, resolve_target, single_class, unwrap

IntOrPair = int | tuple[int, int]


@dataclass
class OcclusionMap:
    """Result of :func:`occlusion_map`.

    Attributes:
        heatmap: ``[H, W]`` mean score drop over the windows covering each pixel (Captum's convention).
        drops: ``[rows, cols]`` score drop for each window position (window ``(i, j)`` starts at
            ``(i * stride, j * stride)``; the last row / column may be cut by the image border).
        score: the target score of the unoccluded image.
    """

    heatmap: torch.Tensor
    drops: torch.Tensor
    score: float


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Start of each window along one axis: ``0, stride, 2*stride, …`` until the axis is covered (as Captum)."""
    return [i * stride for i in range(-(-(size - window) // stride) + 1)]


def unit_model(model: nn.Module, x: torch.Tensor, unit: Unit) -> nn.Module:
    """``model`` cut after ``unit.layer``, returning the unit's activation as a ``[N, 1]`` score.

    The unit is channel ``unit.channel`` of its layer's output at ``unit.position``: a ``(row, col)``,
    ``"center"``, ``"max"`` (the position where ``x`` activates the channel most, then kept fixed),
    or its spatial mean when ``None`` (for a fully connected layer: unit ``channel``). The result
    is a ``torch.fx.GraphModule`` sharing ``model``'s sub-modules (nothing is copied or changed);
    ``x`` (one input) is used to check the unit and to place ``"center"`` / ``"max"``.

    Raises:
        KeyError: unknown layer (with close names). IndexError: channel or position outside the layer's output.
    """
    layer, channel = unit.layer, unit.channel
    get_layer(model, layer)
    with capture(model, layer) as acts:
        acts.run(x)
        out = acts[layer]
    unit_activation(out, unit)  # checks channel and position
    position = unit.position
    if position in ("center", "max"):
        a = out[0, channel]
        position = (a.shape[0] // 2, a.shape[1] // 2) if position == "center" else divmod(int(a.argmax()), a.shape[1])
    graph, outputs, _ = trace_model(model)
    cut, env = fx.Graph(), dict[fx.Node, fx.Node]()
    for node in graph.nodes:
        env[node] = cut.node_copy(node, env.__getitem__)
        if node is outputs[layer]:
            break
    value = cut.call_function(operator.getitem, (env[outputs[layer]], (slice(None), channel)))
    if position is not None:
        value = cut.call_function(operator.getitem, (value, (slice(None), *position)))
    elif out.ndim > 2:
        value = cut.call_method("mean", (cut.call_method("flatten", (value, 1)), 1))
    cut.output(cut.call_method("unsqueeze", (value, 1)))
    gm = fx.GraphModule(model, cut)
    gm.graph.eliminate_dead_code()  # e.g. other branches that do not lead to the unit
    gm.recompile()
    return gm


@torch.inference_mode()
def occlusion_map(
    model: ModelLike,
    x: torch.Tensor,
    target: Target | Unit = None,
    *,
    window: IntOrPair = 32,
    stride: IntOrPair = 16,
    fill: float | torch.Tensor = 0.0,
    batch_size: int = 64,
    probability: bool = False,
    progress: bool = True,
) -> OcclusionMap:
    r"""Occlusion sensitivity of the ``target`` score to every region of ``x`` (Zeiler & Fergus 2014).

    A ``window`` square, moved by ``stride`` pixels from the top-left corner until the image is
    covered (the last row / column of windows may be cut by the border), replaces the image with
    ``fill``. For window :math:`w` the drop is :math:`\Delta_w = S_c(x) - S_c(x_{\setminus w})` and
    pixel :math:`p` gets the mean of :math:`\Delta_w` over the windows covering it — the same
    numbers as ``captum.attr.Occlusion(model).attribute(x, (3, h, w), strides=(3, sh, sw),
    baselines=fill, target=target)`` (one channel of it), computed faster (see the module notes).

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or a classifier ``nn.Module`` returning
            ``[N, classes]`` scores (left unchanged: modes restored).
        x: one preprocessed image ``[1, 3, H, W]`` (or ``[3, H, W]``).
        target: the class whose score is watched: an index, a class name (with a KitModel), a
            one-element list / tensor, or ``None`` for the class the model predicts for ``x``; or a
            :class:`~cnnviz_helpers.models.targets.Unit`, whose activation is watched (:func:`unit_model`).
        window: side of the occluder (or ``(height, width)``).
        stride: step between windows (or a pair); at most ``window`` so every pixel is covered.
        fill: occluder value in the normalised input space: ``0.0`` is the dataset mean colour;
            pass a tensor broadcastable to ``x`` for a per-channel colour (e.g. grey) or a whole
            baseline image (e.g. a blurred copy).
        batch_size: occluded copies scored per forward pass.
        probability: watch the softmax probability instead of the raw score (logit).
        progress: show a progress bar counting the windows.

    Returns:
        An :class:`OcclusionMap` with ``heatmap`` ``[H, W]``, per-window ``drops`` and the clean ``score``.

    Raises:
        ValueError: window larger than the image, or stride larger than the window.
        IndexError: target outside the model's classes (or a Unit's channel / position outside its layer).

    Example:
        >>> grey = km.preprocess(Image.new("RGB", (km.input_size,) * 2, (128, 128, 128)))
        >>> occ = occlusion_map(km.model, x, target=281, window=32, stride=16, fill=grey)
        >>> plt.imshow(overlay(km.deprocess(x[0]), occ.heatmap))
    """
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    x = x.unsqueeze(0) if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image [1, 3, H, W], got shape {tuple(x.shape)}")
    size, win, step = x.shape[-2:], as_pair(window), as_pair(stride)
    for a, axis in enumerate(("height", "width")):
        if not 0 < win[a] <= size[a]:
            raise ValueError(f"window {axis} must be in 1..{size[a]} (the image {axis}), got {win[a]}")
        if not 0 < step[a] <= win[a]:
            raise ValueError(f"stride {axis} must be in 1..{win[a]} (the window) so every pixel is occluded, got {step[a]}")
    device = model_device(model)
    x = x.to(device)
    fill_map = torch.as_tensor(fill, dtype=x.dtype, device=device).expand_as(x)
    ys = torch.tensor(window_starts(size[0], win[0], step[0]), device=device)
    xs = torch.tensor(window_starts(size[1], win[1], step[1]), device=device)
    grid_y, grid_x = (g.flatten() for g in torch.meshgrid(ys, xs, indexing="ij"))
    with Hooks(model):
        if isinstance(target, Unit):  # the unit's activation is the one "class" of a network cut after its layer
            model, index, probability = unit_model(model, x, target), 0, False
        else:
            index = int(model(x).argmax(1)[0]) if target is None else single_class(model, target)
        occluder = Occluder(model, x, index, probability)  # the fast engine (engines.occlusion_engine)
        drops = []
        bar = tqdm(total=len(grid_y), desc="occlusion", unit="window", disable=not progress, leave=False)
        for i in range(0, len(grid_y), batch_size):
            wy, wx = grid_y[i : i + batch_size], grid_x[i : i + batch_size]
            drops.append(occluder.clean - occluder.window_scores(wy, wx, win, fill_map))
            bar.update(len(wy))
        bar.close()
    drops_grid = torch.cat(drops).view(len(ys), len(xs))
    # pixel p gets the mean drop of the windows covering it: cover[w, p] = 1 when window w covers p
    cover_y = (
        (torch.arange(size[0], device=device) >= ys[:, None]) & (torch.arange(size[0], device=device) < ys[:, None] + win[0])
    ).to(x.dtype)
    cover_x = (
        (torch.arange(size[1], device=device) >= xs[:, None]) & (torch.arange(size[1], device=device) < xs[:, None] + win[1])
    ).to(x.dtype)
    heat = cover_y.T @ drops_grid @ cover_x / (cover_y.sum(0)[:, None] * cover_x.sum(0)[None, :])
    return OcclusionMap(heatmap=heat, drops=drops_grid, score=occluder.clean)

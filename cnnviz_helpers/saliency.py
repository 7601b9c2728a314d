r"""Saliency maps, SmoothGrad and saliency-seeded segmentation (lecture section 5).

Simonyan, Vedaldi & Zisserman (2014) ask: *which pixels matter most for the class score?* Near an
image :math:`x_0` the unnormalised class score is approximately linear,
:math:`S_c(x) \approx w^\top x + b` with :math:`w = \partial S_c / \partial x\,|_{x_0}`, so
:math:`|w|` ranks the pixels by how much a small change to them would change the score.

- :func:`input_gradient` — :math:`\partial S_c / \partial x` for a batch, one backward pass, one
  target class per image.
- :func:`saliency_map` — :math:`M_{ij} = \max_c |w_{c,i,j}|`, the saliency map of the paper.
- :func:`smoothgrad` — the average map over noisy copies of the input (Smilkov et al. 2017).
- :func:`saliency_segmentation` — Simonyan's weakly supervised segmentation: the saliency map
  seeds OpenCV's GrabCut.

Why the score *before* the softmax: the softmax probability
:math:`P_c = e^{S_c} / \sum_k e^{S_k}` can be raised by *lowering the other classes* as well as by
raising :math:`S_c`, so its gradient mixes evidence for ``c`` with evidence against every other
class. The gradient of :math:`S_c` alone says what the network sees *for* class ``c``.

Example:
    >>> km = load_model()
    >>> x = km.preprocess([e.image for e in km.examples[:4]])
    >>> maps = saliency_map(km.model, x, target=[e.label for e in km.examples[:4]])   # [4, H, W]
    >>> show_images([km.deprocess(x[0]), maps[0]], titles=["image", "saliency"], cmap=[None, "hot"])
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .core.images import ImageLike, gaussian_blur, load_image, to_numpy_image
from .core.layers import Hooks
from .engines.scores import input_gradient
from .models.loading import KitModel
from .models.targets import Attribution, Target, Unit, class_targets, model_input, resolve_target, unwrap

SMOOTHGRAD_CPU_BATCH, SMOOTHGRAD_GPU_BATCH = 8, 32  # noisy copies per pass (measured on squeezenet1_1, 224 px)


def saliency_map(model: nn.Module | KitModel, x: torch.Tensor, target: Target | Unit = None) -> torch.Tensor:
    r"""Saliency map (Simonyan et al. 2014): :math:`M_{ij} = \max_c \left|\partial S_{y} / \partial x_{c,i,j}\right|`.

    The gradient of the *unnormalised* score :math:`S_y` (not the softmax probability, which can
    also grow by lowering the other classes), absolute value, maximum over the colour channels.
    One forward and one backward pass for the whole batch.

    Args:
        model: the network (``nn.Module`` or :class:`KitModel`); left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        target: class per image (list / tensor), one class for all (int), ``None`` for each
            image's predicted class, or a :class:`~cnnviz_helpers.models.targets.Unit` (the naive
            gradient of that unit's activation).

    Returns:
        ``[N, H, W]`` non-negative maps, on the model's device.

    Example:
        >>> x = km.preprocess(km.examples[0].image)
        >>> m = saliency_map(km.model, x)[0]          # predicted class
        >>> u = saliency_map(km.model, x, Unit("features.6", 3))[0]   # one unit
        >>> show_images([km.deprocess(x), m], cmap=[None, "hot"])
    """
    return input_gradient(model, x, target).abs().amax(1)


def smoothgrad(
    model: nn.Module | KitModel,
    x: torch.Tensor,
    target: Target | Unit = None,
    *,
    n_samples: int = 25,
    noise_level: float = 0.15,
    batch_size: int | None = None,
    attribution: Attribution = saliency_map,
    seed: int | None = 0,
    progress: bool = True,
) -> torch.Tensor:
    r"""SmoothGrad (Smilkov et al. 2017): the average map over noisy copies of the input.

    .. math:: \hat M(x) = \frac{1}{n} \sum_{k=1}^{n} M\big(x + \epsilon_k\big), \qquad
              \epsilon_k \sim \mathcal N\big(0, \sigma^2\big), \quad \sigma = \text{noise\_level}\cdot(\max x - \min x)

    The noise is a *fraction of each image's value range* (the paper's 10–20 %), so the same
    ``noise_level`` means the same thing for any normalisation. The ``N × n_samples`` noisy copies
    go through the network ``batch_size`` at a time (one backward per batch), each copy with its
    image's target. With ``target=None`` the target is the class predicted for the *clean* image,
    so every noisy copy explains the same class; a :class:`~cnnviz_helpers.models.targets.Unit`
    target explains that unit in every copy.

    Args:
        model: the network; left exactly as it was.
        x: normalised batch ``[N, 3, H, W]``.
        target: see :func:`saliency_map` (a ``Unit`` too).
        n_samples: noisy copies per image.
        noise_level: noise standard deviation as a fraction of the image's range (``max - min``).
        batch_size: noisy copies per forward/backward pass; default 8 on the CPU (larger batches
            no longer fit the CPU caches and get slower per copy), 32 on a GPU. Lower it if
            memory is short.
        attribution: the map to average, any attribution method ``fn(model, x, target)``;
            :func:`saliency_map` by default (pass e.g. :func:`cnnviz_helpers.guided_backprop.guided_backprop`
            or :func:`cnnviz_helpers.gradcam.grad_cam` as it is: no wrapper needed).
        seed: seed of the noise (default 0: repeatable maps, as every method's seed; ``None``: PyTorch's global generator).
        progress: show a progress bar over the batches.

    Returns:
        ``[N, ...]``: the average of ``attribution`` over the copies (``[N, H, W]`` for saliency).

    Example:
        >>> m = smoothgrad(km.model, x, n_samples=budget(50, 8), noise_level=0.15)[0]
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    target = resolve_target(model, target)
    model = unwrap(model)[0]
    x = model_input(model, x)
    device, n = x.device, x.shape[0]
    if batch_size is None:
        batch_size = SMOOTHGRAD_CPU_BATCH if device.type == "cpu" else SMOOTHGRAD_GPU_BATCH
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(target, Unit):
        targets: Unit | torch.Tensor = target
    else:
        with Hooks(model), torch.no_grad():
            targets = class_targets(model(x), target)  # the clean image's class when target is None
    sigma = noise_level * (x.flatten(1).amax(1) - x.flatten(1).amin(1))
    gen = torch.Generator(device).manual_seed(seed) if seed is not None else None
    image_of = torch.arange(n, device=device).repeat_interleave(n_samples)  # copy k belongs to image image_of[k]
    total = torch.zeros(0)
    for start in tqdm(range(0, len(image_of), batch_size), desc="SmoothGrad", disable=not progress, leave=False):
        idx = image_of[start : start + batch_size]
        noise = torch.randn((len(idx), *x.shape[1:]), generator=gen, device=device, dtype=x.dtype)
        copies = x[idx] + sigma[idx].view(-1, *[1] * (x.ndim - 1)) * noise
        maps = attribution(model, copies, targets if isinstance(targets, Unit) else targets[idx])
        part = torch.zeros((n, *maps.shape[1:]), device=device, dtype=maps.dtype).index_add_(0, idx, maps)
        total = part if start == 0 else total + part
    return total / n_samples


def saliency_segmentation(
    image: ImageLike,
    saliency: torch.Tensor | np.ndarray,
    foreground: float = 0.95,
    probable_foreground: float = 0.80,
    background: float = 0.30,
    blur_sigma: float = 2.0,
    steps: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weakly supervised segmentation (Simonyan et al. 2014, section 3.1): saliency seeds GrabCut.

    The (lightly blurred) saliency map is cut at quantiles into GrabCut's four labels — pixels
    above the ``foreground`` quantile are *sure foreground*, above ``probable_foreground``
    *probable foreground*, below ``background`` *sure background*, the rest *probable
    background* — and ``cv2.grabCut(..., cv2.GC_INIT_WITH_MASK)`` fits colour models to the seeds
    and cuts the image along colour edges. The network is not used again: a map from any method
    works.

    Args:
        image: the picture (path, PIL, ``HxWx3`` array …; see :func:`cnnviz_helpers.load_image`),
            e.g. ``km.deprocess(x[0])`` or ``km.examples[0].image``.
        saliency: ``[H, W]`` map (``[1, H, W]`` accepted), resized to the image if needed.
        foreground, probable_foreground, background: the three quantiles (``0 < background <
            probable_foreground < foreground < 1``).
        blur_sigma: Gaussian blur of the map before thresholding, in pixels (0 = none); joins the
            speckles of a raw gradient into blobs.
        steps: GrabCut iterations.
        seed: OpenCV's random seed (GrabCut initialises its colour models with k-means), for
            repeatable masks.

    Returns:
        ``(mask, seeds)``: the boolean ``HxW`` foreground mask, and the ``HxW`` uint8 seed labels
        given to GrabCut (``cv2.GC_BGD`` 0, ``GC_FGD`` 1, ``GC_PR_BGD`` 2, ``GC_PR_FGD`` 3).

    Example:
        >>> x = km.preprocess(km.examples[0].image)
        >>> mask, seeds = saliency_segmentation(km.examples[0].image.resize(x.shape[-2:]), saliency_map(km.model, x)[0])
        >>> show_images([km.deprocess(x[0]), seeds, mask], titles=["image", "seeds", "GrabCut"])
    """
    if not 0 < background < probable_foreground < foreground < 1:
        raise ValueError(
            f"need 0 < background < probable_foreground < foreground < 1, got {background}, {probable_foreground}, {foreground}"
        )
    img = np.ascontiguousarray(np.asarray(load_image(image), dtype=np.uint8)[..., ::-1])  # RGB → OpenCV's BGR
    sal = torch.as_tensor(to_numpy_image(saliency), dtype=torch.float32).squeeze()
    if sal.ndim != 2:
        raise ValueError(f"saliency must be one [H, W] map, got shape {tuple(sal.shape)}")
    sal = sal[None, None]
    if sal.shape[-2:] != img.shape[:2]:
        sal = F.interpolate(sal, size=img.shape[:2], mode="bilinear", align_corners=False)
    blurred = gaussian_blur(sal, blur_sigma)[0, 0].numpy()
    hi, mid, lo = np.quantile(blurred, [foreground, probable_foreground, background])
    seeds = np.full(blurred.shape, cv2.GC_PR_BGD, dtype=np.uint8)
    seeds[blurred >= mid] = cv2.GC_PR_FGD
    seeds[blurred >= hi] = cv2.GC_FGD
    seeds[blurred <= lo] = cv2.GC_BGD
    if not (seeds == cv2.GC_FGD).any() or not (seeds == cv2.GC_BGD).any():
        raise ValueError("the saliency map is (almost) constant: no foreground or background seeds; check the map")
    cv2.setRNGSeed(seed)
    mask = seeds.copy()
    # no rectangle with GC_INIT_WITH_MASK (OpenCV's stubs want one anyway)
    cv2.grabCut(img, mask, None, np.zeros((1, 65)), np.zeros((1, 65)), steps, cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]
    return np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)), seeds

r"""The one optimisation loop of every image-synthesis method, and what it optimises.

Class and unit visualization, DeepDream, feature inversion, texture synthesis and style transfer
all change an *image* by gradient steps on an objective computed by a frozen network. What differs
is only (Lucent's ``render_vis`` has the same split):

- the **parameterisation** — :class:`Pixels` (the image itself, in normalised or in [0, 1] pixel
  units) or :class:`Fourier` (a 1/f-scaled spectrum through decorrelated colours, Olah et al. 2017);
- the **objective** — a function of the image to a scalar loss (to *minimise*: ascent methods
  return minus their score), or a dict of named loss terms whose sum is minimised;
- the **optimizer** — :class:`NormalizedGradient` (CS231n's and DeepDream's normalised steps),
  Adam or L-BFGS;
- the **priors** applied to the image after each step (:func:`image_priors`: decay, clamping, blur,
  clipping; Yosinski et al. 2015);
- the **schedule** (:class:`~cnnviz_helpers.core.options.Schedule`): steps, learning rate, seed
  and the one callback rule — ``callback(step, image) -> stop?`` every ``callback_every`` steps and
  after the last one; ``True`` stops the run and the image so far is returned.

:func:`optimize` is that loop. Each method module states its objective and priors and calls it.

Example:
    >>> image = Pixels(torch.randn(1, 3, 64, 64))
    >>> optimize(image, lambda x: -net(x)[0, 3], NormalizedGradient([image.variable], lr=2.0), Schedule(steps=20))
    >>> image.snapshot()                       # the image, detached
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Literal, Protocol, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from .images import conv_layout, from_pixels
from .layers import Hooks
from .options import ImagePriors, Schedule
from .regularizers import blur_every, clip_small_contribution, clip_small_norm, l2_decay, pixel_range

#: An objective: the image (normalised ``[N, 3, H, W]``) → a scalar loss to minimise, or named terms to sum.
Objective = Callable[[torch.Tensor], Union[torch.Tensor, dict[str, torch.Tensor]]]

# Lucid's colour decorrelation: square root of the ImageNet colour covariance (columns are the
# principal colour directions), scaled so that its largest column has norm 1.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class ImageParameterization(Protocol):
    """What :func:`optimize` changes: ``variable`` (the leaf tensor) and the ``image()`` it makes."""

    variable: torch.Tensor

    def image(self) -> torch.Tensor: ...


class Pixels:
    """The image is its own variable: normalised values, or pixels in [0, 1] when ``mean``/``std`` are given.

    Args:
        x: the start image ``[N, 3, H, W]`` (copied).
        mean, std: when given, ``x`` holds pixels in [0, 1] and :meth:`image` normalises them
            (feature inversion optimises and clips pixels; the others optimise normalised values).
        channels_last: keep the variable in the fastest convolution layout
            (:func:`~cnnviz_helpers.core.images.conv_layout`); ``False`` keeps the ordinary layout
            (the Gram matrices of style transfer multiply flattened feature maps, faster that way).
    """

    def __init__(self, x: torch.Tensor, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 *, channels_last: bool = True) -> None:  # fmt: skip
        x = x.detach().clone(memory_format=torch.contiguous_format)
        self.variable = (conv_layout(x) if channels_last else x).requires_grad_(True)
        self.norm = None if mean is None or std is None else (tuple(mean), tuple(std))

    def image(self) -> torch.Tensor:
        """The normalised image (differentiable)."""
        return self.variable if self.norm is None else from_pixels(self.variable, *self.norm)

    def snapshot(self) -> torch.Tensor:
        """The current normalised image, detached, in the ordinary memory layout."""
        return snapshot(self)


class Fourier:
    """Lucid's image: a 1/f-scaled Fourier spectrum → decorrelated colours → sigmoid (Olah et al. 2017).

    Every pixel depends on every variable, so pixel-space priors (blur, clipping) do not apply; the
    1/f scaling makes low frequencies as easy to change as high ones, which acts as a smoothness prior.

    Args:
        size: side of the square image.
        mean, std: the model's normalisation (the sigmoid gives pixels in [0, 1]).
        device: where the spectrum lives.
        generator: draws the start spectrum.
        noise: small random start (else all zeros: a grey image).
    """

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float], device: torch.device,
                 generator: torch.Generator | None, noise: bool = True) -> None:  # fmt: skip
        fy, fx = torch.fft.fftfreq(size), torch.fft.rfftfreq(size)
        freqs = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt()
        self.scale = (1.0 / freqs.clamp_min(1.0 / size)).to(device)[None, None, :, :, None]
        shape = (1, 3, size, size // 2 + 1, 2)
        spectrum = torch.randn(shape, generator=generator) * 0.01 if noise else torch.zeros(shape)
        self.variable = spectrum.to(device).requires_grad_(True)
        self.size = size
        self.color = COLOR_SQRT.to(device)
        self.mean = torch.as_tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = torch.as_tensor(std, device=device).view(1, -1, 1, 1)

    def image(self) -> torch.Tensor:
        """The normalised image (differentiable)."""
        spectrum = torch.view_as_complex(self.variable * self.scale)
        spatial = torch.fft.irfftn(spectrum, s=(self.size, self.size), norm="ortho") / 4  # Lucid's constant
        rgb = torch.sigmoid(torch.einsum("nchw,dc->ndhw", spatial, self.color))
        return (rgb - self.mean) / self.std

    def snapshot(self) -> torch.Tensor:
        """The current normalised image, detached, in the ordinary memory layout."""
        return snapshot(self)


def snapshot(param: ImageParameterization) -> torch.Tensor:
    """``param``'s current image, detached, in the ordinary memory layout."""
    with torch.no_grad():
        return param.image().detach().clone(memory_format=torch.contiguous_format)


def start_image(
    init: Literal["noise", "zeros"] | torch.Tensor, size: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """A normalised ``[1, 3, size, size]`` start: standard normal noise (CS231n), zeros (the mean colour) or ``init``."""
    if isinstance(init, torch.Tensor):
        if init.shape != (1, 3, size, size):
            raise ValueError(f"init must be a normalised [1, 3, {size}, {size}] tensor, got {tuple(init.shape)}")
        return init.detach().to(device)
    if init == "noise":
        return torch.randn(1, 3, size, size, generator=generator).to(device)
    if init == "zeros":
        return torch.zeros(1, 3, size, size, device=device)
    raise ValueError(f"init must be 'noise', 'zeros' or a tensor, got {init!r}")


class NormalizedGradient(torch.optim.Optimizer):
    r"""Steps of fixed length along the normalised gradient: :math:`x \leftarrow x - \text{lr}\; s \odot g / \lVert g\rVert`.

    ``norm="l2"``: divide by the L2 norm of the whole gradient, so ``lr`` is the L2 length of the
    step (CS231n's class visualization). ``norm="mean_abs"``: divide each image's gradient by its
    mean absolute value, so ``lr`` is the mean change per value (DeepDream). ``scale`` (broadcast
    onto the gradient, e.g. ``1 / std`` per channel) turns a step in pixel units into normalised units.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        norm: Literal["l2", "mean_abs"] = "l2",
        scale: torch.Tensor | None = None,
    ) -> None:
        if norm not in ("l2", "mean_abs"):
            raise ValueError(f"norm must be 'l2' or 'mean_abs', got {norm!r}")
        super().__init__(params, {"lr": lr})
        self.norm, self.scale = norm, scale

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step (the closure, if given, computes the loss and its gradient first)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if self.norm == "l2":
                    size = g.norm().clamp_min(1e-12)
                else:
                    size = g.abs().mean(dim=tuple(range(1, g.ndim)), keepdim=True).clamp_min(1e-12)
                p.addcdiv_(g if self.scale is None else g * self.scale, size, value=-group["lr"])
        return loss


#: A prior applied after each step: ``prior(variable, step, grad)`` changes ``variable`` in place.
Prior = Callable[[torch.Tensor, int, torch.Tensor], None]


def image_priors(priors: ImagePriors, mean: Sequence[float], std: Sequence[float], blur_default: int = 0) -> Prior:
    """The pixel priors of gradient-ascent synthesis, in CS231n / Yosinski order, as one :data:`Prior`.

    After each step: L2 decay, clamp to the valid pixel range, blur (every ``blur_every`` steps,
    counted from 0; ``None`` → ``blur_default``), clip small-norm pixels, clip small-contribution
    pixels (this one uses the step's gradient).
    """
    every = blur_default if priors.blur_every is None else priors.blur_every

    def apply(x: torch.Tensor, step: int, grad: torch.Tensor) -> None:
        lo, hi = pixel_range(mean, std, x)
        y = l2_decay(x, priors.decay).clamp_(lo, hi)
        y = blur_every(y, step, every, priors.blur_sigma)
        y = clip_small_norm(y, priors.clip_norm)
        y = clip_small_contribution(y, grad, priors.clip_contribution)
        if y is not x:
            x.copy_(y)

    return apply


def clamp_prior(lo: torch.Tensor | float, hi: torch.Tensor | float, until: int | None = None) -> Prior:
    """Clamp the variable to ``[lo, hi]`` after each step (only after steps ``< until - 1`` when ``until`` is given)."""

    def apply(x: torch.Tensor, step: int, _grad: torch.Tensor) -> None:
        if until is None or step + 1 < until:
            x.clamp_(lo, hi)  # type: ignore[arg-type]

    return apply


def cosine_lr(lr: float, steps: int) -> Callable[[int], float]:
    """Cosine decay from ``lr`` to 0 over ``steps`` steps (``CosineAnnealingLR``): the learning rate of step ``t``."""
    return lambda t: lr * (1 + math.cos(math.pi * t / max(steps, 1))) / 2


def optimize(
    param: ImageParameterization,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    *,
    prior: Prior | None = None,
    lr_at: Callable[[int], float] | None = None,
    context: AbstractContextManager[Any] | None = None,
    steps: range | None = None,
    record: dict[str, list[float]] | None = None,
    observe: Callable[[int], None] | None = None,
    desc: str = "synthesis",
) -> bool:
    """The synthesis loop: minimise ``objective(param.image())`` for the steps of ``schedule``.

    Each step: set the learning rate (``lr_at(t)``), let ``optimizer`` take a step on the loss
    (a closure, so L-BFGS works too), apply ``prior`` to the variable, call ``observe(t)``, then the
    schedule's callback rule (:meth:`~cnnviz_helpers.core.options.Schedule.stop`) with the step
    count and the current normalised image; ``True`` ends the loop.

    Args:
        param: the image parameterisation (:class:`Pixels`, :class:`Fourier`).
        objective: image → scalar loss, or ``{name: term}`` (the sum is minimised).
        optimizer: optimises ``param.variable``.
        schedule: steps, progress bar and callback (``lr`` and ``seed`` are the caller's business).
        prior: applied in place, without gradient, after each step.
        lr_at: the learning rate of step ``t`` (counted from 0).
        context: entered around the loop (e.g. :class:`~cnnviz_helpers.core.layers.Hooks` or ``capture``).
        steps: which of the schedule's steps to run (default all; DeepDream runs one range per
            octave, so the callback counts steps across octaves).
        record: when given, the value of every term (and ``"total"``) at the start of each step is appended.
        observe: called after each step with its index (snapshots).
        desc: the progress bar's label.

    Returns:
        ``True`` when the callback stopped the run (the image so far is ``param``'s), else ``False``.
    """
    steps = range(schedule.steps) if steps is None else steps
    variable = param.variable
    first: dict[str, float] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=False)
        with torch.enable_grad():
            value = objective(param.image())
            total = torch.stack(list(value.values())).sum() if isinstance(value, dict) else value
            total.backward()
        if record is not None and not first:  # the first evaluation of a step: the loss of the current image
            terms = value if isinstance(value, dict) else {}
            first.update({k: float(v.detach()) for k, v in terms.items()}, total=float(total.detach()))
        return total

    bar = tqdm(steps, desc=desc, disable=not schedule.progress, leave=False)
    with context or nullcontext(), bar:
        for t in bar:
            if lr_at is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(t)
            first.clear()
            optimizer.step(closure)  # type: ignore[arg-type]
            if prior is not None:
                with torch.no_grad():
                    prior(variable, t, variable.grad if variable.grad is not None else torch.zeros_like(variable))
            if record is not None:
                for k, v in first.items():
                    record.setdefault(k, []).append(v)
                bar.set_postfix(loss=f"{first['total']:.3g}")
            if observe is not None:
                observe(t)
            if schedule.stop(t + 1, lambda: snapshot(param)):
                return True
    return False


@torch.no_grad()
def stage_layers(net: nn.Module, size: int = 224) -> list[str]:
    """The last layer of each resolution stage of a plain CNN: default layers for texture and style losses.

    Runs one ``[1, 3, size, size]`` zero image and records every leaf module's output in execution
    order; wherever the spatial size drops, the last non-pooling layer before the drop ends a stage
    (VGG-16 gives relu1_2, relu2_2, relu3_3, relu4_3, relu5_3). The model is left as it was.

    Raises:
        ValueError: the network has no 4-D (convolutional) outputs.
    """
    seen: list[tuple[str, tuple[int, ...]]] = []
    leaves = [(n, m) for n, m in net.named_modules() if n and not list(m.children())]
    device = next(net.parameters(), torch.empty(0)).device

    def record(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _inputs: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor):
                seen.append((name, tuple(out.shape)))

        return hook

    with Hooks(net) as hooks:
        for name, module in leaves:
            if not isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                hooks.forward(module, record(name))
        net(torch.zeros(1, 3, size, size, device=device))
    maps = [(n, s[-2:]) for n, s in seen if len(s) == 4]
    if not maps:
        raise ValueError(f"{type(net).__name__} has no convolutional (4-D) outputs: pass the layers to use")
    stages = [n for (n, hw), (_, nxt) in zip(maps, maps[1:]) if nxt != hw]
    last = maps[-1][0]
    return list(dict.fromkeys([*stages, last]))

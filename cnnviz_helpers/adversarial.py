"""Fooling images and adversarial examples (lecture section 7).

Three ways to change an image as little as possible so that a network changes its mind:

- :func:`fooling_image` — the CS231n "fooling image": normalised gradient-ascent steps on the
  target class score until the network's top class *is* the target (Szegedy et al. 2014).
- :func:`fgsm` — the Fast Gradient Sign Method: one step of size ε along the sign of the loss
  gradient (Goodfellow et al. 2015).
- :func:`pgd` — Projected Gradient Descent in the L∞ ball: many small sign steps, each followed
  by a projection back into the ε-ball (Madry et al. 2018).

Conventions shared by the three functions:

- They take the model — a :class:`~cnnviz_helpers.KitModel` (its ``mean``/``std`` and class names
  are then used) or any classifier ``nn.Module`` (ImageNet normalisation; wrap it with
  :meth:`~cnnviz_helpers.KitModel.wrap` for another) — and a *normalised* batch ``x`` (what
  ``km.preprocess`` returns), and return a normalised batch of the same shape, ready for
  ``km.predict`` and ``km.deprocess``.
- The iterative ones take a :class:`~cnnviz_helpers.core.options.Schedule` (or its fields as
  keywords): ``steps``, ``seed``, ``progress`` and the kit's one callback rule,
  ``callback(step, image) -> stop?`` every ``callback_every`` steps and after the last one.
- Sizes are in **pixel units on the [0, 1] scale** (ε = 8/255 means "8 grey levels out of 255").
  The attack works on the pixel image ``p = x * std + mean``, so a pixel ε becomes ``ε / std_c``
  in channel ``c`` of the normalised input.
- Every result is a valid picture: pixels stay inside [0, 1].
- The model is used through :class:`cnnviz_helpers.Hooks`: eval mode and frozen parameters during
  the attack, everything restored afterwards (also on errors).

Example:
    >>> km = load_model()
    >>> x = km.preprocess(km.examples[0].image)
    >>> x_adv = pgd(km, x, eps=4 / 255)
    >>> perturbation_size(x, x_adv, km.std)      # (L∞, L2) per image, pixel units in [0, 1]
    >>> km.predict(x_adv)[0]                     # the new top-5
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import trange

from .core.config import seeded_generator
from .core.images import IMAGENET_STD, channel_view, from_pixels, to_pixels
from .core.layers import Hooks
from .core.options import Schedule
from .models.targets import ModelLike, Target, class_targets, model_device, resolve_target, unwrap

Labels = Target
"""One class for the whole batch or one per image: indices, or names when the model is a KitModel."""

FOOLING = Schedule(steps=100)  # give up after 100 steps
PGD = Schedule(steps=10)


def _normalised(p: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The normalised, detached image of pixels ``p`` (what a callback sees)."""
    return from_pixels(p, mean, std).detach()


def _schedule(method: str, schedule: Schedule | None, options: dict[str, Any], default: Schedule) -> Schedule:
    """The schedule of an attack, whose step length is ``step_size`` (in pixel units), not ``lr``."""
    schedule = Schedule.resolve(schedule, options, default)
    if schedule.lr is not None:
        raise TypeError(f"{method}'s step length is step_size= (pixel units), not lr=")
    if schedule.steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {schedule.steps}")
    return schedule


def perturbation_size(
    x: torch.Tensor, x_adv: torch.Tensor, std: Sequence[float] = IMAGENET_STD
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""How big a perturbation is, in pixel units on the [0, 1] scale.

    With :math:`\delta = (x_{adv} - x)\cdot\sigma` (the change of the pixel image), returns
    :math:`\|\delta\|_\infty` and :math:`\|\delta\|_2` for each image. Multiply by 255 for grey levels.

    Args:
        x, x_adv: normalised batches ``[N, 3, H, W]`` (before and after).
        std: the normalisation's standard deviations (``km.std``).

    Returns:
        ``(linf, l2)``, two ``[N]`` tensors.

    Example:
        >>> linf, l2 = perturbation_size(x, x_adv, km.std)
        >>> print(f"L∞ = {255 * linf[0]:.1f}/255, L2 = {l2[0]:.2f}")
    """
    delta = ((x_adv - x) * channel_view(std, x)).flatten(1)
    return delta.abs().amax(1), delta.norm(dim=1)


def fooling_image(
    model: ModelLike,
    x: torch.Tensor,
    target: Labels,
    *,
    step_size: float = 0.25,
    schedule: Schedule | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""Change ``x`` until the model classifies it as ``target`` (the CS231n fooling image).

    Gradient *ascent* on the target's raw score :math:`s_t`, with steps of fixed length in the
    pixel image :math:`p`:

    .. math::
        p \leftarrow \operatorname{clip}_{[0,1]}\Big(p + \eta\,\frac{\nabla_p s_t}{\|\nabla_p s_t\|_2}\Big)

    repeated until :math:`\arg\max_k s_k = t` (each image of the batch stops on its own). The
    change this needs is usually invisible: look at the magnified difference ``x_fool - x``.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or a classifier ``nn.Module`` (left exactly as it was).
        x: normalised images ``[N, 3, H, W]`` (``km.preprocess``), pixels in [0, 1].
        target: the class to reach — one for all images or one per image; index or (KitModel) name.
        step_size: :math:`\eta`, the L2 length of one step in pixel units ([0, 1] scale; the
            CS231n step of 1 in normalised ImageNet units is about 0.23 pixel units).
        schedule: :class:`~cnnviz_helpers.core.options.Schedule` (default :data:`FOOLING`), or its
            fields as keywords: ``steps`` (give up after this many, with a warning; 100),
            ``callback`` (``callback(step, image) -> stop?`` every ``callback_every`` steps and
            after the last step taken, ``image`` the current normalised batch; ``True`` stops early
            and returns the images so far), ``callback_every``, ``progress``.

    Returns:
        The fooled images, normalised like ``x``.

    Warns:
        UserWarning: when some image is still not classified as ``target`` after ``steps`` (not when stopped by the callback);
            it says how many of them got no gradient at all (the target's score held at 0 by a final ReLU).

    Example:
        >>> x = km.preprocess(km.examples[0].image)
        >>> x_fool = fooling_image(km, x, km.class_names[3])
        >>> km.predict(x_fool)[0][0]                    # (class_names[3], ...)
        >>> km.deprocess(x_fool - x, rescale=True)      # the magnified difference
    """
    schedule = _schedule("fooling_image", schedule, options, FOOLING)
    steps = schedule.steps
    target = resolve_target(model, target)
    net, mean, std = unwrap(model)
    x = x.detach().to(model_device(net))
    p = to_pixels(x, mean, std).clamp(0, 1)
    stopped = False
    flat = torch.zeros(len(x), dtype=torch.bool, device=p.device)  # images whose last gradient was exactly 0
    with Hooks(net):
        bar = trange(steps + 1, desc="fooling", disable=not schedule.progress, leave=False)
        for step in bar:
            p.requires_grad_(True)
            scores = net(from_pixels(p, mean, std))
            if step == 0:
                y = class_targets(scores, target)
            todo = scores.argmax(1) != y
            bar.set_postfix(fooled=f"{len(x) - int(todo.sum())}/{len(x)}")
            if not todo.any() or step == steps:
                if step and schedule.callback is not None and not schedule.report(step):  # the last step taken
                    schedule.callback(step, from_pixels(p, mean, std).detach())
                break
            (grad,) = torch.autograd.grad(scores.gather(1, y[:, None]).sum(), p)
            norm = grad.flatten(1).norm(dim=1)
            flat = todo & (norm == 0)
            p = (p.detach() + step_size * todo.view(-1, 1, 1, 1) * grad / norm.clamp_min(1e-12).view(-1, 1, 1, 1)).clamp(0, 1)
            if schedule.stop(step + 1, partial(_normalised, p, mean, std)):
                stopped = True
                break
        bar.close()
    if todo.any() and not stopped:
        stuck = (
            f" ({int(flat.sum())} of them with no gradient at all: the target's score is held at 0 there, e.g. by "
            "SqueezeNet's final ReLU, so more steps cannot help; pick another target)"
            if flat.any()
            else ""
        )
        warnings.warn(
            f"{int(todo.sum())} of {len(x)} images are not classified as the target after {steps} steps; "
            f"increase steps or step_size{stuck}",
            stacklevel=2,  # the caller of fooling_image
        )
    return from_pixels(p, mean, std).detach()


def pgd(
    model: ModelLike,
    x: torch.Tensor,
    label: Labels | None = None,
    *,
    target: Labels | None = None,
    eps: float = 4 / 255,
    step_size: float | None = None,
    random_start: bool = True,
    schedule: Schedule | None = None,
    **options: Any,
) -> torch.Tensor:
    r"""Projected Gradient Descent in the L∞ ball of radius ``eps`` (Madry et al. 2018).

    Untargeted (the default) it *increases* the cross-entropy :math:`L(p, y)` of the true label
    :math:`y`; with ``target`` it *decreases* :math:`L(p, t)`. On the pixel image :math:`p`:

    .. math::
        p^{k+1} = \Pi_{[0,1]}\,\Pi_{\|p - p^0\|_\infty \le \varepsilon}
        \Big(p^k \pm \alpha\,\operatorname{sign}\nabla_p L(p^k)\Big)

    starting from :math:`p^0` plus uniform noise in :math:`[-\varepsilon, \varepsilon]` when
    ``random_start``. With ``steps=1, step_size=eps, random_start=False`` this is exactly
    :func:`fgsm`.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or a classifier ``nn.Module`` (left exactly as it was).
        x: normalised images ``[N, 3, H, W]`` (``km.preprocess``), pixels in [0, 1].
        label: the true class(es) for an untargeted attack; default: the model's own prediction
            on ``x`` (which avoids "label leaking").
        target: a class (or one per image) to push the images into — a targeted attack. Give
            either ``label`` or ``target``, not both. Indices, or names with a KitModel.
        eps: radius of the L∞ ball in pixel units on the [0, 1] scale (``8 / 255`` = 8 grey levels);
            in the normalised input it is ``eps / std_c`` per channel ``c``.
        step_size: :math:`\alpha` in pixel units; default ``2.5 * eps / steps`` (the rule of thumb of the Madry lab's
            ``robustness`` library; Madry et al. 2018 chose step sizes per dataset).
        random_start: start from a uniformly random point of the ball.
        schedule: :class:`~cnnviz_helpers.core.options.Schedule` (default :data:`PGD`), or its
            fields as keywords: ``steps`` (gradient steps, 10), ``seed`` (of the random start;
            ``None``: the global generator), ``callback`` (``callback(step, image) -> stop?`` every
            ``callback_every`` steps and after the last, ``image`` the current normalised batch;
            ``True`` stops early with the images so far), ``callback_every``, ``progress``.

    Returns:
        The adversarial images, normalised like ``x``; their pixels lie in [0, 1] and within
        ``eps`` of the pixels of ``x``.

    Example:
        >>> x_adv = pgd(km, x, eps=2 / 255, steps=20)
        >>> km.predict(x_adv)[0]                       # new top-5
        >>> perturbation_size(x, x_adv, km.std)[0]     # ≤ 2/255
    """
    schedule = _schedule("pgd", schedule, options, PGD)
    steps = schedule.steps
    if eps < 0:
        raise ValueError(f"eps is a radius in pixel units on the [0, 1] scale and must be ≥ 0, got {eps}")
    if label is not None and target is not None:
        raise ValueError("give either label (untargeted attack) or target (targeted attack), not both")
    label, target = resolve_target(model, label, "label"), resolve_target(model, target)
    net, mean, std = unwrap(model)
    alpha = 2.5 * eps / steps if step_size is None else step_size
    x = x.detach().to(model_device(net))
    p0 = to_pixels(x, mean, std).clamp(0, 1)
    p = p0
    if random_start:
        noise = torch.rand(p0.shape, generator=seeded_generator(schedule.seed), dtype=p0.dtype).to(p0.device)
        p = (p0 + (2 * noise - 1) * eps).clamp(0, 1)
    sign = -1.0 if target is not None else 1.0  # descend on L(p, target), ascend on L(p, label)
    with Hooks(net):
        for step in trange(steps, desc="PGD", disable=not schedule.progress, leave=False):
            p.requires_grad_(True)
            logits = net(from_pixels(p, mean, std))
            if step == 0:
                if target is not None or label is not None:
                    what, given = ("target", target) if target is not None else ("label", label)
                    y = class_targets(logits, given, what=what)
                else:
                    with torch.no_grad():
                        y = net(from_pixels(p0, mean, std)).argmax(1)
            (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), p)
            p = p.detach() + sign * alpha * grad.sign()
            p = torch.minimum(torch.maximum(p, p0 - eps), p0 + eps).clamp(0, 1)
            if schedule.stop(step + 1, partial(_normalised, p, mean, std)):
                break
    return from_pixels(p, mean, std).detach()


def fgsm(
    model: ModelLike,
    x: torch.Tensor,
    label: Labels | None = None,
    *,
    target: Labels | None = None,
    eps: float = 2 / 255,
) -> torch.Tensor:
    r"""The Fast Gradient Sign Method (Goodfellow et al. 2015): one step of size ``eps``.

    .. math::
        p_{adv} = \operatorname{clip}_{[0,1]}\big(p + \varepsilon\,\operatorname{sign}\nabla_p L(p, y)\big)
        \qquad\text{or, targeted,}\qquad
        p_{adv} = \operatorname{clip}_{[0,1]}\big(p - \varepsilon\,\operatorname{sign}\nabla_p L(p, t)\big)

    on the pixel image :math:`p = x\cdot\sigma + \mu`, with :math:`L` the cross-entropy. The step
    maximises the first-order change of the loss among all changes of L∞ size ε — the network is
    "too linear" to resist it. It is :func:`pgd` with one step of size ε and no random start.

    Args:
        model: a :class:`~cnnviz_helpers.KitModel` or a classifier ``nn.Module`` (left exactly as it was).
        x: normalised images ``[N, 3, H, W]`` (``km.preprocess``), pixels in [0, 1].
        label: true class(es) for an untargeted attack; default: the model's prediction on ``x``.
        target: class(es) for a targeted attack (instead of ``label``).
        eps: step size in pixel units on the [0, 1] scale (``2 / 255`` = 2 grey levels).

    Returns:
        The adversarial images, normalised like ``x``.

    Example:
        >>> x_adv = fgsm(km, x, eps=2 / 255)
        >>> km.predict(x)[0][0], km.predict(x_adv)[0][0]
    """
    return pgd(model, x, label, target=target, eps=eps, step_size=eps, random_start=False, steps=1, progress=False)

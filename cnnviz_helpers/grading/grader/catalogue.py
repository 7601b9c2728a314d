"""Every graded code exercise of the notebooks (the grader's, not shipped): its cases, the correct answer,
the kit code it must not call, and its catalogue of classic mistakes (each one named in the feedback
and tested).

An exercise's ``reference`` is the correct answer: the grader runs it in float64 on cases drawn at
grading time, and ``make_references`` on the *visible* cases it stores for the students' self-check
in ``grading/references/<key>.pt``. The wrong answers of the catalogue are real implementations of
the mistakes: the grader runs them on the same inputs and names the one a student's output equals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ...core.layers import capture
from ...core.regularizers import pixel_range
from ...occlusion import window_starts
from ..harness import signs_fixed, three_steps
from ..tiny import TINY_LAYERS
from .spec import Case, Exercise, Mistake

A, B = "<model:a>", "<model:b>"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=g, dtype=torch.float64)


def _rand(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=g, dtype=torch.float64)


def _normalised(g: torch.Generator, *shape: int) -> torch.Tensor:
    """Random pixels in [0, 1] normalised with ImageNet's mean and std (what a model receives)."""
    m, s = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1), torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    return (_rand(g, *shape) - m) / s


def _targets(g: torch.Generator, n: int, classes: int) -> torch.Tensor:
    return torch.randint(classes, (n,), generator=g)


# ---------------------------------------------------------------------------------------- 00, 01


def ref_activation_shapes(model, layers, x):
    with capture(model, layers, detach=True) as acts:
        acts.run(x)
    return {name: tuple(acts[name].shape) for name in layers}


def _shapes_without_batch(model, layers, x):
    with capture(model, layers, detach=True) as acts:
        acts.run(x)
    return {name: tuple(acts[name].shape[1:]) for name in layers}


def _shapes_hook_left(model, layers, x):
    saved = {}
    for name in layers:
        dict(model.named_modules())[name].register_forward_hook(lambda m, i, o, name=name: saved.update({name: tuple(o.shape)}))
    model(x)
    return {name: saved[name] for name in layers}


def ref_filter_images(weight):
    w = weight.detach().cpu()
    w = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)
    flat = w.flatten(1)
    shape = (-1,) + (1,) * (w.ndim - 1)
    lo, hi = flat.min(1).values.view(shape), flat.max(1).values.view(shape)
    return ((w - lo) / (hi - lo).clamp_min(1e-12)).numpy()


def _filters_global_minmax(weight):
    w = weight.detach().cpu()
    w = w.permute(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(1)
    return ((w - w.min()) / (w.max() - w.min())).numpy()


def _filters_channels_first(weight):
    w = weight.detach().cpu()
    w = w if w.shape[1] == 3 else w.mean(1)
    flat = w.flatten(1)
    shape = (-1,) + (1,) * (w.ndim - 1)
    lo, hi = flat.min(1).values.view(shape), flat.max(1).values.view(shape)
    return ((w - lo) / (hi - lo)).numpy()


def _filter_cases(g):
    ramp = lambda n: torch.linspace(0.1, 10, n, dtype=torch.float64).view(-1, 1, 1, 1)  # noqa: E731
    return [
        Case("8 RGB filters 5x5", (_randn(g, 8, 3, 5, 5) * ramp(8),)),
        Case("4 RGB filters 3x3", (_randn(g, 4, 3, 3, 3) * ramp(4),)),
        Case("6 filters on 2 input channels", (_randn(g, 6, 2, 4, 4) * ramp(6),), hidden=True),
        Case("5 RGB filters 7x7", (_randn(g, 5, 3, 7, 7) + 3,), hidden=True),
    ]


def ref_activation_maps(model, x, layer):
    with capture(model, layer, detach=True) as acts:
        acts.run(x)
    return acts[layer][0]


def _maps_with_batch(model, x, layer):
    with capture(model, layer, detach=True) as acts:
        acts.run(x)
    return acts[layer]


def _maps_hook_left(model, x, layer):
    saved = {}
    dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: saved.update(out=o))
    model(x)
    return saved["out"][0]


# ---------------------------------------------------------------------------------------- 02


def ref_nearest_neighbors(features, k):
    d = torch.cdist(features.double(), features.double())
    d.fill_diagonal_(float("inf"))
    return d.topk(k, dim=1, largest=False).indices


def _knn_self_included(features, k):
    return torch.cdist(features, features).topk(k, dim=1, largest=False).indices


def _knn_farthest(features, k):
    d = torch.cdist(features, features)
    return d.topk(k, dim=1, largest=True).indices


def ref_pca_2d(features):
    centred = features - features.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[:2].T


def _pca_not_centred(features):
    _, _, vh = torch.linalg.svd(features, full_matrices=False)
    return features @ vh[:2].T


def _pca_smallest(features):
    centred = features - features.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    return centred @ vh[-2:].flip(0).T


def _pca_cases(g):
    # features with a clear spectrum (distinct principal variances) and an offset mean
    def feats(n, d):
        return _randn(g, n, d) * torch.linspace(3, 0.2, d, dtype=torch.float64) + _randn(g, 1, d, scale=5)

    return [Case("30 points in 6-D", (feats(30, 6),)), Case("50 points in 16-D", (feats(50, 16),), hidden=True)]


# ---------------------------------------------------------------------------------------- 03


def ref_receptive_field(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, d in layers:
        size += d * (k - 1) * stride
        start -= p * stride
        stride *= s
    return size, stride, start


def _rf_stride_first(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, d in layers:
        stride *= s
        size += d * (k - 1) * stride
        start -= p * stride
    return size, stride, start


def _rf_no_dilation(layers):
    size, stride, start = 1, 1, 0
    for k, s, p, _ in layers:
        size += (k - 1) * stride
        start -= p * stride
        stride *= s
    return size, stride, start


def _rf_cases(g):
    def stack():
        n = int(torch.randint(2, 6, (1,), generator=g))
        out = []
        for _ in range(n):
            k = [1, 3, 5][int(torch.randint(3, (1,), generator=g))]
            s = int(torch.randint(1, 3, (1,), generator=g))
            d = [1, 1, 2][int(torch.randint(3, (1,), generator=g))]
            out.append((k, s, int(torch.randint(0, k // 2 + 1, (1,), generator=g)), d))
        return out

    fixed = [(3, 1, 1, 1), (3, 2, 1, 1), (3, 1, 1, 2), (3, 2, 0, 1)]
    return [Case("conv3 / conv3 s2 / dilated conv3 / conv3 s2", (fixed,))] + [
        Case(f"random stack {i}", (stack(),), hidden=i >= 4) for i in range(12)
    ]


def ref_top_images(model, x, layer, channel, k):
    with torch.no_grad(), capture(model, layer, detach=True) as acts:
        acts.run(x)
        a = acts[layer][:, channel].flatten(1).amax(1).cpu()
    order = a.sort(descending=True, stable=True).indices[:k]
    return a[order], order


def _top_mean(model, x, layer, channel, k):
    with torch.no_grad(), capture(model, layer, detach=True) as acts:
        acts.run(x)
        a = acts[layer][:, channel].flatten(1).mean(1).cpu()
    order = a.sort(descending=True, stable=True).indices[:k]
    return a[order], order


def _top_weakest(model, x, layer, channel, k):
    with torch.no_grad(), capture(model, layer, detach=True) as acts:
        acts.run(x)
        a = acts[layer][:, channel].flatten(1).amax(1).cpu()
    order = a.sort(stable=True).indices[:k]
    return a[order], order


# ---------------------------------------------------------------------------------------- 04


def ref_occlusion_drops(model, x, target, window, stride):
    H, W = x.shape[-2:]
    rows, cols = window_starts(H, window, stride), window_starts(W, window, stride)
    drops = torch.zeros(len(rows), len(cols), dtype=x.dtype)
    was_training = model.training
    with torch.no_grad():
        model.eval()
        clean = model(x)[0, target]
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                hidden = x.clone()
                hidden[..., r : r + window, c : c + window] = 0.0
                drops[i, j] = clean - model(hidden)[0, target]
    model.train(was_training)
    return drops


def _occlusion(model, x, target, window, stride, score, sign=1.0, eval_mode=True):
    H, W = x.shape[-2:]
    rows, cols = window_starts(H, window, stride), window_starts(W, window, stride)
    drops = torch.zeros(len(rows), len(cols), dtype=x.dtype)
    was_training = model.training
    with torch.no_grad():
        model.train(not eval_mode and was_training)
        clean = score(model(x))[0, target]
        for i, r in enumerate(rows):
            for j, c in enumerate(cols):
                hidden = x.clone()
                hidden[..., r : r + window, c : c + window] = 0.0
                drops[i, j] = sign * (clean - score(model(hidden))[0, target])
    model.train(was_training)
    return drops


def _occ_softmax(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s.softmax(1))


def _occ_flipped(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, sign=-1.0)


def _occ_train_mode(model, x, target, window, stride):
    return _occlusion(model, x, target, window, stride, lambda s: s, eval_mode=False)


def _occlusion_cases(g):
    return [
        Case("model a, 4x4 windows, stride 4", (A, _normalised(g, 1, 3, 12, 12), 2, 4, 4)),
        Case("model a, 5x5 windows, stride 3 (cut by the border)", (A, _normalised(g, 1, 3, 12, 12), 0, 5, 3), hidden=True),
        Case("model b, 3x3 windows, stride 2", (B, _normalised(g, 1, 3, 10, 14), 6, 3, 2), hidden=True),
    ]


def ref_occlusion_heatmap(drops, size, window, stride):
    starts = window_starts(size, window, stride)
    cover = torch.zeros(len(starts), size, dtype=drops.dtype)
    for i, s in enumerate(starts):
        cover[i, s : s + window] = 1
    return cover.T @ drops @ cover / (cover.sum(0)[:, None] * cover.sum(0)[None, :])


def _heatmap_sum(drops, size, window, stride):
    starts = window_starts(size, window, stride)
    cover = torch.zeros(len(starts), size, dtype=drops.dtype)
    for i, s in enumerate(starts):
        cover[i, s : s + window] = 1
    return cover.T @ drops @ cover


def _heatmap_last_wins(drops, size, window, stride):
    starts = window_starts(size, window, stride)
    heat = torch.zeros(size, size, dtype=drops.dtype)
    for i, r in enumerate(starts):
        for j, c in enumerate(starts):
            heat[r : r + window, c : c + window] = drops[i, j]
    return heat


def _heatmap_cases(g):
    def case(label, size, window, stride, hidden=False):
        n = len(window_starts(size, window, stride))
        return Case(label, (_randn(g, n, n), size, window, stride), hidden)

    return [
        case("12 px, 4x4 windows, stride 4 (no overlap)", 12, 4, 4),
        case("12 px, 5x5 windows, stride 3 (overlapping, cut)", 12, 5, 3),
        case("13 px, 6x6 windows, stride 2", 13, 6, 2, hidden=True),
    ]


# ---------------------------------------------------------------------------------------- 05


def ref_saliency_map(model, x, target):
    x = x.detach().clone().requires_grad_(True)
    scores = model(x).gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(scores, x)
    return grad.abs().amax(dim=1)


def _input_grad(model, x, target, score=lambda s: s):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(score(model(x)).gather(1, target.view(-1, 1)).sum(), x)
    return grad


def _sal_softmax(model, x, target):
    return _input_grad(model, x, target, lambda s: s.softmax(1)).abs().amax(dim=1)


def _sal_no_abs(model, x, target):
    return _input_grad(model, x, target).amax(dim=1)


def _sal_channel_mean(model, x, target):
    return _input_grad(model, x, target).abs().mean(dim=1)


def _sal_in_place(model, x, target):
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1)


def _saliency_cases(g):
    return [
        Case("model a, 3 images, one target each", (A, _normalised(g, 3, 3, 16, 16), _targets(g, 3, 5))),
        Case("model b, 2 non-square images", (B, _normalised(g, 2, 3, 20, 12), _targets(g, 2, 7)), hidden=True),
    ]


def ref_guided_relu_backward(grad_output, relu_input):
    return grad_output.clamp(min=0) * (relu_input > 0).to(grad_output.dtype)


def _guided_plain_relu(grad_output, relu_input):
    return grad_output * (relu_input > 0).to(grad_output.dtype)


def _guided_deconvnet(grad_output, relu_input):
    return grad_output.clamp(min=0)


# ---------------------------------------------------------------------------------------- 05b


def ref_grad_cam(acts, grads):
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * acts).sum(dim=1))


def _cam_no_relu(acts, grads):
    return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(dim=1)


def _cam_sum_weights(acts, grads):
    return F.relu((grads.sum(dim=(2, 3), keepdim=True) * acts).sum(dim=1))


def _cam_no_pooling(acts, grads):
    return F.relu((grads * acts).sum(dim=1))


def _cam_cases(g):
    return [
        Case("2 images, 6 channels, 5x5", (_randn(g, 2, 6, 5, 5).relu(), _randn(g, 2, 6, 5, 5))),
        Case("1 image, 4 channels, 3x7", (_randn(g, 1, 4, 3, 7).relu(), _randn(g, 1, 4, 3, 7)), hidden=True),
    ]


def ref_rank_correlation(a, b):
    ra = a.flatten(1).argsort(dim=1).argsort(dim=1).double()
    rb = b.flatten(1).argsort(dim=1).argsort(dim=1).double()
    ra, rb = ra - ra.mean(dim=1, keepdim=True), rb - rb.mean(dim=1, keepdim=True)
    return (ra * rb).sum(dim=1) / (ra.norm(dim=1) * rb.norm(dim=1))


def _pearson_values(a, b):
    va, vb = a.flatten(1).double(), b.flatten(1).double()
    va, vb = va - va.mean(1, keepdim=True), vb - vb.mean(1, keepdim=True)
    return (va * vb).sum(1) / (va.norm(dim=1) * vb.norm(dim=1))


def _rank_cases(g):
    a = _rand(g, 3, 16, 16)
    c = _rand(g, 2, 9, 7)
    return [
        Case("3 maps and noisy copies", (a, a + 0.5 * _rand(g, 3, 16, 16))),
        Case("3 maps and their exponential", (a, (4 * a).exp())),
        Case("2 maps against a cubed, reversed copy", (c, -(c**3) + 0.1 * _rand(g, 2, 9, 7)), hidden=True),
    ]


# ---------------------------------------------------------------------------------------- 06


def ref_class_visualization_step(model, img, target, l2_reg, lr, mean, std):
    img = img.detach().clone().requires_grad_(True)
    objective = model(img)[0, target] - l2_reg * img.pow(2).sum()
    (grad,) = torch.autograd.grad(objective, img)
    lo, hi = pixel_range(mean, std, img)
    return (img + lr * grad / grad.norm()).detach().clamp(lo, hi)


def _cv_step(model, img, target, l2_reg, lr, mean, std, sign=1.0, l2_sign=-1.0, clamp=True, normalise=True, clone=True):
    img = img.detach().clone().requires_grad_(True) if clone else img.requires_grad_(True)
    objective = model(img)[0, target] + l2_sign * l2_reg * img.pow(2).sum()
    (grad,) = torch.autograd.grad(objective, img)
    step = lr * grad / (grad.norm() if normalise else 1.0)
    out = (img + sign * step).detach()
    return out.clamp(*pixel_range(mean, std, img)) if clamp else out


def _cv_descent(*a):
    return _cv_step(*a, sign=-1.0)


def _cv_no_l2(*a):
    return _cv_step(*a, l2_sign=0.0)


def _cv_l2_sign(*a):
    return _cv_step(*a, l2_sign=1.0)


def _cv_no_clamp(*a):
    return _cv_step(*a, clamp=False)


def _cv_unnormalised(*a):
    return _cv_step(*a, normalise=False)


def _cv_in_place(*a):
    return _cv_step(*a, clone=False)


def _cv_cases(g):
    return [
        Case("model a, class 1", (A, _randn(g, 1, 3, 16, 16, scale=1.5), 1, 0.05, 3.0, MEAN, STD)),
        Case("model a, class 4, weak L2", (A, _randn(g, 1, 3, 16, 16, scale=1.5), 4, 0.01, 5.0, MEAN, STD)),
        Case("model b, class 6", (B, _randn(g, 1, 3, 12, 18, scale=1.5), 6, 0.05, 2.0, MEAN, STD), hidden=True),
    ]


def ref_clip_small_norm(x, percentile):
    norms = x.norm(dim=1).flatten(1)
    threshold = torch.quantile(norms, percentile / 100, dim=1, keepdim=True)
    keep = (norms >= threshold).view(x.shape[0], 1, *x.shape[2:])
    return x * keep


def _clip_in_place(x, percentile):
    norms = x.norm(dim=1).flatten(1)
    threshold = torch.quantile(norms, percentile / 100, dim=1, keepdim=True)
    x[(norms < threshold).view(x.shape[0], *x.shape[2:]).unsqueeze(1).expand_as(x)] = 0
    return x


def _clip_channel_mean(x, percentile):
    score = x.mean(dim=1).flatten(1)
    threshold = torch.quantile(score, percentile / 100, dim=1, keepdim=True)
    return x * (score >= threshold).view(x.shape[0], 1, *x.shape[2:])


def _clip_one_threshold(x, percentile):
    norms = x.norm(dim=1)
    threshold = torch.quantile(norms.flatten(), percentile / 100)
    return x * (norms >= threshold).unsqueeze(1)


def _clip_cases(g):
    x = _randn(g, 2, 3, 16, 16) * torch.tensor([1.0, 3.0], dtype=torch.float64).view(2, 1, 1, 1)
    return [Case(f"2 images, percentile {p}", (x, p)) for p in (10, 50, 90)] + [
        Case("1 image 9x11, percentile 30", (_randn(g, 1, 3, 9, 11), 30), hidden=True)
    ]


# ---------------------------------------------------------------------------------------- 07


def _ms(x, mean, std):
    return (torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1), torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1))


def ref_fgsm(model, x, label, eps, mean, std):
    m, s = _ms(x, mean, std)
    p = (x * s + m).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model((p - m) / s), label), p)
    return ((p + eps * grad.sign()).clamp(0, 1) - m) / s


def _fgsm(model, x, label, eps, mean, std, sign=1.0, clamp=True, raw=False):
    m, s = _ms(x, mean, std)
    p = (x * s + m).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model((p - m) / s), label), p)
    p_adv = p + sign * eps * (grad if raw else grad.sign())
    return ((p_adv.clamp(0, 1) if clamp else p_adv) - m).detach() / s


def _fgsm_descent(*a):
    return _fgsm(*a, sign=-1.0)


def _fgsm_no_clamp(*a):
    return _fgsm(*a, clamp=False)


def _fgsm_raw(*a):
    return _fgsm(*a, raw=True)


def _fgsm_normalised(model, x, label, eps, mean, std):
    m, s = _ms(x, mean, std)
    xg = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(xg), label), xg)
    return ((((xg + eps * grad.sign()) * s + m).clamp(0, 1)) - m).detach() / s


def _fgsm_cases(g):
    return [
        Case("model a, ε = 8/255", (A, _normalised(g, 2, 3, 16, 16), _targets(g, 2, 5), 8 / 255, MEAN, STD)),
        Case("model a, ε = 1/255", (A, _normalised(g, 2, 3, 16, 16), _targets(g, 2, 5), 1 / 255, MEAN, STD)),
        Case("model b, ε = 4/255", (B, _normalised(g, 3, 3, 14, 10), _targets(g, 3, 7), 4 / 255, MEAN, STD), hidden=True),
    ]


def ref_project_linf(p, p0, eps):
    return torch.minimum(torch.maximum(p, p0 - eps), p0 + eps).clamp(0, 1)


def _project_no_box(p, p0, eps):
    return torch.minimum(torch.maximum(p, p0 - eps), p0 + eps)


def _project_wrong_centre(p, p0, eps):
    return p.clamp(-eps, eps).clamp(0, 1)


def _project_cases(g):
    p0 = _rand(g, 2, 3, 8, 8)
    q0 = _rand(g, 5, 7)
    return [
        Case("2 images, ε = 0.1", (p0 + _randn(g, 2, 3, 8, 8, scale=0.5), p0, 0.1)),
        Case("any shape, ε = 0.03", (q0 + _randn(g, 5, 7, scale=0.2), q0, 0.03), hidden=True),
    ]


def ref_mask_share(saliency, mask):
    return (saliency * mask).flatten(1).sum(1) / saliency.flatten(1).sum(1)


def _share_of_mask_area(saliency, mask):
    return (saliency * mask).flatten(1).sum(1) / mask.flatten(1).sum(1)


def _share_whole_batch(saliency, mask):
    return (saliency * mask).sum() / saliency.sum()


def _share_cases(g):
    def case(label, n, h, w, hidden=False):
        return Case(label, (_rand(g, n, h, w) ** 3, (_rand(g, n, h, w) > 0.6).to(torch.float64)), hidden)

    return [case("3 maps 8x8", 3, 8, 8), case("2 maps 5x7", 2, 5, 7, hidden=True)]


# ---------------------------------------------------------------------------------------- 08


def ref_deepdream_step(model, x, layer, lr, mean, std):
    x = x.detach().clone().requires_grad_(True)
    with capture(model, layer) as acts:
        acts.run(x)
        a = acts[layer]
        (g,) = torch.autograd.grad(a, x, grad_outputs=a.detach())
    step = lr / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    lo, hi = pixel_range(mean, std, x)
    return (x + step * g / g.abs().mean()).detach().clamp(lo, hi)


def _dream(model, x, layer, lr, mean, std, sign=1.0, clamp=True, per_channel=True):
    x = x.detach().clone().requires_grad_(True)
    with capture(model, layer) as acts:
        acts.run(x)
        a = acts[layer]
        (g,) = torch.autograd.grad(a, x, grad_outputs=a.detach())
    step = lr / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1) if per_channel else lr
    out = (x + sign * step * g / g.abs().mean()).detach()
    return out.clamp(*pixel_range(mean, std, x)) if clamp else out


def _dream_descent(*a):
    return _dream(*a, sign=-1.0)


def _dream_no_clamp(*a):
    return _dream(*a, clamp=False)


def _dream_no_std(*a):
    return _dream(*a, per_channel=False)


def _dream_cases(g):
    return [
        Case("model a, deep layer", (A, _normalised(g, 1, 3, 16, 16), TINY_LAYERS[1], 0.3, MEAN, STD)),
        Case("model a, shallow layer", (A, _normalised(g, 1, 3, 16, 16), TINY_LAYERS[0], 0.3, MEAN, STD)),
        Case("model b, deep layer", (B, _normalised(g, 1, 3, 12, 20), TINY_LAYERS[1], 0.5, MEAN, STD), hidden=True),
    ]


def ref_octave_sizes(height, width, octaves, scale, min_size):
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)]
    return [s for s in sizes if min(s) >= min_size][::-1]


def _octaves_largest_first(height, width, octaves, scale, min_size):
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)]
    return [s for s in sizes if min(s) >= min_size]


def _octaves_unfiltered(height, width, octaves, scale, min_size):
    return [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)][::-1]


def _octave_cases(g):
    def case(i):
        h, w = (int(v) for v in torch.randint(32, 600, (2,), generator=g))
        n = int(torch.randint(2, 7, (1,), generator=g))
        s = round(1.2 + 0.8 * float(torch.rand(1, generator=g, dtype=torch.float64)), 3)
        return Case(f"{h}x{w}, {n} octaves of {s}", (h, w, n, s, 24), hidden=i >= 6)

    return [Case("224x224, 4 octaves of 1.4", (224, 224, 4, 1.4, 32))] + [case(i) for i in range(20)]


# ---------------------------------------------------------------------------------------- 09


def ref_tv(x, beta=2.0, eps=1e-8):
    dv, dh = torch.zeros_like(x), torch.zeros_like(x)
    dv[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dh[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    squared = dv**2 + dh**2
    return squared.sum() if beta == 2 else (squared + eps).pow(beta / 2).sum()


def _tv_abs(x, beta=2.0, eps=1e-8):
    return (x[..., 1:, :] - x[..., :-1, :]).abs().sum() + (x[..., :, 1:] - x[..., :, :-1]).abs().sum()


def _tv_mean(x, beta=2.0, eps=1e-8):
    dv = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    dh = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    squared = dv**2 + dh**2
    return squared.mean() if beta == 2 else (squared + eps).pow(beta / 2).mean()


def _tv_cases(g):
    hand = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]], dtype=torch.float64)
    return [
        Case("random 2x3x9x7, β = 2", (_rand(g, 2, 3, 9, 7), 2.0)),
        Case("hand-made 2x2 image, β = 2", (hand, 2.0)),
        Case("random 2x3x9x7, β = 1.5", (_rand(g, 2, 3, 9, 7), 1.5)),
        Case("hand-made 2x2 image, β = 1", (hand, 1.0), hidden=True),
        Case("random 1x1x1x6 (one row), β = 2", (_rand(g, 1, 1, 1, 6), 2.0), hidden=True),
    ]


def ref_inversion_loss(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    return (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image) / (h * w)


def _inv_item(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    loss = (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image) / (h * w)
    return torch.tensor(loss.item())


def _inv_unnormalised(features, target, image, tv_weight):
    h, w = image.shape[-2:]
    return (features - target).pow(2).sum() + tv_weight * ref_tv(image) / (h * w)


def _inv_tv_not_per_pixel(features, target, image, tv_weight):
    return (features - target).pow(2).sum() / target.pow(2).sum() + tv_weight * ref_tv(image)


def _inv_no_tv(features, target, image, tv_weight):
    return (features - target).pow(2).sum() / target.pow(2).sum()


def _inversion_cases(g):
    def case(label, c, h, w, size, lam, hidden=False):
        return Case(label, (_randn(g, 1, c, h, w), _randn(g, 1, c, h, w).relu(), _rand(g, 1, 3, size, size), lam), hidden)

    return [
        case("8 channels 4x4, 16-px image, λ = 0.3", 8, 4, 4, 16, 0.3),
        case("16 channels 2x2, 12-px image, λ = 2", 16, 2, 2, 12, 2.0, True),
    ]


# ---------------------------------------------------------------------------------------- 10, 11


def ref_gram_matrix(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def _gram(features, divide):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / divide(c, h, w)


def _gram_hw(features):
    return _gram(features, lambda c, h, w: h * w)


def _gram_raw(features):
    return _gram(features, lambda c, h, w: 1)


def _gram_positions(features):
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f.transpose(1, 2) @ f / (c * h * w)


def _gram_cases(g):
    return [
        Case("1x3x4x5", (_randn(g, 1, 3, 4, 5),)),
        Case("2x8x7x3", (_randn(g, 2, 8, 7, 3),)),
        Case("3x16x1x9", (_randn(g, 3, 16, 1, 9),), hidden=True),
        Case("2x5x6x6, scaled by 7", (_randn(g, 2, 5, 6, 6, scale=7),), hidden=True),
    ]


def ref_style_loss(features, targets, weights):
    loss = torch.zeros((), dtype=features[0].dtype)
    for f, a, w in zip(features, targets, weights):
        loss = loss + w * (ref_gram_matrix(f) - a).pow(2).sum()
    return loss


def _style_unweighted(features, targets, weights):
    return sum((ref_gram_matrix(f) - a).pow(2).sum() for f, a in zip(features, targets))


def _style_norm(features, targets, weights):
    return sum(w * (ref_gram_matrix(f) - a).norm() for f, a, w in zip(features, targets, weights))


def _style_detached(features, targets, weights):
    return sum(w * (ref_gram_matrix(f.detach()) - a).pow(2).sum() for f, a, w in zip(features, targets, weights))


def _style_cases(g):
    f1, f2 = _randn(g, 1, 4, 6, 6), _randn(g, 1, 8, 3, 3)
    t1, t2 = ref_gram_matrix(_randn(g, 1, 4, 6, 6)), ref_gram_matrix(_randn(g, 1, 8, 3, 3))
    return [
        Case("two layers, weights 1 and 1", ([f1, f2], [t1, t2], [1.0, 1.0])),
        Case("two layers, weights 3e5 and 3", ([f1, f2], [t1, t2], [3e5, 3.0])),
        Case("one layer switched off", ([f1, f2], [t1, t2], [0.0, 2.5]), hidden=True),
        Case(
            "three layers",
            ([f1, f2, _randn(g, 2, 3, 5, 4)], [t1, t2, ref_gram_matrix(_randn(g, 2, 3, 5, 4))], [2.0, 0.5, 9.0]),
            hidden=True,
        ),
    ]


def ref_content_loss(current, target, weight):
    return weight * (current - target).pow(2).sum()


def _content_mean(current, target, weight):
    return weight * (current - target).pow(2).mean()


def _content_no_weight(current, target, weight):
    return (current - target).pow(2).sum()


def _content_abs(current, target, weight):
    return weight * (current - target).abs().sum()


def _content_detached(current, target, weight):
    return torch.tensor((weight * (current - target).pow(2).sum()).item())


def _content_cases(g):
    return [
        Case("1x8x5x5, weight 0.05", (_randn(g, 1, 8, 5, 5), _randn(g, 1, 8, 5, 5), 0.05)),
        Case("1x4x3x6, weight 3", (_randn(g, 1, 4, 3, 6), _randn(g, 1, 4, 3, 6), 3.0), hidden=True),
    ]


def ref_optimisation_step(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_no_zero_grad(img, optimizer, objective, lo, hi):
    loss = objective(img)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_no_clamp(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_ascent(img, optimizer, objective, lo, hi):
    optimizer.zero_grad()
    loss = objective(img)
    (-loss).backward()
    optimizer.step()
    with torch.no_grad():
        img.clamp_(lo, hi)
    return loss.item()


def _step_cases(g):
    def case(label, shape, lr, hidden=False):
        lo, hi = -torch.ones(1, 3, 1, 1, dtype=torch.float64), torch.ones(1, 3, 1, 1, dtype=torch.float64)
        return Case(label, (_randn(g, *shape, scale=0.5), _randn(g, *shape, scale=1.5), _rand(g, *shape), lr, lo, hi), hidden)

    return [case("1x3x6x6 image, lr 0.1", (1, 3, 6, 6), 0.1), case("1x3x4x9 image, lr 0.5", (1, 3, 4, 9), 0.5, hidden=True)]


# ---------------------------------------------------------------------------------------- 12


def ref_instance_norm(x, eps=1e-5):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps)


def _in_unbiased(x, eps=1e-5):
    return (x - x.mean(dim=(2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(2, 3), keepdim=True) + eps)


def _in_layer_norm(x, eps=1e-5):
    return (x - x.mean(dim=(1, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(1, 2, 3), keepdim=True, unbiased=False) + eps)


def _in_eps_outside(x, eps=1e-5):
    return (x - x.mean(dim=(2, 3), keepdim=True)) / (x.std(dim=(2, 3), keepdim=True, unbiased=False) + eps)


def _in_cases(g):
    return [
        Case("2x3x5x7", (_randn(g, 2, 3, 5, 7, scale=3) + 2, 1e-5)),
        Case("1x16x3x3, eps = 1", (_randn(g, 1, 16, 3, 3, scale=0.5), 1.0)),
        Case("4x8x2x12", (_randn(g, 4, 8, 2, 12, scale=5) - 7, 1e-5), hidden=True),
    ]


def ref_conditional_instance_norm(x, gamma_table, beta_table, style):
    gamma, beta = style @ gamma_table, style @ beta_table
    return ref_instance_norm(x) * gamma[None, :, None, None] + beta[None, :, None, None]


def _cin_no_beta(x, gamma_table, beta_table, style):
    return ref_instance_norm(x) * (style @ gamma_table)[None, :, None, None]


def _cin_mean_style(x, gamma_table, beta_table, style):
    return ref_instance_norm(x) * gamma_table.mean(0)[None, :, None, None] + beta_table.mean(0)[None, :, None, None]


def _cin_cases(g):
    def case(label, style, c=8, hidden=False):
        return Case(
            label,
            (
                _randn(g, 2, c, 6, 10, scale=2),
                1 + _randn(g, 3, c, scale=0.5),
                _randn(g, 3, c, scale=0.5),
                torch.tensor(style, dtype=torch.float64),
            ),
            hidden,
        )

    return [
        case("one-hot style 0", [1.0, 0.0, 0.0]),
        case("blend 0.2 / 0.5 / 0.3", [0.2, 0.5, 0.3]),
        case("blend 0.7 / 0.3 / 0, 5 channels", [0.7, 0.3, 0.0], c=5, hidden=True),
    ]


# ---------------------------------------------------------------------------------------- the catalogue

_INPLACE = "input modified in place"
_NOGRAD = ".item() / detached loss (no gradient)"


def _m(name: str, hint: str, answer: Callable[..., Any], detector: str = "value") -> Mistake:
    return Mistake(name, hint, answer, detector)  # type: ignore[arg-type]


_LIST: list[Exercise] = [
    Exercise(
        "00.1",
        "activation_shapes",
        "one `with capture(...)` block, run x, return {name: tuple(shape)}.",
        lambda g: [
            Case("model a, batch of 2", (A, [*TINY_LAYERS, "classifier"], _normalised(g, 2, 3, 12, 12))),
            Case("model b, batch of 3, 16x10", (B, [TINY_LAYERS[1], "pool"], _normalised(g, 3, 3, 16, 10)), hidden=True),
        ],
        ref_activation_shapes,
        exact=True,
        mistakes=(
            _m(
                "dropped the batch dimension",
                "Keep the whole shape, batch first: tuple(acts[name].shape).",
                _shapes_without_batch,
            ),
            _m(
                "a hook left on the model",
                "Use `with capture(...)`: it removes its hooks when the block ends.",
                _shapes_hook_left,
                "model",
            ),
        ),
    ),
    Exercise(
        "01.1",
        "my_filter_images",
        "min-max scale each filter on its own; RGB channels last, else average the input channels.",
        _filter_cases,
        ref_filter_images,
        kit=("cnnviz_helpers.filters:filter_images", "cnnviz_helpers.filters:first_layer_filters"),
        mistakes=(
            _m(
                "one min-max for all filters together",
                "Take min and max over each filter separately (flatten(1).min(1)).",
                _filters_global_minmax,
            ),
            _m("channels first", "imshow wants [out, kh, kw, 3]: permute(0, 2, 3, 1).", _filters_channels_first),
        ),
    ),
    Exercise(
        "01.2",
        "my_activation_maps",
        "capture(model, layer, detach=True), acts.run(x), return acts[layer][0].",
        lambda g: [
            Case("model a, first ReLU", (A, _normalised(g, 1, 3, 12, 12), TINY_LAYERS[0])),
            Case("model a, second ReLU", (A, _normalised(g, 1, 3, 12, 12), TINY_LAYERS[1])),
            Case("model b, second ReLU, 10x14", (B, _normalised(g, 1, 3, 10, 14), TINY_LAYERS[1]), hidden=True),
        ],
        ref_activation_maps,
        kit=("cnnviz_helpers.filters:activation_maps",),
        mistakes=(
            _m(
                "kept the batch dimension",
                "Return the maps of the single image: acts[layer][0], shape [C, h, w].",
                _maps_with_batch,
            ),
            _m(
                "a hook left on the model",
                "Use `with capture(...)`: it removes its hook when the block ends.",
                _maps_hook_left,
                "model",
            ),
        ),
    ),
    Exercise(
        "02.1",
        "my_nearest_neighbors",
        "torch.cdist, the diagonal set to inf, then topk(k, largest=False).indices.",
        lambda g: [
            Case("40 points in 8-D, k = 4", (_randn(g, 40, 8), 4)),
            Case("25 points in 128-D, k = 3", (_randn(g, 25, 128), 3), hidden=True),
            Case("10 points in 2-D, k = 1", (_randn(g, 10, 2), 1), hidden=True),
        ],
        ref_nearest_neighbors,
        kit=("cnnviz_helpers.last_layer:nearest_neighbors",),
        exact=True,
        mistakes=(
            _m(
                "each point counted as its own nearest neighbour",
                "Set the distance of every point to itself to inf first.",
                _knn_self_included,
            ),
            _m("farthest instead of nearest", "topk(k, largest=False): the smallest distances.", _knn_farthest),
        ),
    ),
    Exercise(
        "02.2",
        "my_pca_2d",
        "centre the features, torch.linalg.svd, project on the first two rows of Vh.",
        _pca_cases,
        ref_pca_2d,
        kit=("cnnviz_helpers.last_layer:embed_2d",),
        call=signs_fixed,
        mistakes=(
            _m(
                "features not centred", "Subtract the mean feature vector before the SVD and before projecting.", _pca_not_centred
            ),
            _m(
                "the two smallest principal directions",
                "torch.linalg.svd sorts singular values largest first: take Vh[:2].",
                _pca_smallest,
            ),
        ),
    ),
    Exercise(
        "03.1",
        "my_receptive_field",
        "for each (k, s, p, d): size += d*(k-1)*stride; start -= p*stride; stride *= s.",
        _rf_cases,
        ref_receptive_field,
        kit=("cnnviz_helpers.engines.receptive_field:receptive_field",),
        exact=True,
        mistakes=(
            _m(
                "stride updated before the size",
                "Grow size and start with the jump of the layers *before* this one, then multiply the stride.",
                _rf_stride_first,
            ),
            _m("dilation ignored", "A dilated kernel spans d*(k-1)+1 input pixels.", _rf_no_dilation),
        ),
    ),
    Exercise(
        "03.2",
        "my_top_images",
        "capture the layer, per-image max of the channel, a stable descending sort, the first k.",
        lambda g: [
            Case("model a, deep layer, channel 1, k = 4", (A, _normalised(g, 12, 3, 12, 12), TINY_LAYERS[1], 1, 4)),
            Case(
                "model b, shallow layer, channel 0, k = 5", (B, _normalised(g, 9, 3, 10, 10), TINY_LAYERS[0], 0, 5), hidden=True
            ),
        ],
        ref_top_images,
        kit=("cnnviz_helpers.patches:max_activating_patches",),
        mistakes=(
            _m(
                "mean activation instead of the maximum",
                "Rank images by their strongest response: amax over positions.",
                _top_mean,
            ),
            _m("weakest first", "Sort descending (descending=True), strongest first.", _top_weakest),
        ),
    ),
    Exercise(
        "04.1",
        "my_occlusion_drops",
        "model.eval(); the clean score; for every window a zeroed copy and clean - occluded score.",
        _occlusion_cases,
        ref_occlusion_drops,
        kit=("cnnviz_helpers.occlusion:occlusion_map",),
        train_mode=True,
        mistakes=(
            _m(
                "softmax probability instead of the raw score",
                "Use the logit model(x)[0, target], not a softmax of it.",
                _occ_softmax,
            ),
            _m(
                "occluded minus clean (sign flipped)",
                "A drop is score(x) - score(occluded): positive where hiding hurts.",
                _occ_flipped,
            ),
            _m(
                "forgetting eval mode",
                "Call model.eval() first: in train mode batch norm uses each batch's own statistics.",
                _occ_train_mode,
            ),
        ),
    ),
    Exercise(
        "04.2",
        "my_occlusion_heatmap",
        "for each pixel, the mean of the drops of all windows that cover it.",
        _heatmap_cases,
        ref_occlusion_heatmap,
        kit=("cnnviz_helpers.occlusion:occlusion_map",),
        mistakes=(
            _m("sum of the covering windows instead of their mean", "Divide by how many windows cover each pixel.", _heatmap_sum),
            _m(
                "each window painted over the previous ones",
                "Accumulate the drops and the counts, then divide: overlapping windows share a pixel.",
                _heatmap_last_wins,
            ),
        ),
    ),
    Exercise(
        "05.1",
        "my_saliency_map",
        "a detached copy of x with requires_grad, gather the targets' scores, autograd.grad, abs, max over channels.",
        _saliency_cases,
        ref_saliency_map,
        kit=(
            "cnnviz_helpers.saliency:saliency_map",
            "cnnviz_helpers.saliency:smoothgrad",
            "cnnviz_helpers.core.scores:input_gradient",
        ),
        mistakes=(
            _m(
                "softmax probability instead of the raw score",
                "Differentiate the unnormalised score s_y (the logit), not p_y.",
                _sal_softmax,
            ),
            _m(
                "missing abs",
                "Take the absolute value before the maximum: a strongly negative gradient matters too.",
                _sal_no_abs,
            ),
            _m("wrong channel reduction (mean)", "Reduce the colour channels with the maximum, amax(dim=1).", _sal_channel_mean),
            _m(
                _INPLACE,
                "Differentiate x.detach().clone().requires_grad_(True), never the caller's tensor.",
                _sal_in_place,
                "inplace",
            ),
        ),
    ),
    Exercise(
        "05.2",
        "guided_relu_backward",
        "keep the gradient where the ReLU input was > 0 AND the gradient is > 0.",
        lambda g: [
            Case("4x5", (_randn(g, 4, 5), _randn(g, 4, 5))),
            Case("2x3x6x6", (_randn(g, 2, 3, 6, 6), _randn(g, 2, 3, 6, 6)), hidden=True),
        ],
        ref_guided_relu_backward,
        kit=("cnnviz_helpers.guided_backprop:guided_backprop",),
        mistakes=(
            _m("plain ReLU backward", "Guided backprop also zeroes negative gradients: clamp(min=0).", _guided_plain_relu),
            _m(
                "deconvnet rule (forward mask ignored)",
                "Also zero the gradient where the ReLU's input was <= 0.",
                _guided_deconvnet,
            ),
        ),
    ),
    Exercise(
        "05b.1",
        "my_grad_cam",
        "alpha = grads averaged over h, w; ReLU of the alpha-weighted sum of the activation maps.",
        _cam_cases,
        ref_grad_cam,
        kit=("cnnviz_helpers.gradcam:grad_cam", "cnnviz_helpers.gradcam:guided_grad_cam"),
        mistakes=(
            _m("no ReLU", "Keep only the positive part: F.relu(...).", _cam_no_relu),
            _m("channel weights summed instead of averaged", "alpha_k is the *mean* gradient over positions.", _cam_sum_weights),
            _m(
                "gradient x activation without pooling the weights",
                "First average the gradient per channel, then weight the maps.",
                _cam_no_pooling,
            ),
        ),
    ),
    Exercise(
        "05b.2",
        "my_rank_correlation",
        "ranks with argsort().argsort(), centred, then their Pearson correlation per image.",
        _rank_cases,
        ref_rank_correlation,
        kit=("cnnviz_helpers.sanity:rank_correlation",),
        mistakes=(
            _m(
                "correlation of the values, not of their ranks",
                "Spearman correlates ranks: argsort().argsort() first.",
                _pearson_values,
            ),
        ),
    ),
    Exercise(
        "06.1",
        "class_visualization_step",
        "gradient of s_y - l2_reg*||img||^2, step lr*grad/grad.norm() UP, clamp with pixel_range.",
        _cv_cases,
        ref_class_visualization_step,
        kit=("cnnviz_helpers.class_visualization:class_visualization",),
        mistakes=(
            _m("gradient descent instead of ascent", "We maximise the score: add the step (img + lr * g / |g|).", _cv_descent),
            _m("L2 term missing", "The objective is s_y(I) - l2_reg * ||I||^2.", _cv_no_l2),
            _m("L2 term with the wrong sign", "Subtract the penalty: - l2_reg * img.pow(2).sum().", _cv_l2_sign),
            _m("no clamp", "Clamp to pixel_range(mean, std, img) after the step.", _cv_no_clamp),
            _m("gradient not normalised", "Step along grad / grad.norm(): the step length is lr.", _cv_unnormalised),
            _m(_INPLACE, "Start from img.detach().clone().requires_grad_(True).", _cv_in_place, "inplace"),
        ),
    ),
    Exercise(
        "06.2",
        "my_clip_small_norm",
        "per-pixel colour norms, torch.quantile per image at percentile/100, zero the pixels below.",
        _clip_cases,
        ref_clip_small_norm,
        kit=("cnnviz_helpers.core.regularizers:clip_small_norm",),
        mistakes=(
            _m(_INPLACE, "Return x * keep (a new tensor); never write into x.", _clip_in_place, "inplace"),
            _m(
                "wrong channel reduction (mean instead of the norm)",
                "The colour vector's length: x.norm(dim=1).",
                _clip_channel_mean,
            ),
            _m("one threshold for the whole batch", "torch.quantile(..., dim=1): one percentile per image.", _clip_one_threshold),
        ),
    ),
    Exercise(
        "07.1",
        "my_fgsm",
        "pixels p = x*std+mean with requires_grad; cross-entropy; p + eps*sign(grad), clip to [0, 1], normalise back.",
        _fgsm_cases,
        ref_fgsm,
        kit=("cnnviz_helpers.adversarial:fgsm", "cnnviz_helpers.adversarial:pgd"),
        mistakes=(
            _m(
                "gradient descent instead of ascent",
                "FGSM *increases* the loss of the true label: p + eps * sign(grad).",
                _fgsm_descent,
            ),
            _m("no clamp", "Clip the pixels to [0, 1] before normalising back.", _fgsm_no_clamp),
            _m("raw gradient instead of its sign", "Step eps * grad.sign(): every pixel moves by exactly eps.", _fgsm_raw),
            _m(
                "step taken in normalised units",
                "Take the gradient with respect to the pixels p, not the normalised x.",
                _fgsm_normalised,
            ),
        ),
    ),
    Exercise(
        "07.2",
        "project_linf",
        "clip p into [p0 - eps, p0 + eps], then into [0, 1].",
        _project_cases,
        ref_project_linf,
        kit=("cnnviz_helpers.adversarial:pgd",),
        mistakes=(
            _m("no clamp to [0, 1]", "The allowed set is the eps-ball *and* valid pixels.", _project_no_box),
            _m(
                "clipped p instead of the change p - p0",
                "The ball is centred on p0: clamp p - p0 (or p within p0 ± eps).",
                _project_wrong_centre,
            ),
        ),
    ),
    Exercise(
        "07b.1",
        "my_mask_share",
        "per image: the saliency inside the mask divided by the total saliency.",
        _share_cases,
        ref_mask_share,
        mistakes=(
            _m(
                "divided by the mask's area instead of the total saliency",
                "The share is sum(saliency * mask) / sum(saliency).",
                _share_of_mask_area,
            ),
            _m("one share for the whole batch", "Sum over each image's pixels only: flatten(1).sum(1).", _share_whole_batch),
        ),
    ),
    Exercise(
        "08.1",
        "deepdream_step",
        "capture the layer, gradient with grad_outputs = the activations, step lr/std * g/mean|g|, clamp.",
        _dream_cases,
        ref_deepdream_step,
        kit=("cnnviz_helpers.deepdream:deepdream",),
        mistakes=(
            _m("gradient descent instead of ascent", "DeepDream amplifies the activations: add the step.", _dream_descent),
            _m("no clamp", "Clamp to pixel_range(mean, std, x) after the step.", _dream_no_clamp),
            _m(
                "step not divided by std",
                "lr is in pixel units: divide by std per channel to move in normalised units.",
                _dream_no_std,
            ),
        ),
    ),
    Exercise(
        "08.2",
        "my_octave_sizes",
        "sizes round(h/scale**k), round(w/scale**k), drop those below min_size, smallest first.",
        _octave_cases,
        ref_octave_sizes,
        kit=("cnnviz_helpers.deepdream:octave_sizes",),
        exact=True,
        mistakes=(
            _m("largest octave first", "DeepDream starts on the smallest image: reverse the list.", _octaves_largest_first),
            _m("octaves below min_size kept", "Leave out the sizes whose shorter side is below min_size.", _octaves_unfiltered),
        ),
    ),
    Exercise(
        "09.1",
        "my_tv",
        "zero-padded vertical and horizontal differences, their squares summed per pixel, to the power beta/2.",
        _tv_cases,
        ref_tv,
        kit=("cnnviz_helpers.core.regularizers:tv_loss",),
        mistakes=(
            _m("TV absolute instead of squared", "With beta = 2 square the differences: (dv**2 + dh**2).sum().", _tv_abs),
            _m("mean instead of sum", "Sum over every pixel and channel (the weight sets the scale).", _tv_mean),
        ),
    ),
    Exercise(
        "09.2",
        "my_inversion_loss",
        "||F - F0||^2 / ||F0||^2 + tv_weight * tv(image) / (H*W), as a tensor with a gradient.",
        _inversion_cases,
        ref_inversion_loss,
        kit=("cnnviz_helpers.inversion:feature_inversion",),
        provides={"my_tv": ref_tv},
        lends={"my_tv": "cnnviz_helpers.core.regularizers:tv_loss"},
        differentiable=True,
        mistakes=(
            _m(_NOGRAD, "Return the tensor itself: the optimiser needs its gradient.", _inv_item, "nograd"),
            _m(
                "feature term not normalised by ||F0||^2",
                "Divide the squared distance by target.pow(2).sum().",
                _inv_unnormalised,
            ),
            _m("TV not divided by H*W", "Divide the TV term by the image's number of pixels per channel.", _inv_tv_not_per_pixel),
            _m("TV term missing", "Add tv_weight * TV(image) / (H*W).", _inv_no_tv),
        ),
    ),
    Exercise(
        "10.1",
        "my_gram_matrix",
        "reshape to [N, C, H*W], f @ f.transpose(1, 2), divide by C*H*W.",
        _gram_cases,
        ref_gram_matrix,
        kit=("cnnviz_helpers.style:gram_matrix",),
        mistakes=(
            _m("Gram ÷HW instead of ÷CHW", "Divide by C*H*W (CS231n's normalisation).", _gram_hw),
            _m("Gram unnormalised", "Divide the raw sum by C*H*W.", _gram_raw),
            _m(
                "positions x positions instead of channels x channels",
                "The Gram matrix is [N, C, C]: f @ f.transpose(1, 2).",
                _gram_positions,
            ),
        ),
    ),
    Exercise(
        "10.2",
        "my_style_loss",
        "sum over layers of weight * ((my_gram_matrix(f) - target)**2).sum().",
        _style_cases,
        ref_style_loss,
        kit=("cnnviz_helpers.style:style_loss",),
        provides={"my_gram_matrix": ref_gram_matrix},
        lends={"my_gram_matrix": "cnnviz_helpers.style:gram_matrix"},
        differentiable=True,
        mistakes=(
            _m("layer weights ignored", "Multiply each layer's term by its weight.", _style_unweighted),
            _m("Frobenius norm instead of its square", "Use the *squared* distance: (G - A).pow(2).sum().", _style_norm),
            _m(_NOGRAD, "Keep everything a tensor: no .item(), float() or .detach().", _style_detached, "nograd"),
        ),
    ),
    Exercise(
        "11.1",
        "my_content_loss",
        "weight * ((current - target)**2).sum(), a tensor with a gradient.",
        _content_cases,
        ref_content_loss,
        kit=("cnnviz_helpers.style:content_loss",),
        differentiable=True,
        mistakes=(
            _m("mean instead of sum", "CS231n's content loss sums the squared differences.", _content_mean),
            _m("weight missing", "Multiply by the content weight.", _content_no_weight),
            _m("absolute instead of squared differences", "Square the differences: .pow(2).", _content_abs),
            _m(_NOGRAD, "Return the tensor itself: the optimiser needs its gradient.", _content_detached, "nograd"),
        ),
    ),
    Exercise(
        "11.2",
        "my_optimisation_step",
        "optimizer.zero_grad(); loss = objective(img); loss.backward(); optimizer.step(); clamp img in place; return loss.item().",
        _step_cases,
        ref_optimisation_step,
        kit=("cnnviz_helpers.style:style_transfer", "cnnviz_helpers.style:texture_synthesis"),
        call=three_steps,
        mistakes=(
            _m("gradients never zeroed (they accumulate)", "Call optimizer.zero_grad() before backward().", _step_no_zero_grad),
            _m("no clamp", "After the step: with torch.no_grad(): img.clamp_(lo, hi).", _step_no_clamp),
            _m(
                "gradient ascent instead of descent",
                "The optimiser minimises: call loss.backward(), not (-loss).backward().",
                _step_ascent,
            ),
        ),
    ),
    Exercise(
        "12.1",
        "instance_norm",
        "mean and biased variance over (H, W) per image and channel; (x - mean) / sqrt(var + eps).",
        _in_cases,
        ref_instance_norm,
        kit=("torch.nn.functional:instance_norm",),
        mistakes=(
            _m("unbiased variance", "PyTorch's normalisation layers use the biased variance: unbiased=False.", _in_unbiased),
            _m(
                "normalised over the channels too (layer norm)",
                "Reduce over dim=(2, 3) only: one mean per image *and* channel.",
                _in_layer_norm,
            ),
            _m("eps outside the square root", "Divide by sqrt(var + eps).", _in_eps_outside),
        ),
    ),
    Exercise(
        "12.2",
        "conditional_instance_norm",
        "gamma = style @ gamma_table, beta = style @ beta_table; instance_norm(x) * gamma + beta per channel.",
        _cin_cases,
        ref_conditional_instance_norm,
        kit=("torch.nn.functional:instance_norm",),
        provides={"instance_norm": ref_instance_norm},
        lends={"instance_norm": "cnnviz_helpers.grading.harness:instance_norm"},
        mistakes=(
            _m("shift beta missing", "Add beta = style @ beta_table after scaling.", _cin_no_beta),
            _m("style weights not applied", "Mix the table rows with the style vector: style @ gamma_table.", _cin_mean_style),
        ),
    ),
]

EXERCISES: dict[str, Exercise] = {ex.key: ex for ex in _LIST}
"""Every graded exercise, by key (``"05.1"``)."""

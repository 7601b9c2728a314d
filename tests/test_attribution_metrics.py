"""Attribution scores: each equals a naive per-image loop, perfect and random maps score as they must."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz_helpers.attribution_metrics import (
    MASK_METRICS,
    METRICS,
    Scores,
    _pixel_ranks,
    confidence_interval,
    deletion_curve,
    importance,
    insertion_curve,
    mass_inside,
    pointing_game,
    random_map,
    score_methods,
)
from cnnviz_helpers.core.images import gaussian_blur
from cnnviz_helpers.datasets.shapes import make_shapes
from cnnviz_helpers.datasets.shapesnet import to_tensor
from cnnviz_helpers.engines.folded_bn import fold_batch_norm
from cnnviz_helpers.saliency import saliency_map


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    images, labels, masks = make_shapes(40, seed=21)
    return to_tensor(images), torch.from_numpy(labels), masks


def _naive_importance(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """One map's importance, per image: |m| (summed over channels), resized."""
    a = m.abs().sum(0) if m.ndim == 3 else m.abs()
    if a.shape != size:
        a = F.interpolate(a[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return a.double().numpy()


@pytest.mark.parametrize("shape", [(40, 64, 64), (40, 3, 64, 64), (40, 8, 8)])
def test_mass_and_pointing_equal_a_naive_loop(data, shape):
    _, _, masks = data
    maps = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    maps[0] = 0  # a map that says nothing: uniform
    maps[1] = 2.0  # constant: every pixel ties for the maximum
    mass, point = mass_inside(maps, masks), pointing_game(maps, masks)
    for i in range(len(maps)):
        a, m = _naive_importance(maps[i], (64, 64)), masks[i]
        want_mass = a[m].sum() / a.sum() if a.sum() > 0 else m.mean()
        top = a == a.max()
        assert mass[i].item() == pytest.approx(want_mass, abs=1e-5)
        assert point[i].item() == pytest.approx((top & m).sum() / top.sum(), abs=1e-6)
    assert point[0].item() == pytest.approx(masks[0].mean()) and mass[1].item() == pytest.approx(masks[1].mean(), abs=1e-5)
    assert set(point[2:].tolist()) <= {0.0, 1.0}  # continuous maps have one maximum: hit or miss


def test_the_mask_itself_is_a_perfect_map(data):
    _, _, masks = data
    perfect = torch.from_numpy(masks).float()
    assert torch.equal(mass_inside(perfect, masks), torch.ones(len(masks)))
    assert torch.equal(pointing_game(perfect, masks), torch.ones(len(masks)))
    inverse = 1 - perfect
    assert mass_inside(inverse, masks).max() == 0 and pointing_game(inverse, masks).max() == 0


def _naive_curve(net, x, maps, targets, steps, kind, fill):
    """Per image and per step: sort the pixels, copy them one image at a time, run the model on that image."""
    n, _, h, w = x.shape
    out = np.zeros((n, steps + 1))
    for i in range(n):
        order = np.argsort(-_naive_importance(maps[i], (h, w)).reshape(-1), kind="stable")
        for j in range(steps + 1):
            k = round(j * h * w / steps)
            img = (x[i] if kind == "deletion" else fill[i]).clone().reshape(3, -1)
            src = (fill[i] if kind == "deletion" else x[i]).reshape(3, -1)
            img[:, order[:k]] = src[:, order[:k]]
            with torch.no_grad():
                out[i, j] = net(img.reshape(1, 3, h, w)).softmax(1)[0, targets[i]].item()
    return out


@pytest.mark.parametrize("kind", ["deletion", "insertion"])
def test_curves_equal_a_naive_loop_and_leave_the_model_unchanged(shapes_model, data, unchanged, kind):
    x, labels, _ = data
    x, labels = x[:5], labels[:5]
    maps = torch.randn(5, 3, 64, 64, generator=torch.Generator().manual_seed(2))  # continuous: no ties
    fn = deletion_curve if kind == "deletion" else insertion_curve
    with unchanged(shapes_model.model):
        curve = fn(shapes_model, x, maps, labels, steps=6, batch_size=7)
    fill = torch.zeros_like(x) if kind == "deletion" else gaussian_blur(x, 64 / 20)
    want = _naive_curve(shapes_model.model, x, maps, labels, 6, kind, fill)
    np.testing.assert_allclose(curve.scores.numpy(), want, atol=2e-5)
    assert torch.equal(curve.targets, labels) and curve.kind == kind
    np.testing.assert_allclose(curve.fractions.numpy(), [round(j * 4096 / 6) / 4096 for j in range(7)])
    np.testing.assert_allclose(curve.auc.numpy(), np.trapezoid(want, curve.fractions.numpy(), axis=1), atol=2e-5)


def test_target_none_tracks_the_predicted_class_and_a_custom_baseline_fills_all(shapes_model, data):
    x, _, _ = data
    custom = torch.full((1, 3, 1, 1), 1.5)
    curve = deletion_curve(shapes_model, x[:3], torch.ones(3, 64, 64), steps=4, baseline=custom)
    with torch.no_grad():
        logits = shapes_model.model(x[:3])
        full_fill = shapes_model.model(custom.expand(3, 3, 64, 64))
    assert torch.equal(curve.targets, logits.argmax(1))
    np.testing.assert_allclose(curve.scores[:, 0], logits.softmax(1).max(1).values, atol=1e-6)
    np.testing.assert_allclose(curve.scores[:, -1], full_fill.softmax(1).gather(1, curve.targets[:, None])[:, 0], atol=1e-6)


def test_pixel_order_follows_importance_and_breaks_ties_at_random():
    imp = torch.tensor([[[0.0, 5.0], [5.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]]).repeat(1, 8, 8)  # many ties
    ranks = _pixel_ranks(imp, seed=0)
    assert all(torch.equal(r.sort().values, torch.arange(256)) for r in ranks)  # a permutation per image
    flat = imp.reshape(2, -1)
    for r, v in zip(ranks, flat):
        assert (v[r.argsort()].diff() <= 0).all()  # in order of decreasing importance
    first = ranks[1].argsort()[:64]  # a flat map's first quarter is spread over the image, not the top rows
    assert first.min() < 32 and first.max() > 224
    assert not torch.equal(ranks, _pixel_ranks(imp, seed=1))


def test_deleting_the_object_first_beats_a_random_order(shapes_model, data):
    x, labels, masks = (v[:20] for v in data)
    object_first = torch.from_numpy(masks).float()
    rand = random_map(shapes_model, x, seed=3)
    deleted = deletion_curve(shapes_model, x, object_first, labels, steps=5).auc
    deleted_rand = deletion_curve(shapes_model, x, rand, labels, steps=5).auc
    inserted = insertion_curve(shapes_model, x, object_first, labels, steps=5).auc
    inserted_rand = insertion_curve(shapes_model, x, rand, labels, steps=5).auc
    assert deleted.mean() < deleted_rand.mean() - 0.05
    assert inserted.mean() > inserted_rand.mean() + 0.05


def test_random_map_is_seeded_and_scores_the_area(data):
    x, _, masks = data
    a, b = random_map(None, x, seed=5), random_map(None, x, seed=5)
    assert torch.equal(a, b) and a.shape == (40, 64, 64) and not torch.equal(a, random_map(None, x, seed=6))
    area = masks.reshape(40, -1).mean(1)
    assert abs(mass_inside(a, masks).mean().item() - area.mean()) < 0.01


def test_confidence_intervals():
    v = torch.randn(400, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 2
    normal = confidence_interval(v, method="normal", level=0.9)
    half = 1.6448536 * v.std().item() / 20
    assert normal.mean == pytest.approx(v.mean().item())
    assert (normal.low, normal.high) == pytest.approx((v.mean().item() - half, v.mean().item() + half))
    boot = confidence_interval(v, level=0.9, resamples=4000)
    assert boot == confidence_interval(v, level=0.9, resamples=4000)  # seeded
    assert boot.low < boot.mean < boot.high
    assert (boot.low, boot.high) == pytest.approx((normal.low, normal.high), abs=0.02)  # the CLT holds at n = 400
    assert str(boot).startswith(f"{boot.mean:.3f} [")


def test_bad_input_says_what_to_do(shapes_model, data):
    x, _, masks = data
    with pytest.raises(ValueError, match="one \\[H, W\\] mask per map"):
        mass_inside(torch.rand(40, 64, 64), masks[:3])
    with pytest.raises(ValueError, match=r"\[N, H, W\] or \[N, C, H, W\]"):
        pointing_game(torch.rand(64, 64), masks[0])
    with pytest.raises(ValueError, match="baseline must be"):
        deletion_curve(shapes_model, x[:2], torch.rand(2, 64, 64), baseline="black")
    with pytest.raises(ValueError, match="one map per image"):
        insertion_curve(shapes_model, x[:2], torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="finite"):
        confidence_interval([1.0, float("nan")])
    assert importance(torch.rand(2, 1, 8, 8), (64, 64)).shape == (2, 64, 64)


def test_folded_batch_norm_copy_computes_the_same(shapes_model, data, unchanged):
    x, _, _ = data
    net = shapes_model.model
    with unchanged(net):
        folded = fold_batch_norm(net)
    assert folded is not net and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        torch.testing.assert_close(folded(x[:8]), net(x[:8]), atol=1e-4, rtol=1e-4)

    class Untraceable(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x) if x.sum() > 0 else x  # data-dependent control flow

    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    odd = Untraceable(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    assert fold_batch_norm(plain) is plain and fold_batch_norm(odd) is odd
    assert fold_batch_norm(odd.train()) is odd  # training mode: batch statistics, nothing to fold


def test_score_methods_equals_every_metric_image_by_image(shapes_model, data, unchanged):
    """The batched table (maps in chunks of 4, curves batched) against one image, one method, one metric at a time."""
    x, labels, masks = (v[:6] for v in data)
    methods = {
        "saliency": saliency_map,
        # low-resolution and class-dependent: each chunk must get its own images' classes
        "pooled by class": lambda model, xb, t: F.avg_pool2d(xb[:, 0], 4) * (1 + t.view(-1, 1, 1)),
    }
    with unchanged(shapes_model.model):
        scores = score_methods(
            shapes_model, x, masks, methods=methods, target=labels, steps=3, map_batch=4, batch_size=5, progress=False
        )
    assert scores.methods == list(methods) and scores.metrics == list(METRICS) and torch.equal(scores.targets, labels)
    for name, fn in methods.items():
        for i in range(len(x)):
            m = fn(shapes_model, x[i : i + 1], labels[i : i + 1])
            want = {
                "mass inside": mass_inside(m, masks[i : i + 1]),
                "pointing game": pointing_game(m, masks[i : i + 1]),
                "deletion AUC": deletion_curve(shapes_model, x[i : i + 1], m, labels[i], steps=3).auc,
                "insertion AUC": insertion_curve(shapes_model, x[i : i + 1], m, labels[i], steps=3).auc,
            }
            for metric, value in want.items():
                assert scores.values[metric][name][i].item() == pytest.approx(value.item(), abs=2e-5), (name, i, metric)
        curve = scores.curves["deletion"][name]
        assert curve.scores.shape == (6, 4) and torch.equal(curve.auc, scores.values["deletion AUC"][name])


def test_scores_table_ranking_and_paired_difference(shapes_model, data):
    x, labels, masks = (v[:12] for v in data)
    methods = {
        "object": lambda model, xb, t: torch.from_numpy(masks).float(),  # one chunk (map_batch=12): every mask
        "random": random_map,
        "flat": lambda model, xb, t: torch.ones(len(xb), 64, 64),
    }
    scores = score_methods(shapes_model, x, masks, methods=methods, target=labels, steps=4, map_batch=12, progress=False)
    assert scores.ranking("mass inside")[0] == "object" and scores.ranking("deletion AUC")[0] == "object"
    assert scores.ranking("deletion AUC") == sorted(methods, key=lambda m: scores.values["deletion AUC"][m].mean().item())
    assert scores.ranking("insertion AUC")[-1] != "object"
    diff = scores.difference("mass inside", "object", "random")
    assert diff == confidence_interval(scores.values["mass inside"]["object"] - scores.values["mass inside"]["random"])
    assert diff.low > 0.5 and scores.beats("mass inside", "object") and scores.beats("deletion AUC", "object")
    assert not scores.beats("mass inside", "random") and not scores.beats("insertion AUC", "flat", "object")
    rows = scores.rows()
    assert len(rows) == 3 * 4 and rows[0] == ("object", "mass inside", scores.estimate("mass inside", "object"))
    table = scores.table()
    assert all(m in table for m in methods) and str(scores.estimate("pointing game", "random")) in table
    assert "deletion AUC ↓" in table and "over 12 images" in table


def test_without_masks_only_the_model_metrics_and_the_predicted_class(shapes_model, data):
    x, _, _ = data
    scores = score_methods(shapes_model, x[:4], methods={"random": random_map}, steps=2, progress=False)
    assert scores.metrics == [k for k in METRICS if k not in MASK_METRICS]
    with torch.no_grad():
        assert torch.equal(scores.targets, shapes_model.model(x[:4]).argmax(1))
    assert torch.equal(scores.curves["insertion"]["random"].targets, scores.targets)


def test_score_methods_bad_input_says_what_to_do(shapes_model, data):
    x, _, masks = data
    with pytest.raises(ValueError, match="methods is empty"):
        score_methods(shapes_model, x[:2], masks[:2], methods={})
    with pytest.raises(ValueError, match="one object mask per image"):
        score_methods(shapes_model, x[:2], masks[:3], methods={"random": random_map})


def test_agreement_is_spearman_over_the_methods_means():
    scores = Scores(
        values={
            "mass inside": {"a": torch.tensor([0.9, 0.7]), "b": torch.tensor([0.5, 0.5]), "c": torch.tensor([0.1, 0.3])},
            "pointing game": {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([1.0, 1.0]), "c": torch.tensor([0.0, 1.0])},
            "deletion AUC": {"a": torch.tensor([0.1, 0.1]), "b": torch.tensor([0.2, 0.4]), "c": torch.tensor([0.5, 0.5])},
        },
        curves={},
        targets=torch.zeros(2, dtype=torch.long),
    )
    assert scores.ranking("deletion AUC") == ["a", "b", "c"] == scores.ranking("mass inside")
    assert scores.agreement("mass inside", "deletion AUC") == pytest.approx(1.0)  # lower AUC is better: same order
    # pointing game means 0.5, 1.0, 0.5: ranks (1.5, 0, 1.5) against (0, 1, 2): Pearson of the ranks
    ra, rb = np.array([1.5, 0, 1.5]), np.array([0.0, 1, 2])
    assert scores.agreement("pointing game", "mass inside") == pytest.approx(np.corrcoef(ra, rb)[0, 1])

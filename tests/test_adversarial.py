"""Fooling images, FGSM and PGD: they reach their goal, stay inside their budget, match Captum."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from captum.robust import FGSM, PGD
from torch import nn

from cnnviz_helpers import IMAGENET_MEAN, IMAGENET_STD, KitModel
from cnnviz_helpers.adversarial import fgsm, fooling_image, perturbation_size, pgd
from cnnviz_helpers.core.options import Schedule

# The bound the fooling test states (pixel units, [0, 1] scale): ShapesNet is fooled from a generated
# image into another class with an L2 change of at most 3.5 — an RMS change of 3.5 / sqrt(64*64*3)
# ≈ 8/255 per value, while the image itself has an L2 norm of about 60 — and no value changed by more
# than 0.3. (ShapesNet, small and trained on noisy images, needs more than ImageNet networks do.)
FOOL_LINF, FOOL_L2 = 0.3, 3.5
# Captum's attacks take the loss as a 1-element tensor, and warn that our inputs do not require grad.
captum_loss = lambda logits, y: F.cross_entropy(logits, y, reduction="sum").view(1)  # noqa: E731
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


@pytest.fixture(scope="module")
def shapes_batch(shapes_model):
    """The model's ten generated examples (one per class) and their labels."""
    km = shapes_model
    x = km.preprocess([e.image for e in km.examples])
    return x, torch.tensor([e.label for e in km.examples])


def _pixels(x: torch.Tensor, mean, std) -> torch.Tensor:
    return x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)


def _random_images(n: int = 2, size: int = 64) -> torch.Tensor:
    """Normalised ImageNet-style inputs whose pixels lie in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    p = torch.rand(n, 3, size, size, generator=g)
    return (p - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def test_fooling_image_is_classified_as_target_within_bound(shapes_model, shapes_batch, unchanged):
    km = shapes_model
    x, labels = (t[:4] for t in shapes_batch)  # disk, square, triangle, star
    assert torch.equal(km.model(x).argmax(1), labels), "the examples must start correctly classified"
    targets = (labels + 3) % len(km.class_names)
    seen = []
    with unchanged(km.model):
        x_fool = fooling_image(km, x, targets, progress=False, callback=lambda s, img: seen.append(s), callback_every=1)
    assert torch.equal(km.model(x_fool).argmax(1), targets)
    assert [name for name, _ in km.predict(x_fool[:1])[0][:1]] == [km.class_names[int(targets[0])]]
    linf, l2 = perturbation_size(x, x_fool, km.std)
    assert linf.max() <= FOOL_LINF and l2.max() <= FOOL_L2, (linf, l2)
    assert (l2 > 0).all()
    p = _pixels(x_fool, km.mean, km.std)
    assert p.min() >= -1e-6 and p.max() <= 1 + 1e-6
    assert seen == list(range(1, len(seen) + 1)) and seen, "callback gets every step, in order"


def test_fooling_image_stops_at_once_when_already_target(shapes_model, shapes_batch):
    km = shapes_model
    x, labels = shapes_batch
    assert torch.equal(fooling_image(KitModel.wrap(km.model, km.mean, km.std), x, labels, progress=False), x)


def test_fooling_image_warns_when_it_gives_up(shapes_model, shapes_batch):
    km = shapes_model
    x, labels = shapes_batch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fooling_image(
            KitModel.wrap(km.model, km.mean, km.std), x[:1], (int(labels[0]) + 1) % 10, step_size=1e-4, steps=2, progress=False
        )
    (message,) = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert "not classified as the target after 2 steps" in message
    assert "no gradient" not in message, "a score that has a gradient is not called stuck"


def test_fooling_image_says_when_the_target_has_no_gradient(unchanged):
    """A target whose score a final ReLU holds at 0 gets no gradient: the warning says so instead of asking for more steps."""
    torch.manual_seed(0)
    linear = nn.Linear(3 * 8 * 8, 3)
    with torch.no_grad():
        linear.weight[2] = 0.0
        linear.bias[2] = -1.0  # class 2: ReLU(-1) = 0 for every image
    net = nn.Sequential(nn.Flatten(), linear, nn.ReLU()).eval()
    x = _random_images(2, 8)
    with unchanged(net), pytest.warns(UserWarning, match=r"2 of 2 images .* after 3 steps.*\(2 of them with no gradient at all"):
        x_fool = fooling_image(net, x, 2, steps=3, progress=False)
    torch.testing.assert_close(x_fool, x, rtol=0, atol=1e-6)  # nothing to follow: the images did not move


def test_fgsm_matches_captum(shapes_model, shapes_batch):
    """Same images as Captum's FGSM (ShapesNet's std is the same in every channel, so a pixel ε is one number)."""
    km = shapes_model
    model = copy.deepcopy(km.model).double()  # float64: no sign flips from rounding
    x, labels = (t[:4] for t in shapes_batch)
    x = x.double()
    (s,), (m,) = set(km.std), set(km.mean)
    eps = 3 / 255
    ref = FGSM(model, loss_func=captum_loss, lower_bound=(0 - m) / s, upper_bound=(1 - m) / s)
    ref.zero_thresh = 0.0
    for kwargs, (target, targeted) in (({"label": labels}, (labels, False)), ({"target": 4}, (torch.full_like(labels, 4), True))):
        ours = fgsm(KitModel.wrap(model, km.mean, km.std), x, eps=eps, **kwargs)
        theirs = ref.perturb(x, epsilon=eps / s, target=target, targeted=targeted)
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)


def test_fgsm_step_is_eps_per_channel_in_pixels(squeezenet_random, unchanged):
    """ImageNet stats differ per channel: the step must be ε in *pixels*, i.e. ε/std_c in the normalised input."""
    x = _random_images()
    eps = 4 / 255
    with unchanged(squeezenet_random):
        x_adv = fgsm(squeezenet_random, x, eps=eps)
    p = _pixels(x, IMAGENET_MEAN, IMAGENET_STD).requires_grad_(True)
    logits = squeezenet_random((p - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    (g,) = torch.autograd.grad(F.cross_entropy(logits, logits.argmax(1), reduction="sum"), p)
    expected = (p.detach() + eps * g.sign()).clamp(0, 1)
    torch.testing.assert_close(_pixels(x_adv, IMAGENET_MEAN, IMAGENET_STD), expected, atol=1e-6, rtol=0)
    linf, _ = perturbation_size(x, x_adv, IMAGENET_STD)
    torch.testing.assert_close(linf, torch.full_like(linf, eps), atol=1e-6, rtol=0)


def test_pgd_matches_captum_without_random_start(shapes_model, shapes_batch):
    km = shapes_model
    model = copy.deepcopy(km.model).double()
    x, labels = (t[:4] for t in shapes_batch)
    x = x.double()
    (s,), (m,) = set(km.std), set(km.mean)
    eps, alpha, steps = 6 / 255, 2 / 255, 4
    ref = PGD(model, loss_func=captum_loss, lower_bound=(0 - m) / s, upper_bound=(1 - m) / s)
    ref.fgsm.zero_thresh = 0.0
    ours = pgd(
        KitModel.wrap(model, km.mean, km.std),
        x,
        labels,
        eps=eps,
        steps=steps,
        step_size=alpha,
        random_start=False,
        progress=False,
    )
    theirs = ref.perturb(x, radius=eps / s, step_size=alpha / s, step_num=steps, target=labels, random_start=False)
    torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)


def test_pgd_stays_in_eps_ball_and_valid_range(squeezenet_random, unchanged):
    x = _random_images()
    eps = 8 / 255
    with unchanged(squeezenet_random):
        x_adv = pgd(squeezenet_random, x, eps=eps, steps=4, step_size=eps, progress=False)  # big steps hit the walls
    linf, _ = perturbation_size(x, x_adv, IMAGENET_STD)
    assert (linf <= eps + 1e-6).all() and (linf >= eps - 1e-6).all(), linf
    p = _pixels(x_adv, IMAGENET_MEAN, IMAGENET_STD)
    assert p.min() >= -1e-6 and p.max() <= 1 + 1e-6


def test_pgd_is_stronger_than_fgsm_and_fools_shapesnet(shapes_model, shapes_batch, unchanged):
    km = shapes_model
    x, labels = shapes_batch
    eps = 8 / 255
    with unchanged(km.model):
        x_fgsm = fgsm(KitModel.wrap(km.model, km.mean, km.std), x, labels, eps=eps)
        x_pgd = pgd(KitModel.wrap(km.model, km.mean, km.std), x, labels, eps=eps, steps=10, progress=False)
    with torch.no_grad():
        losses = [F.cross_entropy(km.model(v), labels).item() for v in (x, x_fgsm, x_pgd)]
        acc_pgd = (km.model(x_pgd).argmax(1) == labels).float().mean().item()
    assert losses[0] < losses[1] < losses[2], losses
    assert acc_pgd <= 0.2, acc_pgd


def test_pgd_targeted_reaches_target(shapes_model, shapes_batch):
    km = shapes_model
    x, labels = shapes_batch
    x_adv = pgd(km, x, target="star", eps=16 / 255, steps=10, progress=False)  # a KitModel takes class names
    assert (km.model(x_adv).argmax(1) == km.class_index("star")).float().mean() >= 0.9


def test_pgd_is_deterministic_with_a_seed(shapes_model, shapes_batch):
    km = shapes_model
    x, _ = shapes_batch
    run = lambda seed: pgd(KitModel.wrap(km.model, km.mean, km.std), x[:2], eps=4 / 255, steps=2, seed=seed, progress=False)  # noqa: E731
    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_model_restored_even_from_train_mode_and_on_errors(shapes_model, shapes_batch, unchanged):
    km = shapes_model
    x, _ = shapes_batch
    model = copy.deepcopy(km.model).train()  # BatchNorm in train mode would update its statistics

    def boom(step, img):
        raise RuntimeError("stop")

    with unchanged(model):
        pgd(KitModel.wrap(model, km.mean, km.std), x[:2], eps=4 / 255, steps=2, progress=False)
        with pytest.raises(RuntimeError, match="stop"):
            pgd(KitModel.wrap(model, km.mean, km.std), x[:2], steps=2, progress=False, callback=boom)
        with pytest.raises(RuntimeError, match="stop"):
            fooling_image(KitModel.wrap(model, km.mean, km.std), x[:2], 3, progress=False, callback=boom)
    assert model.training


def test_bad_arguments_say_what_to_do(shapes_model, shapes_batch):
    km = shapes_model
    x, labels = shapes_batch
    net = KitModel.wrap(km.model, km.mean, km.std)  # a plain module with its normalisation: no class names
    with pytest.raises(ValueError, match="eps"):
        fgsm(net, x, eps=-0.1)
    with pytest.raises(ValueError, match="not both"):
        pgd(net, x, labels, target=1, progress=False)
    with pytest.raises(IndexError, match=r"0\.\.9"):
        fooling_image(net, x, 10, progress=False)
    with pytest.raises(ValueError, match="one per image"):
        fgsm(net, x, labels[:3])
    with pytest.raises(KeyError, match="Did you mean"):
        fgsm(km, x, target="stra")
    with pytest.raises(TypeError, match="KitModel"):
        fgsm(km.model, x, target="star")
    with pytest.raises(KeyError, match="no class"):
        fgsm(net, x, target="star")
    with pytest.raises(TypeError, match="not both"):
        pgd(km, x, schedule=Schedule(steps=2), steps=3)
    with pytest.raises(TypeError, match="step_size"):
        pgd(km, x, lr=0.1)

"""The adversarially trained ShapesNet (notebook 07b) keeps the robust accuracy its card states."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from cnnviz_helpers import load_model
from cnnviz_helpers.training.train_shapesnet import EVAL_STEPS, pgd_accuracy

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "data" / "shapesnet_robust.md"


def _card() -> tuple[float, float, float]:
    """(ε, standard PGD accuracy, robust PGD accuracy) as the model card states them."""
    m = re.search(r"\| PGD accuracy at ε = (\d+)/255 [^|]*\| ([\d.]+)% \| \*\*([\d.]+)%\*\* \|", CARD.read_text())
    assert m, "the card's PGD accuracy row is missing or changed format"
    return int(m[1]) / 255, float(m[2]) / 100, float(m[3]) / 100


@pytest.fixture(scope="module")
def robust():
    return load_model("shapesnet_robust", device="cpu")


def test_robust_model_is_the_kit_architecture_with_other_weights(robust, shapes_model):
    assert robust.offline and robust.name == "shapesnet_robust" and "NOT an ImageNet model" in robust.description
    assert robust.spec == shapes_model.spec and robust.class_names == shapes_model.class_names
    a, b = robust.model.state_dict(), shapes_model.model.state_dict()
    assert a.keys() == b.keys() and not torch.equal(a["features.0.weight"], b["features.0.weight"])
    assert (ROOT / "data" / "shapesnet_robust.pt").stat().st_size < 5e6


def test_robust_model_keeps_its_card_accuracy_under_pgd_while_the_standard_one_falls(robust, shapes_model, unchanged):
    eps, _, card_robust = _card()
    n = 48  # fresh images (seed 77: neither the card's test set nor the training set)
    with unchanged(robust.model):
        acc_robust = pgd_accuracy(robust.model, eps, n=n, seed=77, steps=EVAL_STEPS, batch_size=n)
    acc_standard = pgd_accuracy(shapes_model.model, eps, n=n, seed=77, steps=EVAL_STEPS, batch_size=n)
    slack = 3 * math.sqrt(card_robust * (1 - card_robust) / n)  # three binomial standard deviations
    assert acc_robust >= card_robust - slack, (acc_robust, card_robust)
    assert acc_standard < card_robust - slack, (acc_standard, card_robust)


def test_pgd_accuracy_without_attack_is_the_clean_accuracy(shapes_model):
    from cnnviz_helpers.datasets.shapesnet import accuracy

    assert pgd_accuracy(shapes_model.model, 0.0, n=40, seed=5, steps=1) == pytest.approx(accuracy(shapes_model.model, 40, 5))

"""The generator's concept labels (for Network Dissection) — and that asking for them changes no image."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cnnviz_helpers.datasets.shapes import (
    BACKGROUND_NAMES,
    CLASS_NAMES,
    COLOUR_NAMES,
    COLOUR_PROTOTYPES,
    CONCEPT_CATEGORIES,
    CONCEPT_NAMES,
    colour_names,
    make_shapes,
    srgb_to_lab,
)

# SHA-256 of make_shapes' outputs computed with the generator as it was before concepts existed
# (the shipped ShapesNet was trained on these images): (images, masks) per call.
_BEFORE = {
    (20, 0): (
        "bfe278238f4e12b94fe65741dbacfd2ae9675d43da0fd770b6565f052bdf58c3",
        "82069df4697d9a1d916143fdfc3d2e9dec0240733f2d17d3c167337da87dbe79",
    ),
    (20, 1234): (
        "f5ef54d69e07c19d5b48aaa1cc761853318b2acce928efca94a4597e6d138dd2",
        "e93258e53a3f0005b98f61a2ab78f71db99dab93f921efa002d59cacc41b195f",
    ),
}
_BEFORE_SMALL = (  # make_shapes(6, seed=7, size=32, labels=[9, 8, 7, 3, 2, 1])
    "c20204ef3d172ee9aaddc7675eadd147aaffeceefa6dc0c398d587595da77bd3",
    "c140fe5146f975def9007f346b7fa2adffda552a1001ac790c21b35395dda854",
)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(a.tobytes()).hexdigest()


@pytest.mark.parametrize("concepts", [False, True])
def test_images_and_masks_are_byte_identical_to_before(concepts):
    for (n, seed), (img_hash, mask_hash) in _BEFORE.items():
        out = make_shapes(n, seed=seed, concepts=concepts)
        assert (_sha(out[0]), _sha(out[2])) == (img_hash, mask_hash)
        assert np.array_equal(out[1], np.arange(n) % 10)
    out = make_shapes(6, seed=7, size=32, labels=np.array([9, 8, 7, 3, 2, 1]), concepts=concepts)
    assert (_sha(out[0]), _sha(out[2])) == _BEFORE_SMALL


def test_concept_planes_agree_with_the_object_mask():
    images, labels, masks, concepts = make_shapes(30, seed=4, concepts=True)
    assert concepts.labels.shape == (30, 3, 64, 64) and len(concepts) == 30
    obj, colour, background = (concepts.labels[:, i].astype(int) for i in range(3))
    assert np.array_equal(obj >= 0, masks) and np.array_equal(background < 0, masks)
    assert np.array_equal(obj, np.where(masks, labels[:, None, None], -1))
    c0, b0 = len(CLASS_NAMES), len(CLASS_NAMES) + len(COLOUR_NAMES)
    assert ((colour >= c0) & (colour < b0)).all()  # every pixel has exactly one colour
    assert ((background[~masks] >= b0) & (background[~masks] < len(CONCEPT_NAMES))).all()
    every = concepts.masks()
    assert every.shape == (30, len(CONCEPT_NAMES), 64, 64)
    assert np.array_equal(every[:, CONCEPT_NAMES.index("star")], masks & (labels == 3)[:, None, None])
    assert np.array_equal(concepts.mask("blob"), every[:, CONCEPT_NAMES.index("blob")])
    assert np.array_equal(concepts[5:9].labels, concepts.labels[5:9])
    for name in BACKGROUND_NAMES:  # the clutter is drawn in every image
        assert concepts.mask(name).reshape(30, -1).any(1).mean() > 0.8, name


def test_solid_shapes_have_one_colour_and_it_is_the_painted_one():
    images, labels, masks, concepts = make_shapes(20, seed=11, concepts=True)
    for i in np.flatnonzero(labels < 7):  # solid shapes: one fill colour
        inner = masks[i] & np.roll(masks[i], 1, 0) & np.roll(masks[i], -1, 0) & np.roll(masks[i], 1, 1) & np.roll(masks[i], -1, 1)
        names = concepts.labels[i, 1][inner]
        mode = np.bincount(names).argmax()
        assert (names == mode).mean() > 0.97
        mean_colour = images[i][inner].mean(0) / 255  # the painted colour plus zero-mean noise
        assert len(CLASS_NAMES) + colour_names(mean_colour) == mode


def test_colour_names_and_lab():
    lab = srgb_to_lab(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lab, [[100, 0, 0], [53.24, 80.09, 67.20], [0, 0, 0]], atol=0.05)
    protos = np.array([rgb for _, rgb in COLOUR_PROTOTYPES]) / 255
    assert [COLOUR_NAMES[i] for i in colour_names(protos)] == [name for name, _ in COLOUR_PROTOTYPES]
    pure = {(1, 0, 0): "red", (0, 1, 0): "green", (0, 0, 1): "blue", (1, 1, 0): "yellow", (0, 1, 1): "blue"}
    for rgb, name in pure.items():
        assert COLOUR_NAMES[colour_names(np.array(rgb, float))] == name
    assert len(CONCEPT_CATEGORIES) == len(CONCEPT_NAMES) == 24
    assert set(CONCEPT_CATEGORIES) == {"shape", "texture", "colour", "background"}


def test_unknown_concept_is_a_clear_error():
    *_, concepts = make_shapes(2, seed=0, concepts=True)
    with pytest.raises(KeyError, match="the concepts are disk"):
        concepts.mask("magenta")
    with pytest.raises(IndexError, match="0..23"):
        concepts.mask(24)

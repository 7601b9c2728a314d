"""Non-parametric texture synthesis by nearest neighbourhoods (Efros & Leung 1999), notebook 10."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_helpers import load_image
from cnnviz_helpers.texture_synthesis import neighbour_synthesis


def _coloured(pattern: np.ndarray) -> np.ndarray:
    """A binary pattern as an RGB float image with two distinct colours."""
    p = pattern.astype(np.float32)
    return np.stack([p, 0.5 * p + 0.25, 1 - p], -1)


def _shift_error(img: np.ndarray, shift: int, axis: int) -> float:
    """Mean absolute difference between the image and itself shifted by ``shift`` pixels (no wrap)."""
    n = img.shape[axis]
    a, b = np.take(img, range(shift, n), axis), np.take(img, range(0, n - shift), axis)
    return float(np.abs(a - b).mean())


@pytest.mark.parametrize(
    ("name", "period", "axes"),
    [("stripes", 8, (1,)), ("checkerboard", 6, (0, 1))],
)
def test_reproduces_the_period_of_a_periodic_texture(name, period, axes):
    yy, xx = np.mgrid[0:40, 0:40]
    pattern = (xx % period) < period // 2 if name == "stripes" else ((xx // 3) + (yy // 3)) % 2 == 0
    sample = _coloured(pattern)
    out = neighbour_synthesis(sample, 40, window=9, seed=1)
    assert out.shape == (40, 40, 3) and out.min() >= 0 and out.max() <= 1
    # every output colour is copied from the sample
    colours = {tuple(c) for c in (np.asarray(load_image(sample), np.float32) / 255).reshape(-1, 3).round(3)}
    assert {tuple(c) for c in out.reshape(-1, 3).round(3)} <= colours
    for axis in axes:
        assert _shift_error(out, period, axis) < 1e-6, f"not periodic with period {period} along axis {axis}"
        assert _shift_error(out, period // 2, axis) > 0.1, "the pattern must not be flat or of half the period"


def test_window_smaller_than_the_period_loses_it_and_bad_windows_are_refused():
    xx = np.mgrid[0:40, 0:40][1]
    sample = _coloured((xx % 8) < 4)
    small = neighbour_synthesis(sample, 40, window=5, seed=1)
    assert _shift_error(small, 8, 1) > 0.05  # a 5-px window cannot see a whole 8-px period
    with pytest.raises(ValueError, match="odd"):
        neighbour_synthesis(sample, 16, window=4)
    with pytest.raises(ValueError, match="does not fit"):
        neighbour_synthesis(sample[:6, :6], 16, window=9)


def test_same_seed_same_texture():
    a = neighbour_synthesis("gravel", 20, window=5, texture_size=24, seed=3)
    b = neighbour_synthesis("gravel", 20, window=5, texture_size=24, seed=3)
    c = neighbour_synthesis("gravel", 20, window=5, texture_size=24, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)

r"""The one relative error every graded check reports (CS231n's ``rel_error``, made scale-aware).

CS231n's assignments compare an answer ``x`` with the expected ``y`` by

.. math::  \operatorname{rel\_error}(x, y) = \max_i \frac{|x_i - y_i|}{\max(10^{-8},\ |x_i| + |y_i|)} .

The kit uses the same formula with one change: the floor of the denominator is
``1e-2 · max|y|`` instead of ``1e-8``. Entries a hundred times smaller than the largest one are then
judged on the scale of the whole output, so float32 round-off on a value that should be exactly 0
(a saliency map is full of them) is not reported as a 100 % error. An answer passes when its
relative error is at most the exercise's tolerance (``1e-3`` unless the exercise says otherwise;
float32 round-off against the float64 references stays below ``1e-5``, a classic mistake is above ``1e-2``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

FLOOR = 1e-2  # fraction of max|expected| below which entries are compared on the output's scale


def as_array(value: Any) -> np.ndarray:
    """A tensor, array, number or nested list as a float64 NumPy array (detached, on the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def rel_error(x: Any, y: Any) -> float:
    """Relative error of ``x`` against the expected ``y`` (see the module docstring); 0 for empty arrays.

    Example:
        >>> rel_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.002]))  # doctest: +ELLIPSIS
        0.000499...
    """
    a, b = as_array(x), as_array(y)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not np.isfinite(a).all():
        return float("inf")
    floor = max(1e-8, FLOOR * float(np.abs(b).max()))
    return float((np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))).max())
